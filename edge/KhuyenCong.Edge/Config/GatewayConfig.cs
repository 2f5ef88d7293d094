using KhuyenCong.Configuration;
using KhuyenCong.Edge.Profiles;

namespace KhuyenCong.Edge.Config;

/// <summary>
/// One gateway's configuration: which site it serves, the buses and devices it polls, where it publishes.
/// One YAML file per gateway in <c>firmware-config/gateways/</c>; docs/gateway-config.md describes every key.
/// </summary>
public sealed class GatewayConfig
{
    public required string Site { get; set; }
    public required string Gateway { get; set; }
    /// <summary>Folder of device profiles, relative to this file (default ../devices).</summary>
    public string ProfilesDir { get; set; } = "../devices";
    public required MqttSettings Mqtt { get; set; }
    public OutboxSettings Outbox { get; set; } = new();
    public PublishSettings Publish { get; set; } = new();
    public required List<BusConfig> Buses { get; set; }
    public required List<DeviceConfig> Devices { get; set; }
}

public sealed class MqttSettings
{
    /// <summary>mqtt://host:port or mqtts://host:port (TLS).</summary>
    public required string Url { get; set; }
    /// <summary>Stable client id (default kc-edge-{site}-{gateway}); the broker keeps the session under it.</summary>
    public string? ClientId { get; set; }
    public string? Username { get; set; }
    /// <summary>File holding the password (first line). Never put the password itself in a config.</summary>
    public string? PasswordFile { get; set; }
    /// <summary>Environment variable holding the password.</summary>
    public string? PasswordEnv { get; set; }
    public TlsSettings? Tls { get; set; }
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class TlsSettings
{
    /// <summary>PEM file of the CA that signed the broker's certificate (default: the system trust store).</summary>
    public string? CaFile { get; set; }
    /// <summary>PEM client certificate and key, for brokers that authenticate gateways by certificate.</summary>
    public string? CertFile { get; set; }
    public string? KeyFile { get; set; }
}

public sealed class OutboxSettings
{
    /// <summary>SQLite file of readings not yet acknowledged by the broker (relative to this file). Default: outbox.db beside it.</summary>
    public string Path { get; set; } = "outbox.db";
    /// <summary>Disk budget; when full, the oldest readings are dropped and counted.</summary>
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;
    /// <summary>Readings are committed together at most this often, to spare the SD card.</summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed class PublishSettings
{
    /// <summary>Most readings in one MQTT message.</summary>
    public int MaxBatch { get; set; } = 500;
    /// <summary>How long readings may wait to fill a batch.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>How often the gateway publishes its health report (kc/v1/{site}/{gateway}/health).</summary>
    public TimeSpan HealthInterval { get; set; } = TimeSpan.FromSeconds(30);
}

public enum BusType
{
    /// <summary>Modbus TCP (MBAP) to a device or gateway.</summary>
    Tcp,
    /// <summary>Modbus RTU on a local serial port (RS-485 adapter).</summary>
    Rtu,
    /// <summary>Modbus RTU frames through a TCP socket (RS-485-to-Ethernet serial server).</summary>
    RtuOverTcp,
    /// <summary>
    /// A local serial port with one plain ASCII device that prints lines (a scale, a thermocouple reader): its profile
    /// declares <c>lines:</c> instead of Modbus points. Exactly one device per ascii bus.
    /// </summary>
    Ascii,
}

public sealed class BusConfig
{
    public required string Id { get; set; }
    public required BusType Type { get; set; }
    public string? Host { get; set; }
    public int Port { get; set; }
    /// <summary>Serial device path, e.g. /dev/ttyUSB0 or /dev/serial/by-id/….</summary>
    public string? Device { get; set; }
    /// <summary>Serial settings; absent values come from the first device's profile.</summary>
    public int? Baud { get; set; }
    public Parity? Parity { get; set; }
    public int? DataBits { get; set; }
    public int? StopBits { get; set; }
}

public sealed class DeviceConfig
{
    public required string Id { get; set; }
    public required string Bus { get; set; }
    /// <summary>Profile id (folder under profiles_dir) or a path to a profile YAML file.</summary>
    public required string Profile { get; set; }
    /// <summary>Modbus unit id (default: the profile's).</summary>
    public byte? Unit { get; set; }
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>The kiln this device serves (a kiln controller, or a meter or gas instrument on that kiln).</summary>
    public string? Kiln { get; set; }
    /// <summary>Overrides the profile's response timeout.</summary>
    public TimeSpan? Timeout { get; set; }
    /// <summary>Extra attempts of a request that timed out or came back corrupt, before the poll counts as failed.</summary>
    public int Retries { get; set; } = 1;
}
