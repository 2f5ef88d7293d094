using System.Text.Json.Serialization;

namespace KhuyenCong.Cloud.Api;

// What the API sends and receives. JSON names are snake_case (ware_kg, sec_mj_per_kg), the same names as the InfluxDB
// fields in docs/schema.md. Instants are ISO 8601 in UTC; energy in MJ and kgoe (TOE basis, docs/analytics.md), money in VND.

public sealed record SiteDto(string Id, string Name, string? Address, IReadOnlyList<string> Kilns);

public sealed record SiteDetailDto(
    string Id, string Name, string? Address, string? Contact, string Facility, double TargetSavingsPercent,
    IReadOnlyList<GatewayDto> Gateways, IReadOnlyList<KilnDto> Kilns, IReadOnlyList<MeterDto> Meters, BaselinePeriodDto? Baseline, IReadOnlyList<MeasureDto> Measures);

/// <summary>An energy-saving measure from the site registry; <c>implemented</c> is a local day.</summary>
public sealed record MeasureDto(string Name, DateOnly Implemented, string? Kiln, string? Description, double? ExpectedSavingsPercent);

public sealed record GatewayDto(string Id, string? Description);

public sealed record KilnDto(string Id, string Name, string Type, double? VolumeM3, string? Description, IReadOnlyList<string> Meters);

public sealed record MeterDto(string Device, string? Gateway, string? Kiln, string Carrier, string Point, string Covers, double? MaxRatePerHour, double PollIntervalS);

public sealed record BaselinePeriodDto(DateTimeOffset From, DateTimeOffset To);

public sealed record LiveStatusDto(string Site, DateTimeOffset At, double? SitePowerW, IReadOnlyList<LiveKilnDto> Kilns, IReadOnlyList<LiveGatewayDto> Gateways, IReadOnlyList<LiveDeviceDto> Devices);

/// <summary>A kiln now: its controller's latest reading, and the latest power / LPG of its meters.</summary>
public sealed record LiveKilnDto(string Kiln, string Name, double? TempC, double? SetpointC, bool? Running, bool? Alarm, double? PowerW, double? LpgMassKg, double? GasFlowM3h, DateTimeOffset? LastSeen);

/// <summary><c>online</c>: the gateway's last birth/last-will status (null: never reported); <c>last_seen</c>: its latest reading of any device.</summary>
public sealed record LiveGatewayDto(string Gateway, bool? Online, DateTimeOffset? StatusAt, DateTimeOffset? LastSeen);

public sealed record LiveDeviceDto(string Device, string Class, string? Gateway, string? Kiln, DateTimeOffset LastSeen, double AgeS, IReadOnlyDictionary<string, double> Values);

public sealed record FiringDto(
    string Kiln, DateTimeOffset Start, DateTimeOffset? End, bool Running, double? DurationH, double? PeakC, string? Method,
    double? ElectricityKwh, double? LpgKg, double? GasM3, double? EnergyMj, double? Kgoe, double? CostVnd, double? Co2Kg,
    double? WareKg, int? Pieces, string? Product, double? SecMjPerKg, double? SecKgoePerT);

public sealed record FiringsDto(string Site, string? Kiln, DateTimeOffset From, DateTimeOffset To, IReadOnlyList<FiringDto> Firings);

public sealed record EnpiDto(
    string Period, DateTimeOffset Start, string Per, string Scope, string? Kiln,
    double? EnergyMj, double? Kgoe, double? Toe, double? ElectricityKwh, double? LpgKg, double? GasM3, double? CostVnd, double? Co2Kg,
    double? ProductionKg, int? Pieces, int? Firings, double? SecMjPerKg, double? SecKgoePerT, double? Completeness);

public sealed record EnpisDto(string Site, string Scope, string? Kiln, string Per, DateTimeOffset From, DateTimeOffset To, IReadOnlyList<EnpiDto> Enpi);

/// <summary>A baseline model as the analytics job fitted it (ISO 50006): energy = intercept + slope × production.</summary>
public sealed record BaselineModelDto(
    string Scope, string? Kiln, string Basis, DateTimeOffset FittedUntil, int N, double? R2, double? CvRmsePct, double? NmbePct,
    double? InterceptMj, double? SlopeMjPerKg, bool Adequate, string? Summary);

/// <summary>The ASHRAE Guideline 14 limits the verdict applies (mv-criteria.yaml).</summary>
public sealed record AshraeLimitsDto(string Granularity, double MaxCvRmsePct, double MaxAbsNmbePct, double MinR2, int MinPoints, string Source);

public sealed record BaselineDto(string Site, BaselinePeriodDto? BaselinePeriod, IReadOnlyList<BaselineModelWithVerdictDto> Models);

public sealed record BaselineModelWithVerdictDto(BaselineModelDto Model, AshraeLimitsDto Limits, string Verdict, IReadOnlyList<string> Failures);

public sealed record SavingsPointDto(DateTimeOffset At, double ActualMj, double ExpectedMj, double AvoidedMj, double CusumMj, double? SavingsPct, double? TargetPct);

/// <summary>
/// Savings over the chosen reporting period: sums of the points, savings % = 100 × Σ avoided / Σ expected, and progress
/// against the target (<c>below</c>, <c>within</c>, <c>above</c> the programme's 5–7 % band, or the site's own target).
/// <c>claim_allowed</c> is false when the baseline model failed its ASHRAE verdict: the numbers are then for information.
/// </summary>
public sealed record SavingsDto(
    string Site, string Scope, string? Kiln, string Basis, DateTimeOffset From, DateTimeOffset To,
    BaselineModelDto? Model, bool ClaimAllowed, double ActualMj, double ExpectedMj, double AvoidedMj, double? SavingsPct,
    TargetDto Target, IReadOnlyList<SavingsPointDto> Points);

public sealed record TargetDto(double TargetPct, double BandLowPct, double BandHighPct, string? Progress);

public sealed record CarrierUseDto(string Carrier, double Amount, string Unit, double Toe, double Mj);

public sealed record SiteComplianceDto(
    string Site, string Name, int Year, IReadOnlyList<CarrierUseDto> Carriers, double Toe, double ThresholdToe, string ThresholdSource,
    bool KeyConsumer, string Summary, double? ProductionKg, double? SecMjPerKg, int? SecRank, double? Completeness, double? SavingsPct, double TargetPct);

public sealed record ComplianceDto(int Year, int SitesRanked, IReadOnlyList<SiteComplianceDto> Sites);

/// <summary>A production entry as the operator sends it. <c>firing_at</c>: any instant inside the firing (typically its start).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ProductionRequest(string? Kiln, DateTimeOffset? FiringAt, double? WareKg, int? Pieces, string? ProductType, string? Supersedes, string? Note);

/// <summary>
/// A recorded production entry. <c>recorded_by</c> and <c>recorded_at</c> are set by the server (the token's user, the
/// server's clock); <c>superseded_by</c> lists later corrections; <c>effective</c> is true for the entry in force.
/// <c>firing_start</c>: the detected firing it was matched to when it was recorded (null: none found).
/// </summary>
public sealed record ProductionEntryDto(
    string EntryId, string Site, string Kiln, DateTimeOffset FiringAt, DateTimeOffset RecordedAt, string RecordedBy,
    double WareKg, int Pieces, string ProductType, string? Supersedes, string? Note, IReadOnlyList<string> SupersededBy, bool Effective, DateTimeOffset? FiringStart);

public sealed record ProductionHistoryDto(string Site, string? Kiln, IReadOnlyList<ProductionEntryDto> Entries);
