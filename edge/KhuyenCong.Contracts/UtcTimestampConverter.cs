using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace KhuyenCong.Contracts;

/// <summary>
/// Timestamps on the wire are UTC with millisecond precision and a trailing Z (2026-11-28T08:15:30.250Z).
/// Reading rejects anything that is not an ISO 8601 UTC time, so a gateway with a local-time bug is caught at the door.
/// </summary>
public sealed class UtcTimestampConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("expected a timestamp string");
        var s = reader.GetString()!;
        if (!s.EndsWith('Z') || !DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var ts))
            throw new JsonException($"'{(s.Length > 40 ? s[..40] : s)}' is not an ISO 8601 UTC timestamp ending in Z");
        return ts;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
}
