using System.Globalization;
using System.Text;
using KhuyenCong.Cloud.Api;

namespace KhuyenCong.Cloud.Reports;

/// <summary>
/// The annual report as CSV (RFC 4180, UTF-8, invariant numbers with a dot), one value per row, so any spreadsheet or
/// script can filter it: <c>section,scope,period,quantity,value,unit,note</c>. Sections: site, consumption (per carrier),
/// total, production, sec, key_consumer, completeness, month, kiln, firing, baseline, savings, measure, target.
/// </summary>
public static class ReportCsv
{
    public const string Header = "section,scope,period,quantity,value,unit,note";

    public static string Write(AnnualReport r)
    {
        var sb = new StringBuilder();
        sb.Append(Header).Append("\r\n");
        var y = r.Year.ToString(CultureInfo.InvariantCulture);
        var site = r.Site.Id;
        void Row(string section, string scope, string period, string quantity, object? value, string unit = "", string note = "") =>
            sb.Append(string.Join(',', new[] { section, scope, period, quantity, Format(value), unit, note }.Select(Quote))).Append("\r\n");

        Row("site", site, y, "name", r.Site.Name);
        Row("site", site, y, "address", r.Site.Address);
        Row("site", site, y, "facility", Configuration.YamlBinder.ToSnake(r.Site.Facility.ToString()));
        Row("site", site, y, "generated_at", r.GeneratedAt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        foreach (var c in r.Toe.ByCarrier)
        {
            var carrier = Configuration.YamlBinder.ToSnake(c.Carrier.ToString());
            Row("consumption", carrier, y, "amount", c.Amount, Analytics.Conversion.Units.Symbol(c.Unit));
            Row("consumption", carrier, y, "toe", c.Toe, "TOE", $"{c.Factor.Value.ToString(CultureInfo.InvariantCulture)} {c.Factor.Unit} ({c.Factor.Source.Document})");
            Row("consumption", carrier, y, "energy_mj", c.Toe * r.MjPerToe, "MJ");
        }
        Row("total", site, y, "toe", r.Toe.TotalToe, "TOE");
        Row("total", site, y, "energy_mj", r.Total?.EnergyMj, "MJ");
        Row("total", site, y, "kgoe", r.Total?.Kgoe, "kgoe");
        Row("total", site, y, "cost_vnd", r.Total?.CostVnd, "VND", "electricity only");
        Row("total", site, y, "co2_kg", r.Total?.Co2Kg, "kgCO2");
        Row("production", site, y, "ware_kg", r.Total?.ProductionKg, "kg");
        Row("production", site, y, "pieces", r.Total?.Pieces, "pieces");
        Row("production", site, y, "firings", r.Total?.Firings, "firings");
        Row("production", site, y, "entries", r.ProductionEntries, "entries", "production entries recorded (corrections included)");
        Row("sec", site, y, "mj_per_kg", r.Total?.SecMjPerKg, "MJ/kg");
        Row("sec", site, y, "kgoe_per_t", r.Total?.SecKgoePerT, "kgoe/t");
        Row("key_consumer", site, y, "status", r.Toe.Status == Analytics.Compliance.KeyConsumerStatus.KeyConsumer ? "key_consumer" : "below_threshold", "", r.Toe.Summary);
        Row("key_consumer", site, y, "threshold_toe", r.Toe.Threshold.ToePerYear, "TOE", r.Toe.Threshold.Source.Document);
        Row("completeness", site, y, "share", r.Total?.Completeness, "0-1", "share of expected readings received");
        foreach (var m in r.Months)
        {
            Row("month", site, m.Period, "energy_mj", m.EnergyMj, "MJ");
            Row("month", site, m.Period, "toe", m.Toe, "TOE");
            Row("month", site, m.Period, "electricity_kwh", m.ElectricityKwh, "kWh");
            Row("month", site, m.Period, "lpg_kg", m.LpgKg, "kg");
            Row("month", site, m.Period, "gas_m3", m.GasM3, "m3");
            Row("month", site, m.Period, "production_kg", m.ProductionKg, "kg");
            Row("month", site, m.Period, "firings", m.Firings, "firings");
            Row("month", site, m.Period, "sec_mj_per_kg", m.SecMjPerKg, "MJ/kg");
            Row("month", site, m.Period, "completeness", m.Completeness, "0-1");
        }
        foreach (var (kiln, e) in r.Kilns)
        {
            Row("kiln", kiln, y, "energy_mj", e?.EnergyMj, "MJ");
            Row("kiln", kiln, y, "production_kg", e?.ProductionKg, "kg");
            Row("kiln", kiln, y, "firings", e?.Firings, "firings");
            Row("kiln", kiln, y, "sec_mj_per_kg", e?.SecMjPerKg, "MJ/kg");
        }
        foreach (var f in r.Firings)
        {
            var at = f.Start.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            Row("firing", f.Kiln, at, "duration_h", f.DurationH, "h");
            Row("firing", f.Kiln, at, "energy_mj", f.EnergyMj, "MJ");
            Row("firing", f.Kiln, at, "kgoe", f.Kgoe, "kgoe");
            Row("firing", f.Kiln, at, "ware_kg", f.WareKg, "kg", f.Product ?? "");
            Row("firing", f.Kiln, at, "sec_mj_per_kg", f.SecMjPerKg, "MJ/kg");
        }
        foreach (var m in r.Models)
        {
            var scope = m.Model.Kiln is null ? m.Model.Scope : $"{m.Model.Scope}:{m.Model.Kiln}";
            var basis = m.Model.Basis;
            Row("baseline", scope, basis, "n", m.Model.N, "points");
            Row("baseline", scope, basis, "r2", m.Model.R2, "");
            Row("baseline", scope, basis, "cv_rmse_pct", m.Model.CvRmsePct, "%", $"limit {m.Limits.MaxCvRmsePct.ToString(CultureInfo.InvariantCulture)} %");
            Row("baseline", scope, basis, "nmbe_pct", m.Model.NmbePct, "%", $"limit ±{m.Limits.MaxAbsNmbePct.ToString(CultureInfo.InvariantCulture)} %");
            Row("baseline", scope, basis, "intercept_mj", m.Model.InterceptMj, "MJ");
            Row("baseline", scope, basis, "slope_mj_per_kg", m.Model.SlopeMjPerKg, "MJ/kg");
            Row("baseline", scope, basis, "adequate", m.Model.Adequate ? 1 : 0, "", m.Verdict);
        }
        var s = r.Savings;
        foreach (var p in s.Points)
        {
            var at = s.Basis == "month" ? SiteData.PeriodId("month", p.At) : p.At.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            Row("savings", s.Basis, at, "actual_mj", p.ActualMj, "MJ");
            Row("savings", s.Basis, at, "expected_mj", p.ExpectedMj, "MJ", "adjusted baseline");
            Row("savings", s.Basis, at, "cusum_mj", p.CusumMj, "MJ");
        }
        Row("savings", s.Basis, y, "actual_mj", s.ActualMj, "MJ");
        Row("savings", s.Basis, y, "expected_mj", s.ExpectedMj, "MJ");
        Row("savings", s.Basis, y, "avoided_mj", s.AvoidedMj, "MJ");
        Row("savings", s.Basis, y, "savings_pct", s.SavingsPct, "%", s.ClaimAllowed ? "claimable: the baseline model passes ASHRAE Guideline 14" : "for information only: no adequate baseline model");
        Row("savings", s.Basis, y, "progress", s.Target.Progress, "", $"target {s.Target.TargetPct.ToString(CultureInfo.InvariantCulture)} % (programme band {s.Target.BandLowPct.ToString(CultureInfo.InvariantCulture)}–{s.Target.BandHighPct.ToString(CultureInfo.InvariantCulture)} %)");
        foreach (var m in r.Site.Measures)
        {
            var day = m.Implemented.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            Row("measure", m.Kiln ?? site, day, "name", m.Name, "", m.Description ?? "");
            if (m.ExpectedSavingsPercent is { } e) Row("measure", m.Kiln ?? site, day, "expected_savings_pct", e, "%", m.Name);
        }
        var ny = (r.Year + 1).ToString(CultureInfo.InvariantCulture);
        Row("target", site, ny, "savings_pct", r.NextTarget.TargetPct, "%");
        Row("target", site, ny, "sec_mj_per_kg", r.NextSecMjPerKg, "MJ/kg", "this year's SEC reduced by the target");
        return sb.ToString();
    }

    internal static string Format(object? v) => v switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    /// <summary>RFC 4180 quoting; a leading =, +, - or @ in text is prefixed with ' so spreadsheets do not run it as a formula.</summary>
    internal static string Quote(string? s)
    {
        if (string.IsNullOrEmpty(s)) return "";
        if (s[0] is '=' or '+' or '@' || (s[0] == '-' && !double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _))) s = "'" + s;
        return s.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
    }
}
