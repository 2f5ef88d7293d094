using KhuyenCong.Analytics.Time;

namespace KhuyenCong.Analytics.Firings;

/// <summary>Whether a summary is per kiln or for the whole site.</summary>
public enum AggregationScope
{
    Kiln,
    Site,
}

/// <summary>
/// Firings of one kiln (or one site) in one day, month or year. <see cref="Sec"/> = Σ energy / Σ production over the firings
/// that have production — a ratio of sums, not an average of the firings' SECs (which would weight a small load the same as a
/// full one). Energy of firings without production is in the totals but not in the SEC.
/// </summary>
public sealed record PeriodSummary(
    AnalyticsKey Key,
    Period Period,
    int Firings,
    int FiringsWithProduction,
    double TotalToe,
    double TotalKgoe,
    double TotalMj,
    double ElectricityCostVnd,
    double? KgCo2,
    double ProductionKg,
    int Pieces,
    double MjOfFiringsWithProduction,
    double KgoeOfFiringsWithProduction,
    Sec? Sec,
    IReadOnlyDictionary<string, double> ProductionKgByType);

public static class Aggregation
{
    /// <summary>Groups firings by the local (UTC+07:00) day, month or year of their start; a firing that runs over midnight
    /// belongs wholly to the period it started in.</summary>
    public static IReadOnlyList<PeriodSummary> Summarise(IEnumerable<FiringRecord> firings, PeriodKind kind, AggregationScope scope)
    {
        ArgumentNullException.ThrowIfNull(firings);
        return firings
            .GroupBy(f => (f.Firing.Site, Kiln: scope == AggregationScope.Kiln ? f.Firing.Kiln : null, Period: Period.Containing(kind, f.Firing.Start)))
            .OrderBy(g => g.Key.Site, StringComparer.Ordinal).ThenBy(g => g.Key.Kiln, StringComparer.Ordinal).ThenBy(g => g.Key.Period.FirstDay)
            .Select(g =>
            {
                var all = g.OrderBy(f => f.Firing.Start).ToList();
                var produced = all.Where(f => f.Production.Effective is { WareKg: > 0 }).ToList();
                var kg = produced.Sum(f => f.Production.Effective!.WareKg);
                var mj = produced.Sum(f => f.TotalMj);
                var kgoe = produced.Sum(f => f.TotalKgoe);
                var byType = new SortedDictionary<string, double>(StringComparer.Ordinal);
                foreach (var f in produced)
                {
                    var e = f.Production.Effective!;
                    byType[e.ProductType] = (byType.TryGetValue(e.ProductType, out var v) ? v : 0) + e.WareKg;
                }
                return new PeriodSummary(
                    AnalyticsKey.ForPeriod(g.Key.Site, g.Key.Kiln, g.Key.Period),
                    g.Key.Period,
                    all.Count,
                    produced.Count,
                    all.Sum(f => f.TotalToe),
                    all.Sum(f => f.TotalKgoe),
                    all.Sum(f => f.TotalMj),
                    all.Sum(f => f.ElectricityCostVnd),
                    all.All(f => f.KgCo2 is not null) ? all.Sum(f => f.KgCo2!.Value) : null,
                    kg,
                    produced.Sum(f => f.Production.Effective!.Pieces),
                    mj,
                    kgoe,
                    Sec.From(mj, kgoe, kg),
                    byType);
            })
            .ToList();
    }
}
