using KhuyenCong.Analytics.Compliance;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Analytics.Time;
using KhuyenCong.Cloud.Api;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;

namespace KhuyenCong.Cloud.Reports;

/// <summary>
/// A site's annual energy-use report: what the annual report to the authorities asks for — consumption per carrier in
/// physical units and TOE, production, SEC, the baseline and verified savings, measures, next year's target — with the
/// monthly series behind the charts. Built from the derived series in InfluxDB (enpi, firing, savings, baseline_model)
/// and the factor files; <see cref="ReportCsv"/> and <see cref="ReportHtml"/> write it out.
/// </summary>
public sealed record AnnualReport(
    SiteEntry Site,
    int Year,
    DateTimeOffset GeneratedAt,
    EnpiDto? Total,
    IReadOnlyList<EnpiDto> Months,
    IReadOnlyList<(string Kiln, EnpiDto? Year)> Kilns,
    IReadOnlyList<FiringDto> Firings,
    AnnualToeReport Toe,
    double MjPerToe,
    IReadOnlyList<BaselineModelWithVerdictDto> Models,
    SavingsDto Savings,
    int ProductionEntries,
    TargetDto NextTarget)
{
    /// <summary>SEC next year if the target is met: this year's SEC × (1 − target).</summary>
    public double? NextSecMjPerKg => Total?.SecMjPerKg is { } sec ? sec * (1 - NextTarget.TargetPct / 100) : null;
}

public sealed class AnnualReportBuilder(SiteData data, FactorSet factors, ProductionStore production)
{
    public async Task<AnnualReport> BuildAsync(SiteEntry site, int year, DateTimeOffset now, CancellationToken ct)
    {
        var p = Period.Year(year);
        var total = (await data.EnpiAsync(site, null, "year", p.StartUtc, p.EndUtc, ct).ConfigureAwait(false)).FirstOrDefault();
        var months = await data.EnpiAsync(site, null, "month", p.StartUtc, p.EndUtc, ct).ConfigureAwait(false);
        var kilns = new List<(string, EnpiDto?)>();
        foreach (var k in site.Kilns)
            kilns.Add((k.Id, (await data.EnpiAsync(site, k.Id, "year", p.StartUtc, p.EndUtc, ct).ConfigureAwait(false)).FirstOrDefault()));
        var firings = await data.FiringsAsync(site, null, p.StartUtc, p.EndUtc, ct).ConfigureAwait(false);
        var toe = ComplianceReports.AnnualToe(site.Id, year, site.Facility, ApiEndpoints.Quantities(site, total), factors);
        var models = (await data.BaselineModelsAsync(site, null, ct).ConfigureAwait(false)).Select(m => ApiEndpoints.Verdict(m, factors.Mv)).ToList();
        var span = new PeriodQuery(p.StartUtc, p.EndUtc);
        var savings = await ApiEndpoints.Savings(data, factors, site, null, "month", span, ct).ConfigureAwait(false);
        if (savings.Points.Count == 0)
        {
            var byFiring = await ApiEndpoints.Savings(data, factors, site, null, "firing", span, ct).ConfigureAwait(false);
            if (byFiring.Points.Count > 0) savings = byFiring;
        }
        var entries = production.Entries(site.Id).Count(e => e.FiringAt >= p.StartUtc && e.FiringAt < p.EndUtc);
        var next = ApiEndpoints.Target(site, factors, null);
        return new AnnualReport(site, year, now, total, months, kilns, firings, toe, factors.Toe.GjPerToe * 1000, models, savings, entries, next);
    }
}
