using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Access;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Api.Tests;

/// <summary>
/// The real cloud service (embedded broker, ingestor, Kestrel API) on free loopback ports, with a real influxd, a site
/// registry and an access file written for the test (tokens generated here, only their hashes on disk), and the
/// derived series of <see cref="Seed"/> written into influxd in the documented schema. Shared by the tests of the
/// collection; disposed (servers stopped, files deleted) at the end.
/// </summary>
public sealed class ApiServer : IAsyncLifetime
{
    public const string Registry = """
        version: 1
        sites:
          - id: site-a
            name: "Xưởng A / Workshop A"
            address: "Bát Tràng"
            facility: industrial
            gateways: [{ id: gw-a }]
            kilns:
              - { id: kiln-1, name: "LPG kiln", type: lpg }
              - { id: kiln-2, name: "Electric kiln", type: electric }
            meters:
              - { device: main-meter, gateway: gw-a, carrier: electricity, point: energy_import_kwh, poll_interval: 5s }
              - { device: kiln1-lpg, gateway: gw-a, kiln: kiln-1, carrier: lpg, point: lpg_mass_kg, poll_interval: 10s }
              - { device: kiln2-meter, gateway: gw-a, kiln: kiln-2, carrier: electricity, point: energy_import_kwh, poll_interval: 5s }
            baseline: { from: 2024-01-01, to: 2024-12-31 }
            measures:
              - { name: "Fibre door lining", implemented: 2025-02-01, kiln: kiln-1, description: "less heat lost through the door", expected_savings_percent: 4 }
          - id: site-b
            name: "Workshop B"
            gateways: [{ id: gw-b }]
            kilns: [{ id: kiln-1, name: "Electric kiln" }]
            meters:
              - { device: kiln1-meter, gateway: gw-b, kiln: kiln-1, carrier: electricity, point: energy_import_kwh }
          - id: site-c
            name: "Workshop C"
            target_savings_percent: 8
            gateways: [{ id: gw-c }]
            kilns: [{ id: kiln-1, name: "Electric kiln" }]
            meters:
              - { device: kiln1-meter, gateway: gw-c, kiln: kiln-1, carrier: electricity, point: energy_import_kwh }
        """;

    private readonly TempDirectory _dir = new("kc-api");
    private LocalInfluxd? _influxd;
    private CloudService? _cloud;

    /// <summary>The tokens of the test users, by name: op-a (operator of site-a), op-b (operator of site-b), aud (auditor of site-a and site-b), centre.</summary>
    public Dictionary<string, string> Tokens { get; } = new(StringComparer.Ordinal);

    public Uri BaseUrl => _cloud!.Web!.Url;
    public InfluxQlClient Influx { get; private set; } = null!;
    public string InfluxUrl => _influxd!.Url;
    public const string Database = "api";

    public async Task InitializeAsync()
    {
        _influxd = await LocalInfluxd.StartAsync();
        var users = new StringBuilder("version: 1\nusers:\n");
        foreach (var (name, role, sites) in new[] { ("op-a", "operator", "[site-a]"), ("op-b", "operator", "[site-b]"), ("aud", "auditor", "[site-a, site-b]"), ("centre", "centre", "") })
        {
            var token = AccessList.NewToken();
            Tokens[name] = token;
            users.Append(CultureInfo.InvariantCulture, $"  - name: {name}\n    role: {role}\n");
            if (sites.Length > 0) users.Append(CultureInfo.InvariantCulture, $"    sites: {sites}\n");
            users.Append(CultureInfo.InvariantCulture, $"    token_sha256: {AccessList.Hash(token)}\n");
        }
        File.WriteAllText(_dir.File("access.yaml"), users.ToString());
        File.WriteAllText(_dir.File("sites.yaml"), Registry);
        File.WriteAllText(_dir.File("cloud.yaml"), $$"""
            embedded_broker: { bind: 127.0.0.1, port: 0 }
            influx: { url: "{{_influxd.Url}}", database: {{Database}} }
            registry: sites.yaml
            factors: "{{Path.Combine(RepoPaths.Root, "firmware-config", "factors")}}"
            data_dir: data
            http: { bind: 127.0.0.1, port: 0, access_file: access.yaml }
            """);
        _cloud = CloudService.FromFile(_dir.File("cloud.yaml"), NullLoggerFactory.Instance);
        await _cloud.StartAsync(default);
        Influx = new InfluxQlClient(_influxd.Url, Database);
        await WriteAsync(Seed.Lines(DateTimeOffset.UtcNow));
    }

    /// <summary>Writes line protocol (ms precision) straight into influxd, as the analytics jobs and the ingestor do.</summary>
    public async Task WriteAsync(IEnumerable<string> lines)
    {
        using var http = new HttpClient();
        using var body = new StringContent(string.Join('\n', lines), Encoding.UTF8, "text/plain");
        using var r = await http.PostAsync(new Uri($"{_influxd!.Url}/write?db={Database}&precision=ms"), body);
        Assert.True(r.IsSuccessStatusCode, $"influxd refused the seed: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    /// <summary>An HTTP client for the API, signed in as <paramref name="user"/> (null: no token; "bad": a token nobody holds).</summary>
    public HttpClient Client(string? user)
    {
        var c = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        if (user == "bad") c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AccessList.NewToken());
        else if (user is not null) c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens[user]);
        return c;
    }

    public async Task DisposeAsync()
    {
        if (_cloud is not null) await _cloud.DisposeAsync();
        Influx?.Dispose();
        if (_influxd is not null) await _influxd.DisposeAsync();
        _dir.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiServer>
{
    public const string Name = "api";
}
