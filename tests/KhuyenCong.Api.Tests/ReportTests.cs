using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Api.Tests;

/// <summary>The annual report: the CSV parses and its totals equal what influxd holds; the HTML is self-contained with its SVG charts.</summary>
[Collection(ApiCollection.Name)]
public sealed partial class ReportTests(ApiServer server)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    [Fact]
    public async Task The_csv_report_parses_and_its_totals_equal_the_enpi_and_firing_data_in_influxd()
    {
        using var c = server.Client("aud");
        using var r = await c.GetAsync(new Uri("/api/v1/sites/site-a/reports/2025.csv", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/csv", r.Content.Headers.ContentType?.MediaType);
        var rows = ParseCsv(await r.Content.ReadAsStringAsync());
        Assert.Equal(["section", "scope", "period", "quantity", "value", "unit", "note"], rows[0]);
        Assert.All(rows, row => Assert.Equal(7, row.Length));
        var data = rows.Skip(1).Select(x => (Section: x[0], Scope: x[1], Period: x[2], Quantity: x[3], Value: x[4], Unit: x[5], Note: x[6])).ToList();
        double V(string section, string scope, string period, string quantity) =>
            double.Parse(data.Single(d => d.Section == section && d.Scope == scope && d.Period == period && d.Quantity == quantity).Value, Inv);

        // What influxd holds, asked directly.
        var year = (await server.Influx.QueryAsync("SELECT energy_mj, electricity_kwh, lpg_kg, production_kg, sec_mj_per_kg, toe FROM enpi WHERE site = 'site-a' AND scope = 'site' AND period = 'year'")).Single();
        var firings = (await server.Influx.QueryAsync("SELECT energy_mj, ware_kg FROM firing WHERE site = 'site-a' AND time >= '2024-12-31T17:00:00Z' AND time < '2025-12-31T17:00:00Z'")).Single();
        var months = (await server.Influx.QueryAsync("SELECT energy_mj FROM enpi WHERE site = 'site-a' AND scope = 'site' AND period = 'month'")).Single();

        Assert.Equal(year.Numbers("electricity_kwh").Single(), V("consumption", "electricity", "2025", "amount"));
        Assert.Equal(year.Numbers("lpg_kg").Single(), V("consumption", "lpg", "2025", "amount"));
        Assert.Equal("kWh", data.Single(d => d.Section == "consumption" && d.Scope == "electricity" && d.Quantity == "amount").Unit);
        Assert.Equal(year.Numbers("toe").Single()!.Value, V("total", "site-a", "2025", "toe"), 9);
        Assert.Equal(V("consumption", "electricity", "2025", "toe") + V("consumption", "lpg", "2025", "toe"), V("total", "site-a", "2025", "toe"), 12);
        Assert.Equal(year.Numbers("energy_mj").Single(), V("total", "site-a", "2025", "energy_mj"));
        Assert.Equal(year.Numbers("sec_mj_per_kg").Single(), V("sec", "site-a", "2025", "mj_per_kg"));
        Assert.Equal(year.Numbers("production_kg").Single(), V("production", "site-a", "2025", "ware_kg"));

        // The report's firing rows are the firings in influxd, and their production adds up to the year's.
        var csvFirings = data.Where(d => d.Section == "firing" && d.Quantity == "energy_mj").ToList();
        Assert.Equal(firings.Values.Count, csvFirings.Count);
        Assert.Equal(firings.Numbers("energy_mj").Sum()!.Value, csvFirings.Sum(d => double.Parse(d.Value, Inv)), 6);
        Assert.Equal(firings.Numbers("ware_kg").Sum()!.Value, data.Where(d => d.Section == "firing" && d.Quantity == "ware_kg" && d.Value != "").Sum(d => double.Parse(d.Value, Inv)), 9);
        Assert.Equal(V("production", "site-a", "2025", "ware_kg"), firings.Numbers("ware_kg").Sum()!.Value, 9);
        Assert.Equal(months.Numbers("energy_mj").Sum()!.Value, data.Where(d => d.Section == "month" && d.Quantity == "energy_mj").Sum(d => double.Parse(d.Value, Inv)), 6);

        Assert.Equal("below_threshold", data.Single(d => d.Section == "key_consumer" && d.Quantity == "status").Value);
        Assert.Equal(100 * 0.06 / 1.06, V("savings", "month", "2025", "savings_pct"), 9);
        Assert.Equal(5, V("target", "site-a", "2026", "savings_pct"));
        Assert.Equal(V("sec", "site-a", "2025", "mj_per_kg") * 0.95, V("target", "site-a", "2026", "sec_mj_per_kg"), 9);
        Assert.Equal(1, V("baseline", "site", "month", "adequate"));
        Assert.Equal("Fibre door lining", data.Single(d => d.Section == "measure" && d.Scope == "kiln-1" && d.Period == "2025-02-01" && d.Quantity == "name").Value);
        Assert.Equal(4, V("measure", "kiln-1", "2025-02-01", "expected_savings_pct"));
        Assert.Equal(0, V("baseline", "kiln:kiln-2", "firing", "adequate"));
    }

    [Fact]
    public async Task The_html_report_is_self_contained_with_three_svg_charts_drawn_from_the_data()
    {
        using var c = server.Client("op-a");
        using var r = await c.GetAsync(new Uri("/api/v1/sites/site-a/reports/2025.html", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/html", r.Content.Headers.ContentType?.MediaType);
        var html = await r.Content.ReadAsStringAsync();
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("Xưởng A / Workshop A", html, StringComparison.Ordinal);
        foreach (var id in new[] { "chart-sec", "chart-baseline", "chart-cusum" })
            Assert.Matches($"<svg id=\"{id}\" class=\"chart\"[^>]*>.*?<polyline .*?</svg>", html);
        // No script and nothing fetched from elsewhere: no src=, no href=, no url(), no @import.
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("(src|href)=|url\\(|@import", html);
        Assert.Contains("@media print", html, StringComparison.Ordinal);
        // The SEC chart has one point per month, each labelled with its value.
        var sec = SecChart().Match(html).Value;
        Assert.Equal(3, Regex.Count(sec, "<circle "));
        var jan = Seed.SiteAMonths()[0];
        Assert.Contains($"Jan: {(jan.SecEnergyMj / jan.WareKg).ToString("#,0.##", Inv)} MJ/kg", sec, StringComparison.Ordinal);
        Assert.Contains("Not a key energy consumer", html, StringComparison.Ordinal);
        Assert.Contains("<td>Fibre door lining</td><td>2025-02-01</td><td>kiln-1</td><td class=\"n\">4.0 %</td>", html, StringComparison.Ordinal);
        Assert.Contains("Baseline period: 2024-01-01 – 2024-12-31 (local days)", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_html_report_prints_to_pdf_in_chromium()
    {
        if (!File.Exists("/usr/bin/chromium")) Assert.Fail("chromium is needed: apt-get install chromium (./kc does it)");
        using var c = server.Client("centre");
        var html = await c.GetStringAsync(new Uri("/api/v1/sites/site-a/reports/2025.html", UriKind.Relative));
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("report.html"), html, Encoding.UTF8);
        var pdf = dir.File("report.pdf");
        await using var chromium = ExternalProcess.Start("/usr/bin/chromium",
            ["--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", $"--user-data-dir={dir.File("profile")}", $"--print-to-pdf={pdf}", "file://" + dir.File("report.html")]);
        var exit = await chromium.WaitForExitAsync(TimeSpan.FromSeconds(180));
        Assert.True(File.Exists(pdf), $"chromium wrote no PDF (exit {exit}): {chromium.Output}");
        var bytes = File.ReadAllBytes(pdf);
        Assert.Equal("%PDF", Encoding.ASCII.GetString(bytes, 0, 4));
        Assert.True(bytes.Length > 10_000, $"the PDF is only {bytes.Length} bytes");
    }

    [Fact]
    public async Task A_year_without_data_gives_an_empty_but_complete_report()
    {
        using var c = server.Client("centre");
        var csv = ParseCsv(await c.GetStringAsync(new Uri("/api/v1/sites/site-c/reports/2024.csv", UriKind.Relative)));
        Assert.Contains(csv, row => row[0] == "total" && row[3] == "toe" && row[4] == "0");
        Assert.Contains(csv, row => row[0] == "target" && row[2] == "2025" && row[3] == "savings_pct" && row[4] == "8");
        var html = await c.GetStringAsync(new Uri("/api/v1/sites/site-c/reports/2024.html", UriKind.Relative));
        Assert.Equal(3, Regex.Count(html, "no data for this period"));
    }

    /// <summary>RFC 4180: quoted fields may hold commas, quotes ("") and line breaks.</summary>
    internal static List<string[]> ParseCsv(string text)
    {
        var rows = new List<string[]>();
        var row = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else field.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { row.Add(field.ToString()); field.Clear(); }
            else if (ch == '\r') { }
            else if (ch == '\n') { row.Add(field.ToString()); field.Clear(); rows.Add([.. row]); row.Clear(); }
            else field.Append(ch);
        }
        Assert.False(quoted, "the CSV ends inside a quoted field");
        if (field.Length > 0 || row.Count > 0) { row.Add(field.ToString()); rows.Add([.. row]); }
        return rows;
    }

    [GeneratedRegex("<svg id=\"chart-sec\".*?</svg>")]
    private static partial Regex SecChart();
}
