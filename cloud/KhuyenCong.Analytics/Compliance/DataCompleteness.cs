namespace KhuyenCong.Analytics.Compliance;

/// <summary>Share of expected readings received: <see cref="Received"/> poll slots with at least one reading out of
/// <see cref="Expected"/> slots in [From, To).</summary>
public sealed record Completeness(DateTimeOffset From, DateTimeOffset To, TimeSpan PollInterval, long Expected, long Received, double Share);

public static class DataCompleteness
{
    /// <summary>
    /// Cuts [from, to) into slots of one poll interval (expected = ⌈(to − from) / poll⌉) and counts the slots that hold at least one
    /// reading, so duplicates or a faster poll never push the share above 1 and readings outside the period are ignored.
    /// </summary>
    public static Completeness Compute(IEnumerable<DateTimeOffset> readings, DateTimeOffset from, DateTimeOffset to, TimeSpan pollInterval)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (to <= from) throw new ArgumentException($"the period must end after it starts: {from:O} – {to:O}");
        if (pollInterval <= TimeSpan.Zero) throw new ArgumentException($"the poll interval must be positive, not {pollInterval}");
        var expected = ((to - from).Ticks + pollInterval.Ticks - 1) / pollInterval.Ticks;
        var slots = readings.Where(t => t >= from && t < to).Select(t => (t - from).Ticks / pollInterval.Ticks).ToHashSet();
        return new Completeness(from, to, pollInterval, expected, slots.Count, slots.Count / (double)expected);
    }
}
