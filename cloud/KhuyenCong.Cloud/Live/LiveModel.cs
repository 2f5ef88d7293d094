namespace KhuyenCong.Cloud.Live;

/// <summary>One kiln's card on the live page. Times are epoch milliseconds (UTC); null means "not known" (shown as —).</summary>
public sealed record KilnCard
{
    public required string Kiln { get; init; }
    public required string Name { get; init; }
    /// <summary>electric, lpg, natural_gas, wood, coal (from the site registry).</summary>
    public required string Type { get; init; }
    public double? TempC { get; init; }
    public double? SetpointC { get; init; }
    /// <summary>The controller's run state; null when the kiln has no controller reporting it.</summary>
    public bool? Running { get; init; }
    public int? Segment { get; init; }
    /// <summary>Electric power of the kiln's own meters now, kW.</summary>
    public double? PowerKw { get; init; }
    /// <summary>Gas use now (kg/h of LPG, or m³/h), from the last readings of the kiln's gas meters.</summary>
    public double? GasRate { get; init; }
    /// <summary>kg/h or m3/h.</summary>
    public string? GasRateUnit { get; init; }
    /// <summary>Start of the current firing (running) or of the last one (idle), when found in the last 7 days.</summary>
    public long? FiringStartMs { get; init; }
    /// <summary>End of the last firing (idle kilns only).</summary>
    public long? FiringEndMs { get; init; }
    /// <summary>Energy of that firing so far, per carrier, in the carrier's own unit.</summary>
    public double? ElectricityKwh { get; init; }
    public double? LpgKg { get; init; }
    public double? GasM3 { get; init; }
    /// <summary>All carriers in MJ (TOE conversion factors).</summary>
    public double? EnergyMj { get; init; }
    /// <summary>Electricity cost so far, VND, at the EVN time-of-use tariff (fuel is not priced: the factor files have no fuel prices).</summary>
    public double? CostVnd { get; init; }
    /// <summary>Estimated energy at the end of the running firing, MJ (see docs/live-page.md); null when it cannot be estimated.</summary>
    public double? ProjectedMj { get; init; }
    /// <summary>The planned duration the estimate assumes: the median duration of the kiln's recent firings, hours.</summary>
    public double? PlannedDurationH { get; init; }
    /// <summary>Why there is no estimate: no-history (no completed firing in the firing series), too-early, not-running.</summary>
    public string? ProjectionNote { get; init; }
    /// <summary>Recent completed firings with their specific energy consumption (from the analytics' firing series).</summary>
    public IReadOnlyList<RecentFiring> Recent { get; init; } = [];
}

public sealed record RecentFiring(long StartMs, double? DurationH, double? EnergyMj, double? WareKg, double? SecMjPerKg);

/// <summary>A device seen sending data in the last 7 days, and when it last did.</summary>
public sealed record DeviceSeen(string Device, string Gateway, string Measurement, string? Kiln, long LastMs);

/// <summary>A gateway: its last birth/last-will state and when its devices last sent data.</summary>
public sealed record GatewayState(string Gateway, bool? Online, long? StatusAtMs, long? LastDataMs);

/// <summary>Everything the site page shows besides the curves.</summary>
public sealed record SiteStatus(string Site, string Name, double? LoadKw, int KilnsFiring, IReadOnlyList<GatewayState> Gateways, IReadOnlyList<DeviceSeen> Devices);

/// <summary>One row of the centre's site view.</summary>
public sealed record SiteRow(string Site, string Name, string? Address, double? LoadKw, int KilnsFiring, int Kilns, int GatewaysOnline, int Gateways, long? LastDataMs);

/// <summary>Temperature and setpoint at one time (a mean over the bucket for the first load of a long firing).</summary>
public sealed record CurvePoint(long T, double? Temp, double? Sp);
