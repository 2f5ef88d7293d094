namespace KhuyenCong.Analytics.Factors;

/// <summary>The kind of facility, which decides the key-energy-consumer threshold.</summary>
public enum FacilityType
{
    /// <summary>Industrial, agricultural and transport facilities (every Bát Tràng workshop).</summary>
    Industrial,
    /// <summary>Buildings.</summary>
    Building,
}

/// <summary>The annual TOE at and above which a facility is a key energy consumer.</summary>
public sealed record KeyConsumerThreshold(FacilityType Facility, string Description, double ToePerYear, FactorSource Source);

/// <summary>Key-energy-consumer thresholds (firmware-config/factors/key-consumers.yaml).</summary>
public sealed class KeyConsumerThresholds
{
    public const string FileName = "key-consumers.yaml";

    private KeyConsumerThresholds(string file, IReadOnlyList<KeyConsumerThreshold> thresholds)
    {
        File = file;
        Thresholds = thresholds;
    }

    public string File { get; }

    public IReadOnlyList<KeyConsumerThreshold> Thresholds { get; }

    public static KeyConsumerThresholds Load(string path)
    {
        var (dto, b) = FactorFile.Load<Dto>(path);
        FactorFile.RequireVersion(b, dto, dto.Version);
        var list = new List<KeyConsumerThreshold>();
        foreach (var t in dto.Thresholds)
        {
            var src = FactorFile.Check(b, t, "TOE/year");
            if (list.Any(x => x.Facility == t.Facility && x.Source.Effective == src.Effective))
                throw b.Error(t, nameof(Entry.Facility), $"a second {t.Facility} threshold effective {src.Effective:yyyy-MM-dd}");
            list.Add(new KeyConsumerThreshold(t.Facility, t.Description, t.Value, src));
        }
        return new KeyConsumerThresholds(b.File, list);
    }

    /// <summary>The threshold in force on 1 January of <paramref name="year"/>.</summary>
    public KeyConsumerThreshold For(FacilityType facility, int year) =>
        Thresholds.Where(t => t.Facility == facility && t.Source.Effective <= new DateOnly(year, 1, 1)).MaxBy(t => t.Source.Effective)
        ?? throw new MissingFactorException(File, $"no key-energy-consumer threshold for {facility} in force in {year}");

    private sealed class Dto
    {
        public required int Version { get; set; }
        public required List<Entry> Thresholds { get; set; }
    }

    private sealed class Entry : EntryDto
    {
        public required FacilityType Facility { get; set; }
        public required string Description { get; set; }
    }
}
