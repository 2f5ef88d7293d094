using System.Text.Json;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Jobs;

namespace KhuyenCong.Jobs.Tests;

/// <summary>The analytics job over three simulated days of the demo site, against a real influxd.</summary>
public sealed class DerivedSeriesTests(SimulatedSiteFixture site) : IClassFixture<SimulatedSiteFixture>
{
    private const string Site = "bat-trang-demo";

    [Fact]
    public async Task Firings_carry_energy_production_and_SEC_and_match_the_firings_the_simulator_started()
    {
        var firings = await site.Influx.QueryAsync($"SELECT * FROM firing WHERE site = '{Site}' GROUP BY kiln");
        foreach (var kiln in new[] { "kiln-1", "kiln-2" })
        {
            var s = firings.Single(x => x.Tags["kiln"] == kiln);
            var started = site.History.Firings.Where(f => f.Kiln == kiln).ToList();
            // Every firing the simulator started appears, at its start (the first poll that read kiln_running = 1).
            Assert.Equal(started.Select(f => f.Start), s.Times());
            var complete = s.Numbers("running").Count(r => r == 0);
            Assert.True(complete >= 2, $"{kiln}: {complete} complete firings");
            var ware = s.Numbers("ware_kg").ToList();
            var mj = s.Numbers("energy_mj").ToList();
            var sec = s.Numbers("sec_mj_per_kg").ToList();
            for (var i = 0; i < s.Values.Count; i++)
            {
                Assert.Equal(started[i].WareKg, ware[i]);
                Assert.True(mj[i] > 0);
                Assert.Equal(mj[i]!.Value / ware[i]!.Value, sec[i]!.Value, 9);
            }
        }
        // The electric kiln's energy is its meter's; the LPG kiln's is mostly gas (and a little blower electricity).
        var k1 = firings.Single(x => x.Tags["kiln"] == "kiln-1");
        Assert.All(k1.Numbers("electricity_kwh").Zip(k1.Numbers("energy_mj")), p => Assert.Equal(p.First!.Value * 6.460, p.Second!.Value, 0));
        var k2 = firings.Single(x => x.Tags["kiln"] == "kiln-2");
        Assert.All(k2.Numbers("lpg_kg"), kg => Assert.True(kg > 5, $"LPG {kg} kg"));
    }

    [Fact]
    public async Task Hourly_energy_of_each_meter_sums_to_the_counter_difference_less_the_documented_adjustments()
    {
        var from = SimulatedSiteFixture.From;
        var to = SimulatedSiteFixture.To;
        foreach (var (device, field, stock) in new[] { ("kiln1-meter", "energy_import_kwh", false), ("main-meter", "energy_import_kwh", false), ("kiln2-lpg", "lpg_mass_kg", true) })
        {
            var raw = await site.Influx.QueryAsync($"SELECT first({field}), last({field}) FROM {RawSeries.MeasurementOf(field)} WHERE device = '{device}' AND time >= {from.ToUnixTimeMilliseconds()}ms AND time < {to.ToUnixTimeMilliseconds()}ms");
            var first = raw.Single().Numbers("first").Single()!.Value;
            var last = raw.Single().Numbers("last").Single()!.Value;
            var e = (await site.Influx.QueryAsync($"SELECT sum(amount), sum(adjustment), count(amount) FROM energy WHERE device = '{device}'")).Single();
            var amount = e.Numbers("sum").Single()!.Value;
            var adjustment = e.Numbers("sum_1").Single()!.Value;
            Assert.Equal(72, e.Numbers("count").Single());
            var change = stock ? first - last : last - first;
            Assert.Equal(change - adjustment, amount, 6);
            Assert.True(amount > 10, $"{device}: {amount}");
            if (stock) Assert.True(adjustment < -100, $"the LPG scale was refilled: adjustment {adjustment} kg");
        }
    }

    [Fact]
    public async Task EnPIs_baselines_savings_and_compliance_are_written()
    {
        var enpi = await site.Influx.QueryAsync($"SELECT * FROM enpi WHERE site = '{Site}' GROUP BY scope, kiln, period");
        var siteDays = enpi.Single(s => s.Tags["scope"] == "site" && s.Tags["period"] == "day");
        Assert.Equal(3, siteDays.Values.Count);
        Assert.All(siteDays.Numbers("completeness"), c => Assert.Equal(1.0, c!.Value, 3));
        var month = enpi.Single(s => s.Tags["scope"] == "site" && s.Tags["period"] == "month");
        Assert.Equal(new DateTimeOffset(2026, 10, 31, 17, 0, 0, TimeSpan.Zero), month.Times().Single());
        Assert.True(month.Numbers("sec_mj_per_kg").Single() > 0);
        var kilnMonth = enpi.Single(s => s.Tags["scope"] == "kiln" && s.Tags["kiln"] == "kiln-1" && s.Tags["period"] == "month");
        var firings = (await site.Influx.QueryAsync($"SELECT energy_mj, ware_kg FROM firing WHERE kiln = 'kiln-1'")).Single();
        Assert.Equal(firings.Values.Count, kilnMonth.Numbers("firings").Single());
        Assert.Equal(firings.Numbers("energy_mj").Sum()!.Value / firings.Numbers("ware_kg").Sum()!.Value, kilnMonth.Numbers("sec_mj_per_kg").Single()!.Value, 9);

        var models = await site.Influx.QueryAsync($"SELECT * FROM baseline_model WHERE site = '{Site}' GROUP BY kiln");
        var savings = await site.Influx.QueryAsync($"SELECT * FROM savings WHERE site = '{Site}' GROUP BY kiln");
        foreach (var kiln in new[] { "kiln-1", "kiln-2" })
        {
            var complete = (await site.Influx.QueryAsync($"SELECT count(energy_mj) FROM firing WHERE kiln = '{kiln}' AND running = 0")).Single().Numbers("count").Single()!.Value;
            var m = models.SingleOrDefault(s => s.Tags["kiln"] == kiln);
            if (complete < 6)
            {
                Assert.Null(m); // fewer than three baseline firings: no model, said by its absence
                continue;
            }
            Assert.NotNull(m);
            Assert.Equal(Math.Floor(complete / 2), m.Numbers("n").Single());
            Assert.Contains("first half", m.Strings("summary").Single(), StringComparison.Ordinal);
            Assert.True(m.Numbers("slope_mj_per_kg").Single() > 0, "a fuller kiln takes more energy");
            var sv = savings.Single(s => s.Tags["kiln"] == kiln);
            Assert.Equal(complete - Math.Floor(complete / 2), sv.Values.Count);
            var avoided = sv.Numbers("avoided_mj").Select(v => v!.Value).ToList();
            var cusum = sv.Numbers("cusum_mj").Select(v => v!.Value).ToList();
            for (var i = 0; i < avoided.Count; i++) Assert.Equal(avoided.Take(i + 1).Sum(), cusum[i], 6);
        }

        var compliance = await site.Influx.QueryAsync("SELECT * FROM compliance GROUP BY site");
        var demo = compliance.Single(s => s.Tags["site"] == Site);
        Assert.Equal(new DateTimeOffset(2025, 12, 31, 17, 0, 0, TimeSpan.Zero), demo.Times().Single());
        Assert.Equal(0, demo.Numbers("key_consumer").Single());
        Assert.Equal(1000, demo.Numbers("threshold_toe").Single());
        Assert.Equal(1, demo.Numbers("sec_rank").Single()); // the only site with production
        var yearEnpi = enpi.Single(s => s.Tags["scope"] == "site" && s.Tags["period"] == "year");
        Assert.Equal(yearEnpi.Numbers("toe").Single()!.Value, demo.Numbers("toe").Single()!.Value, 9);
        Assert.Equal(3, compliance.Count); // every site of the registry has its line
    }

    [Fact]
    public async Task Running_the_job_again_over_the_same_window_writes_identical_points()
    {
        var before = await Snapshot(site.Influx);
        var again = await site.Job().RunAsync(SimulatedSiteFixture.From, SimulatedSiteFixture.To, "recompute", default);
        Assert.Null(again.Error);
        Assert.Equal(site.FirstRun.Points, again.Points);
        var after = await Snapshot(site.Influx);
        Assert.Equal(before.Count, after.Count);
        foreach (var (k, v) in before) Assert.Equal(v, after[k]);
        var runs = (await site.Influx.QueryAsync("SELECT points, error FROM job_run")).Single();
        Assert.True(runs.Values.Count >= 2);
    }

    [Fact]
    public async Task An_incremental_run_over_the_last_day_keeps_every_firing_and_recomputes_the_same_firings()
    {
        var before = await Snapshot(site.Influx);
        try
        {
            var r = await site.Job().RunIncrementalAsync(SimulatedSiteFixture.To, default);
            Assert.Null(r.Error);
            Assert.Equal(SimulatedSiteFixture.To - TimeSpan.FromDays(2), r.From);
            var after = await Snapshot(site.Influx);
            // Same points: none lost (an earlier firing of one kiln is not mistaken for a stale one), none added.
            Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
            // Electric firings are the same to the watt-hour: their counters need no anchor history.
            var firings = (await site.Influx.QueryAsync("SELECT electricity_kwh FROM firing WHERE kiln = 'kiln-1'")).Single();
            foreach (var (t, kwh) in firings.Times().Zip(firings.Numbers("electricity_kwh")))
            {
                var old = before.Single(kv => kv.Key.StartsWith("firing,kiln=kiln-1,site=bat-trang-demo " + t.ToUnixTimeMilliseconds(), StringComparison.Ordinal)).Value;
                Assert.Contains(FormattableString.Invariant($"electricity_kwh="), old, StringComparison.Ordinal);
                var was = double.Parse(old.Split(',').Single(f => f.StartsWith("electricity_kwh=", StringComparison.Ordinal))["electricity_kwh=".Length..], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(was, kwh!.Value, 3);
            }
        }
        finally
        {
            // Leave the fixture as one full run wrote it, for the other tests.
            await site.Job().RunAsync(SimulatedSiteFixture.From, SimulatedSiteFixture.To, "recompute", default);
        }
    }

    [Fact]
    public async Task A_run_killed_half_way_and_run_again_leaves_the_same_points_as_one_clean_run()
    {
        var clean = await Snapshot(site.Influx);
        foreach (var m in new[] { "energy", "firing", "enpi", "savings", "baseline_model", "compliance" }) await site.Influx.ExecuteAsync($"DROP MEASUREMENT {m}");
        // The process dies after its third write request: cancel the run there, as a kill would stop it.
        using var kill = new CancellationTokenSource();
        using var dying = new KillingSink(site.Sink, afterWrites: 3, kill);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => site.Job(dying).RunAsync(SimulatedSiteFixture.From, SimulatedSiteFixture.To, "recompute", kill.Token));
        var partial = await Snapshot(site.Influx, allowEmpty: true);
        Assert.True(partial.Count < clean.Count, $"the killed run wrote {partial.Count} of {clean.Count} points");
        Assert.Contains(partial.Keys, k => k.StartsWith("energy,", StringComparison.Ordinal));

        var rerun = await site.Job().RunAsync(SimulatedSiteFixture.From, SimulatedSiteFixture.To, "recompute", default);
        Assert.Null(rerun.Error);
        var after = await Snapshot(site.Influx);
        Assert.Equal(clean.Count, after.Count);
        foreach (var (k, v) in clean) Assert.Equal(v, after[k]);
    }

    /// <summary>Passes writes through to the real sink, then cancels the run after a number of them.</summary>
    private sealed class KillingSink(ITimeSeriesSink inner, int afterWrites, CancellationTokenSource kill) : ITimeSeriesSink
    {
        private int _writes;

        public Task PrepareAsync(CancellationToken ct) => inner.PrepareAsync(ct);

        public async Task WriteAsync(IReadOnlyList<InfluxDB.Client.Writes.PointData> points, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            await inner.WriteAsync(points, ct);
            if (++_writes >= afterWrites) await kill.CancelAsync();
        }

        public Task WriteLinesAsync(IReadOnlyList<ReadOnlyMemory<byte>> chunks, InfluxDB.Client.Api.Domain.WritePrecision precision, CancellationToken ct) =>
            inner.WriteLinesAsync(chunks, precision, ct);

        public string Describe() => "killing " + inner.Describe();

        public void Dispose()
        {
        }
    }

    /// <summary>Every derived point, as text keyed by measurement, tags and time.</summary>
    internal static async Task<Dictionary<string, string>> Snapshot(InfluxQlClient influx, bool allowEmpty = false)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var m in new[] { "energy", "firing", "enpi", "savings", "baseline_model", "compliance" })
        {
            foreach (var s in await influx.QueryAsync($"SELECT * FROM {m} GROUP BY *"))
            {
                var tags = string.Join(",", s.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}"));
                foreach (var row in s.Values) d[$"{m},{tags} {row[0]}"] = string.Join(",", s.Columns.Zip(row).Select(c => $"{c.First}={c.Second.GetRawText()}"));
            }
        }
        if (!allowEmpty) Assert.NotEmpty(d);
        return d;
    }
}
