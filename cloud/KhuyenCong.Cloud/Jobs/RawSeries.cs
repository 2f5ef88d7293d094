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
        var all = new SortedDictionary<long, double>();
        // In slices of six hours: the answer of one query is held in memory whole (about 10,000 rows at 2 s polls).
        for (var a = from; a < to; a += Slice)
        {
            var b = a + Slice < to ? a + Slice : to;
            Add(all, await influx.QueryAsync($"SELECT {f} FROM {m} WHERE {where} AND time >= {Ms(a)} AND time < {Ms(b)}", ct).ConfigureAwait(false));
        }
        if (pad)
            Add(all, await influx.QueryAsync($"SELECT last({f}) FROM {m} WHERE {where} AND time < {Ms(from)}; SELECT first({f}) FROM {m} WHERE {where} AND time >= {Ms(to)}", ct).ConfigureAwait(false));
        return [.. all.Select(kv => new Sample(DateTimeOffset.FromUnixTimeMilliseconds(kv.Key), kv.Value))];
    }

    private static readonly TimeSpan Slice = TimeSpan.FromHours(6);

    private static void Add(SortedDictionary<long, double> all, IReadOnlyList<Series> series)
    {
        foreach (var s in series)
        {
            foreach (var row in s.Values)
            {
                if (row[1].ValueKind == JsonValueKind.Number) all.TryAdd(row[0].GetInt64(), row[1].GetDouble());
            }
        }
    }
}
