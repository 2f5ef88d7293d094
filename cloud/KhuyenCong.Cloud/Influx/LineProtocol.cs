using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Influx;

/// <summary>
/// Maps the wire contract onto InfluxDB (docs/schema.md): one measurement per device class, tags site, gateway, device
/// and kiln, canonical points as float fields, millisecond timestamps. All readings of one device at one instant become
/// one line. Writes are idempotent: the same series and timestamp overwrite, so a redelivered batch changes nothing.
/// </summary>
public static class LineProtocol
{
    public const string GatewayStatusMeasurement = "gateway_status";

    public static List<PointData> FromBatch(TelemetryBatch batch)
    {
        var devices = batch.Devices.ToDictionary(d => d.Id, StringComparer.Ordinal);
        var lines = new Dictionary<(string Device, long Ms), PointData>();
        var uncertain = new HashSet<(string, long)>();
        foreach (var r in batch.Readings)
        {
            var ms = r.Timestamp.ToUnixTimeMilliseconds();
            var key = (r.Device, ms);
            if (!lines.TryGetValue(key, out var p))
            {
                var d = devices[r.Device];
                p = PointData.Measurement(d.Class)
                    .Tag("site", batch.Site)
                    .Tag("gateway", batch.Gateway)
                    .Tag("device", d.Id)
                    .Timestamp(ms, WritePrecision.Ms);
                if (d.Kiln is not null) p = p.Tag("kiln", d.Kiln);
            }
            // Never unsigned: InfluxDB 1.x rejects the 'u' suffix. Always float, so a field's type never conflicts.
            lines[key] = p.Field(r.Point, r.Value);
            if (r.Quality == Qualities.Uncertain) uncertain.Add(key);
        }
        foreach (var key in uncertain) lines[key] = lines[key].Field("quality", Qualities.Uncertain);
        return [.. lines.Values];
    }

    public static PointData FromStatus(string site, string gateway, GatewayStatus status) =>
        PointData.Measurement(GatewayStatusMeasurement)
            .Tag("site", site)
            .Tag("gateway", gateway)
            .Field("online", status.State == GatewayStatus.Online ? 1.0 : 0.0)
            .Timestamp(status.Timestamp.ToUnixTimeMilliseconds(), WritePrecision.Ms);
}
