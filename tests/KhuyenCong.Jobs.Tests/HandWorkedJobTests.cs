using KhuyenCong.Analytics.Firings;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Jobs;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Jobs.Tests;

/// <summary>
/// A raw series made by hand — a counter reset, a rollover, a glitch and an LPG refill — written into a real influxd as the
/// ingestor writes it; the expected hourly energy and firing totals are worked out here, by hand, and compared with what
/// the job wrote.
/// </summary>
public sealed class HandWorkedJobTests
{
    private const string Registry = """
        version: 1
        sites:
          - id: hand
            name: Hand-worked workshop
            gateways: [{ id: gw-hand }]
            kilns:
              - { id: k1, name: Electric kiln, type: electric }
              - { id: k2, name: LPG kiln, type: lpg }
            meters:
              - { device: m1, gateway: gw-hand, kiln: k1, carrier: electricity, point: energy_import_kwh, max_rate_per_hour: 20, poll_interval: 10m }
              - { device: main, gateway: gw-hand, carrier: electricity, point: energy_import_kwh, max_rate_per_hour: 50, poll_interval: 10m }
              - { device: scale, gateway: gw-hand, kiln: k2, carrier: lpg, point: lpg_mass_kg, max_rate_per_hour: 30, poll_interval: 10m }
        """;

    // Tuesday 10 November 2026, 08:00 local (01:00 UTC): under Decision 963 08:00–10:00 is normal time, 1,987 VND/kWh below 6 kV.
    private static readonly DateTimeOffset T0 = new(2026, 11, 10, 1, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Hourly_energy_and_firing_totals_equal_the_hand_worked_numbers()
    {
        using var dir = new TempDirectory();
        await using var influxd = await LocalInfluxd.StartAsync(dir.File("influx"));
        using var sink = new InfluxV1Sink(new InfluxConfig { Url = influxd.Url, Database = "hand" }, password: null);
        await sink.PrepareAsync(default);
        using var influx = new InfluxQlClient(influxd.Url, "hand");
        using var production = new ProductionStore(dir.File("production.db"));

        // Readings every 10 minutes, t in minutes from T0.
        // m1 (kiln k1, ≤ 20 kW so ≤ 3.33 kWh per 10 min): +2 per step; at 30 a brief 0 (glitch); at 60 the meter resets to 1.5.
        double[] m1 = [100, 102, 104, 0, 108, 110, 1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5];
        // main (site, register wraps at 1000): +5 per step, and at 30 it wraps from 995 to 1 (+6).
        double[] main = [985, 990, 995, 1, 6, 11, 16, 21, 26, 31, 36, 41, 46];
        // scale (kiln k2): −2 kg per step; at 40 the cylinders are changed (34 → 79 kg).
        double[] scale = [40, 38, 36, 34, 79, 77, 75, 73, 71, 69, 67, 65, 63];
        // k1 fires from t = 10 to t = 100, k2 from t = 20 to t = 120 (the first reading of 0 ends a firing).
        double[] k1Running = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
        double[] k2Running = [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
        var lines = new List<string>();
        for (var i = 0; i < 13; i++)
        {
            var ms = (T0 + TimeSpan.FromMinutes(10 * i)).ToUnixTimeMilliseconds();
            lines.Add($"meter,device=m1,gateway=gw-hand,kiln=k1,site=hand energy_import_kwh={m1[i]} {ms}");
            lines.Add($"meter,device=main,gateway=gw-hand,site=hand energy_import_kwh={main[i]} {ms}");
            lines.Add($"gas,device=scale,gateway=gw-hand,kiln=k2,site=hand lpg_mass_kg={scale[i]} {ms}");
            lines.Add($"kiln,device=c1,gateway=gw-hand,kiln=k1,site=hand kiln_running={k1Running[i]},kiln_temp_c={(i == 5 ? 1200 : 500 + i)} {ms}");
            lines.Add($"kiln,device=c2,gateway=gw-hand,kiln=k2,site=hand kiln_running={k2Running[i]},kiln_temp_c={900 + i} {ms}");
        }
        using (var http = new HttpClient())
        {
            using var body = new StringContent(string.Join("\n", lines));
            using var resp = await http.PostAsync(new Uri($"{influxd.Url}/write?db=hand&precision=ms"), body);
            Assert.Equal(System.Net.HttpStatusCode.NoContent, resp.StatusCode);
        }
        production.Append(new ProductionEntry("p1", "hand", "k1", T0.AddMinutes(10), T0.AddHours(3), "operator", 50, 40, "bowls"));
        production.Append(new ProductionEntry("p2", "hand", "k2", T0.AddMinutes(20), T0.AddHours(3), "operator", 120, 60, "vases"));

        var registry = SiteRegistry.Parse(Registry, "hand.yaml");
        var job = new AnalyticsJob(registry, SimulatedSiteFixture.Factors, influx, sink, production, new JobOptions { CounterModulus = new Dictionary<string, double> { ["hand/main"] = 1000 } });
        var run = await job.RunAsync(T0, T0.AddHours(3), "recompute", default);
        Assert.Null(run.Error);

        var energy = await influx.QueryAsync("SELECT amount, adjustment, flagged_amount, cost_vnd FROM energy GROUP BY device");
        (double Amount, double Adjustment, double Flagged)[] Hours(string device)
        {
            var s = energy.Single(x => x.Tags["device"] == device);
            Assert.Equal([T0, T0.AddHours(1)], s.Times());
            return [.. s.Numbers("amount").Zip(s.Numbers("adjustment"), s.Numbers("flagged_amount")).Select(x => (x.First!.Value, x.Second!.Value, x.Third!.Value))];
        }
        // m1, hour 1: 2 + 2 + 4 (20→40, the glitch at 30 skipped) + 2 + 1.5 (50→60: the reset counts the new reading) = 11.5;
        // flagged: the glitch interval (4) and the reset (1.5); not counted: the 110 kWh the reset threw away.
        // Hour 2: six steps of 2 = 12.
        Assert.Equal([(11.5, -110, 5.5), (12, 0, 0)], Hours("m1"));
        // main, hour 1: 5 + 5 + 6 (995 → 1 across the wrap at 1000) + 5 + 5 + 5 = 31, the wrap adjusted by −1000; hour 2: 30.
        Assert.Equal([(31, -1000, 6), (30, 0, 0)], Hours("main"));
        // scale, hour 1: 2 + 2 + 2 + 0 (the refill) + 2 + 2 = 10, the 45 kg rise adjusted away; hour 2: 12.
        Assert.Equal([(10, -45, 0), (12, 0, 0)], Hours("scale"));
        // So Σ amount = counter difference − Σ adjustment for each: 13.5 − 100 + 110 = 23.5; 46 − 985 + 1000 = 61; 40 − 63 + 45 = 22.
        // Cost: all of it in normal time.
        Assert.Equal([11.5 * 1987, 12 * 1987], energy.Single(x => x.Tags["device"] == "m1").Numbers("cost_vnd").Select(v => Math.Round(v!.Value, 6)));

        var firings = await influx.QueryAsync("SELECT * FROM firing GROUP BY kiln");
        var mjPerKwh = 0.1543 / 1000 * 41_868;   // 0.1543 TOE/MWh, 41,868 MJ/TOE
        var mjPerKgLpg = 1.09 / 1000 * 41_868;   // 1.09 TOE/t
        var f1 = firings.Single(s => s.Tags["kiln"] == "k1");
        Assert.Equal(T0.AddMinutes(10), f1.Times().Single());
        Assert.Equal(T0.AddMinutes(100).ToUnixTimeMilliseconds(), f1.Numbers("end_ms").Single());
        // k1 from 10 to 100: 2 + 4 + 2 + 1.5 + 4 × 2 = 17.5 kWh.
        Assert.Equal(17.5, f1.Numbers("electricity_kwh").Single()!.Value, 9);
        Assert.Equal(17.5 * mjPerKwh, f1.Numbers("energy_mj").Single()!.Value, 6);
        Assert.Equal(17.5 * mjPerKwh / 50, f1.Numbers("sec_mj_per_kg").Single()!.Value, 9);
        Assert.Equal(17.5 * 1987, f1.Numbers("cost_vnd").Single()!.Value, 6);
        Assert.Equal(1200, f1.Numbers("peak_c").Single());
        Assert.Equal("run_state", f1.Strings("method").Single());
        // k2 from 20 to 120: 2 + 0 (refill) + 2 + 2 + 6 × 2 = 18 kg of LPG.
        var f2 = firings.Single(s => s.Tags["kiln"] == "k2");
        // kgoe/t: 18 kg × 1.09 kgoe/kg over 0.120 t.
        Assert.Equal(18, f2.Numbers("lpg_kg").Single()!.Value, 9);
        Assert.Equal(18 * mjPerKgLpg / 120, f2.Numbers("sec_mj_per_kg").Single()!.Value, 9);
        Assert.Equal(18 * 1.09 / 0.120, f2.Numbers("sec_kgoe_per_t").Single()!.Value, 6);

        // The site's day: everything the main meter recorded (61 kWh) plus the LPG (22 kg), over 170 kg of ware.
        var day = (await influx.QueryAsync("SELECT * FROM enpi WHERE scope = 'site' AND period = 'day'")).Single();
        Assert.Equal(61, day.Numbers("electricity_kwh").Single()!.Value, 9);
        Assert.Equal(22, day.Numbers("lpg_kg").Single()!.Value, 9);
        Assert.Equal((61 * mjPerKwh + 22 * mjPerKgLpg) / 170, day.Numbers("sec_mj_per_kg").Single()!.Value, 6);
        Assert.Equal(2, day.Numbers("firings").Single());
    }

    [Fact]
    public async Task An_incremental_run_keeps_a_firing_that_ended_before_its_window_while_another_kiln_was_still_firing()
    {
        using var dir = new TempDirectory();
        await using var influxd = await LocalInfluxd.StartAsync(dir.File("influx"));
        using var sink = new InfluxV1Sink(new InfluxConfig { Url = influxd.Url, Database = "inc" }, password: null);
        await sink.PrepareAsync(default);
        using var influx = new InfluxQlClient(influxd.Url, "inc");
        using var production = new ProductionStore(dir.File("production.db"));
        // k2 fires from t = 10 to 160 min; k1 from 20 to 60 min, inside k2's firing. The meter counts 1 kWh per step.
        var lines = new List<string>();
        for (var i = 0; i <= 18; i++)
        {
            var ms = (T0 + TimeSpan.FromMinutes(10 * i)).ToUnixTimeMilliseconds();
            lines.Add($"kiln,device=c1,gateway=gw-hand,kiln=k1,site=hand kiln_running={(i is >= 2 and <= 5 ? 1 : 0)} {ms}");
            lines.Add($"kiln,device=c2,gateway=gw-hand,kiln=k2,site=hand kiln_running={(i is >= 1 and <= 15 ? 1 : 0)} {ms}");
            lines.Add($"meter,device=m1,gateway=gw-hand,kiln=k1,site=hand energy_import_kwh={100 + i} {ms}");
        }
        using (var http = new HttpClient())
        {
            using var body = new StringContent(string.Join("\n", lines));
            using var resp = await http.PostAsync(new Uri($"{influxd.Url}/write?db=inc&precision=ms"), body);
            Assert.Equal(System.Net.HttpStatusCode.NoContent, resp.StatusCode);
        }
        var job = new AnalyticsJob(SiteRegistry.Parse(Registry, "hand.yaml"), SimulatedSiteFixture.Factors, influx, sink, production);
        await job.RunAsync(T0, T0.AddHours(3), "recompute", default);
        async Task<List<DateTimeOffset>> Starts(string kiln) => [.. (await influx.QueryAsync($"SELECT duration_h FROM firing WHERE kiln = '{kiln}'")).SelectMany(s => s.Times())];
        Assert.Equal([T0.AddMinutes(20)], await Starts("k1"));
        Assert.Equal([T0.AddMinutes(10)], await Starts("k2"));

        // The window starts at T0 + 2 h: k2 is firing then (its firing is recomputed from its start at 10 min), k1 is not.
        await job.RunAsync(T0.AddHours(2), T0.AddHours(3), "analytics", default);
        Assert.Equal([T0.AddMinutes(20)], await Starts("k1"));
        Assert.Equal([T0.AddMinutes(10)], await Starts("k2"));
        var k1 = (await influx.QueryAsync("SELECT electricity_kwh FROM firing WHERE kiln = 'k1'")).Single();
        Assert.Equal(4, k1.Numbers("electricity_kwh").Single()); // 20 → 60 min: four steps of 1 kWh
    }
}
