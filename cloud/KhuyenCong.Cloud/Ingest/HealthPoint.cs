using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Ingest;

/// <summary>A gateway's health report (<see cref="GatewayHealth"/>) as one <c>gateway_health</c> point.</summary>
internal static class HealthPoint
{
    public const string Measurement = "gateway_health";

    public static PointData From(string site, string gateway, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > TelemetryCodec.MaxPayloadBytes)
            throw new ContractViolationException($"payload: {payload.Length} bytes exceeds the limit of {TelemetryCodec.MaxPayloadBytes}");
        var h = TelemetryCodec.DecodeHealth(payload);
        if (h.Version != 1) throw new ContractViolationException($"v: version {h.Version} is not supported (this release reads version 1)");
        if (h.Timestamp == default) throw new ContractViolationException("ts: is missing");
        // Floats throughout, like every other measurement: one type per field, never a conflict.
        return PointData.Measurement(Measurement)
            .Tag("site", site)
            .Tag("gateway", gateway)
            .Field("uptime_s", h.UptimeSeconds)
            .Field("rss_bytes", (double)h.RssBytes)
            .Field("managed_bytes", (double)h.ManagedBytes)
            .Field("outbox_depth", (double)h.OutboxDepth)
            .Field("outbox_bytes", (double)h.OutboxBytes)
            .Field("dropped", (double)h.Dropped)
            .Field("published", (double)h.Published)
            .Field("publish_failures", (double)h.PublishFailures)
            .Field("clock_corrected", (double)h.ClockCorrected)
            .Field("clock_held", (double)h.ClockHeld)
            .Field("clock_unrecoverable", (double)h.ClockUnrecoverable)
            .Field("devices", (double)h.Devices.Count)
            .Field("devices_failing", (double)h.Devices.Count(d => d.ConsecutiveFailures > 0))
            .Timestamp(h.Timestamp.ToUnixTimeMilliseconds(), WritePrecision.Ms);
    }
}
