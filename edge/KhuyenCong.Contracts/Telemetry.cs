using System.Text.Json.Serialization;

namespace KhuyenCong.Contracts;

/// <summary>
/// One MQTT message on <see cref="Topics.Telemetry"/>: a batch of readings from one gateway.
/// The JSON Schema is <c>telemetry.schema.json</c> in this project (see docs/wire-contract.md).
/// </summary>
public sealed record TelemetryBatch
{
    /// <summary>Payload format version; this contract is 1.</summary>
    [JsonPropertyName("v")] public int Version { get; init; } = 1;
    [JsonPropertyName("site")] public required string Site { get; init; }
    [JsonPropertyName("gateway")] public required string Gateway { get; init; }
    /// <summary>The gateway's batch sequence number: grows by one per batch, survives restarts.</summary>
    [JsonPropertyName("seq")] public long Sequence { get; init; }
    /// <summary>When the gateway sent the batch (UTC).</summary>
    [JsonPropertyName("sent")] public DateTimeOffset Sent { get; init; }
    /// <summary>What the cloud needs to know about each device that appears in <see cref="Readings"/>.</summary>
    [JsonPropertyName("devices")] public required IReadOnlyList<DeviceInfo> Devices { get; init; }
    [JsonPropertyName("readings")] public required IReadOnlyList<Reading> Readings { get; init; }
}

/// <summary>A device as the gateway knows it: its class decides the InfluxDB measurement, its kiln the kiln tag.</summary>
public sealed record DeviceInfo
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    /// <summary>One of <see cref="DeviceClasses"/>.</summary>
    [JsonPropertyName("class")] public required string Class { get; init; }
    /// <summary>The kiln this device measures or controls, when it serves one.</summary>
    [JsonPropertyName("kiln")] public string? Kiln { get; init; }
    /// <summary>The device profile id, for people reading the data (the cloud never depends on it).</summary>
    [JsonPropertyName("profile")] public string? Profile { get; init; }
}

/// <summary>One value of one canonical point of one device at one instant.</summary>
public sealed record Reading
{
    [JsonPropertyName("device")] public required string Device { get; init; }
    /// <summary>A canonical point name (see <see cref="CanonicalPoints"/>).</summary>
    [JsonPropertyName("point")] public required string Point { get; init; }
    /// <summary>When the value was read (UTC, millisecond precision).</summary>
    [JsonPropertyName("ts")] public DateTimeOffset Timestamp { get; init; }
    [JsonPropertyName("value")] public double Value { get; init; }
    [JsonPropertyName("unit")] public required string Unit { get; init; }
    /// <summary>One of <see cref="Qualities"/>.</summary>
    [JsonPropertyName("quality")] public string Quality { get; init; } = Qualities.Good;
}

public static class Qualities
{
    /// <summary>Read from the device and decoded without doubt.</summary>
    public const string Good = "good";
    /// <summary>Read, but something about it is doubtful (for example its timestamp was corrected after a clock jump).</summary>
    public const string Uncertain = "uncertain";

    public static bool IsKnown(string? q) => q is Good or Uncertain;
}

/// <summary>Device classes; each is one InfluxDB measurement.</summary>
public static class DeviceClasses
{
    public const string Meter = "meter";
    public const string Kiln = "kiln";
    public const string Gas = "gas";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { Meter, Kiln, Gas };
}

/// <summary>The retained message on <see cref="Topics.Status"/>.</summary>
public sealed record GatewayStatus
{
    [JsonPropertyName("v")] public int Version { get; init; } = 1;
    /// <summary>"online" (birth message) or "offline" (last will, or a clean stop).</summary>
    [JsonPropertyName("state")] public required string State { get; init; }
    [JsonPropertyName("ts")] public DateTimeOffset Timestamp { get; init; }
    [JsonPropertyName("agent")] public string? Agent { get; init; }

    public const string Online = "online";
    public const string Offline = "offline";
}
