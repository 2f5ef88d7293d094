using System.Globalization;
using KhuyenCong.Analytics.Factors;

namespace KhuyenCong.Analytics.Baselines;

/// <summary>Whether a baseline model may be used to claim savings, with every failed criterion in plain words.</summary>
public sealed record ModelVerdict(bool Adequate, DataGranularity Granularity, IReadOnlyList<string> Failures, IReadOnlyList<string> Warnings, string Summary);

/// <summary>Checks a model against ASHRAE Guideline 14 and the regression rules of thumb from mv-criteria.yaml.</summary>
public static class BaselineCheck
{
    public static ModelVerdict Assess(RegressionModel model, MvCriteria criteria, DataGranularity granularity)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(criteria);
        var f = model.Fit;
        var lim = criteria.Calibration[granularity];
        var g = granularity.ToString().ToLowerInvariant();
        var fails = new List<string>();
        var warns = new List<string>();
        if (f.N < criteria.MinPoints.Value)
            fails.Add(F($"only {f.N} baseline points; at least {criteria.MinPoints.Value:0} are needed ({criteria.MinPoints.Source.Document})"));
        else if (f.N < criteria.RecommendedPoints.Value)
            warns.Add(F($"{f.N} baseline points; {criteria.RecommendedPoints.Value:0} or more are recommended"));
        if (!(f.Sst > 0))
            fails.Add("the baseline energy does not vary, so no relationship with production can be shown");
        else if (f.RSquared < criteria.MinRSquared.Value)
            fails.Add(F($"R² = {f.RSquared:0.000} is below {criteria.MinRSquared.Value:0.00}: the variables explain too little of the variation in energy"));
        if (!(f.CvRmsePercent <= lim.MaxCvRmsePercent))
            fails.Add(F($"CV(RMSE) = {f.CvRmsePercent:0.0} % is above the {lim.MaxCvRmsePercent:0.#} % limit for {g} data (ASHRAE Guideline 14): the scatter around the model is too large"));
        if (!(Math.Abs(f.NmbePercent) <= lim.MaxAbsNmbePercent))
            fails.Add(F($"|NMBE| = {Math.Abs(f.NmbePercent):0.0} % is above the {lim.MaxAbsNmbePercent:0.#} % limit for {g} data (ASHRAE Guideline 14): the model is biased"));
        if (model.Slopes.Count > 0 && model.Slopes[0] <= 0)
            warns.Add(F($"the coefficient of '{model.VariableNames[0]}' is {model.Slopes[0]:G4}: energy does not rise with it, check the data"));
        var stats = F($"n = {f.N}, p = {f.P}, R² = {f.RSquared:0.000}, CV(RMSE) = {f.CvRmsePercent:0.0} %, NMBE = {f.NmbePercent:0.0} %");
        var summary = fails.Count == 0
            ? $"The baseline model is good enough to claim savings ({stats})."
            : $"The baseline model is NOT good enough to claim savings ({stats}): {string.Join("; ", fails)}.";
        return new ModelVerdict(fails.Count == 0, granularity, fails, warns, summary);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
