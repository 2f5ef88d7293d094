using KhuyenCong.Analytics.Intervals;
using static KhuyenCong.Analytics.Tests.Shared;

namespace KhuyenCong.Analytics.Tests;

public sealed class CounterIntervalsTests
{
    // A kWh register of 16 bits counting 0.01 kWh: it wraps at 65,536 × 0.01 = 655.36 kWh.
    // The kiln draws at most 60 kW, so one minute holds at most 60 kW × 1/60 h = 1 kWh.
    private static readonly CounterOptions Meter = new()
    {
        MaxRatePerHour = 60,
        GapAfter = TimeSpan.FromMinutes(5),
        Encoding = CounterEncoding.UInt16,
        Scale = 0.01,
    };

    [Fact]
    public void A_series_with_a_glitch_a_rollover_a_gap_and_a_reset_gives_the_hand_computed_intervals()
    {
        Sample[] samples =
        [
            S(0, 653.00),
            S(1, 653.50),   // ok          0.50
            S(2, 654.00),   // ok          0.50
            S(3, 0.00),     // brief 0: the next sample (654.80) is 0.80 above 654.00, plausible in 2 min (≤ 2 kWh) → rejected
            S(4, 654.80),   // glitch_rejected, interval 2→4: 654.80 − 654.00 = 0.80
            S(5, 655.30),   // ok          0.50
            S(6, 0.40),     // rollover:   0.40 + 655.36 − 655.30 = 0.46 (≤ 1 kWh)
            S(7, 1.00),     // ok          0.60
            S(27, 9.00),    // gap (20 min > 5 min): 9.00 − 1.00 = 8.00, plausible (≤ 60 × 20/60 = 20)
            S(28, 0.20),    // reset: not a wrap (0.20 + 655.36 − 9.00 = 646.56 > 1), near zero (0.20 ≤ 1) → energy 0.20
            S(29, 0.70),    // ok          0.50
        ];

        var result = CounterIntervals.Compute(samples, Meter);

        (double Start, double End, double Energy, IntervalFlag Flag)[] expected =
        [
            (0, 1, 0.50, IntervalFlag.Ok),
            (1, 2, 0.50, IntervalFlag.Ok),
            (2, 4, 0.80, IntervalFlag.GlitchRejected),
            (4, 5, 0.50, IntervalFlag.Ok),
            (5, 6, 0.46, IntervalFlag.Rollover),
            (6, 7, 0.60, IntervalFlag.Ok),
            (7, 27, 8.00, IntervalFlag.Gap),
            (27, 28, 0.20, IntervalFlag.Reset),
            (28, 29, 0.50, IntervalFlag.Ok),
        ];
        Assert.Equal(expected.Length, result.Intervals.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            var iv = result.Intervals[i];
            Assert.Equal(Min(expected[i].Start), iv.Start);
            Assert.Equal(Min(expected[i].End), iv.End);
            Assert.Equal(expected[i].Energy, iv.Energy, 9);
            Assert.Equal(expected[i].Flag, iv.Flag);
        }
        var rejected = Assert.Single(result.Rejected);
        Assert.Equal(Min(3), rejected.At);

        // Total: 0.5 + 0.5 + 0.8 + 0.5 + 0.46 + 0.6 + 8 + 0.2 + 0.5 = 12.06 kWh.
        Assert.Equal(12.06, result.TotalEnergy, 9);
        // Documented adjustments: the rollover's −655.36 (raw −654.90, energy 0.46) and the reset's −9.00 (raw −8.80, energy 0.20).
        Assert.Equal(-655.36, result.Intervals[4].Adjustment, 9);
        Assert.Equal(-9.00, result.Intervals[7].Adjustment, 9);
        // Σ energy = last − first − Σ adjustments = (0.70 − 653.00) − (−664.36) = 12.06.
        Assert.Equal(0.70 - 653.00 - result.TotalAdjustment, result.TotalEnergy, 9);
    }

    [Fact]
    public void A_spike_between_two_consistent_samples_is_rejected_and_the_next_sample_resumes_from_the_last_good_one()
    {
        // 100.0 → 9,999.0 (spike) → 100.9: 100.9 − 100.0 = 0.9 in 2 min is plausible, so the spike alone is rejected.
        var r = CounterIntervals.Compute([S(0, 100.0), S(1, 9999.0), S(2, 100.9), S(3, 101.4)], Meter with { Encoding = CounterEncoding.Float64 });

        Assert.Equal([0.9, 0.5], r.Intervals.Select(i => Math.Round(i.Energy, 9)));
        Assert.Equal([IntervalFlag.GlitchRejected, IntervalFlag.Ok], r.Intervals.Select(i => i.Flag));
        Assert.Equal(9999.0, Assert.Single(r.Rejected).Value);
    }

    [Fact]
    public void A_rise_the_maximum_rate_cannot_explain_that_persists_counts_no_energy_and_is_flagged_a_discontinuity()
    {
        // 100 → 500 in 1 min (max 1 kWh) and it stays: energy 0, adjustment 400; then 500 → 500.5 is 0.5 again.
        var r = CounterIntervals.Compute([S(0, 100), S(1, 500), S(2, 500.5)], Meter with { Encoding = CounterEncoding.Float64 });

        Assert.Equal(IntervalFlag.Discontinuity, r.Intervals[0].Flag);
        Assert.Equal(0, r.Intervals[0].Energy);
        Assert.Equal(400, r.Intervals[0].Adjustment, 9);
        Assert.Equal(0.5, r.Intervals[1].Energy, 9);
        Assert.NotEmpty(r.Warnings);
    }

    [Fact]
    public void A_float32_counter_stepping_back_by_one_unit_in_the_last_place_is_rounding_noise_not_a_reset()
    {
        // At 100,000 a float32 has a resolution of 2^(16 − 23) = 0.0078125. One step down is noise: energy 0 and the high-water
        // mark stays at 100,000, so the next reading 100,000.5 gives 0.5 (not 0.5078125).
        var down = (double)MathF.BitDecrement(100_000f);
        var r = CounterIntervals.Compute([S(0, 100_000), S(1, down), S(2, 100_000.5)], Meter with { Encoding = CounterEncoding.Float32 });

        Assert.Equal([IntervalFlag.Ok, IntervalFlag.Ok], r.Intervals.Select(i => i.Flag));
        Assert.Equal(0, r.Intervals[0].Energy);
        Assert.Equal(0.5, r.Intervals[1].Energy, 9);
        Assert.Equal(0.5, r.TotalEnergy, 9);
    }

    [Fact]
    public void A_meter_replacement_counts_the_old_meters_last_part_and_the_new_meters_first_part()
    {
        // Old meter: last sample 1,234.0, final reading written down 1,234.5 → 0.5. New meter starts at 0.0 and reads 0.7 → 0.7.
        var options = Meter with
        {
            Encoding = CounterEncoding.Float64,
            Replacements = [new MeterReplacement(Min(1.5), NewInitialReading: 0.0, OldFinalReading: 1234.5)],
        };
        var r = CounterIntervals.Compute([S(0, 1233.6), S(1, 1234.0), S(2, 0.7), S(3, 1.2)], options);

        Assert.Equal([IntervalFlag.Ok, IntervalFlag.Replaced, IntervalFlag.Ok], r.Intervals.Select(i => i.Flag));
        Assert.Equal(1.2, r.Intervals[1].Energy, 9); // 0.5 + 0.7
        Assert.Equal(0.4 + 1.2 + 0.5, r.TotalEnergy, 9);
    }

    [Fact]
    public void A_drop_to_a_value_that_is_neither_near_zero_nor_a_wrap_counts_no_energy()
    {
        var r = CounterIntervals.Compute([S(0, 5000), S(1, 3000), S(2, 3000.4)], Meter with { Encoding = CounterEncoding.Float64 });

        Assert.Equal(IntervalFlag.Discontinuity, r.Intervals[0].Flag);
        Assert.Equal(0, r.Intervals[0].Energy);
        Assert.Equal(0.4, r.Intervals[1].Energy, 9);
    }

    [Fact]
    public void Not_a_number_samples_are_rejected_and_the_interval_bridges_them()
    {
        var r = CounterIntervals.Compute([S(0, 10), S(1, double.NaN), S(2, 11)], Meter with { Encoding = CounterEncoding.Float64 });

        var iv = Assert.Single(r.Intervals);
        Assert.Equal((Min(0), Min(2), 1.0, IntervalFlag.GlitchRejected), (iv.Start, iv.End, iv.Energy, iv.Flag));
    }

    [Fact]
    public void Samples_out_of_time_order_are_refused_naming_the_sample()
    {
        var ex = Assert.Throws<ArgumentException>(() => CounterIntervals.Compute([S(0, 1), S(2, 2), S(1, 3)], Meter));
        Assert.Contains("sample 2", ex.Message, StringComparison.Ordinal);
    }
}
