using KhuyenCong.Configuration;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Config;

/// <summary>The cloud service's configuration (firmware-config/cloud/cloud.yaml; docs/cloud-config.md).</summary>
public sealed class CloudConfig
{
    /// <summary>An external broker. When absent, the service hosts its own (<see cref="EmbeddedBroker"/>).</summary>
    public MqttConfig? Mqtt { get; set; }
    public EmbeddedBrokerConfig EmbeddedBroker { get; set; } = new();
    public required InfluxConfig Influx { get; set; }
    public IngestConfig Ingest { get; set; } = new();
}

public sealed class MqttConfig
{
    public required string Url { get; set; }
    /// <summary>Stable client id: the broker keeps the ingestor's session (and unacknowledged messages) under it.</summary>
    public string ClientId { get; set; } = "kc-ingestor-1";
    public string? Username { get; set; }
    public string? PasswordFile { get; set; }
    public string? PasswordEnv { get; set; }
    /// <summary>MQTT 5 shared subscription group: several ingestors with the same group share the load.</summary>
    public string? SharedGroup { get; set; }
    /// <summary>How long the broker keeps the session while the ingestor is away.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromDays(1);
}

public sealed class EmbeddedBrokerConfig
{
    public string Bind { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 1883;
}

public enum InfluxApi
{
    /// <summary>POST /write: every InfluxDB 1.x, and 2.x/3.x through their v1 compatibility API.</summary>
    V1,
    /// <summary>InfluxDB.Client /api/v2/write: InfluxDB 2.x, 3.x, 1.8+.</summary>
    V2,
}

public sealed class InfluxConfig
{
    public required string Url { get; set; }
    public InfluxApi Api { get; set; } = InfluxApi.V1;
    /// <summary>v1: database (created at start when missing). v2: unused.</summary>
    public string Database { get; set; } = "khuyencong";
    public string? RetentionPolicy { get; set; }
    public string? Username { get; set; }
    public string? PasswordFile { get; set; }
    /// <summary>v2: organisation and bucket; the token comes from a file.</summary>
    public string? Org { get; set; }
    public string? Bucket { get; set; }
    public string? TokenFile { get; set; }
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

public sealed class IngestConfig
{
    /// <summary>Most points written in one request.</summary>
    public int BatchPoints { get; set; } = 5000;
    /// <summary>How long a partial batch may wait before it is written.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Messages received but not yet written and acknowledged; the broker holds the rest (back-pressure).</summary>
    public int MaxInFlight { get; set; } = 1000;
}

public sealed record LoadedCloudConfig(CloudConfig Config, string File, YamlBinder Binder)
{
    public string Dir => Path.GetDirectoryName(Path.GetFullPath(File))!;
}

public static class CloudConfigLoader
{
    public static LoadedCloudConfig Load(string file)
    {
        file = Path.GetFullPath(file);
        var (c, b) = YamlBinder.LoadFile<CloudConfig>(file);
        Validate(c, b);
        return new LoadedCloudConfig(c, file, b);
    }

    public static LoadedCloudConfig Parse(string yaml, string name)
    {
        var (c, b) = YamlBinder.Load<CloudConfig>(yaml, name);
        Validate(c, b);
        return new LoadedCloudConfig(c, name, b);
    }

    private static void Validate(CloudConfig c, YamlBinder b)
    {
        if (c.Mqtt is { } m)
        {
            if (!Uri.TryCreate(m.Url, UriKind.Absolute, out var u) || u.Scheme is not ("mqtt" or "mqtts") || u.Host.Length == 0)
                throw b.Error(m, nameof(m.Url), $"'{m.Url}' is not a broker URL like mqtt://host:1883 or mqtts://host:8883");
            if (m.ClientId.Length is 0 or > 128) throw b.Error(m, nameof(m.ClientId), "must be 1–128 characters");
            if (m.SharedGroup is not null && !Identifiers.IsValid(m.SharedGroup)) throw b.Error(m, nameof(m.SharedGroup), "must be a plain name (letters, digits, '-', '_')");
            if (m.PasswordFile is not null && m.PasswordEnv is not null) throw b.Error(m, nameof(m.PasswordEnv), "give password_file or password_env, not both");
        }
        if (c.EmbeddedBroker.Port is < 0 or > 65535) throw b.Error(c.EmbeddedBroker, nameof(c.EmbeddedBroker.Port), "must be 0–65535");
        var i = c.Influx;
        if (!Uri.TryCreate(i.Url, UriKind.Absolute, out var iu) || iu.Scheme is not ("http" or "https"))
            throw b.Error(i, nameof(i.Url), $"'{i.Url}' is not an http(s) URL");
        if (i.Api == InfluxApi.V1 && string.IsNullOrWhiteSpace(i.Database)) throw b.Error(i, nameof(i.Database), "is required for api v1");
        if (i.Api == InfluxApi.V2)
        {
            if (string.IsNullOrWhiteSpace(i.Org)) throw b.Error(i, nameof(i.Org), "is required for api v2");
            if (string.IsNullOrWhiteSpace(i.Bucket)) throw b.Error(i, nameof(i.Bucket), "is required for api v2");
        }
        if (c.Ingest.BatchPoints is < 1 or > 100_000) throw b.Error(c.Ingest, nameof(c.Ingest.BatchPoints), "must be 1–100000");
        if (c.Ingest.MaxInFlight is < 1 or > 65535) throw b.Error(c.Ingest, nameof(c.Ingest.MaxInFlight), "must be 1–65535");
    }
}
