namespace KhuyenCong.Contracts;

/// <summary>
/// The MQTT topic tree, version 1. Every topic starts with <c>kc/v1/{site}/{gateway}</c>, so a broker ACL
/// can give each gateway exactly its own subtree.
/// </summary>
public static class Topics
{
    public const string Prefix = "kc/v1";

    /// <summary>Batches of readings (<see cref="TelemetryBatch"/>), QoS 1.</summary>
    public static string Telemetry(string site, string gateway) => $"{Prefix}/{site}/{gateway}/telemetry";

    /// <summary>Retained gateway state (<see cref="GatewayStatus"/>): a birth message on connect, the last will when it drops.</summary>
    public static string Status(string site, string gateway) => $"{Prefix}/{site}/{gateway}/status";

    /// <summary>Self-monitoring of the gateway (poll counts, bus errors, outbox depth).</summary>
    public static string Health(string site, string gateway) => $"{Prefix}/{site}/{gateway}/health";

    /// <summary>Subscription filter for one kind of message from every gateway of every site.</summary>
    public static string AllOf(string kind) => $"{Prefix}/+/+/{kind}";

    /// <summary>
    /// Splits a v1 topic into its site, gateway and kind. Returns false for anything that is not
    /// exactly <c>kc/v1/{site}/{gateway}/{kind}</c> with valid identifiers.
    /// </summary>
    public static bool TryParse(string topic, out string site, out string gateway, out string kind)
    {
        site = gateway = kind = "";
        var parts = topic.Split('/');
        if (parts.Length != 5 || parts[0] != "kc" || parts[1] != "v1") return false;
        if (!Identifiers.IsValid(parts[2]) || !Identifiers.IsValid(parts[3]) || parts[4].Length == 0) return false;
        (site, gateway, kind) = (parts[2], parts[3], parts[4]);
        return true;
    }
}

/// <summary>Rules for site, gateway, device and kiln ids: they become MQTT topic levels and InfluxDB tag values.</summary>
public static class Identifiers
{
    public const int MaxLength = 64;

    /// <summary>1–64 characters of a–z, A–Z, 0–9, '-', '_' or '.'.</summary>
    public static bool IsValid(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxLength) return false;
        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) return false;
        }
        return true;
    }
}
