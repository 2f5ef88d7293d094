using System.Globalization;
using KhuyenCong.Analytics.Factors;

namespace KhuyenCong.Analytics.Baselines;

/// <summary>One reporting point: expected (adjusted baseline) Ê, actual E, avoided = Ê − E, and the running CUSUM of avoided.</summary>
public sealed record SavingsPoint(string Label, IReadOnlyList<double> Variables, double Expected, double Actual, double Avoided, double Cusum);

/// <summary>Savings against the target band (5–7 % by default, from mv-criteria.yaml).</summary>
public enum TargetProgress
{
    BelowTarget,
    WithinTarget,
    AboveTarget,
}

/// <summary>Savings of a reporting period against a baseline model (IPMVP avoided energy). <see cref="ClaimAllowed"/> is false
/// when the model failed its verdict: the numbers are still computed, for information, but must not be reported as savings.</summary>
public sealed record SavingsReport(
    IReadOnlyList<SavingsPoint> Points,
    double AdjustedBaseline,
    double Actual,
    double Avoided,
    double SavingsPercent,
    TargetProgress Progress,
    double TargetLowPercent,
    double TargetHighPercent,
    bool ClaimAllowed,
    ModelVerdict Verdict,
    IReadOnlyList<string> Warnings,
    string Summary);

public static class Savings
{
    /// <summary>
    /// For each reporting point Ê = model(x) (the baseline adjusted to the reporting period's production), avoided = Ê − E and
    /// CUSUM = running Σ (Ê − E). Totals: adjusted baseline Σ Ê, actual Σ E, avoided Σ (Ê − E), savings % = 100 × avoided / Σ Ê.
    /// A reporting variable outside the baseline's range is an extrapolation and is warned about.
    /// </summary>
    public static SavingsReport Compute(RegressionModel model, ModelVerdict verdict, IReadOnlyList<BaselinePoint> reporting, MvCriteria criteria)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(verdict);
        ArgumentNullException.ThrowIfNull(reporting);
        ArgumentNullException.ThrowIfNull(criteria);
        if (reporting.Count == 0) throw new ArgumentException("the reporting period has no points");
        var points = new List<SavingsPoint>();
        var warnings = new List<string>();
        double cusum = 0;
        foreach (var pt in reporting)
        {
            var expected = model.Predict(pt.Variables);
            var avoided = expected - pt.Energy;
            cusum += avoided;
            points.Add(new SavingsPoint(pt.Label, pt.Variables, expected, pt.Energy, avoided, cusum));
            for (var j = 0; j < pt.Variables.Count; j++)
            {
                if (pt.Variables[j] < model.VariableMin[j] || pt.Variables[j] > model.VariableMax[j])
                    warnings.Add(F($"{pt.Label}: {model.VariableNames[j]} = {pt.Variables[j]:G6} is outside the baseline range {model.VariableMin[j]:G6}–{model.VariableMax[j]:G6}; the adjusted baseline is an extrapolation"));
            }
        }
        var baseline = points.Sum(p => p.Expected);
        var actual = points.Sum(p => p.Actual);
        var avoidedTotal = baseline - actual;
        var pct = 100 * avoidedTotal / baseline;
        var low = criteria.SavingsTargetLowPercent.Value;
        var high = criteria.SavingsTargetHighPercent.Value;
        var progress = pct < low ? TargetProgress.BelowTarget : pct <= high ? TargetProgress.WithinTarget : TargetProgress.AboveTarget;
        var words = progress switch
        {
            TargetProgress.BelowTarget => F($"below the {low:0.#}–{high:0.#} % target"),
            TargetProgress.WithinTarget => F($"within the {low:0.#}–{high:0.#} % target"),
            _ => F($"above the {low:0.#}–{high:0.#} % target"),
        };
        var summary = verdict.Adequate
            ? F($"Savings {pct:0.0} % ({avoidedTotal:G6} avoided of an adjusted baseline of {baseline:G6}), {words}.")
            : F($"Savings cannot be claimed: {verdict.Summary} (for information only: {pct:0.0} %, {words}.)");
        return new SavingsReport(points, baseline, actual, avoidedTotal, pct, progress, low, high, verdict.Adequate, verdict, warnings, summary);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
