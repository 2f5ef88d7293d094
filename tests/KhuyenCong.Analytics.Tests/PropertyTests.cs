using KhuyenCong.Analytics.Factors;
using KhuyenCong.Analytics.Intervals;
using static KhuyenCong.Analytics.Tests.Shared;

namespace KhuyenCong.Analytics.Tests;

/// <summary>Properties checked on many random series from a seeded generator (the seed is in every failure message).</summary>
public sealed class PropertyTests
{
    private const int Runs = 200;

    private static readonly CounterOptions Meter = new()
    {
        MaxRatePerHour = 60, // ≤ 1 kWh per minute
        GapAfter = TimeSpan.FromMinutes(5),
        Encoding = CounterEncoding.UInt16,
        Scale = 0.01, // wraps at 655.36
    };

    private sealed record CounterCase(List<Sample> Samples, double TrueEnergy, int Resets, int Rollovers, int Glitches);

    /// <summary>A 16-bit counter with true use, resets to near zero, rollovers, gaps and single-sample glitches (0, spike, NaN),
    /// each event clear of the others so that the right answer is known.</summary>
    private static CounterCase Generate(int seed)
    {
        var rng = new Random(seed);
        const double m = 655.36;
        var t = 0.0;
        var v = Math.Round(rng.NextDouble() * 650, 2);
        var samples = new List<Sample> { S(t, v) };
        double trueEnergy = 0;
        int resets = 0, rollovers = 0, glitches = 0, lastEvent = -10;
        for (var i = 1; i < 400; i++)
        {
            var dt = rng.Next(12) == 0 ? 30 : 1 + rng.Next(3);
            var inc = Math.Round(rng.NextDouble() * 0.9 * dt, 2);
            var roll = rng.NextDouble();
            var calm = i - lastEvent >= 3;
            if (calm && roll < 0.01 && v > 100 && v < m - 40)
            {
                v = inc; // reset: counts on from zero
                resets++;
                lastEvent = i;
            }
            else if (calm && roll < 0.07 && v + inc < m)
            {
                var kind = rng.Next(3);
                samples.Add(S(t + dt / 2.0, kind == 0 ? 0 : kind == 1 ? v + 5000 : double.NaN));
                glitches++;
                lastEvent = i;
                v += inc;
            }
            else
            {
                v += inc;
                if (v >= m)
                {
                    v -= m;
                    rollovers++;
                    lastEvent = i;
                }
            }
            v = Math.Round(v, 2);
            trueEnergy += inc;
            t += dt;
            samples.Add(S(t, v));
        }
        return new CounterCase(samples, trueEnergy, resets, rollovers, glitches);
    }

    [Fact]
    public void Interval_energy_equals_the_counter_difference_minus_documented_adjustments_and_the_true_use()
    {
        int resets = 0, rollovers = 0, glitches = 0, gaps = 0;
        for (var seed = 0; seed < Runs; seed++)
        {
            var c = Generate(seed);
            var r = CounterIntervals.Compute(c.Samples, Meter);
            (resets, rollovers, glitches, gaps) = (resets + c.Resets, rollovers + c.Rollovers, glitches + c.Glitches, gaps + r.Intervals.Count(i => i.Flag == IntervalFlag.Gap));
            var first = c.Samples[0].Value;
            var last = c.Samples.Last(s => s.At == r.Intervals[^1].End).Value;

            Assert.True(Math.Abs(r.TotalEnergy - (last - first - r.TotalAdjustment)) < 1e-6, $"seed {seed}: Σ energy {r.TotalEnergy} ≠ last − first − Σ adjustments");
            Assert.True(Math.Abs(r.TotalEnergy - c.TrueEnergy) < 1e-6, $"seed {seed}: Σ energy {r.TotalEnergy} ≠ true use {c.TrueEnergy}");
            Assert.True(r.Intervals.Count(i => i.Flag == IntervalFlag.Reset) == c.Resets, $"seed {seed}: resets");
            Assert.True(r.Intervals.Count(i => i.Flag == IntervalFlag.Rollover) == c.Rollovers, $"seed {seed}: rollovers");
            Assert.True(r.Rejected.Count == c.Glitches, $"seed {seed}: {r.Rejected.Count} rejected, {c.Glitches} glitches");
        }
        // The generator really exercised every case (about a hundred rollovers and hundreds of the rest over the runs).
        Assert.True(resets > 100 && rollovers > 80 && glitches > 100 && gaps > 100, $"{resets} resets, {rollovers} rollovers, {glitches} glitches, {gaps} gaps");
    }

    [Fact]
    public void No_interval_ever_has_negative_energy_or_more_than_the_plausible_maximum()
    {
        for (var seed = 0; seed < Runs; seed++)
        {
            // Raw noise as well: random values with no structure at all.
            var rng = new Random(10_000 + seed);
            var noise = Enumerable.Range(0, 200).Select(i => S(i, rng.Next(5) == 0 ? double.NaN : rng.NextDouble() * 700)).ToList();
            foreach (var samples in new[] { Generate(seed).Samples, noise })
            {
                var r = CounterIntervals.Compute(samples, Meter);
                foreach (var iv in r.Intervals)
                {
                    Assert.True(iv.Energy >= 0, $"seed {seed}: negative energy {iv.Energy} at {iv.Start:O}");
                    Assert.True(iv.Energy <= Meter.MaxRatePerHour * iv.Duration.TotalHours + 1e-9, $"seed {seed}: {iv.Energy} above the plausible maximum at {iv.Start:O}");
                }
            }
        }
    }

    [Fact]
    public void Recomputing_from_the_same_samples_gives_identical_intervals()
    {
        for (var seed = 0; seed < 50; seed++)
        {
            var c = Generate(seed);
            var a = CounterIntervals.Compute(c.Samples, Meter);
            var b = CounterIntervals.Compute(c.Samples.ToArray(), Meter);
            Assert.Equal(a.Intervals, b.Intervals);
            Assert.Equal(a.Rejected, b.Rejected);
            Assert.Equal(a.Warnings, b.Warnings);
        }
    }

    [Fact]
    public void Lpg_use_is_never_negative_sums_to_the_level_change_minus_adjustments_and_tracks_the_true_use()
    {
        var options = new StockOptions { MaxUseRatePerHour = 12, RefillThreshold = 5, Deadband = 0.1, GapAfter = TimeSpan.FromMinutes(5) };
        for (var seed = 0; seed < Runs; seed++)
        {
            var rng = new Random(20_000 + seed);
            double level = 80, trueUse = 0, t = 0;
            var refills = 0;
            var samples = new List<Sample> { S(0, level) };
            for (var i = 1; i < 400; i++)
            {
                var dt = 1 + rng.Next(3);
                t += dt;
                if (level < 40)
                {
                    level = 80; // new cylinder
                    refills++;
                }
                else
                {
                    var use = rng.NextDouble() * 0.9 * 0.2 * dt;
                    level -= use;
                    trueUse += use;
                }
                samples.Add(S(t, level + (rng.NextDouble() - 0.5) * 0.06)); // ±0.03 kg of scale noise
            }

            var r = StockConsumption.Compute(samples, options);

            Assert.All(r.Intervals, iv => Assert.True(iv.Energy >= 0, $"seed {seed}: negative use"));
            Assert.True(Math.Abs(r.TotalEnergy - (samples[0].Value - samples[^1].Value - r.TotalAdjustment)) < 1e-6, $"seed {seed}: Σ use ≠ first − last − Σ adjustments");
            // Each refill can hide at most one reading's use plus the deadband and the noise on both sides.
            Assert.True(Math.Abs(r.TotalEnergy - trueUse) <= (refills + 1) * 0.5, $"seed {seed}: counted {r.TotalEnergy}, true {trueUse}, {refills} refills");
            Assert.Equal(refills, r.Intervals.Count(iv => iv.Flag == IntervalFlag.Refill));
        }
    }

    [Fact]
    public void Splitting_an_interval_in_two_never_changes_its_tariff_cost()
    {
        var rng = new Random(30_000);
        var start = Local(2025, 6, 1, 0);
        for (var run = 0; run < Runs; run++)
        {
            var a = start.AddMinutes(rng.Next(60 * 24 * 400)); // mid-2025 to mid-2026, across the change of hours
            var c = a.AddMinutes(1 + rng.Next(60 * 48));
            var b = a.AddTicks((long)((c - a).Ticks * rng.NextDouble()));
            if (b == a) continue;
            var e = rng.NextDouble() * 200;
            var whole = Data.Tariff.Split(a, c, e, VoltageLevel.Below6kV);
            var e1 = e * ((b - a).Ticks / (double)(c - a).Ticks);
            var parts = Data.Tariff.Split(a, b, e1, VoltageLevel.Below6kV).Plus(Data.Tariff.Split(b, c, e - e1, VoltageLevel.Below6kV));

            Assert.True(Math.Abs(whole.EnergyKWh - e) < 1e-9, $"run {run}: energy not conserved");
            Assert.True(Math.Abs(whole.CostVnd - parts.CostVnd) < 1e-6, $"run {run}: {whole.CostVnd} ≠ {parts.CostVnd} for {a:O}–{c:O} split at {b:O}");
        }
    }
}
