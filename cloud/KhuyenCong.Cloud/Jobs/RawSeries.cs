using System.Text.Json;
using KhuyenCong.Analytics.Intervals;
using KhuyenCong.Cloud.Influx;
using static KhuyenCong.Cloud.Jobs.DerivedStore;

namespace KhuyenCong.Cloud.Jobs;

/// <summary>Reads one field of one device or kiln from the raw measurements (meter, kiln, gas) as analytics samples.</summary>
public static class RawSeries
{
    /// <summary>The raw measurement a canonical point is stored in (docs/schema.md).</summary>
    public static string MeasurementOf(string point) => point switch
    {
        "lpg_mass_kg" or "gas_volume_m3" or "gas_flow_m3h" => "gas",
        "kiln_temp_c" or "kiln_setpoint_c" or "kiln_running" or "kiln_alarm" or "kiln_segment" => "kiln",
        _ => "meter",
    };

    /// <summary>
    /// The samples of <paramref name="field"/> with time in [from, to), plus, when <paramref name="pad"/>, the last sample
    /// before <paramref name="from"/> and the first at or after <paramref name="to"/>: the first sample of a counter is
    /// trusted as the anchor and the last cannot be recognised as a glitch without a later one (docs/analytics.md), so the
    /// intervals inside the window come out as a computation over all the data would give them. Times are whole
    /// milliseconds, strictly increasing (a second series of the same device at the same instant, e.g. from another
    /// gateway, is dropped).
    /// </summary>
    public static async Task<IReadOnlyList<Sample>> ReadAsync(InfluxQlClient influx, string field, IReadOnlyDictionary<string, string> tags,
        DateTimeOffset from, DateTimeOffset to, bool pad, CancellationToken ct)
    {
        var m = Ident(MeasurementOf(field));
        var f = Ident(field);
        var where = string.Join(" AND ", tags.Select(t => $"{Ident(t.Key)} = {Literal(t.Value)}"));
        var q = $"SELECT {f} FROM {m} WHERE {where} AND time >= {Ms(from)} AND time < {Ms(to)}";
        if (pad) q += $"; SELECT last({f}) FROM {m} WHERE {where} AND time < {Ms(from)}; SELECT first({f}) FROM {m} WHERE {where} AND time >= {Ms(to)}";
        var series = await influx.QueryAsync(q, ct).ConfigureAwait(false);
        var all = new SortedDictionary<long, double>();
        foreach (var s in series)
        {
            foreach (var row in s.Values)
            {
                if (row[1].ValueKind != JsonValueKind.Number) continue;
                all.TryAdd(row[0].GetInt64(), row[1].GetDouble());
            }
        }
        return [.. all.Select(kv => new Sample(DateTimeOffset.FromUnixTimeMilliseconds(kv.Key), kv.Value))];
    }
}
