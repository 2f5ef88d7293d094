namespace KhuyenCong.Analytics.Firings;

/// <summary>
/// What came out of one firing, as an operator (or a scale) recorded it. Entries are append-only: a correction is a new entry
/// (optionally naming the one it replaces in <see cref="Supersedes"/>), never an edit. <see cref="FiringAt"/> is any instant
/// inside the firing (typically its start as the operator saw it); it ties the entry to the detected firing.
/// </summary>
public sealed record ProductionEntry(
    string EntryId,
    string Site,
    string Kiln,
    DateTimeOffset FiringAt,
    DateTimeOffset RecordedAt,
    string RecordedBy,
    double WareKg,
    int Pieces,
    string ProductType,
    string? Supersedes = null,
    string? Note = null);

/// <summary>The entry in force for a firing (null when none), and every entry that was ever recorded for it, oldest first.</summary>
public sealed record ProductionResolution(ProductionEntry? Effective, IReadOnlyList<ProductionEntry> History)
{
    public static ProductionResolution None { get; } = new(null, []);
}

/// <summary>
/// All production entries. For a firing, the entries of the same site and kiln whose FiringAt falls inside the firing (widened by
/// a tolerance) are its history; the effective one is the latest recorded (RecordedAt, then EntryId) that no other entry
/// supersedes — latest wins, nothing is deleted.
/// </summary>
public sealed class ProductionLedger
{
    private readonly List<ProductionEntry> _entries;
    private readonly HashSet<string> _superseded;

    public ProductionLedger(IEnumerable<ProductionEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        _entries = [.. entries];
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in _entries)
        {
            if (!ids.Add(e.EntryId)) throw new ArgumentException($"production entry '{e.EntryId}' appears twice; entries are append-only, a correction needs a new id");
            if (!double.IsFinite(e.WareKg) || e.WareKg < 0) throw new ArgumentException($"production entry '{e.EntryId}': ware_kg must be ≥ 0, not {e.WareKg}");
            if (e.Pieces < 0) throw new ArgumentException($"production entry '{e.EntryId}': pieces must be ≥ 0, not {e.Pieces}");
            if (string.IsNullOrWhiteSpace(e.RecordedBy)) throw new ArgumentException($"production entry '{e.EntryId}': recorded_by is required (who entered it)");
        }
        foreach (var e in _entries)
        {
            if (e.Supersedes is { } s && !ids.Contains(s)) throw new ArgumentException($"production entry '{e.EntryId}' supersedes '{s}', which does not exist");
        }
        _superseded = _entries.Where(e => e.Supersedes is not null).Select(e => e.Supersedes!).ToHashSet(StringComparer.Ordinal);
    }

    public IReadOnlyList<ProductionEntry> Entries => _entries;

    public ProductionResolution For(FiringWindow firing, TimeSpan? tolerance = null)
    {
        ArgumentNullException.ThrowIfNull(firing);
        var tol = tolerance ?? TimeSpan.FromHours(1);
        var history = _entries
            .Where(e => e.Site == firing.Site && e.Kiln == firing.Kiln && e.FiringAt >= firing.Start - tol && e.FiringAt <= firing.End + tol)
            .OrderBy(e => e.RecordedAt).ThenBy(e => e.EntryId, StringComparer.Ordinal)
            .ToList();
        var effective = history.LastOrDefault(e => !_superseded.Contains(e.EntryId));
        return new ProductionResolution(effective, history);
    }
}
