using System.Text.Json.Serialization;

namespace KhuyenCong.Contracts;

/// <summary>The gateway's self-monitoring report on <see cref="Topics.Health"/> (QoS 1, every health interval).</summary>
public sealed record GatewayHealth
{
    [JsonPropertyName("v")] public int Version { get; init; } = 1;
    [JsonPropertyName("ts")] public DateTimeOffset Timestamp { get; init; }
    [JsonPropertyName("uptime_s")] public double UptimeSeconds { get; init; }
    [JsonPropertyName("rss_bytes")] public long RssBytes { get; init; }
    [JsonPropertyName("managed_bytes")] public long ManagedBytes { get; init; }
    [JsonPropertyName("outbox_depth")] public long OutboxDepth { get; init; }
    [JsonPropertyName("outbox_oldest")] public DateTimeOffset? OutboxOldest { get; init; }
    [JsonPropertyName("outbox_bytes")] public long OutboxBytes { get; init; }
    [JsonPropertyName("dropped")] public long Dropped { get; init; }
    [JsonPropertyName("published")] public long Published { get; init; }
    [JsonPropertyName("publish_failures")] public long PublishFailures { get; init; }
    [JsonPropertyName("clock_corrected")] public long ClockCorrected { get; init; }
    /// <summary>Readings waiting for a trustworthy clock (the gateway's clock is behind its newest reading or its build).</summary>
    [JsonPropertyName("clock_held")] public long ClockHeld { get; init; }
    /// <summary>Readings held before a reboot whose time could not be worked out, dropped.</summary>
    [JsonPropertyName("clock_unrecoverable")] public long ClockUnrecoverable { get; init; }
    [JsonPropertyName("devices")] public required IReadOnlyList<DeviceHealthReport> Devices { get; init; }
}

public sealed record DeviceHealthReport
{
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("bus")] public required string Bus { get; init; }
    [JsonPropertyName("polls_ok")] public long PollsOk { get; init; }
    [JsonPropertyName("polls_failed")] public long PollsFailed { get; init; }
    [JsonPropertyName("timeouts")] public long Timeouts { get; init; }
    [JsonPropertyName("exception_responses")] public long ExceptionResponses { get; init; }
    [JsonPropertyName("frame_errors")] public long FrameErrors { get; init; }
    [JsonPropertyName("link_errors")] public long LinkErrors { get; init; }
    [JsonPropertyName("retries")] public long Retries { get; init; }
    [JsonPropertyName("consecutive_failures")] public int ConsecutiveFailures { get; init; }
    [JsonPropertyName("last_ok")] public DateTimeOffset? LastOk { get; init; }
    [JsonPropertyName("last_latency_ms")] public double LastLatencyMs { get; init; }
    [JsonPropertyName("last_error")] public string? LastError { get; init; }
}
