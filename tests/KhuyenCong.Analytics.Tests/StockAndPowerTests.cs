using KhuyenCong.Analytics.Intervals;
using static KhuyenCong.Analytics.Tests.Shared;

namespace KhuyenCong.Analytics.Tests;

public sealed class StockAndPowerTests
{
    // LPG on a scale (gross kg). Burners use at most 12 kg/h = 0.2 kg per minute; a rise above 5 kg is a refill;
    // falls count once they exceed a 0.1 kg deadband.
    private static readonly StockOptions Scale = new()
    {
        MaxUseRatePerHour = 12,
        RefillThreshold = 5,
        Deadband = 0.1,
        GapAfter = TimeSpan.FromMinutes(5),
    };

    [Fact]
    public void An_lpg_scale_series_with_noise_a_glitch_and_a_cylinder_change_counts_only_the_falls()
    {
        Sample[] samples =
        [
            S(0, 40.00),   // reference R = 40.00
            S(1, 39.85),   // fall 0.15 > 0.1 and ≤ 0.2 + 0.1 → use 0.15, R = 39.85
            S(2, 39.90),   // rise 0.05 < 5: noise, R stays 39.85
            S(3, 39.78),   // fall 0.07 ≤ 0.1: inside the deadband, R stays
            S(4, 39.70),   // fall 39.85 − 39.70 = 0.15 → use 0.15, R = 39.70
            S(5, 0.00),    // the next reading (39.62) is plausible against R → this one is a glitch
            S(6, 39.62),   // fall 0.08 ≤ 0.1: noise (interval 4→6 flagged glitch_rejected)
            S(7, 39.45),   // fall 39.70 − 39.45 = 0.25 ≤ 0.3 → use 0.25, R = 39.45
            S(8, 0.00),    // cylinder off: fall of 39.45 in 1 min, and the next reading is not plausible → refill, no use
            S(9, 80.00),   // new cylinder: rise of 80 > 5 → refill, no use, R = 80
            S(10, 79.80),  // fall 0.20 → use 0.20
        ];

        var r = StockConsumption.Compute(samples, Scale);

        Assert.Equal(
            [0.15, 0, 0, 0.15, 0, 0.25, 0, 0, 0.20],
            r.Intervals.Select(i => Math.Round(i.Energy, 9)));
        Assert.Equal(
            [IntervalFlag.Ok, IntervalFlag.Ok, IntervalFlag.Ok, IntervalFlag.Ok, IntervalFlag.GlitchRejected, IntervalFlag.Ok, IntervalFlag.Refill, IntervalFlag.Refill, IntervalFlag.Ok],
            r.Intervals.Select(i => i.Flag));
        Assert.Equal(Min(5), Assert.Single(r.Rejected).At);
        // Total use 0.15 + 0.15 + 0.25 + 0.20 = 0.75 kg; never negative.
        Assert.Equal(0.75, r.TotalEnergy, 9);
        Assert.All(r.Intervals, i => Assert.True(i.Energy >= 0));
        // Σ use = (first − last) − Σ adjustments = (40.00 − 79.80) − (−40.55) = 0.75.
        Assert.Equal(40.00 - 79.80 - r.TotalAdjustment, r.TotalEnergy, 9);
        Assert.All(r.Intervals, i => Assert.Equal(EnergySource.StockDecrease, i.Source));
    }

    [Fact]
    public void Slow_use_below_the_deadband_per_reading_accumulates_and_is_counted_when_it_crosses_the_deadband()
    {
        // 0.04 kg per reading: 20.00 → 19.96 → 19.92 (0.08, inside) → 19.88 (0.12 > 0.1 → counted as 0.12).
        var r = StockConsumption.Compute([S(0, 20.00), S(1, 19.96), S(2, 19.92), S(3, 19.88)], Scale);

        Assert.Equal([0, 0, 0.12], r.Intervals.Select(i => Math.Round(i.Energy, 9)));
    }

    [Fact]
    public void Power_is_integrated_by_the_trapezoid_rule_and_a_gap_is_capped_and_flagged()
    {
        // 0→10 min: (6,000 + 12,000)/2 W × 1/6 h = 1.5 kWh.
        // 10→70 min with MaxGap 15 min: mean 12,000 W counted over 0.25 h only = 3 kWh (the full hour would be 12).
        var r = PowerIntegration.Compute([S(0, 6000), S(10, 12000), S(70, 12000)], new PowerIntegrationOptions { MaxGap = TimeSpan.FromMinutes(15) });

        Assert.Equal(1.5, r.Intervals[0].Energy, 9);
        Assert.Equal(IntervalFlag.Ok, r.Intervals[0].Flag);
        Assert.Equal(3.0, r.Intervals[1].Energy, 9);
        Assert.Equal(IntervalFlag.Gap, r.Intervals[1].Flag);
        Assert.Equal(9.0, r.Intervals[1].Adjustment, 9);
        Assert.All(r.Intervals, i => Assert.Equal(EnergySource.IntegratedFromPower, i.Source));
    }

    [Fact]
    public void Negative_power_counts_as_zero_and_is_warned_about()
    {
        // (−2,000 → 0) + 4,000) / 2 W × 0.5 h = 1 kWh.
        var r = PowerIntegration.Compute([S(0, -2000), S(30, 4000)], new PowerIntegrationOptions { MaxGap = TimeSpan.FromHours(1) });

        Assert.Equal(1.0, r.TotalEnergy, 9);
        Assert.Single(r.Warnings);
    }
}
