using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Access;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.TestSupport;
using KhuyenCong.TestSupport.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Api.Tests;

/// <summary>
/// The API over what the real pipeline produces: two simulated days of the demo workshop written as the ingestor writes
/// them (SimulatedHistory, with a production entry per firing), the analytics job run over them, then the cloud service
/// with its API on the same influxd and production ledger.
/// </summary>
public sealed class SimulatedPipelineFixture : IAsyncLifetime
{
    public const string Site = "bat-trang-demo";
    public const string Database = "pipeline";
    public static readonly DateTimeOffset From = new(2026, 11, 1, 17, 0, 0, TimeSpan.Zero); // local midnight, 2 November 2026
    public static readonly DateTimeOffset To = From.AddDays(2);

    private readonly TempDirectory _dir = new("kc-api-pipeline");
    private SimulatedSite _site = null!;
    public LocalInfluxd Influxd => _site.Influxd;
    public InfluxQlClient Influx => _site.Influx;
    public CloudService Cloud { get; private set; } = null!;
    public HistoryResult History { get; private set; } = null!;
    public Dictionary<string, string> Tokens { get; } = new(StringComparer.Ordinal);
    public string LedgerFile => Path.Combine(_dir.Path, "data", "production.db");

    public async Task InitializeAsync()
    {
        // The ledger is the one the cloud service keeps in its data_dir, so the API sees the simulated production entries.
        _site = await SimulatedSite.StartAsync(null, Database, LedgerFile, queryTimeout: TimeSpan.FromMinutes(2));
        History = await _site.WriteHistoryAsync(From, To);
        await RunJobAsync();
        var users = "version: 1\nusers:\n";
        foreach (var (name, role, sites) in new[] { ("operator", "operator", $"[{Site}]"), ("centre", "centre", "") })
        {
            Tokens[name] = AccessList.NewToken();
            users += $"  - name: {name}\n    role: {role}\n" + (sites.Length > 0 ? $"    sites: {sites}\n" : "") + $"    token_sha256: {AccessList.Hash(Tokens[name])}\n";
        }
        File.WriteAllText(Path.Combine(_dir.Path, "access.yaml"), users);
        File.WriteAllText(Path.Combine(_dir.Path, "cloud.yaml"), $$"""
            embedded_broker: { bind: 127.0.0.1, port: 0 }
            influx: { url: "{{Influxd.Url}}", database: {{Database}} }
            registry: "{{SimulatedSite.SitesFile}}"
            factors: "{{SimulatedSite.FactorsDir}}"
            data_dir: data
            http: { bind: 127.0.0.1, port: 0, access_file: access.yaml }
            """);
        Cloud = CloudService.FromFile(Path.Combine(_dir.Path, "cloud.yaml"), NullLoggerFactory.Instance);
        await Cloud.StartAsync(default);
    }

    /// <summary>Recomputes the derived series of the two days from the raw data and the ledger, as <c>kc-cloud recompute</c> does.</summary>
    public async Task RunJobAsync()
    {
        var run = await _site.RunJobsAsync(From, To);
        Assert.Null(run.Error);
    }

    public HttpClient Client(string user)
    {
        var c = new HttpClient { BaseAddress = Cloud.Web!.Url, Timeout = TimeSpan.FromSeconds(120) };
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens[user]);
        return c;
    }

    public async Task DisposeAsync()
    {
        if (Cloud is not null) await Cloud.DisposeAsync();
        if (_site is not null) await _site.DisposeAsync();
        _dir.Dispose();
    }
}

public sealed class SimulatedPipelineTests(SimulatedPipelineFixture f) : IClassFixture<SimulatedPipelineFixture>
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private const string Api = "/api/v1/sites/" + SimulatedPipelineFixture.Site;

    [Fact]
    public async Task Firings_detected_by_the_jobs_come_with_energy_production_and_sec_and_the_report_adds_them_up()
    {
        using var c = f.Client("centre");
        var firings = (await c.GetFromJsonAsync<JsonElement>($"{Api}/firings?from=2026-11-02&to=2026-11-03")).GetProperty("firings").EnumerateArray().ToList();
        var finished = firings.Where(x => !x.GetProperty("running").GetBoolean()).ToList();
        Assert.NotEmpty(finished);
        Assert.All(finished, x =>
        {
            Assert.True(x.GetProperty("energy_mj").GetDouble() > 0);
            var kg = x.GetProperty("ware_kg").GetDouble();
            Assert.True(kg > 0, "every simulated firing has a production entry");
            Assert.Equal(x.GetProperty("energy_mj").GetDouble() / kg, x.GetProperty("sec_mj_per_kg").GetDouble(), 6);
        });

        // The annual report against influxd: the year's EnPI, and the firings of the year.
        var csv = ReportTests.ParseCsv(await c.GetStringAsync(new Uri($"{Api}/reports/2026.csv", UriKind.Relative)));
        var rows = csv.Skip(1).ToList();
        double V(string section, string quantity, string period = "2026") =>
            double.Parse(rows.Single(r => r[0] == section && r[2] == period && r[3] == quantity)[4], Inv);
        var year = (await f.Influx.QueryAsync($"SELECT energy_mj, production_kg, toe FROM enpi WHERE site = '{SimulatedPipelineFixture.Site}' AND scope = 'site' AND period = 'year'")).Single();
        Assert.Equal(year.Numbers("energy_mj").Single(), V("total", "energy_mj"));
        Assert.Equal(year.Numbers("production_kg").Single(), V("production", "ware_kg"));
        Assert.Equal(year.Numbers("toe").Single()!.Value, V("total", "toe"), 9);
        var influxFirings = (await f.Influx.QueryAsync($"SELECT energy_mj, ware_kg FROM firing WHERE site = '{SimulatedPipelineFixture.Site}' AND time >= '2025-12-31T17:00:00Z' AND time < '2026-12-31T17:00:00Z'")).Single();
        var csvFirings = rows.Where(r => r[0] == "firing" && r[3] == "energy_mj").ToList();
        Assert.Equal(influxFirings.Values.Count, csvFirings.Count);
        Assert.Equal(influxFirings.Numbers("energy_mj").Sum()!.Value, csvFirings.Sum(r => double.Parse(r[4], Inv)), 6);
        Assert.Equal(influxFirings.Numbers("ware_kg").Sum()!.Value, V("production", "ware_kg"), 6);
        var carriers = rows.Where(r => r[0] == "consumption" && r[3] == "amount").ToDictionary(r => r[1], r => double.Parse(r[4], Inv));
        Assert.Equal(["electricity", "lpg"], carriers.Keys.Order().ToArray());
        Assert.All(carriers.Values, v => Assert.True(v > 0));

        var html = await c.GetStringAsync(new Uri($"{Api}/reports/2026.html", UriKind.Relative));
        Assert.Contains("<svg id=\"chart-sec\"", html, StringComparison.Ordinal);
        Assert.Contains("<circle ", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_correction_entered_through_the_api_changes_the_firing_sec_once_the_jobs_rerun()
    {
        using var op = f.Client("operator");
        var firing = (await op.GetFromJsonAsync<JsonElement>($"{Api}/firings?kiln=kiln-2&from=2026-11-02&to=2026-11-03")).GetProperty("firings").EnumerateArray()
            .First(x => !x.GetProperty("running").GetBoolean() && x.GetProperty("ware_kg").ValueKind == JsonValueKind.Number);
        var start = firing.GetProperty("start").GetDateTimeOffset();
        var history = await op.GetFromJsonAsync<JsonElement>($"{Api}/production?kiln=kiln-2");
        var original = history.GetProperty("entries").EnumerateArray().Single(e => e.GetProperty("firing_start").ValueKind == JsonValueKind.String
            && e.GetProperty("firing_start").GetDateTimeOffset() == start && e.GetProperty("effective").GetBoolean());
        Assert.Equal("simulator", original.GetProperty("recorded_by").GetString());

        var corrected = Math.Round(firing.GetProperty("ware_kg").GetDouble() / 2, 1);
        using var post = await op.PostAsJsonAsync($"{Api}/production", new
        {
            kiln = "kiln-2", firing_at = start.AddMinutes(10), ware_kg = corrected, pieces = 10, product_type = "corrected",
            supersedes = original.GetProperty("entry_id").GetString(),
        });
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.Equal(start, (await post.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("firing_start").GetDateTimeOffset());

        await f.RunJobAsync();
        var after = (await op.GetFromJsonAsync<JsonElement>($"{Api}/firings?kiln=kiln-2&from=2026-11-02&to=2026-11-03")).GetProperty("firings").EnumerateArray()
            .Single(x => x.GetProperty("start").GetDateTimeOffset() == start);
        Assert.Equal(corrected, after.GetProperty("ware_kg").GetDouble());
        Assert.Equal("corrected", after.GetProperty("product").GetString());
        Assert.Equal(after.GetProperty("energy_mj").GetDouble() / corrected, after.GetProperty("sec_mj_per_kg").GetDouble(), 6);
    }

    [Fact]
    public async Task Live_status_shows_the_latest_simulated_readings_and_enpi_per_day_covers_both_days()
    {
        using var c = f.Client("operator");
        var live = await c.GetFromJsonAsync<JsonElement>($"{Api}/live");
        var kilns = live.GetProperty("kilns").EnumerateArray().ToList();
        Assert.Equal(["kiln-1", "kiln-2"], kilns.Select(k => k.GetProperty("kiln").GetString()!).ToArray());
        Assert.All(kilns, k => Assert.Equal(JsonValueKind.Number, k.GetProperty("temp_c").ValueKind));
        Assert.All(kilns, k => Assert.True(k.GetProperty("last_seen").GetDateTimeOffset() <= SimulatedPipelineFixture.To));
        Assert.Equal(JsonValueKind.Number, kilns[1].GetProperty("lpg_mass_kg").ValueKind);
        var days = (await c.GetFromJsonAsync<JsonElement>($"{Api}/enpi?per=day&month=2026-11")).GetProperty("enpi").EnumerateArray().ToList();
        Assert.Equal(["2026-11-02", "2026-11-03"], days.Select(d => d.GetProperty("period").GetString()!).ToArray());
        Assert.All(days, d => Assert.True(d.GetProperty("energy_mj").GetDouble() > 0));
        Assert.All(days, d => Assert.InRange(d.GetProperty("completeness").GetDouble(), 0.5, 1));
    }
}
