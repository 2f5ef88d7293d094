using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Production;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Jobs.Tests;

/// <summary>The simulated history: days of raw data written into a real influxd as the ingestor writes it.</summary>
public sealed class SimulatedHistoryTests
{
    public static string DemoGateway => Path.Combine(RepoPaths.Gateways, "demo-workshop.yaml");

    [Fact]
    public async Task Two_days_at_the_gateways_poll_intervals_hold_complete_firings_with_varied_loads_and_production_entries()
    {
        using var dir = new TempDirectory();
        await using var influxd = await LocalInfluxd.StartAsync(dir.File("influx"));
        using var sink = new InfluxV1Sink(new InfluxConfig { Url = influxd.Url, Database = "hist" }, password: null);
        await sink.PrepareAsync(default);
        using var production = new ProductionStore(dir.File("production.db"));
        var from = new DateTimeOffset(2026, 11, 1, 17, 0, 0, TimeSpan.Zero);
        var to = from.AddDays(2);

        var r = await SimulatedHistory.WriteAsync(sink, DemoGateway, from, to, production);

        // 2 s polls for four devices and 5 s for the scale: 4 × 86,400 + 34,560 lines.
        Assert.Equal(4 * 86_400 + 34_560, r.Lines);
        Assert.True(r.Firings.Count(f => f.Kiln == "kiln-1") >= 2, $"kiln-1 fired {r.Firings.Count(f => f.Kiln == "kiln-1")} times");
        Assert.True(r.Firings.Count(f => f.Kiln == "kiln-2") >= 2, $"kiln-2 fired {r.Firings.Count(f => f.Kiln == "kiln-2")} times");
        Assert.True(r.Firings.Select(f => f.WareKg).Distinct().Count() == r.Firings.Count, "every firing has its own load");
        Assert.Equal(r.Firings.Count, production.Entries("bat-trang-demo").Count);
        Assert.All(production.Entries("bat-trang-demo"), e => Assert.Equal("simulator", e.RecordedBy));

        using var influx = new InfluxQlClient(influxd.Url, "hist");
        var counts = await influx.QueryAsync("SELECT count(energy_import_kwh) FROM meter GROUP BY device; SELECT count(lpg_mass_kg) FROM gas; SELECT count(kiln_running) FROM kiln WHERE kiln = 'kiln-2'");
        Assert.Equal(86_400, counts.Single(s => s.Tags.GetValueOrDefault("device") == "kiln1-meter").Numbers("count").Single());
        Assert.Equal(34_560, counts.Single(s => s.Name == "gas").Numbers("count").Single());
        Assert.Equal(86_400, counts.Single(s => s.Name == "kiln").Numbers("count").Single());
        // Runs of kiln_running = 1 in the data are the firings the simulator started.
        var running = Assert.Single(await influx.QueryAsync("SELECT kiln_running FROM kiln WHERE kiln = 'kiln-1'")).Numbers("kiln_running").ToList();
        var starts = running.Zip(running.Skip(1)).Count(p => p.First == 0 && p.Second == 1);
        Assert.Equal(r.Firings.Count(f => f.Kiln == "kiln-1"), starts);
        // The LPG scale shows a cylinder change: a rise of more than 100 kg between two readings.
        var lpg = Assert.Single(await influx.QueryAsync("SELECT lpg_mass_kg FROM gas")).Numbers("lpg_mass_kg").Select(v => v!.Value).ToList();
        Assert.Contains(lpg.Zip(lpg.Skip(1)), p => p.Second - p.First > 100);

        // Writing the same history again changes nothing (same points, no new production entries).
        var again = await SimulatedHistory.WriteAsync(sink, DemoGateway, from, to, production);
        Assert.Equal(r.Firings, again.Firings);
        Assert.Equal(r.Firings.Count, production.Entries("bat-trang-demo").Count);
        var recount = await influx.QueryAsync("SELECT count(energy_import_kwh) FROM meter WHERE device = 'kiln1-meter'");
        Assert.Equal(86_400, recount.Single().Numbers("count").Single());
        Console.WriteLine($"history: {r.Lines} lines in {r.Elapsed.TotalSeconds:0.0} s");
    }
}
