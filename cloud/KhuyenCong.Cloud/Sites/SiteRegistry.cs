using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Analytics.Time;
using KhuyenCong.Configuration;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Sites;

/// <summary>
/// The site registry (firmware-config/sites/sites.yaml): every workshop in the programme, its gateways, kilns and meters,
/// and the metadata its reports need. It is the single source of who may write what: a gateway may write only its own
/// site's data, and the analytics read a site's energy only from the meters listed here.
/// </summary>
public sealed class SiteRegistry
{
    private readonly Dictionary<string, SiteEntry> _sites;
    private readonly Dictionary<string, SiteEntry> _siteOfGateway;

    private SiteRegistry(string file, IReadOnlyList<SiteEntry> sites)
    {
        File = file;
        Sites = sites;
        _sites = sites.ToDictionary(s => s.Id, StringComparer.Ordinal);
        _siteOfGateway = sites.SelectMany(s => s.Gateways.Select(g => (g.Id, s))).ToDictionary(x => x.Id, x => x.s, StringComparer.Ordinal);
    }

    public string File { get; }
    public IReadOnlyList<SiteEntry> Sites { get; }

    public SiteEntry? Find(string site) => _sites.GetValueOrDefault(site);

    /// <summary>The site a gateway belongs to, or null for a gateway the registry does not know.</summary>
    public SiteEntry? SiteOfGateway(string gateway) => _siteOfGateway.GetValueOrDefault(gateway);

    /// <summary>
    /// Why <paramref name="gateway"/> may not write data for <paramref name="site"/>, or null when it may. Used by the
    /// ingestor on every message and by the embedded broker on every publish.
    /// </summary>
    public string? WriteRefusal(string site, string gateway)
    {
        var own = SiteOfGateway(gateway);
        if (own is null) return $"gateway '{gateway}' is not in the site registry";
        if (!string.Equals(own.Id, site, StringComparison.Ordinal)) return $"gateway '{gateway}' belongs to site '{own.Id}', not '{site}'";
        return null;
    }

    public static SiteRegistry Load(string file)
    {
        file = Path.GetFullPath(file);
        var (dto, b) = YamlBinder.LoadFile<RegistryDto>(file);
        return Build(file, dto, b);
    }

    public static SiteRegistry Parse(string yaml, string name)
    {
        var (dto, b) = YamlBinder.Load<RegistryDto>(yaml, name);
        return Build(name, dto, b);
    }

    private static SiteRegistry Build(string file, RegistryDto dto, YamlBinder b)
    {
        if (dto.Version != 1) throw b.Error(dto, nameof(dto.Version), $"version {dto.Version} is not supported (this release reads version 1)");
        var sites = new List<SiteEntry>();
        var siteIds = new HashSet<string>(StringComparer.Ordinal);
        var gatewayIds = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in dto.Sites)
        {
            Id(b, s, nameof(s.Id), s.Id);
            if (!siteIds.Add(s.Id)) throw b.Error(s, nameof(s.Id), $"site '{s.Id}' is listed twice");
            if (string.IsNullOrWhiteSpace(s.Name)) throw b.Error(s, nameof(s.Name), "must not be empty");
            if (s.TargetSavingsPercent is { } t && (t <= 0 || t >= 100)) throw b.Error(s, nameof(s.TargetSavingsPercent), "must be between 0 and 100 (a percentage, e.g. 5)");
            if (s.Gateways.Count == 0) throw b.Error(s, nameof(s.Gateways), "needs at least one gateway");
            foreach (var g in s.Gateways)
            {
                Id(b, g, nameof(g.Id), g.Id);
                if (gatewayIds.TryGetValue(g.Id, out var other)) throw b.Error(g, nameof(g.Id), $"gateway '{g.Id}' is already listed under site '{other}': a gateway belongs to one site");
                gatewayIds[g.Id] = s.Id;
            }
            var kilnIds = new HashSet<string>(StringComparer.Ordinal);
            foreach (var k in s.Kilns)
            {
                Id(b, k, nameof(k.Id), k.Id);
                if (!kilnIds.Add(k.Id)) throw b.Error(k, nameof(k.Id), $"kiln '{k.Id}' is listed twice in site '{s.Id}'");
            }
            var meterIds = new HashSet<string>(StringComparer.Ordinal);
            foreach (var m in s.Meters)
            {
                Id(b, m, nameof(m.Device), m.Device);
                if (!meterIds.Add(m.Device)) throw b.Error(m, nameof(m.Device), $"device '{m.Device}' is listed twice in site '{s.Id}'");
                if (m.Kiln is not null && !kilnIds.Contains(m.Kiln)) throw b.Error(m, nameof(m.Kiln), $"kiln '{m.Kiln}' is not a kiln of site '{s.Id}' ({string.Join(", ", kilnIds)})");
                if (m.Gateway is not null && !s.Gateways.Any(g => g.Id == m.Gateway)) throw b.Error(m, nameof(m.Gateway), $"gateway '{m.Gateway}' is not a gateway of site '{s.Id}'");
                if (!MeterPoints.TryGetValue(m.Point, out var carriers)) throw b.Error(m, nameof(m.Point), $"'{m.Point}' is not an energy point; one of {string.Join(", ", MeterPoints.Keys)}");
                if (!carriers.Contains(m.Carrier)) throw b.Error(m, nameof(m.Carrier), $"'{YamlBinder.ToSnake(m.Carrier.ToString())}' cannot be measured by {m.Point} (use {string.Join(" or ", carriers.Select(c => YamlBinder.ToSnake(c.ToString())))})");
                if (m.MaxRatePerHour is { } r && !(r > 0)) throw b.Error(m, nameof(m.MaxRatePerHour), "must be positive (the plausible maximum use per hour: kW, kg/h or m³/h)");
                if (m.Kiln is not null && m.Covers != MeterCovers.Site) throw b.Error(m, nameof(m.Covers), "is for meters without a kiln (a kiln's meter covers that kiln)");
                if (m.PollInterval <= TimeSpan.Zero) throw b.Error(m, nameof(m.PollInterval), "must be positive");
            }
            BaselinePeriod? baseline = null;
            if (s.Baseline is { } bl)
            {
                var from = Instant(b, bl, nameof(bl.From), bl.From, endOfDay: false);
                var to = Instant(b, bl, nameof(bl.To), bl.To, endOfDay: true);
                if (to <= from) throw b.Error(bl, nameof(bl.To), "must be after from");
                baseline = new BaselinePeriod(from, to);
            }
            var measures = new List<MeasureEntry>();
            foreach (var m in s.Measures)
            {
                if (string.IsNullOrWhiteSpace(m.Name)) throw b.Error(m, nameof(m.Name), "must not be empty");
                if (!DateOnly.TryParseExact(m.Implemented, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var day))
                    throw b.Error(m, nameof(m.Implemented), $"'{m.Implemented}' is not a date (YYYY-MM-DD)");
                if (m.ExpectedSavingsPercent is { } e && (e <= 0 || e >= 100)) throw b.Error(m, nameof(m.ExpectedSavingsPercent), "must be between 0 and 100 (a percentage)");
                if (m.Kiln is not null && !kilnIds.Contains(m.Kiln)) throw b.Error(m, nameof(m.Kiln), $"kiln '{m.Kiln}' is not a kiln of site '{s.Id}' ({string.Join(", ", kilnIds)})");
                measures.Add(new MeasureEntry(m.Name.Trim(), day, m.Kiln, m.Description, m.ExpectedSavingsPercent));
            }
            sites.Add(new SiteEntry(s.Id, s.Name, s.Address, s.Facility, s.TargetSavingsPercent,
                [.. s.Gateways.Select(g => new GatewayEntry(g.Id, g.Description))],
                [.. s.Kilns.Select(k => new KilnEntry(k.Id, k.Name, k.Type, k.VolumeM3, k.Description))],
                [.. s.Meters.Select(m => new MeterEntry(m.Device, m.Gateway, m.Kiln, m.Carrier, m.Point, m.MaxRatePerHour, m.PollInterval, m.Kiln is null ? m.Covers : MeterCovers.Kiln))],
                baseline, s.Contact) { Measures = measures });
        }
        return new SiteRegistry(file, sites);
    }

    /// <summary>The canonical points that measure energy use, and the carriers each can measure.</summary>
    public static readonly IReadOnlyDictionary<string, Carrier[]> MeterPoints = new Dictionary<string, Carrier[]>(StringComparer.Ordinal)
    {
        ["energy_import_kwh"] = [Carrier.Electricity],
        ["power_w"] = [Carrier.Electricity],
        ["lpg_mass_kg"] = [Carrier.Lpg],
        ["gas_volume_m3"] = [Carrier.NaturalGas, Carrier.Lpg],
    };

    private static DateTimeOffset Instant(YamlBinder b, object owner, string property, string text, bool endOfDay)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", inv, System.Globalization.DateTimeStyles.None, out var day))
            return VietnamTime.StartOfDayUtc(endOfDay ? day.AddDays(1) : day);
        if (text.Length > 10 && DateTimeOffset.TryParse(text, inv, System.Globalization.DateTimeStyles.None, out var at) && (text.EndsWith('Z') || text[^6] is '+' or '-'))
            return at.ToUniversalTime();
        throw b.Error(owner, property, $"'{text}' is not a date (YYYY-MM-DD, a local day) or an instant with its offset (2026-11-29T08:00:00+07:00)");
    }

    private static void Id(YamlBinder b, object owner, string property, string value)
    {
        if (!Identifiers.IsValid(value)) throw b.Error(owner, property, $"'{value}' is not a valid id (1–64 of a–z, A–Z, 0–9, '-', '_', '.')");
    }

    private sealed class RegistryDto
    {
        public required int Version { get; set; }
        public List<SiteDto> Sites { get; set; } = [];
    }

    private sealed class SiteDto
    {
        public required string Id { get; set; }
        public required string Name { get; set; }
        public string? Address { get; set; }
        public string? Contact { get; set; }
        public FacilityType Facility { get; set; } = FacilityType.Industrial;
        public double? TargetSavingsPercent { get; set; }
        public List<GatewayDto> Gateways { get; set; } = [];
        public List<KilnDto> Kilns { get; set; } = [];
        public List<MeterDto> Meters { get; set; } = [];
        public BaselineDto? Baseline { get; set; }
        public List<MeasureDto> Measures { get; set; } = [];
    }

    private sealed class MeasureDto
    {
        public required string Name { get; set; }
        /// <summary>The local day the measure took effect (YYYY-MM-DD).</summary>
        public required string Implemented { get; set; }
        public string? Kiln { get; set; }
        public string? Description { get; set; }
        public double? ExpectedSavingsPercent { get; set; }
    }

    private sealed class GatewayDto
    {
        public required string Id { get; set; }
        public string? Description { get; set; }
    }

    private sealed class KilnDto
    {
        public required string Id { get; set; }
        public required string Name { get; set; }
        public KilnType Type { get; set; } = KilnType.Electric;
        public double? VolumeM3 { get; set; }
        public string? Description { get; set; }
    }

    private sealed class MeterDto
    {
        public required string Device { get; set; }
        public string? Gateway { get; set; }
        public string? Kiln { get; set; }
        public required Carrier Carrier { get; set; }
        public required string Point { get; set; }
        public double? MaxRatePerHour { get; set; }
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(10);
        public MeterCovers Covers { get; set; } = MeterCovers.Site;
    }

    private sealed class BaselineDto
    {
        /// <summary>A local day (YYYY-MM-DD, from its start) or an instant with offset (2026-11-29T08:00:00+07:00).</summary>
        public required string From { get; set; }
        /// <summary>A local day (YYYY-MM-DD, to its end) or an instant with offset.</summary>
        public required string To { get; set; }
    }
}

public enum KilnType
{
    Electric,
    Lpg,
    NaturalGas,
    Wood,
    Coal,
}

/// <summary>One workshop. <see cref="TargetSavingsPercent"/> null means the programme's default (mv-criteria.yaml).</summary>
public sealed record SiteEntry(
    string Id,
    string Name,
    string? Address,
    FacilityType Facility,
    double? TargetSavingsPercent,
    IReadOnlyList<GatewayEntry> Gateways,
    IReadOnlyList<KilnEntry> Kilns,
    IReadOnlyList<MeterEntry> Meters,
    BaselinePeriod? Baseline,
    string? Contact)
{
    /// <summary>Energy-saving measures taken at the site (for the annual report), oldest first as listed.</summary>
    public IReadOnlyList<MeasureEntry> Measures { get; init; } = [];

    public KilnEntry? Kiln(string id) => Kilns.FirstOrDefault(k => k.Id == id);

    /// <summary>The meters that measure a kiln's own energy.</summary>
    public IEnumerable<MeterEntry> MetersOf(string kiln) => Meters.Where(m => m.Kiln == kiln);

    /// <summary>
    /// The meters whose sum is the whole site's use of <paramref name="carrier"/>: its whole-site meters when it has
    /// any for that carrier (they already include the kilns behind them); otherwise every kiln meter plus the meters
    /// of the rest of the site.
    /// </summary>
    public IReadOnlyList<MeterEntry> SiteTotalMeters(Carrier carrier)
    {
        var whole = Meters.Where(m => m.Carrier == carrier && m.Covers == MeterCovers.Site).ToList();
        return whole.Count > 0 ? whole : [.. Meters.Where(m => m.Carrier == carrier && m.Covers is MeterCovers.Kiln or MeterCovers.Rest)];
    }
}

public sealed record GatewayEntry(string Id, string? Description);

/// <summary>An energy-saving measure (a new kiln lid, better loading, a burner tune-up): what, since when, where, expected savings.</summary>
public sealed record MeasureEntry(string Name, DateOnly Implemented, string? Kiln, string? Description, double? ExpectedSavingsPercent);

public sealed record KilnEntry(string Id, string Name, KilnType Type, double? VolumeM3, string? Description);

/// <summary>
/// A device whose <see cref="Point"/> measures energy use of <see cref="Carrier"/>: for one kiln, or for the whole site
/// (<see cref="Kiln"/> null: the main meter). <see cref="PollInterval"/> is how often a reading is expected (completeness).
/// </summary>
public sealed record MeterEntry(string Device, string? Gateway, string? Kiln, Carrier Carrier, string Point, double? MaxRatePerHour, TimeSpan PollInterval, MeterCovers Covers);

/// <summary>What a meter measures.</summary>
public enum MeterCovers
{
    /// <summary>One kiln (the meter has a kiln).</summary>
    Kiln,
    /// <summary>The whole site, the kilns included (at the incoming supply).</summary>
    Site,
    /// <summary>The rest of the site: everything except the kilns that have their own meters.</summary>
    Rest,
}

/// <summary>The baseline period for the site's energy model (ISO 50006): UTC instants, [From, To).</summary>
public sealed record BaselinePeriod(DateTimeOffset From, DateTimeOffset To);
