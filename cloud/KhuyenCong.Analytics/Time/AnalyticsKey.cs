using System.Globalization;

namespace KhuyenCong.Analytics.Time;

/// <summary>
/// The stable identity of a computed record, so a later job can write it idempotently (same inputs → same key and same
/// values; a recomputation overwrites, never duplicates). <see cref="Kiln"/> is null for a site-wide record.
/// <see cref="Scope"/> says what the record is: "period" for day/month/year aggregates, "firing" for one firing (its
/// <see cref="PeriodId"/> is then the firing's start in UTC, "yyyyMMddTHHmmssZ").
/// </summary>
public sealed record AnalyticsKey(string Site, string? Kiln, string Scope, string PeriodId)
{
    public static AnalyticsKey ForPeriod(string site, string? kiln, Period period) =>
        new(site, kiln, period.Kind.ToString().ToLowerInvariant(), period.Id);

    public static AnalyticsKey ForFiring(string site, string kiln, DateTimeOffset startUtc) =>
        new(site, kiln, "firing", startUtc.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture));

    /// <summary>"site/kiln/scope/period", with "*" for a site-wide record: "gom-sy/*/month/2025-05".</summary>
    public override string ToString() => $"{Site}/{Kiln ?? "*"}/{Scope}/{PeriodId}";
}
