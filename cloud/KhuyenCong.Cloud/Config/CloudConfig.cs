using KhuyenCong.Configuration;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Config;

/// <summary>The cloud service's configuration: every option is described in the sample, firmware-config/cloud/cloud.yaml.</summary>
public sealed class CloudConfig
{
    /// <summary>An external broker. When absent, the service hosts its own (<see cref="EmbeddedBroker"/>).</summary>
    public MqttConfig? Mqtt { get; set; }
    public EmbeddedBrokerConfig EmbeddedBroker { get; set; } = new();
    public required InfluxConfig Influx { get; set; }
    public IngestConfig Ingest { get; set; } = new();
    /// <summary>The site registry (sites, gateways, kilns, meters): who may write what, and what the reports need.</summary>
    public string? Registry { get; set; }
    /// <summary>The directory of the versioned factor files (TOE, CO2, tariffs, thresholds, M&amp;V criteria).</summary>
    public string Factors { get; set; } = "../factors";
    /// <summary>Where the service keeps its own files (the production ledger).</summary>
    public string DataDir { get; set; } = "data";
    /// <summary>The REST API and the live page. Needs <see cref="Registry"/>. Absent: no HTTP server.</summary>
    public HttpConfig? Http { get; set; }
    /// <summary>The analytics jobs (derived series: energy, firing, enpi, savings, compliance). Needs <see cref="Registry"/>. Absent: none run.</summary>
    public JobsConfig? Jobs { get; set; }
}

/// <summary>How the analytics jobs run inside the service (docs/analytics.md, "Jobs").</summary>
public sealed class JobsConfig
{
    public bool Enabled { get; set; } = true;
    /// <summary>Time between the end of one run and the start of the next.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>How far back each run recomputes (plus any firing still running at its start).</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromDays(2);
    /// <summary>The supply voltage of the sites' connection, for the electricity price (below_6kv for most workshops).</summary>
    public KhuyenCong.Analytics.Factors.VoltageLevel VoltageLevel { get; set; } = KhuyenCong.Analytics.Factors.VoltageLevel.Below6kV;
    /// <summary>
    /// Counters that wrap, "site/device" → the value at which the register wraps (65536 × scale for a 16-bit register):
    /// a drop across it is a rollover, not a reset.
    /// </summary>
    public Dictionary<string, double> CounterModulus { get; set; } = [];
    /// <summary>Runs of kiln_running shorter than this are blips, not firings.</summary>
    public TimeSpan MinFiring { get; set; } = TimeSpan.FromMinutes(30);
    /// <summary>A production entry belongs to a firing when its firing time is within the firing, give or take this.</summary>
    public TimeSpan ProductionMatch { get; set; } = TimeSpan.FromHours(1);
}

public sealed class HttpConfig
{
    /// <summary>The address to listen on (one IP address).</summary>
    public string Bind { get; set; } = "127.0.0.1";
    /// <summary>0 takes a free port.</summary>
    public int Port { get; set; } = 8080;
    /// <summary>The users (role, sites, SHA-256 of their token), relative to the config file.</summary>
    public required string AccessFile { get; set; }
}

public sealed class MqttConfig
{
    public required string Url { get; set; }
    /// <summary>The client id of an ingestor configured without one (and of the embedded broker's ingestor).</summary>
    public const string DefaultClientId = "kc-ingestor-1";

    /// <summary>Stable client id: the broker keeps the ingestor's session (and unacknowledged messages) under it.</summary>
    public string ClientId { get; set; } = DefaultClientId;
    public string? Username { get; set; }
    public string? PasswordFile { get; set; }
    public string? PasswordEnv { get; set; }
    /// <summary>
    /// MQTT 5 shared subscription group: several ingestors with the same group share the load. Only with an external
    /// broker (mosquitto); the embedded broker refuses <c>$share/…</c>.
    /// </summary>
    public string? SharedGroup { get; set; }
    /// <summary>Topic filters to subscribe to (QoS 1); each gets the <c>$share/&lt;group&gt;/</c> prefix when a group is set.</summary>
    public List<string> Subscriptions { get; set; } = [.. MqttDefaults.Subscriptions];
    /// <summary>How long the broker keeps the session while the ingestor is away.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromDays(1);
    /// <summary>For mqtts: the CA that signed the broker's certificate, and the ingestor's own certificate when the broker asks for one.</summary>
    public MqttTlsConfig? Tls { get; set; }
}

/// <summary>TLS settings of the ingestor's connection (PEM files, relative to the config file).</summary>
public sealed class MqttTlsConfig
{
    /// <summary>The CA certificate(s) the broker's certificate must chain to; absent: the system trust store.</summary>
    public string? CaFile { get; set; }
    /// <summary>A client certificate, for a broker with require_certificate true; needs <see cref="KeyFile"/>.</summary>
    public string? CertFile { get; set; }
    public string? KeyFile { get; set; }
}

public static class MqttDefaults
{
    /// <summary>Telemetry and status of every gateway of every site.</summary>
    public static readonly IReadOnlyList<string> Subscriptions = [Topics.AllOf("telemetry"), Topics.AllOf("status")];
}

public sealed class EmbeddedBrokerConfig
{
    /// <summary>The address to listen on (IPv4 or IPv6, one family only).</summary>
    public string Bind { get; set; } = "127.0.0.1";
    /// <summary>0 takes a free port (see <see cref="Broker.EmbeddedBroker.Port"/> after start).</summary>
    public int Port { get; set; } = 1883;
    /// <summary>
    /// A mosquitto password file (mosquitto_passwd). When set, clients must log in (gateways with their gateway id as
    /// username) and the registry decides what each may publish; absent: any client may connect and publish anything.
    /// </summary>
    public string? PasswordFile { get; set; }
    /// <summary>The user that may read every gateway's messages (the ingestor inside the service logs in as it by itself).</summary>
    public string IngestorUser { get; set; } = "ingestor";
    /// <summary>A TLS listener beside the plain one, on the same address (gateways over the internet).</summary>
    public EmbeddedBrokerTlsConfig? Tls { get; set; }
}

public sealed class EmbeddedBrokerTlsConfig
{
    /// <summary>0 takes a free port.</summary>
    public int Port { get; set; } = 8883;
    /// <summary>The broker's certificate (PEM; with its chain after it, if any) and its private key (PEM).</summary>
    public required string CertFile { get; set; }
    public required string KeyFile { get; set; }
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
    /// <summary>Longest a partial batch waits for company while an earlier write is still running; with no write running it is written at once.</summary>
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
        var loaded = new LoadedCloudConfig(c, file, b);
        Validate(c, b, loaded.Dir);
        return loaded;
    }

    /// <summary>Binds YAML text; <paramref name="name"/> is used in messages, and secret files are relative to its directory.</summary>
    public static LoadedCloudConfig Parse(string yaml, string name)
    {
        var (c, b) = YamlBinder.Load<CloudConfig>(yaml, name);
        var loaded = new LoadedCloudConfig(c, name, b);
        Validate(c, b, loaded.Dir);
        return loaded;
    }

    private static void Validate(CloudConfig c, YamlBinder b, string dir)
    {
        if (c.Mqtt is { } m)
        {
            if (!Uri.TryCreate(m.Url, UriKind.Absolute, out var u) || u.Scheme is not ("mqtt" or "mqtts") || u.Host.Length == 0)
                throw b.Error(m, nameof(m.Url), $"'{m.Url}' is not a broker URL like mqtt://host:1883 or mqtts://host:8883");
            if (m.ClientId.Length is 0 or > 128) throw b.Error(m, nameof(m.ClientId), "must be 1–128 characters");
            if (m.SharedGroup is not null && !Identifiers.IsValid(m.SharedGroup)) throw b.Error(m, nameof(m.SharedGroup), "must be a plain name (letters, digits, '-', '_')");
            if (m.PasswordFile is not null && m.PasswordEnv is not null) throw b.Error(m, nameof(m.PasswordEnv), "give password_file or password_env, not both");
            if (m.PasswordFile is not null && m.Username is null) throw b.Error(m, nameof(m.PasswordFile), "needs a username");
            SecretFileExists(b, m, nameof(m.PasswordFile), m.PasswordFile, dir);
            if (m.SessionExpiry < TimeSpan.FromSeconds(1) || m.SessionExpiry.TotalSeconds >= uint.MaxValue)
                throw b.Error(m, nameof(m.SessionExpiry), "must be at least 1s (0 would let the broker drop unacknowledged messages whenever the ingestor disconnects)");
            if (m.Subscriptions.Count == 0) throw b.Error(m, nameof(m.Subscriptions), "needs at least one topic filter");
            for (var k = 0; k < m.Subscriptions.Count; k++)
            {
                if (TopicFilterError(m.Subscriptions[k]) is { } why) throw b.Error(m, nameof(m.Subscriptions), $"[{k}] '{m.Subscriptions[k]}' {why}");
            }
            if (m.Tls is { } t)
            {
                if (u.Scheme != "mqtts") throw b.Error(m, nameof(m.Tls), $"needs an mqtts:// url (the url is '{m.Url}')");
                SecretFileExists(b, t, nameof(t.CaFile), t.CaFile, dir);
                SecretFileExists(b, t, nameof(t.CertFile), t.CertFile, dir);
                SecretFileExists(b, t, nameof(t.KeyFile), t.KeyFile, dir);
                if (t.CertFile is not null && t.KeyFile is null) throw b.Error(t, nameof(t.CertFile), "needs key_file (the client certificate's private key)");
                if (t.KeyFile is not null && t.CertFile is null) throw b.Error(t, nameof(t.KeyFile), "needs cert_file");
            }
        }
        if (!System.Net.IPAddress.TryParse(c.EmbeddedBroker.Bind, out _)) throw b.Error(c.EmbeddedBroker, nameof(c.EmbeddedBroker.Bind), $"'{c.EmbeddedBroker.Bind}' is not an IP address");
        if (c.EmbeddedBroker.Port is < 0 or > 65535) throw b.Error(c.EmbeddedBroker, nameof(c.EmbeddedBroker.Port), "must be 0–65535");
        if (c.EmbeddedBroker.PasswordFile is not null)
        {
            if (c.Registry is null) throw b.Error(c.EmbeddedBroker, nameof(c.EmbeddedBroker.PasswordFile), "needs the site registry (set registry): it decides what each gateway may publish");
            SecretFileExists(b, c.EmbeddedBroker, nameof(c.EmbeddedBroker.PasswordFile), c.EmbeddedBroker.PasswordFile, dir);
        }
        if (c.EmbeddedBroker.Tls is { } et)
        {
            if (et.Port is < 0 or > 65535) throw b.Error(et, nameof(et.Port), "must be 0–65535");
            if (et.Port != 0 && et.Port == c.EmbeddedBroker.Port) throw b.Error(et, nameof(et.Port), "must differ from embedded_broker.port");
            SecretFileExists(b, et, nameof(et.CertFile), et.CertFile, dir);
            SecretFileExists(b, et, nameof(et.KeyFile), et.KeyFile, dir);
        }
        if (!Identifiers.IsValid(c.EmbeddedBroker.IngestorUser)) throw b.Error(c.EmbeddedBroker, nameof(c.EmbeddedBroker.IngestorUser), $"'{c.EmbeddedBroker.IngestorUser}' is not a plain name (letters, digits, '-', '_', '.')");
        var i = c.Influx;
        if (!Uri.TryCreate(i.Url, UriKind.Absolute, out var iu) || iu.Scheme is not ("http" or "https"))
            throw b.Error(i, nameof(i.Url), $"'{i.Url}' is not an http(s) URL");
        if (i.Api == InfluxApi.V1 && string.IsNullOrWhiteSpace(i.Database)) throw b.Error(i, nameof(i.Database), "is required for api v1");
        if (i.Api == InfluxApi.V2)
        {
            if (string.IsNullOrWhiteSpace(i.Org)) throw b.Error(i, nameof(i.Org), "is required for api v2");
            if (string.IsNullOrWhiteSpace(i.Bucket)) throw b.Error(i, nameof(i.Bucket), "is required for api v2");
            // InfluxDB.Client refuses an empty token; a 1.8 server without auth accepts any, e.g. "user:password".
            if (i.TokenFile is null) throw b.Error(i, nameof(i.TokenFile), "is required for api v2 (a file holding the API token)");
        }
        if (i.Api == InfluxApi.V1 && i.TokenFile is not null) throw b.Error(i, nameof(i.TokenFile), "is for api v2; api v1 uses username and password_file");
        if (i.PasswordFile is not null && i.Username is null) throw b.Error(i, nameof(i.PasswordFile), "needs a username");
        SecretFileExists(b, i, nameof(i.PasswordFile), i.PasswordFile, dir);
        SecretFileExists(b, i, nameof(i.TokenFile), i.TokenFile, dir);
        if (i.Timeout <= TimeSpan.Zero) throw b.Error(i, nameof(i.Timeout), "must be positive");
        if (c.Registry is not null && !File.Exists(Path.GetFullPath(c.Registry, dir))) throw b.Error(c, nameof(c.Registry), $"'{Path.GetFullPath(c.Registry, dir)}' does not exist");
        if (c.Http is { } h)
        {
            if (c.Registry is null) throw b.Error(h, null, "the API needs the site registry: set registry");
            if (!System.Net.IPAddress.TryParse(h.Bind, out _)) throw b.Error(h, nameof(h.Bind), $"'{h.Bind}' is not an IP address");
            if (h.Port is < 0 or > 65535) throw b.Error(h, nameof(h.Port), "must be 0–65535");
            if (!File.Exists(Path.GetFullPath(h.AccessFile, dir))) throw b.Error(h, nameof(h.AccessFile), $"'{Path.GetFullPath(h.AccessFile, dir)}' does not exist");
        }
        if (c.Jobs is { } j)
        {
            if (c.Registry is null) throw b.Error(j, null, "the analytics jobs need the site registry: set registry");
            if (j.Interval < TimeSpan.FromSeconds(1)) throw b.Error(j, nameof(j.Interval), "must be at least 1s");
            if (j.MinFiring < TimeSpan.Zero) throw b.Error(j, nameof(j.MinFiring), "must not be negative");
            if (j.Window < TimeSpan.FromHours(1) || j.Window > TimeSpan.FromDays(400)) throw b.Error(j, nameof(j.Window), "must be 1h–400d");
            foreach (var (device, modulus) in j.CounterModulus)
            {
                if (device.Split('/') is not [var s1, var d1] || !Identifiers.IsValid(s1) || !Identifiers.IsValid(d1)) throw b.Error(j, nameof(j.CounterModulus), $"'{device}' is not 'site/device'");
                if (!(modulus > 0)) throw b.Error(j, nameof(j.CounterModulus), $"'{device}': the modulus must be positive");
            }
        }
        if (c.Ingest.BatchPoints is < 1 or > 100_000) throw b.Error(c.Ingest, nameof(c.Ingest.BatchPoints), "must be 1–100000");
        if (c.Ingest.MaxInFlight is < 1 or > 65535) throw b.Error(c.Ingest, nameof(c.Ingest.MaxInFlight), "must be 1–65535");
        if (c.Ingest.FlushInterval < TimeSpan.Zero || c.Ingest.FlushInterval > TimeSpan.FromMinutes(1)) throw b.Error(c.Ingest, nameof(c.Ingest.FlushInterval), "must be 0–1m");
    }

    private static void SecretFileExists(YamlBinder b, object owner, string property, string? file, string dir)
    {
        if (file is not null && !File.Exists(Path.GetFullPath(file, dir)))
            throw b.Error(owner, property, $"'{Path.GetFullPath(file, dir)}' does not exist");
    }

    /// <summary>Why <paramref name="filter"/> is not a usable MQTT topic filter, or null when it is.</summary>
    internal static string? TopicFilterError(string filter)
    {
        if (filter.Length is 0 or > 1024) return "must be 1–1024 characters";
        if (filter.StartsWith("$share/", StringComparison.Ordinal)) return "must not start with $share/: set shared_group instead";
        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var l = levels[i];
            if (l == "#" && i != levels.Length - 1) return "may have '#' only as its last level";
            if (l.Length > 1 && (l.Contains('#', StringComparison.Ordinal) || l.Contains('+', StringComparison.Ordinal))) return "may use '+' and '#' only as whole levels";
        }
        return null;
    }
}
