using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Configuration;

namespace KhuyenCong.Analytics.Factors;

/// <summary>One TOE factor: <see cref="Value"/> TOE per <see cref="BaseUnitsPerDenominator"/> base units (kWh, kg, L) of
/// <see cref="Carrier"/>; "TOE/MWh" = 0.1543 has denominator 1,000 kWh.</summary>
public sealed record ToeFactor(Carrier Carrier, double Value, string Unit, Dimension Dimension, double BaseUnitsPerDenominator, FactorSource Source)
{
    public double ToePerBaseUnit => Value / BaseUnitsPerDenominator;
}

/// <summary>TOE, kgoe and MJ of a quantity, with the factor used.</summary>
public sealed record EnergyEquivalent(double Toe, double Kgoe, double Mj, ToeFactor Factor);

/// <summary>The TOE conversion table (firmware-config/factors/toe-conversion.yaml).</summary>
public sealed class ToeFactors
{
    public const string FileName = "toe-conversion.yaml";

    private ToeFactors(string file, double gjPerToe, FactorSource gjSource, IReadOnlyList<ToeFactor> factors)
    {
        File = file;
        GjPerToe = gjPerToe;
        GjPerToeSource = gjSource;
        Factors = factors;
    }

    public string File { get; }

    /// <summary>1 TOE in GJ (41.868).</summary>
    public double GjPerToe { get; }

    public FactorSource GjPerToeSource { get; }

    public IReadOnlyList<ToeFactor> Factors { get; }

    public static ToeFactors Load(string path)
    {
        var (dto, b) = FactorFile.Load<Dto>(path);
        FactorFile.RequireVersion(b, dto, dto.Version);
        var gjSource = FactorFile.Check(b, dto.ToeEnergyContent, "GJ/TOE");
        var list = new List<ToeFactor>();
        foreach (var e in dto.Factors)
        {
            if (!e.Unit.StartsWith("TOE/", StringComparison.Ordinal) || !Units.TryParseDenominator(e.Unit[4..], out var dim, out var baseUnits))
                throw b.Error(e, nameof(EntryDto.Unit), $"'{e.Unit}' is not a TOE factor unit; expected TOE/ followed by one of MWh, kWh, t, kg, 1000 m3, m3, 1000 L, L");
            var source = FactorFile.Check(b, e);
            if (list.Any(f => f.Carrier == e.Carrier && f.Dimension == dim && f.Source.Effective == source.Effective))
                throw b.Error(e, nameof(Entry.Carrier), $"a second {e.Carrier} factor per {dim.ToString().ToLowerInvariant()} effective {source.Effective:yyyy-MM-dd}");
            list.Add(new ToeFactor(e.Carrier, e.Value, e.Unit, dim, baseUnits, source));
        }
        return new ToeFactors(b.File, dto.ToeEnergyContent.Value, gjSource, list);
    }

    /// <summary>The factor for a carrier measured in <paramref name="unit"/>'s dimension, in effect on <paramref name="asOf"/>
    /// (the latest entry effective on or before it).</summary>
    public ToeFactor Find(Carrier carrier, PhysicalUnit unit, DateOnly asOf)
    {
        var dim = Units.DimensionOf(unit);
        var f = Factors.Where(x => x.Carrier == carrier && x.Dimension == dim && x.Source.Effective <= asOf).MaxBy(x => x.Source.Effective);
        if (f is not null) return f;
        var other = Factors.Where(x => x.Carrier == carrier).Select(x => x.Unit).Distinct().ToList();
        throw new MissingFactorException(File, other.Count == 0
            ? $"no TOE factor for carrier '{carrier}' (the facts sheet has no official factor for it)"
            : $"no TOE factor for carrier '{carrier}' per {Units.Symbol(unit)} effective on {asOf:yyyy-MM-dd}; the file has it per {string.Join(", ", other)}");
    }

    /// <summary>TOE = amount in base units × factor / denominator; kgoe = TOE × 1,000; MJ = TOE × GJ/TOE × 1,000.</summary>
    public EnergyEquivalent Convert(Quantity quantity, DateOnly asOf)
    {
        var f = Find(quantity.Carrier, quantity.Unit, asOf);
        var toe = quantity.InBaseUnit * f.ToePerBaseUnit;
        return new EnergyEquivalent(toe, toe * 1000, toe * GjPerToe * 1000, f);
    }

    private sealed class Dto
    {
        public required int Version { get; set; }
        public required EntryDto ToeEnergyContent { get; set; }
        public required List<Entry> Factors { get; set; }
    }

    private sealed class Entry : EntryDto
    {
        public required Carrier Carrier { get; set; }
    }
}
