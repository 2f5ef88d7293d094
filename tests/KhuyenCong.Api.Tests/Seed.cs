using System.Globalization;
using KhuyenCong.Analytics.Time;

namespace KhuyenCong.Api.Tests;

/// <summary>
/// The data the API tests read: derived series as the analytics jobs write them (docs/schema.md, "Derived series") for
/// 2025, made consistent by construction (month = Σ firings of the month + base load, year = Σ months), and the latest raw
/// readings of site-a for the live status. Numbers use the factor files' TOE basis: 1 kWh = 0.0001543 TOE, 1 kg LPG =
/// 0.00109 TOE, 1 TOE = 41,868 MJ.
/// </summary>
public static class Seed
{
    public const double MjPerKwh = 0.0001543 * 41_868;
    public const double MjPerKgLpg = 1.09 / 1000 * 41_868;
    /// <summary>Electricity of site-a outside the kilns each month (lights, glazing): in the site's energy, in no firing.</summary>
    public const double BaseLoadKwh = 50;

    public sealed record Firing(string Kiln, DateTimeOffset Start, double Hours, double Kwh, double LpgKg, double? WareKg, int? Pieces)
    {
        public double Mj => Kwh * MjPerKwh + LpgKg * MjPerKgLpg;
        public DateTimeOffset End => Start.AddHours(Hours);
    }

    private static DateTimeOffset T(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture);

    public static readonly IReadOnlyList<Firing> SiteAFirings =
    [
        new("kiln-1", T("2025-01-10T01:00:00Z"), 12, 5, 60, 300, 120),
        new("kiln-1", T("2025-01-20T01:00:00Z"), 12, 5, 66, 320, 130),
        new("kiln-1", T("2025-02-05T01:00:00Z"), 11, 4, 58, 310, 125),
        new("kiln-2", T("2025-02-15T02:00:00Z"), 10, 120, 0, 100, 40),
        new("kiln-2", T("2025-03-03T02:00:00Z"), 10, 130, 0, 110, 44),
        new("kiln-2", T("2025-03-20T02:00:00Z"), 10, 125, 0, null, null),
    ];

    /// <summary>site-b's year: electricity only.</summary>
    public const double SiteBKwh = 2000, SiteBWareKg = 1500;

    public sealed record Month(string Id, DateTimeOffset Start, double Kwh, double LpgKg, double WareKg, int Pieces, int Firings, double SecEnergyMj)
    {
        public double Mj => Kwh * MjPerKwh + LpgKg * MjPerKgLpg;
        public double? Sec => WareKg > 0 ? SecEnergyMj / WareKg : null;
    }

    /// <summary>site-a per local month: its firings plus the base load.</summary>
    public static IReadOnlyList<Month> SiteAMonths() => [.. SiteAFirings.GroupBy(f => Period.Containing(PeriodKind.Month, f.Start)).Select(g => new Month(
        g.Key.Id, g.Key.StartUtc, g.Sum(f => f.Kwh) + BaseLoadKwh, g.Sum(f => f.LpgKg), g.Sum(f => f.WareKg ?? 0), g.Sum(f => f.Pieces ?? 0), g.Count(),
        g.Where(f => f.WareKg > 0).Sum(f => f.Mj)))];

    public static IEnumerable<string> Lines(DateTimeOffset now)
    {
        var inv = CultureInfo.InvariantCulture;
        string N(double v) => v.ToString("R", inv);
        long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

        foreach (var f in SiteAFirings)
        {
            var fields = $"end_ms={Ms(f.End)}i,running=0,duration_h={N(f.Hours)},peak_c=1250,method=\"run_state\",electricity_kwh={N(f.Kwh)},lpg_kg={N(f.LpgKg)},energy_mj={N(f.Mj)},kgoe={N(f.Mj / 41.868)},co2_kg={N(f.LpgKg * 2.98463)}";
            if (f.WareKg is { } kg) fields += $",ware_kg={N(kg)},pieces={f.Pieces},product=\"bowls\",sec_mj_per_kg={N(f.Mj / kg)},sec_kgoe_per_t={N(f.Mj / 41.868 / (kg / 1000))}";
            yield return $"firing,kiln={f.Kiln},site=site-a {fields} {Ms(f.Start)}";
        }
        var months = SiteAMonths();
        foreach (var m in months) yield return Enpi("site-a", null, "month", m.Start, m.Kwh, m.LpgKg, m.WareKg, m.Pieces, m.Firings, m.SecEnergyMj, 0.97, m.Mj);
        var year = Period.Year(2025).StartUtc;
        var secMj = months.Sum(m => m.SecEnergyMj);
        yield return Enpi("site-a", null, "year", year, months.Sum(m => m.Kwh), months.Sum(m => m.LpgKg), months.Sum(m => m.WareKg), months.Sum(m => m.Pieces), months.Sum(m => m.Firings), secMj, 0.97, months.Sum(m => m.Mj));
        foreach (var k in SiteAFirings.GroupBy(f => f.Kiln))
        {
            yield return Enpi("site-a", k.Key, "year", year, k.Sum(f => f.Kwh), k.Sum(f => f.LpgKg), k.Sum(f => f.WareKg ?? 0), k.Sum(f => f.Pieces ?? 0), k.Count(),
                k.Where(f => f.WareKg > 0).Sum(f => f.Mj), null, k.Sum(f => f.Mj));
        }
        yield return Enpi("site-b", null, "year", year, SiteBKwh, 0, SiteBWareKg, 600, 20, SiteBKwh * MjPerKwh, 0.99, SiteBKwh * MjPerKwh);

        // Savings of site-a, month basis: the adjusted baseline is 6 % above what was used.
        var cusum = 0.0;
        var sumActual = 0.0;
        var sumExpected = 0.0;
        foreach (var m in months)
        {
            var expected = m.Mj * 1.06;
            var avoided = expected - m.Mj;
            cusum += avoided;
            sumActual += m.Mj;
            sumExpected += expected;
            yield return $"savings,basis=month,scope=site,site=site-a actual_mj={N(m.Mj)},expected_mj={N(expected)},avoided_mj={N(avoided)},cusum_mj={N(cusum)},savings_pct={N(100 * (sumExpected - sumActual) / sumExpected)},target_pct=5 {Ms(m.Start)}";
        }
        var baselineEnd = Ms(T("2024-12-31T17:00:00Z"));
        yield return $"baseline_model,basis=month,scope=site,site=site-a n=12,r2=0.91,cv_rmse_pct=8.2,nmbe_pct=0,intercept_mj=500,slope_mj_per_kg=9.5,adequate=1,summary=\"adequate\" {baselineEnd}";
        yield return $"baseline_model,basis=firing,kiln=kiln-2,scope=kiln,site=site-a n=8,r2=0.5,cv_rmse_pct=35,nmbe_pct=0,intercept_mj=100,slope_mj_per_kg=5,adequate=0,summary=\"NOT good enough to claim savings\" {baselineEnd}";

        // Live: site-a's devices, an older and a latest reading each.
        var t0 = now.AddMinutes(-2);
        var t1 = now.AddSeconds(-5);
        yield return $"kiln,device=kiln1-ctl,gateway=gw-a,kiln=kiln-1,site=site-a kiln_temp_c=800,kiln_setpoint_c=900,kiln_running=1 {Ms(t0)}";
        yield return $"kiln,device=kiln1-ctl,gateway=gw-a,kiln=kiln-1,site=site-a kiln_temp_c=852.5,kiln_setpoint_c=900,kiln_running=1,kiln_alarm=0 {Ms(t1)}";
        yield return $"kiln,device=kiln2-ctl,gateway=gw-a,kiln=kiln-2,site=site-a kiln_temp_c=31,kiln_setpoint_c=0,kiln_running=0 {Ms(t1)}";
        yield return $"meter,device=main-meter,gateway=gw-a,site=site-a energy_import_kwh=10000,power_w=14000 {Ms(t0)}";
        yield return $"meter,device=main-meter,gateway=gw-a,site=site-a energy_import_kwh=10001,power_w=15250 {Ms(t1)}";
        yield return $"meter,device=kiln2-meter,gateway=gw-a,kiln=kiln-2,site=site-a energy_import_kwh=500,power_w=120 {Ms(t1)}";
        yield return $"gas,device=kiln1-lpg,gateway=gw-a,kiln=kiln-1,site=site-a lpg_mass_kg=35.5 {Ms(t1)}";
        yield return $"gateway_status,gateway=gw-a,site=site-a online=0 {Ms(now.AddHours(-1))}";
        yield return $"gateway_status,gateway=gw-a,site=site-a online=1 {Ms(now.AddMinutes(-30))}";
        // Another site's reading must not leak into site-a's status.
        yield return $"kiln,device=kiln1-ctl,gateway=gw-b,kiln=kiln-1,site=site-b kiln_temp_c=1111,kiln_running=1 {Ms(t1)}";
    }

    private static string Enpi(string site, string? kiln, string per, DateTimeOffset start, double kwh, double lpg, double ware, int pieces, int firings, double secMj, double? completeness, double mj)
    {
        var inv = CultureInfo.InvariantCulture;
        string N(double v) => v.ToString("R", inv);
        var toe = kwh * 0.0001543 + lpg * 0.00109;
        var tags = kiln is null ? $"enpi,period={per},scope=site,site={site}" : $"enpi,kiln={kiln},period={per},scope=kiln,site={site}";
        var fields = $"energy_mj={N(mj)},kgoe={N(toe * 1000)},toe={N(toe)},electricity_kwh={N(kwh)},production_kg={N(ware)},pieces={pieces},firings={firings},co2_kg={N(lpg * 2.98463)}";
        if (lpg > 0) fields += $",lpg_kg={N(lpg)}";
        if (ware > 0) fields += $",sec_mj_per_kg={N(secMj / ware)},sec_kgoe_per_t={N(secMj / 41.868 / (ware / 1000))}";
        if (completeness is { } c) fields += $",completeness={N(c)}";
        return $"{tags} {fields} {start.ToUnixTimeMilliseconds()}";
    }
}
