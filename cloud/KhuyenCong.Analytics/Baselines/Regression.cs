namespace KhuyenCong.Analytics.Baselines;

/// <summary>One baseline or reporting point: a period's energy (any one unit: MJ, kWh, kgoe — used consistently) and its
/// relevant variables in the order of the model's variable names (production kg first, then e.g. firings, peak °C).</summary>
public sealed record BaselinePoint(string Label, double Energy, IReadOnlyList<double> Variables);

/// <summary>Goodness of fit of a model on a set of points, with n − p degrees of freedom (ASHRAE Guideline 14).</summary>
public sealed record FitStatistics(int N, int P, double MeanEnergy, double Sse, double Sst, double RSquared, double AdjustedRSquared, double Rmse, double CvRmsePercent, double NmbePercent);

/// <summary>
/// An ordinary-least-squares energy baseline: E = Intercept + Σ Slopes[j] × x_j. <see cref="Fit"/> holds the statistics on the
/// baseline points; <see cref="VariableMin"/>/<see cref="VariableMax"/> the range the model has seen (outside it, predictions
/// are extrapolations).
/// </summary>
public sealed record RegressionModel(
    IReadOnlyList<string> VariableNames,
    double Intercept,
    IReadOnlyList<double> Slopes,
    FitStatistics Fit,
    IReadOnlyList<double> VariableMin,
    IReadOnlyList<double> VariableMax)
{
    public double Predict(IReadOnlyList<double> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        if (variables.Count != Slopes.Count) throw new ArgumentException($"the model has {Slopes.Count} variables ({string.Join(", ", VariableNames)}), {variables.Count} given");
        var y = Intercept;
        for (var j = 0; j < Slopes.Count; j++) y += Slopes[j] * variables[j];
        return y;
    }
}

/// <summary>Ordinary least squares with an intercept (docs/analytics.md, "Baselines").</summary>
public static class Ols
{
    /// <summary>
    /// Fits E = a + Σ b_j x_j minimising Σ (E − Ê)². The variables are centred before solving the normal equations
    /// (Σ (x − x̄)(x − x̄)ᵀ) b = Σ (x − x̄)(E − Ē), then a = Ē − Σ b_j x̄_j; centring keeps the system well conditioned when
    /// production is in thousands of kg. p = number of variables + 1.
    /// </summary>
    public static RegressionModel Fit(IReadOnlyList<BaselinePoint> points, IReadOnlyList<string> variableNames)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(variableNames);
        var k = variableNames.Count;
        var n = points.Count;
        var p = k + 1;
        if (n <= p) throw new ArgumentException($"{n} points cannot fit {p} parameters with any degrees of freedom left (n − p must be ≥ 1)");
        foreach (var pt in points)
        {
            if (pt.Variables.Count != k) throw new ArgumentException($"point '{pt.Label}' has {pt.Variables.Count} variables, the model {k} ({string.Join(", ", variableNames)})");
            if (!double.IsFinite(pt.Energy) || pt.Variables.Any(v => !double.IsFinite(v))) throw new ArgumentException($"point '{pt.Label}' has a value that is not a finite number");
        }

        var meanY = points.Average(pt => pt.Energy);
        var meanX = new double[k];
        for (var j = 0; j < k; j++) meanX[j] = points.Average(pt => pt.Variables[j]);
        var a = new double[k, k];
        var rhs = new double[k];
        foreach (var pt in points)
        {
            for (var i = 0; i < k; i++)
            {
                var xi = pt.Variables[i] - meanX[i];
                rhs[i] += xi * (pt.Energy - meanY);
                for (var j = 0; j < k; j++) a[i, j] += xi * (pt.Variables[j] - meanX[j]);
            }
        }
        var slopes = Solve(a, rhs, variableNames);
        var intercept = meanY;
        for (var j = 0; j < k; j++) intercept -= slopes[j] * meanX[j];

        var min = Enumerable.Range(0, k).Select(j => points.Min(pt => pt.Variables[j])).ToList();
        var max = Enumerable.Range(0, k).Select(j => points.Max(pt => pt.Variables[j])).ToList();
        var model = new RegressionModel(variableNames.ToList(), intercept, slopes, null!, min, max);
        return model with { Fit = Evaluate(model, points) };
    }

    /// <summary>
    /// Statistics of <paramref name="model"/> on <paramref name="points"/> (the baseline, or other data to validate it):
    /// residual e = E − Ê; SSE = Σ e²; SST = Σ (E − Ē)²; R² = 1 − SSE/SST; RMSE = √(SSE / (n − p));
    /// CV(RMSE) = 100 × RMSE / Ē; NMBE = 100 × Σ e / ((n − p) × Ē). On its own baseline an OLS model with an intercept has
    /// Σ e = 0, so NMBE is 0 there by construction: it says something only on other data or for a model without intercept.
    /// </summary>
    public static FitStatistics Evaluate(RegressionModel model, IReadOnlyList<BaselinePoint> points)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(points);
        var n = points.Count;
        var p = model.Slopes.Count + 1;
        if (n <= p) throw new ArgumentException($"{n} points leave no degrees of freedom for {p} parameters");
        var meanY = points.Average(pt => pt.Energy);
        double sse = 0, sst = 0, sum = 0;
        foreach (var pt in points)
        {
            var e = pt.Energy - model.Predict(pt.Variables);
            sse += e * e;
            sum += e;
            sst += (pt.Energy - meanY) * (pt.Energy - meanY);
        }
        var df = n - p;
        var r2 = sst > 0 ? 1 - sse / sst : double.NaN;
        var adj = sst > 0 ? 1 - (1 - r2) * (n - 1) / df : double.NaN;
        var rmse = Math.Sqrt(sse / df);
        return new FitStatistics(n, p, meanY, sse, sst, r2, adj, rmse, 100 * rmse / meanY, 100 * sum / (df * meanY));
    }

    private static List<double> Solve(double[,] a, double[] b, IReadOnlyList<string> names)
    {
        var k = b.Length;
        var m = (double[,])a.Clone();
        var v = (double[])b.Clone();
        var order = Enumerable.Range(0, k).ToArray();
        var scale = 0.0;
        for (var i = 0; i < k; i++) scale = Math.Max(scale, Math.Abs(m[i, i]));
        for (var c = 0; c < k; c++)
        {
            var piv = c;
            for (var r = c + 1; r < k; r++) if (Math.Abs(m[r, c]) > Math.Abs(m[piv, c])) piv = r;
            if (Math.Abs(m[piv, c]) <= 1e-12 * Math.Max(scale, 1e-300))
                throw new ArgumentException($"the variables cannot be separated: '{names[c]}' is constant over the baseline or a combination of the others");
            if (piv != c)
            {
                for (var j = 0; j < k; j++) (m[c, j], m[piv, j]) = (m[piv, j], m[c, j]);
                (v[c], v[piv]) = (v[piv], v[c]);
            }
            for (var r = c + 1; r < k; r++)
            {
                var f = m[r, c] / m[c, c];
                for (var j = c; j < k; j++) m[r, j] -= f * m[c, j];
                v[r] -= f * v[c];
            }
        }
        var x = new double[k];
        for (var i = k - 1; i >= 0; i--)
        {
            var s = v[i];
            for (var j = i + 1; j < k; j++) s -= m[i, j] * x[j];
            x[i] = s / m[i, i];
        }
        return [.. x];
    }
}
