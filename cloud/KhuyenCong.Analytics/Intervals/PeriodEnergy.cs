using KhuyenCong.Analytics.Time;

namespace KhuyenCong.Analytics.Intervals;

/// <summary>Energy of one series in one period, and how much of it came from flagged intervals (gap, reset, …).</summary>
public sealed record PeriodAmount(Period Period, double Energy, double FlaggedEnergy);

/// <summary>Splits interval energy across days, months or years (Vietnam local time), pro rata by time for an interval that
/// straddles a boundary (the rate is assumed constant inside an interval).</summary>
public static class PeriodEnergy
{
    public static IReadOnlyList<PeriodAmount> Split(IEnumerable<EnergyInterval> intervals, PeriodKind kind)
    {
        ArgumentNullException.ThrowIfNull(intervals);
        var sums = new SortedDictionary<DateOnly, (Period P, double E, double F)>();
        foreach (var iv in intervals)
        {
            foreach (var p in Period.Covering(kind, iv.Start, iv.End))
            {
                var e = iv.EnergyWithin(p.StartUtc, p.EndUtc);
                var cur = sums.TryGetValue(p.FirstDay, out var c) ? c : (p, 0.0, 0.0);
                sums[p.FirstDay] = (p, cur.Item2 + e, cur.Item3 + (iv.Flag == IntervalFlag.Ok ? 0 : e));
            }
        }
        return sums.Values.Select(v => new PeriodAmount(v.P, v.E, v.F)).ToList();
    }
}
