using KhuyenCong.Analytics.Baselines;
using KhuyenCong.Analytics.Factors;
using static KhuyenCong.Analytics.Tests.Shared;

namespace KhuyenCong.Analytics.Tests;

public sealed class BaselineTests
{
    private static readonly string[] Production = ["production_kg"];

    // 12 months, production x = 100, 200, …, 1,200 kg; energy y = 500 + 2.5 x + d × r with r = +1, −1, −1, +1 repeated.
    // r sums to 0 and Σ r·x = 100 × [(1 − 2 − 3 + 4) + (5 − 6 − 7 + 8) + (9 − 10 − 11 + 12)] = 0, so OLS recovers a = 500,
    // b = 2.5 exactly and the residuals are exactly ±d.
    private static List<BaselinePoint> Points(double d, int n = 12)
    {
        int[] r = [1, -1, -1, 1];
        return Enumerable.Range(1, n).Select(i => new BaselinePoint($"m{i:00}", 500 + 2.5 * 100 * i + d * r[(i - 1) % 4], [100.0 * i])).ToList();
    }

    [Fact]
    public void An_exact_line_is_recovered_with_r_squared_one_and_zero_cv_rmse_and_nmbe()
    {
        var m = Ols.Fit(Points(0), Production);

        Assert.Equal(500, m.Intercept, 9);
        Assert.Equal(2.5, m.Slopes[0], 12);
        Assert.Equal(1, m.Fit.RSquared, 12);
        Assert.Equal(0, m.Fit.CvRmsePercent, 9);
        Assert.Equal(0, m.Fit.NmbePercent, 9);
    }

    [Fact]
    public void Known_residuals_give_the_hand_computed_r_squared_cv_rmse_and_nmbe()
    {
        // d = 50: SSE = 12 × 50² = 30,000; n − p = 12 − 2 = 10; RMSE = √(30,000 / 10) = √3,000 = 54.772.
        // Ē = 500 + 2.5 × 650 = 2,125 → CV(RMSE) = 100 × 54.772 / 2,125 = 2.5775 %.
        // SST = b² Σ(x − x̄)² + SSE = 6.25 × (100² × 143) + 30,000 = 8,937,500 + 30,000 = 8,967,500 → R² = 1 − 30,000 / 8,967,500.
        // Σ residuals = 0 → NMBE = 0.
        var m = Ols.Fit(Points(50), Production);

        Assert.Equal(500, m.Intercept, 9);
        Assert.Equal(2.5, m.Slopes[0], 12);
        Assert.Equal(30_000, m.Fit.Sse, 6);
        Assert.Equal(8_967_500, m.Fit.Sst, 6);
        Assert.Equal(1 - 30_000.0 / 8_967_500, m.Fit.RSquared, 12);
        Assert.Equal(100 * Math.Sqrt(3000) / 2125, m.Fit.CvRmsePercent, 9);
        Assert.Equal(0, m.Fit.NmbePercent, 9);

        var verdict = BaselineCheck.Assess(m, Data.Mv, DataGranularity.Monthly);
        Assert.True(verdict.Adequate, verdict.Summary);
        Assert.Empty(verdict.Failures);
    }

    [Fact]
    public void Nmbe_measures_bias_on_data_the_model_was_not_fitted_to()
    {
        // Every point 100 above the exact line: Σ e = 12 × 100 = 1,200; Ē = 2,125 + 100 = 2,225;
        // NMBE = 100 × 1,200 / (10 × 2,225) = 5.393 %.
        var m = Ols.Fit(Points(0), Production);
        var shifted = Points(0).Select(p => p with { Energy = p.Energy + 100 }).ToList();

        Assert.Equal(100.0 * 1200 / (10 * 2225), Ols.Evaluate(m, shifted).NmbePercent, 9);
    }

    [Fact]
    public void A_scattered_model_is_not_good_enough_to_claim_savings_and_the_verdict_says_why()
    {
        // d = 600: SSE = 12 × 360,000 = 4,320,000; SST = 8,937,500 + 4,320,000 = 13,257,500;
        // R² = 1 − 4,320,000 / 13,257,500 = 0.674 (< 0.75); CV(RMSE) = 100 × √432,000 / 2,125 = 30.9 % (> 15 %).
        var m = Ols.Fit(Points(600), Production);
        Assert.Equal(1 - 4_320_000.0 / 13_257_500, m.Fit.RSquared, 12);
        Assert.Equal(100 * Math.Sqrt(432_000) / 2125, m.Fit.CvRmsePercent, 9);

        var verdict = BaselineCheck.Assess(m, Data.Mv, DataGranularity.Monthly);

        Assert.False(verdict.Adequate);
        Assert.Equal(2, verdict.Failures.Count);
        Assert.Contains("R² = 0.674 is below 0.75", verdict.Failures[0], StringComparison.Ordinal);
        Assert.Contains("CV(RMSE) = 30.9 % is above the 15 % limit for monthly data", verdict.Failures[1], StringComparison.Ordinal);
        Assert.StartsWith("The baseline model is NOT good enough to claim savings", verdict.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_few_baseline_points_fail_the_verdict()
    {
        var verdict = BaselineCheck.Assess(Ols.Fit(Points(0, n: 8), Production), Data.Mv, DataGranularity.Monthly);

        Assert.False(verdict.Adequate);
        Assert.Contains("only 8 baseline points; at least 10", Assert.Single(verdict.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void Savings_and_cusum_follow_the_adjusted_baseline()
    {
        // Model E = 500 + 2.5 x. Reporting months: x = 400, 800, 1,000 → expected 1,500, 2,500, 3,000;
        // actual 1,410, 2,350, 2,850 → avoided 90, 150, 150 → CUSUM 90, 240, 390.
        // Savings = 390 / 7,000 = 5.571 % → within the 5–7 % target.
        var m = Ols.Fit(Points(0), Production);
        var verdict = BaselineCheck.Assess(m, Data.Mv, DataGranularity.Monthly);
        BaselinePoint[] reporting = [new("2026-01", 1410, [400.0]), new("2026-02", 2350, [800.0]), new("2026-03", 2850, [1000.0])];

        var s = Savings.Compute(m, verdict, reporting, Data.Mv);

        Assert.Equal([1500.0, 2500.0, 3000.0], s.Points.Select(p => Math.Round(p.Expected, 9)));
        Assert.Equal([90.0, 150.0, 150.0], s.Points.Select(p => Math.Round(p.Avoided, 9)));
        Assert.Equal([90.0, 240.0, 390.0], s.Points.Select(p => Math.Round(p.Cusum, 9)));
        Assert.Equal(7000, s.AdjustedBaseline, 9);
        Assert.Equal(390, s.Avoided, 9);
        Assert.Equal(100 * 390.0 / 7000, s.SavingsPercent, 9);
        Assert.Equal(TargetProgress.WithinTarget, s.Progress);
        Assert.True(s.ClaimAllowed);
        Assert.Empty(s.Warnings);
    }

    [Theory]
    [InlineData(3000 * 0.97, TargetProgress.BelowTarget)]  // 3 % saved
    [InlineData(3000 * 0.90, TargetProgress.AboveTarget)]  // 10 % saved
    [InlineData(3000 * 1.02, TargetProgress.BelowTarget)]  // 2 % more than expected: negative savings
    public void Progress_is_placed_against_the_five_to_seven_percent_target(double actual, TargetProgress expected)
    {
        var m = Ols.Fit(Points(0), Production);
        var s = Savings.Compute(m, BaselineCheck.Assess(m, Data.Mv, DataGranularity.Monthly), [new("2026-01", actual, [1000.0])], Data.Mv);
        Assert.Equal(expected, s.Progress);
    }

    [Fact]
    public void Savings_on_a_failed_model_are_computed_for_information_but_cannot_be_claimed_and_extrapolation_is_warned()
    {
        var m = Ols.Fit(Points(600), Production);
        var s = Savings.Compute(m, BaselineCheck.Assess(m, Data.Mv, DataGranularity.Monthly), [new("2026-01", 3000, [2000.0])], Data.Mv);

        Assert.False(s.ClaimAllowed);
        Assert.StartsWith("Savings cannot be claimed", s.Summary, StringComparison.Ordinal);
        Assert.Contains("outside the baseline range 100–1200", Assert.Single(s.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_relevant_variable_is_fitted_too()
    {
        // E = 200 + 2 × kg + 50 × firings, exactly, on points where kg and firings vary independently.
        var pts = new List<BaselinePoint>();
        for (var i = 1; i <= 12; i++)
        {
            double kg = 100 * i, firings = i % 3 + 2;
            pts.Add(new BaselinePoint($"m{i}", 200 + 2 * kg + 50 * firings, [kg, firings]));
        }

        var m = Ols.Fit(pts, ["production_kg", "firings"]);

        Assert.Equal(200, m.Intercept, 8);
        Assert.Equal(2, m.Slopes[0], 10);
        Assert.Equal(50, m.Slopes[1], 8);
        Assert.Equal(3, m.Fit.P);
    }

    [Fact]
    public void Constant_production_cannot_be_fitted_and_says_so()
    {
        var pts = Enumerable.Range(0, 12).Select(i => new BaselinePoint($"m{i}", 1000 + i, [500.0])).ToList();
        var ex = Assert.Throws<ArgumentException>(() => Ols.Fit(pts, Production));
        Assert.Contains("'production_kg' is constant", ex.Message, StringComparison.Ordinal);
    }
}
