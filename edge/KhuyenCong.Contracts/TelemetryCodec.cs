using System.Text.Json;
using System.Text.Json.Serialization;

namespace KhuyenCong.Contracts;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    Converters = [typeof(UtcTimestampConverter)])]
[JsonSerializable(typeof(TelemetryBatch))]
[JsonSerializable(typeof(GatewayHealth))]
[JsonSerializable(typeof(GatewayStatus))]
internal sealed partial class WireJsonContext : JsonSerializerContext;

/// <summary>A payload that does not satisfy the wire contract. <see cref="Exception.Message"/> names the place.</summary>
public sealed class ContractViolationException(string message) : Exception(message);

/// <summary>Encodes and decodes wire payloads, and checks every rule of the contract that JSON types alone do not.</summary>
public static class TelemetryCodec
{
    /// <summary>Largest payload the cloud accepts (bytes); a gateway splits batches to stay under it.</summary>
    public const int MaxPayloadBytes = 256 * 1024;

    /// <summary>
    /// How far ahead of the cloud's clock a reading may be: clock skew and a gateway whose clock runs fast, not a year
    /// typed wrong or a Raspberry Pi that booted in 2099.
    /// </summary>
    public static readonly TimeSpan MaxAhead = TimeSpan.FromDays(1);

    /// <summary>
    /// No reading can be older than this: the project did not exist before, so an earlier time is a clock that was never
    /// set (1970) or a corrupted value. A fixed date, not "N days ago", because a gateway may deliver a long backlog.
    /// </summary>
    public static readonly DateTimeOffset MinTimestamp = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static byte[] Encode(TelemetryBatch batch) =>
        JsonSerializer.SerializeToUtf8Bytes(batch, WireJsonContext.Default.TelemetryBatch);

    public static byte[] Encode(GatewayStatus status) =>
        JsonSerializer.SerializeToUtf8Bytes(status, WireJsonContext.Default.GatewayStatus);

    public static byte[] Encode(GatewayHealth health) =>
        JsonSerializer.SerializeToUtf8Bytes(health, WireJsonContext.Default.GatewayHealth);

    public static GatewayHealth DecodeHealth(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, WireJsonContext.Default.GatewayHealth)
        ?? throw new ContractViolationException("health: payload is null");

    /// <summary>Decodes a status message; its timestamp must be plausible (see <see cref="CheckTime"/>).</summary>
    public static GatewayStatus DecodeStatus(ReadOnlySpan<byte> utf8, DateTimeOffset? now = null)
    {
        if (utf8.Length > MaxPayloadBytes)
            throw new ContractViolationException($"payload: {utf8.Length} bytes exceeds the limit of {MaxPayloadBytes}");
        var status = JsonSerializer.Deserialize(utf8, WireJsonContext.Default.GatewayStatus)
            ?? throw new ContractViolationException("status: payload is null");
        CheckTime("ts", status.Timestamp, now ?? DateTimeOffset.UtcNow);
        return status;
    }

    /// <summary>
    /// Decodes and validates a telemetry batch. Throws <see cref="ContractViolationException"/> naming the
    /// first offending place (for example <c>readings[3].value</c>).
    /// </summary>
    /// <param name="now">The receiver's clock, for the timestamp limits; the current time when null.</param>
    public static TelemetryBatch Decode(ReadOnlySpan<byte> utf8, DateTimeOffset? now = null)
    {
        if (utf8.Length > MaxPayloadBytes)
            throw new ContractViolationException($"payload: {utf8.Length} bytes exceeds the limit of {MaxPayloadBytes}");
        TelemetryBatch? batch;
        try
        {
            batch = JsonSerializer.Deserialize(utf8, WireJsonContext.Default.TelemetryBatch);
        }
        catch (JsonException ex)
        {
            var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "payload" : ex.Path.TrimStart('$', '.');
            throw new ContractViolationException($"{where}: {Explain(ex)}");
        }
        catch (ArgumentException ex) // invalid UTF-8 surfaces here on some inputs
        {
            throw new ContractViolationException($"payload: {FirstSentence(ex.Message)}");
        }
        if (batch is null) throw new ContractViolationException("payload: is null");
        Validate(batch, now);
        return batch;
    }

    /// <summary>Checks the rules of the contract on an already-typed batch.</summary>
    /// <param name="now">The receiver's clock, for the timestamp limits; the current time when null.</param>
    public static void Validate(TelemetryBatch batch, DateTimeOffset? now = null)
    {
        var clock = now ?? DateTimeOffset.UtcNow;
        if (batch.Version != 1) Fail("v", $"unsupported version {batch.Version}; this ingestor speaks 1");
        if (!Identifiers.IsValid(batch.Site)) Fail("site", $"'{Clip(batch.Site)}' is not a valid id");
        if (!Identifiers.IsValid(batch.Gateway)) Fail("gateway", $"'{Clip(batch.Gateway)}' is not a valid id");
        if (batch.Sequence < 0) Fail("seq", "must not be negative");
        if (batch.Devices is null) Fail("devices", "is required");
        if (batch.Readings is null) Fail("readings", "is required");

        var devices = new Dictionary<string, DeviceInfo>(StringComparer.Ordinal);
        for (var i = 0; i < batch.Devices!.Count; i++)
        {
            var d = batch.Devices[i];
            if (d is null) Fail($"devices[{i}]", "is null");
            if (!Identifiers.IsValid(d!.Id)) Fail($"devices[{i}].id", $"'{Clip(d.Id)}' is not a valid id");
            if (!DeviceClasses.All.Contains(d.Class ?? "")) Fail($"devices[{i}].class", $"'{Clip(d.Class)}' is not one of {string.Join(", ", DeviceClasses.All)}");
            if (d.Kiln is not null && !Identifiers.IsValid(d.Kiln)) Fail($"devices[{i}].kiln", $"'{Clip(d.Kiln)}' is not a valid id");
            if (!devices.TryAdd(d.Id, d)) Fail($"devices[{i}].id", $"'{d.Id}' is listed twice");
        }

        for (var i = 0; i < batch.Readings!.Count; i++)
        {
            var r = batch.Readings[i];
            if (r is null) Fail($"readings[{i}]", "is null");
            if (!devices.ContainsKey(r!.Device ?? "")) Fail($"readings[{i}].device", $"'{Clip(r.Device)}' is not listed in devices");
            if (!CanonicalPoints.TryGet(r.Point ?? "", out var def)) Fail($"readings[{i}].point", $"'{Clip(r.Point)}' is not a canonical point name");
            if (!double.IsFinite(r.Value)) Fail($"readings[{i}].value", "must be a finite number");
            if (r.Unit != def.Unit) Fail($"readings[{i}].unit", $"'{Clip(r.Unit)}' does not match the unit of {def.Name} ('{def.Unit}')");
            if (!Qualities.IsKnown(r.Quality)) Fail($"readings[{i}].quality", $"'{Clip(r.Quality)}' is not one of good, uncertain");
            CheckTime($"readings[{i}].ts", r.Timestamp, clock);
        }
    }

    /// <summary>
    /// A timestamp InfluxDB would store somewhere nobody looks (or refuse) is a wrong clock, not data: more than
    /// <see cref="MaxAhead"/> ahead of <paramref name="now"/>, or before <see cref="MinTimestamp"/>.
    /// </summary>
    public static void CheckTime(string where, DateTimeOffset ts, DateTimeOffset now)
    {
        if (ts > now + MaxAhead)
            Fail(where, $"{Iso(ts)} is more than {MaxAhead.TotalHours:0} h ahead of the receiver's clock ({Iso(now)})");
        if (ts < MinTimestamp)
            Fail(where, $"{Iso(ts)} is before {Iso(MinTimestamp)}: the sender's clock was not set");
    }

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static void Fail(string where, string what) => throw new ContractViolationException($"{where}: {what}");

    private static string Clip(string? s) => s is null ? "null" : s.Length <= 40 ? s : s[..40] + "…";

    /// <summary>System.Text.Json's message, made to say what is wrong with the value at the place it names.</summary>
    private static string Explain(JsonException ex)
    {
        if (ex.InnerException is InvalidOperationException { InnerException: System.Text.DecoderFallbackException bad })
            return $"is not valid UTF-8 ({bad.Message.TrimEnd('.')})";
        var message = FirstSentence(ex.Message);
        return message.StartsWith("The JSON value could not be converted to ", StringComparison.Ordinal)
            ? "has the wrong JSON type for this field (see telemetry.schema.json)"
            : message;
    }

    private static string FirstSentence(string message)
    {
        var i = message.IndexOf(" Path:", StringComparison.Ordinal);
        return i > 0 ? message[..i] : message;
    }
}
