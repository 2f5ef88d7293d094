using System.Globalization;
using System.Text.Json;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Sites;

namespace KhuyenCong.Cloud.Api;

/// <summary>
/// Reads what the API answers with from InfluxDB (InfluxQL): the derived series the analytics jobs write (firing, enpi,
/// savings, baseline_model — docs/schema.md) and, for the live status, the latest raw readings. Ids in queries come from
/// the site registry (validated identifiers), never straight from a request.
/// </summary>
public sealed class SiteData(InfluxQlClient influx)
{
    public async Task<IReadOnlyList<FiringDto>> FiringsAsync(SiteEntry site, string? kiln, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var q = $"SELECT * FROM firing WHERE site = '{site.Id}'{KilnClause(kiln)} AND {TimeRange(from, to)} GROUP BY kiln";
        var list = new List<FiringDto>();
        foreach (var s in await influx.QueryAsync(q, ct).ConfigureAwait(false))
        {
            var k = s.Tags.GetValueOrDefault("kiln") ?? "";
            foreach (var r in Rows(s))
            {
                var end = r.Num("end_ms") is { } e ? DateTimeOffset.FromUnixTimeMilliseconds((long)e) : (DateTimeOffset?)null;
                list.Add(new FiringDto(k, r.Time, end, r.Num("running") is { } run ? run >= 0.5 : end is null, r.Num("duration_h"), r.Num("peak_c"), r.Str("method"),
                    r.Num("electricity_kwh"), r.Num("lpg_kg"), r.Num("gas_m3"), r.Num("energy_mj"), r.Num("kgoe"), r.Num("cost_vnd"), r.Num("co2_kg"),
                    r.Num("ware_kg"), r.Num("pieces") is { } p ? (int)Math.Round(p) : null, r.Str("product"), r.Num("sec_mj_per_kg"), r.Num("sec_kgoe_per_t")));
            }
        }
        return [.. list.OrderBy(f => f.Start).ThenBy(f => f.Kiln, StringComparer.Ordinal)];
    }

    /// <summary>EnPIs of a site (kiln null: the whole site) per day, month or year, for periods starting in [from, to).</summary>
    public async Task<IReadOnlyList<EnpiDto>> EnpiAsync(SiteEntry site, string? kiln, string per, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var scope = kiln is null ? "site" : "kiln";
        var q = $"SELECT * FROM enpi WHERE site = '{site.Id}' AND scope = '{scope}'{KilnClause(kiln)} AND period = '{per}' AND {TimeRange(from, to)} GROUP BY kiln";
        var list = new List<EnpiDto>();
        foreach (var s in await influx.QueryAsync(q, ct).ConfigureAwait(false))
        {
            foreach (var r in Rows(s))
            {
                list.Add(new EnpiDto(PeriodId(per, r.Time), r.Time, per, scope, kiln,
                    r.Num("energy_mj"), r.Num("kgoe"), r.Num("toe"), r.Num("electricity_kwh"), r.Num("lpg_kg"), r.Num("gas_m3"), r.Num("cost_vnd"), r.Num("co2_kg"),
                    r.Num("production_kg"), r.Num("pieces") is { } p ? (int)Math.Round(p) : null, r.Num("firings") is { } f ? (int)Math.Round(f) : null,
                    r.Num("sec_mj_per_kg"), r.Num("sec_kgoe_per_t"), r.Num("completeness")));
            }
        }
        return [.. list.OrderBy(e => e.Start)];
    }

    /// <summary>The baseline models of a site: one per scope, kiln and basis (the latest written).</summary>
    public async Task<IReadOnlyList<BaselineModelDto>> BaselineModelsAsync(SiteEntry site, string? kiln, CancellationToken ct)
    {
        var q = $"SELECT * FROM baseline_model WHERE site = '{site.Id}'{KilnClause(kiln)} GROUP BY scope, kiln, basis ORDER BY time DESC LIMIT 1";
        var list = new List<BaselineModelDto>();
        foreach (var s in await influx.QueryAsync(q, ct).ConfigureAwait(false))
        {
            var scope = s.Tags.GetValueOrDefault("scope") ?? "site";
            foreach (var r in Rows(s))
            {
                list.Add(new BaselineModelDto(scope, Tag(s, "kiln"), Tag(s, "basis") ?? "month", r.Time,
                    r.Num("n") is { } n ? (int)Math.Round(n) : 0, r.Num("r2"), r.Num("cv_rmse_pct"), r.Num("nmbe_pct"), r.Num("intercept_mj"), r.Num("slope_mj_per_kg"),
                    r.Num("adequate") is { } a && a >= 0.5, r.Str("summary")));
            }
        }
        return [.. list.OrderBy(m => m.Scope == "site" ? 0 : 1).ThenBy(m => m.Kiln, StringComparer.Ordinal).ThenBy(m => m.Basis, StringComparer.Ordinal)];
    }

    /// <summary>The savings points (reporting period) of one scope and basis, in time order, for points in [from, to).</summary>
    public async Task<IReadOnlyList<SavingsPointDto>> SavingsAsync(SiteEntry site, string? kiln, string basis, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var scope = kiln is null ? "site" : "kiln";
        var q = $"SELECT * FROM savings WHERE site = '{site.Id}' AND scope = '{scope}'{KilnClause(kiln)} AND basis = '{basis}' AND {TimeRange(from, to)}";
        var list = new List<SavingsPointDto>();
        foreach (var s in await influx.QueryAsync(q, ct).ConfigureAwait(false))
        {
            foreach (var r in Rows(s))
            {
                list.Add(new SavingsPointDto(r.Time, r.Num("actual_mj") ?? 0, r.Num("expected_mj") ?? 0, r.Num("avoided_mj") ?? 0, r.Num("cusum_mj") ?? 0, r.Num("savings_pct"), r.Num("target_pct")));
            }
        }
        return [.. list.OrderBy(p => p.At)];
    }

    /// <summary>The latest readings of every device of a site, and the latest status of its gateways.</summary>
    public async Task<LiveSnapshot> LiveAsync(SiteEntry site, CancellationToken ct)
    {
        var q = string.Join("; ",
            $"SELECT * FROM kiln WHERE site = '{site.Id}' GROUP BY device ORDER BY time DESC LIMIT 1",
            $"SELECT * FROM meter WHERE site = '{site.Id}' GROUP BY device ORDER BY time DESC LIMIT 1",
            $"SELECT * FROM gas WHERE site = '{site.Id}' GROUP BY device ORDER BY time DESC LIMIT 1",
            $"SELECT * FROM gateway_status WHERE site = '{site.Id}' GROUP BY gateway ORDER BY time DESC LIMIT 1");
        var devices = new List<LatestReading>();
        var gateways = new List<(string Gateway, bool Online, DateTimeOffset At)>();
        foreach (var s in await influx.QueryAsync(q, ct).ConfigureAwait(false))
        {
            foreach (var r in Rows(s))
            {
                if (s.Name == "gateway_status")
                {
                    gateways.Add((Tag(s, "gateway") ?? r.Str("gateway") ?? "", r.Num("online") is { } o && o >= 0.5, r.Time));
                    continue;
                }
                var values = new SortedDictionary<string, double>(StringComparer.Ordinal);
                foreach (var (name, i) in s.Columns.Select((c, i) => (c, i)))
                {
                    if (name is "time" or "site" or "gateway" or "device" or "kiln") continue;
                    if (r.Cells[i].ValueKind == JsonValueKind.Number) values[name] = r.Cells[i].GetDouble();
                }
                devices.Add(new LatestReading(s.Name, Tag(s, "device") ?? r.Str("device") ?? "", NonEmpty(r.Str("gateway")), NonEmpty(r.Str("kiln")), r.Time, values));
            }
        }
        return new LiveSnapshot(devices, gateways);
    }

    private static string? NonEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    private static string KilnClause(string? kiln) => kiln is null ? "" : $" AND kiln = '{kiln}'";

    internal static string TimeRange(DateTimeOffset from, DateTimeOffset to) =>
        string.Create(CultureInfo.InvariantCulture, $"time >= {from.ToUnixTimeMilliseconds()}ms AND time < {to.ToUnixTimeMilliseconds()}ms");

    private static string? Tag(Series s, string name) => s.Tags.TryGetValue(name, out var v) && v.Length > 0 ? v : null;

    internal static string PeriodId(string per, DateTimeOffset start)
    {
        var local = Analytics.Time.VietnamTime.ToLocal(start);
        return per switch
        {
            "day" => local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            "month" => local.ToString("yyyy-MM", CultureInfo.InvariantCulture),
            _ => local.ToString("yyyy", CultureInfo.InvariantCulture),
        };
    }

    private static IEnumerable<Row> Rows(Series s)
    {
        var cols = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < s.Columns.Count; i++) cols[s.Columns[i]] = i;
        foreach (var v in s.Values) yield return new Row(cols, v);
    }

    /// <summary>One row of a series; a field never written has no column, and reads as null.</summary>
    private readonly record struct Row(Dictionary<string, int> Cols, IReadOnlyList<JsonElement> Cells)
    {
        public DateTimeOffset Time => DateTimeOffset.FromUnixTimeMilliseconds(Cells[Cols["time"]].GetInt64());

        public double? Num(string name) => Cols.TryGetValue(name, out var i) && Cells[i].ValueKind == JsonValueKind.Number ? Cells[i].GetDouble() : null;

        public string? Str(string name) => Cols.TryGetValue(name, out var i) && Cells[i].ValueKind == JsonValueKind.String ? Cells[i].GetString() : null;
    }
}

/// <summary>The latest line of one device (measurement kiln, meter or gas) with its numeric fields.</summary>
public sealed record LatestReading(string Measurement, string Device, string? Gateway, string? Kiln, DateTimeOffset At, IReadOnlyDictionary<string, double> Values);

public sealed record LiveSnapshot(IReadOnlyList<LatestReading> Devices, IReadOnlyList<(string Gateway, bool Online, DateTimeOffset At)> Gateways);
