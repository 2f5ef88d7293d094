using System.Globalization;
using System.Text.Json;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using KhuyenCong.Cloud.Influx;

namespace KhuyenCong.Cloud.Jobs;

/// <summary>
/// One derived point before it is written: measurement, tags, timestamp (epoch ms) and fields (double, long or string).
/// Its identity in InfluxDB is measurement + tags + timestamp, so writing it again overwrites it.
/// </summary>
public sealed record DerivedPoint(string Measurement, IReadOnlyDictionary<string, string> Tags, long TimeMs, IReadOnlyDictionary<string, object> Fields)
{
    public PointData ToPointData()
    {
        var p = PointData.Measurement(Measurement).Timestamp(TimeMs, WritePrecision.Ms);
        foreach (var (k, v) in Tags.OrderBy(t => t.Key, StringComparer.Ordinal)) p = p.Tag(k, v);
        foreach (var (k, v) in Fields.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            p = v switch
            {
                double d => p.Field(k, d),
                long l => p.Field(k, l),
                int i => p.Field(k, (long)i),
                string s => p.Field(k, s),
                _ => throw new ArgumentException($"{Measurement}.{k}: unsupported field type {v.GetType().Name}"),
            };
        }
        return p;
    }

    internal string SeriesKey => Measurement + "|" + string.Join(",", Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => t.Key + "=" + t.Value));
}

/// <summary>
/// Reads raw series and writes derived ones. Writes are plain overwrites (same series and timestamp). Where a
/// recomputation can make a point disappear (a blip that was an open firing, a firing that moved from the reporting to the
/// baseline period) or lose a field (SEC after production was corrected to 0), <see cref="ReplaceAsync"/> deletes exactly
/// those stale points first, so the stored set equals the computed set.
/// </summary>
public sealed class DerivedStore(InfluxQlClient influx, ITimeSeriesSink sink, int batchLines = 5000)
{
    public InfluxQlClient Influx { get; } = influx;

    /// <summary>Points written since this store was made (job_run reports it).</summary>
    public long PointsWritten { get; private set; }

    public async Task WriteAsync(IReadOnlyList<DerivedPoint> points, CancellationToken ct)
    {
        for (var i = 0; i < points.Count; i += batchLines)
        {
            var chunk = points.Skip(i).Take(batchLines).Select(p => p.ToPointData()).ToList();
            await sink.WriteAsync(chunk, ct).ConfigureAwait(false);
            PointsWritten += chunk.Count;
        }
    }

    /// <summary>
    /// Makes the stored points of <paramref name="measurement"/> matching <paramref name="scope"/> with time in
    /// [<paramref name="fromMs"/>, <paramref name="toMs"/>) equal to <paramref name="points"/>: deletes stored points that are
    /// not computed any more, or that hold a field the new point no longer has, then writes the new ones.
    /// </summary>
    public async Task ReplaceAsync(string measurement, IReadOnlyDictionary<string, string> scope, long fromMs, long toMs, IReadOnlyList<DerivedPoint> points, CancellationToken ct)
    {
        var fresh = points.ToDictionary(p => (p.SeriesKey, p.TimeMs));
        var where = string.Join(" AND ", scope.Select(t => $"{Ident(t.Key)} = {Literal(t.Value)}").Append($"time >= {fromMs}ms AND time < {toMs}ms"));
        var existing = await Influx.QueryAsync($"SELECT * FROM {Ident(measurement)} WHERE {where} GROUP BY *", ct).ConfigureAwait(false);
        foreach (var s in existing)
        {
            var key = new DerivedPoint(measurement, s.Tags.Where(t => t.Value.Length > 0).ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal), 0, new Dictionary<string, object>()).SeriesKey;
            foreach (var row in s.Values)
            {
                var ms = row[0].GetInt64();
                var stale = !fresh.TryGetValue((key, ms), out var now)
                    || s.Columns.Select((c, i) => (c, i)).Any(x => x.i > 0 && row[x.i].ValueKind != JsonValueKind.Null && !now.Fields.ContainsKey(x.c));
                if (!stale) continue;
                var tags = string.Join(" AND ", s.Tags.Where(t => t.Value.Length > 0).Select(t => $"{Ident(t.Key)} = {Literal(t.Value)}"));
                await Influx.ExecuteAsync($"DELETE FROM {Ident(measurement)} WHERE {(tags.Length > 0 ? tags + " AND " : "")}time >= {ms}ms AND time <= {ms}ms", ct).ConfigureAwait(false);
            }
        }
        await WriteAsync(points, ct).ConfigureAwait(false);
    }

    /// <summary>Rows of a query as (series tags, time ms, column → value) for the numeric and string columns.</summary>
    public static IEnumerable<(IReadOnlyDictionary<string, string> Tags, long TimeMs, Dictionary<string, JsonElement> Row)> Rows(IEnumerable<Series> series)
    {
        foreach (var s in series)
        {
            foreach (var row in s.Values)
            {
                var d = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                for (var i = 1; i < s.Columns.Count; i++)
                {
                    if (row[i].ValueKind != JsonValueKind.Null) d[s.Columns[i]] = row[i];
                }
                yield return (s.Tags, row[0].GetInt64(), d);
            }
        }
    }

    public static string Ident(string name) => "\"" + name.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    public static string Literal(string value) => "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    public static string Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + "ms";
}
