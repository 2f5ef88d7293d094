using System.Globalization;
using System.Net;
using System.Text;

namespace KhuyenCong.Cloud.Reports;

/// <summary>
/// The annual report as one self-contained HTML page: tables, and three charts drawn as inline SVG (SEC trend, baseline
/// vs actual, CUSUM). No script, no external style sheet, font or image; it prints on A4 (print styles included).
/// </summary>
public static class ReportHtml
{
    private const string Css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:60rem;color:#1b1f24;line-height:1.4;padding:0 1rem}
        h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;border-bottom:2px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
        table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.92rem}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left}
        td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f8fa}.muted{color:#57606a}.warn{color:#9a3412;font-weight:600}.ok{color:#166534;font-weight:600}
        svg.chart{width:100%;height:auto;max-width:720px;display:block;margin:.5rem 0}svg .g{stroke:#e5e7eb}svg .z{stroke:#6b7280}
        svg .a{font-size:11px;fill:#57606a}svg .t{font-size:13px;font-weight:600;fill:#1b1f24}svg .n{font-size:13px;fill:#57606a}
        @media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}svg.chart,table{break-inside:avoid}a{color:inherit;text-decoration:none}}
        @page{size:A4;margin:15mm}
        """;

    public static string Write(AnnualReport r)
    {
        var inv = CultureInfo.InvariantCulture;
        var s = r.Site;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        sb.Append(inv, $"<title>Energy-use report {r.Year}: {E(s.Name)}</title><style>{Css}</style></head><body>");
        sb.Append(inv, $"<h1>Energy-use report {r.Year}</h1><p><strong>{E(s.Name)}</strong> (<code>{E(s.Id)}</code>)");
        if (s.Address is not null) sb.Append(inv, $"<br>{E(s.Address)}");
        if (s.Contact is not null) sb.Append(inv, $"<br>Contact: {E(s.Contact)}");
        sb.Append(inv, $"<br><span class=\"muted\">Facility type: {E(s.Facility.ToString().ToLowerInvariant())}. Period: 1 January – 31 December {r.Year} (Vietnam time). Generated {r.GeneratedAt:yyyy-MM-dd HH:mm} UTC by KhuyenCong.Energy.</span></p>");

        sb.Append("<h2>1. Energy consumption by carrier</h2><table><tr><th>Carrier</th><th>Amount</th><th>Unit</th><th>TOE</th><th>MJ</th><th>Factor</th></tr>");
        foreach (var c in r.Toe.ByCarrier)
        {
            sb.Append(inv, $"<tr><td>{E(Configuration.YamlBinder.ToSnake(c.Carrier.ToString()))}</td><td class=\"n\">{N(c.Amount, 1)}</td><td>{E(Analytics.Conversion.Units.Symbol(c.Unit))}</td>");
            sb.Append(inv, $"<td class=\"n\">{N(c.Toe, 3)}</td><td class=\"n\">{N(c.Toe * r.MjPerToe, 0)}</td><td class=\"muted\">{c.Factor.Value.ToString(inv)} {E(c.Factor.Unit)} ({E(c.Factor.Source.Document)})</td></tr>");
        }
        if (r.Toe.ByCarrier.Count == 0) sb.Append("<tr><td colspan=\"6\" class=\"muted\">No energy data for this year.</td></tr>");
        sb.Append(inv, $"<tr><th>Total</th><td></td><td></td><th class=\"n\">{N(r.Toe.TotalToe, 3)}</th><th class=\"n\">{N(r.Toe.TotalToe * r.MjPerToe, 0)}</th><td></td></tr></table>");
        sb.Append(inv, $"<p>Cost (electricity): {N(r.Total?.CostVnd, 0)} VND. CO₂: {N(r.Total?.Co2Kg, 0)} kg. Data completeness: {Pct(r.Total?.Completeness)} of expected readings received.</p>");
        var key = r.Toe.Status == Analytics.Compliance.KeyConsumerStatus.KeyConsumer;
        sb.Append(inv, $"<p class=\"{(key ? "warn" : "ok")}\">{(key ? "Key energy consumer" : "Not a key energy consumer")}</p><p>{E(r.Toe.Summary)}</p>");

        sb.Append("<h2>2. Production and specific energy consumption</h2>");
        sb.Append(inv, $"<p>{N(r.Total?.ProductionKg, 0)} kg of ware, {N(r.Total?.Pieces, 0)} pieces in {N(r.Total?.Firings, 0)} firings ({r.ProductionEntries} production entries recorded). ");
        sb.Append(inv, $"SEC: <strong>{N(r.Total?.SecMjPerKg, 2)} MJ/kg</strong> ({N(r.Total?.SecKgoePerT, 1)} kgoe/t).</p>");
        sb.Append("<table><tr><th>Month</th><th>Energy (MJ)</th><th>TOE</th><th>Production (kg)</th><th>Firings</th><th>SEC (MJ/kg)</th><th>Completeness</th></tr>");
        foreach (var m in r.Months)
            sb.Append(inv, $"<tr><td>{m.Period}</td><td class=\"n\">{N(m.EnergyMj, 0)}</td><td class=\"n\">{N(m.Toe, 3)}</td><td class=\"n\">{N(m.ProductionKg, 0)}</td><td class=\"n\">{N(m.Firings, 0)}</td><td class=\"n\">{N(m.SecMjPerKg, 2)}</td><td class=\"n\">{Pct(m.Completeness)}</td></tr>");
        sb.Append("</table>");
        sb.Append("<table><tr><th>Kiln</th><th>Energy (MJ)</th><th>Production (kg)</th><th>Firings</th><th>SEC (MJ/kg)</th></tr>");
        foreach (var (kiln, e) in r.Kilns)
            sb.Append(inv, $"<tr><td>{E(kiln)}</td><td class=\"n\">{N(e?.EnergyMj, 0)}</td><td class=\"n\">{N(e?.ProductionKg, 0)}</td><td class=\"n\">{N(e?.Firings, 0)}</td><td class=\"n\">{N(e?.SecMjPerKg, 2)}</td></tr>");
        sb.Append("</table>");
        var monthLabels = r.Months.Select(m => MonthLabel(m.Start)).ToList();
        sb.Append(SvgChart.Line("chart-sec", "SEC trend by month", "MJ/kg", monthLabels, [new ChartSeries("SEC", "#2563eb", [.. r.Months.Select(m => m.SecMjPerKg)])]));

        sb.Append("<h2>3. Baseline and verified savings</h2>");
        if (s.Baseline is { } bp)
            sb.Append(inv, $"<p>Baseline period: {Analytics.Time.VietnamTime.LocalDate(bp.From):yyyy-MM-dd} – {Analytics.Time.VietnamTime.LocalDate(bp.To.AddTicks(-1)):yyyy-MM-dd} (local days).</p>");
        if (r.Models.Count == 0) sb.Append("<p class=\"muted\">No baseline model has been fitted for this site.</p>");
        else
        {
            sb.Append("<table><tr><th>Model</th><th>n</th><th>R²</th><th>CV(RMSE) %</th><th>NMBE %</th><th>Energy = a + b × kg</th><th>ASHRAE Guideline 14</th></tr>");
            foreach (var m in r.Models)
            {
                var md = m.Model;
                sb.Append(inv, $"<tr><td>{E(md.Scope)}{(md.Kiln is null ? "" : " " + E(md.Kiln))} / {E(md.Basis)}</td><td class=\"n\">{md.N}</td><td class=\"n\">{N(md.R2, 3)}</td>");
                sb.Append(inv, $"<td class=\"n\">{N(md.CvRmsePct, 1)} (≤ {N(m.Limits.MaxCvRmsePct, 0)})</td><td class=\"n\">{N(md.NmbePct, 1)} (±{N(m.Limits.MaxAbsNmbePct, 0)})</td>");
                sb.Append(inv, $"<td>a = {N(md.InterceptMj, 1)} MJ, b = {N(md.SlopeMjPerKg, 3)} MJ/kg</td><td class=\"{(md.Adequate ? "ok" : "warn")}\">{E(m.Verdict)}{(m.Failures.Count > 0 ? ": " + E(string.Join("; ", m.Failures)) : "")}</td></tr>");
            }
            sb.Append("</table>");
        }
        var sv = r.Savings;
        if (sv.Points.Count == 0)
        {
            sb.Append(inv, $"<p class=\"muted\">No savings were computed for {r.Year}: they need a baseline period (sites.yaml: baseline) and a fitted model, and data after the baseline period.</p>");
        }
        else
        {
            sb.Append(inv, $"<p>Reporting period {r.Year} ({E(sv.Basis)} basis): actual {N(sv.ActualMj, 0)} MJ, adjusted baseline {N(sv.ExpectedMj, 0)} MJ, avoided {N(sv.AvoidedMj, 0)} MJ: ");
            sb.Append(inv, $"<strong>savings {N(sv.SavingsPct, 1)} %</strong> against a target of {N(sv.Target.TargetPct, 1)} % (programme band {N(sv.Target.BandLowPct, 0)}–{N(sv.Target.BandHighPct, 0)} %)");
            sb.Append(sv.Target.Progress is { } pr ? $": {E(pr)} the target.</p>" : ".</p>");
            if (!sv.ClaimAllowed) sb.Append("<p class=\"warn\">These savings are for information only: there is no baseline model good enough to claim them.</p>");
        }
        var labels = sv.Points.Select(p => sv.Basis == "month" ? MonthLabel(p.At) : Analytics.Time.VietnamTime.ToLocal(p.At).ToString("dd MMM", inv)).ToList();
        sb.Append(SvgChart.Line("chart-baseline", "Baseline vs actual energy", "MJ", labels,
            [new ChartSeries("actual", "#dc2626", [.. sv.Points.Select(p => (double?)p.ActualMj)]), new ChartSeries("adjusted baseline", "#2563eb", [.. sv.Points.Select(p => (double?)p.ExpectedMj)])]));
        sb.Append(SvgChart.Line("chart-cusum", "CUSUM of avoided energy (rising = saving)", "MJ", labels, [new ChartSeries("CUSUM", "#16a34a", [.. sv.Points.Select(p => (double?)p.CusumMj)])]));

        sb.Append("<h2>4. Measures and next targets</h2>");
        var measures = s.Measures.Where(m => m.Implemented.Year <= r.Year).ToList();
        if (measures.Count == 0) sb.Append("<p class=\"muted\">No energy-saving measures are recorded for this site (sites.yaml: measures).</p>");
        else
        {
            sb.Append("<table><tr><th>Measure</th><th>Since</th><th>Kiln</th><th>Expected savings</th><th>Description</th></tr>");
            foreach (var m in measures)
                sb.Append(inv, $"<tr><td>{E(m.Name)}</td><td>{m.Implemented:yyyy-MM-dd}</td><td>{E(m.Kiln ?? "whole site")}</td><td class=\"n\">{(m.ExpectedSavingsPercent is { } e ? N(e, 1) + " %" : "–")}</td><td>{E(m.Description ?? "")}</td></tr>");
            sb.Append("</table>");
        }
        if (sv.Points.Count > 0)
            sb.Append(inv, $"<p>Savings achieved in {r.Year}: {N(sv.AvoidedMj, 0)} MJ ({N(sv.AvoidedMj / r.MjPerToe, 3)} TOE) avoided against the baseline{(sv.ClaimAllowed ? "" : " (not claimable: see section 3)")}.</p>");
        sb.Append(inv, $"<p>Target for {r.Year + 1}: save {N(r.NextTarget.TargetPct, 1)} % against the baseline");
        sb.Append(r.NextSecMjPerKg is { } next ? string.Create(inv, $", i.e. an SEC of at most {N(next, 2)} MJ/kg.</p>") : ".</p>");
        sb.Append("<p class=\"muted\">Figures: docs/analytics.md (TOE basis: 1 kWh = 0.0001543 TOE; SEC = energy of firings with production / kg of ware).</p>");
        sb.Append("</body></html>");
        return sb.ToString();
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string MonthLabel(DateTimeOffset start) => Analytics.Time.VietnamTime.ToLocal(start).ToString("MMM", CultureInfo.InvariantCulture);

    private static string N(double? v, int decimals) => v is { } d ? d.ToString(decimals == 0 ? "#,0" : "#,0." + new string('0', decimals), CultureInfo.InvariantCulture) : "–";

    private static string N(int? v, int _) => v is { } i ? i.ToString("#,0", CultureInfo.InvariantCulture) : "–";

    private static string Pct(double? share) => share is { } s ? (100 * s).ToString("0.0", CultureInfo.InvariantCulture) + " %" : "–";
}
