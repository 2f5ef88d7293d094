using System.Net;
using KhuyenCong.Cloud.Broker;
using KhuyenCong.Cloud.Jobs;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Configuration;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Ingest;
using KhuyenCong.Cloud.Access;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Cloud.Web;
using KhuyenCong.Analytics.Factors;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Cloud;

/// <summary>
/// The cloud side, whole: the embedded broker when no external one is configured, and the ingestor writing into
/// InfluxDB through the configured transport. Usable from the CLI, the demo and tests alike.
/// </summary>
public sealed class CloudService : IAsyncDisposable
{
    private readonly ILogger _log;
    private readonly ILoggerFactory _logs;
    private CancellationTokenSource? _cts;
    private Task? _run;

    public CloudService(LoadedCloudConfig loaded, ILoggerFactory logs)
    {
        var c = loaded.Config;
        _log = logs.CreateLogger("cloud");
        _logs = logs;
        Config = loaded;
        Registry = c.Registry is null ? null : SiteRegistry.Load(Path.GetFullPath(c.Registry, loaded.Dir));
        Sink = CreateSink(c.Influx, loaded.Dir);
        if (c.Mqtt is { } m)
        {
            var uri = new Uri(m.Url);
            var host = uri.Host;
            var port = uri.IsDefaultPort || uri.Port <= 0 ? (uri.Scheme == "mqtts" ? 8883 : 1883) : uri.Port;
            var password = Secrets.Read(m.PasswordFile, m.PasswordEnv, loaded.Dir);
            Ingestor = new Ingestor(host, port, m, password, Sink, c.Ingest, logs.CreateLogger("ingest")) { Registry = Registry, ConfigDir = loaded.Dir };
        }
        else
        {
            var eb = c.EmbeddedBroker;
            BrokerSecurity? security = null;
            MqttConfig? ingestorLogin = null;
            if (eb.PasswordFile is not null)
            {
                if (Registry!.SiteOfGateway(eb.IngestorUser) is { } clash)
                    throw loaded.Binder.Error(eb, nameof(eb.IngestorUser), $"'{eb.IngestorUser}' is a gateway of site '{clash.Id}'; the ingestor needs a user of its own");
                // The ingestor in this process logs in with a secret made now, known only to this process.
                var secret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
                ingestorLogin = new MqttConfig { Url = "mqtt://embedded", Username = eb.IngestorUser };
                security = new BrokerSecurity
                {
                    Passwords = MosquittoPasswordFile.Load(Path.GetFullPath(eb.PasswordFile, loaded.Dir)),
                    Access = new TopicAccess(Registry, [eb.IngestorUser]),
                    IngestorUser = eb.IngestorUser,
                    IngestorSecret = secret,
                    IngestorClientIds = [ingestorLogin.ClientId],
                };
                _ingestorSecret = secret;
            }
            (int, System.Security.Cryptography.X509Certificates.X509Certificate2)? tls = eb.Tls is { } t
                ? (t.Port, LoadCertificate(Path.GetFullPath(t.CertFile, loaded.Dir), Path.GetFullPath(t.KeyFile, loaded.Dir)))
                : null;
            var broker = new EmbeddedBroker(IPAddress.Parse(eb.Bind), eb.Port, logs.CreateLogger("broker"), security, tls);
            Broker = broker;
            var bind = broker.Address;
            var host = bind.Equals(IPAddress.Any) ? "127.0.0.1" : bind.Equals(IPAddress.IPv6Any) ? "::1" : bind.ToString();
            // Looked up at connect time: with port 0 the port is known only once the broker has started.
            Ingestor = new Ingestor(() => (host, broker.Port), ingestorLogin, _ingestorSecret, Sink, c.Ingest, logs.CreateLogger("ingest")) { Registry = Registry, ConfigDir = loaded.Dir };
        }
    }

    private readonly string? _ingestorSecret;

    public LoadedCloudConfig Config { get; }

    /// <summary>A PEM certificate and key as a certificate SslStream can serve (through PKCS#12, which every platform accepts).</summary>
    private static System.Security.Cryptography.X509Certificates.X509Certificate2 LoadCertificate(string certFile, string keyFile)
    {
        using var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certFile, keyFile);
        return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
    }

    /// <summary>The site registry, when the config names one.</summary>
    public SiteRegistry? Registry { get; }

    /// <summary>The API and live page, when the config has an <c>http</c> section (after <see cref="StartAsync"/>).</summary>
    public CloudWeb? Web { get; private set; }

    private CloudWebContext? _webContext;

    /// <summary>The embedded broker, when the config has no <c>mqtt</c> section; null with an external broker.</summary>
    public EmbeddedBroker? Broker { get; }
    public ITimeSeriesSink Sink { get; }
    public Ingestor Ingestor { get; }

    /// <summary>The transport the config asks for: v1 (<see cref="InfluxV1Sink"/>) or v2 (<see cref="InfluxV2Sink"/>).</summary>
    public static ITimeSeriesSink CreateSink(InfluxConfig cfg, string baseDir) => cfg.Api switch
    {
        InfluxApi.V2 => new InfluxV2Sink(cfg, Secrets.Read(cfg.TokenFile, null, baseDir)),
        _ => new InfluxV1Sink(cfg, Secrets.Read(cfg.PasswordFile, null, baseDir)),
    };

    /// <summary>Loads <paramref name="configFile"/> (throws <see cref="ConfigException"/> naming file:line:col: field) and builds the service.</summary>
    public static CloudService FromFile(string configFile, ILoggerFactory logs) => new(CloudConfigLoader.Load(configFile), logs);

    /// <summary>Starts the broker (if embedded), prepares InfluxDB and starts ingesting in the background.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        if (Registry is null)
            _log.LogWarning("No site registry configured (registry: in {File}): ANY gateway may write ANY site's data", Config.File);
        if (Broker is not null)
        {
            await Broker.StartAsync().ConfigureAwait(false);
            _log.LogInformation("Embedded MQTT broker listening on {Url}", Broker.Url);
            if (Broker.HasTls) _log.LogInformation("Embedded MQTT broker listening with TLS on port {Port}", Broker.TlsPort);
            if (_ingestorSecret is null)
                _log.LogWarning("The embedded broker lets ANY client connect without a password and publish anything: set embedded_broker.password_file");
        }
        // The API and live page come first: production entries and the gateways' state do not need InfluxDB, and
        // reads answer 503 while it is away.
        if (Config.Config.Http is { } http)
        {
            _webContext = CreateWebContext(http);
            Web = new CloudWeb(http, _webContext);
            await Web.StartAsync(ct).ConfigureAwait(false);
            _log.LogInformation("API and live page on {Url} (OpenAPI: {Url}openapi/v1.json)", Web.Url, Web.Url);
        }
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Sink.PrepareAsync(ct).ConfigureAwait(false);
                break;
            }
            catch (SinkException ex) when (ex.Kind == SinkFailure.Retry && attempt < 10)
            {
                // InfluxDB may still be starting.
                _log.LogWarning("{Sink} not ready ({Error}); retrying", Sink.Describe(), ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
            catch (SinkException ex) when (ex.Kind == SinkFailure.Retry)
            {
                // Ingest anyway: nothing is acknowledged until InfluxDB takes the points, and a write that finds no
                // database prepares it again.
                _log.LogWarning("{Sink} still not ready ({Error}); starting anyway, messages wait at the broker", Sink.Describe(), ex.Message);
                break;
            }
        }
        _cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _run = Ingestor.RunAsync(_cts.Token);
        _log.LogInformation("Ingesting into {Sink}", Sink.Describe());
        if (Config.Config.Jobs is { Enabled: true } jobs && Registry is not null)
        {
            Jobs = JobLoop.Create(Config, Registry, Sink, _logs);
            Jobs.Start(_cts.Token);
            _log.LogInformation("Analytics jobs every {Interval} over the last {Window}", jobs.Interval, jobs.Window);
        }
    }

    /// <summary>The analytics jobs' loop, when the config enables them (after <see cref="StartAsync"/>).</summary>
    public JobLoop? Jobs { get; private set; }

    private CloudWebContext CreateWebContext(HttpConfig http)
    {
        var c = Config.Config;
        var dir = Config.Dir;
        var access = AccessList.Load(Path.GetFullPath(http.AccessFile, dir), Registry!);
        var factors = FactorSet.LoadDirectory(Path.GetFullPath(c.Factors, dir));
        var influx = new InfluxQlClient(c.Influx.Url, c.Influx.Api == InfluxApi.V1 ? c.Influx.Database : c.Influx.Bucket ?? c.Influx.Database,
            c.Influx.Username, Secrets.Read(c.Influx.PasswordFile, null, dir), c.Influx.Timeout);
        var production = new ProductionStore(Path.Combine(Path.GetFullPath(c.DataDir, dir), "production.db"));
        return new CloudWebContext(Registry!, access, influx, factors, production, _logs);
    }

    /// <summary>Completes when the service stops (cancellation), or faults when ingestion failed for good.</summary>
    public Task Completion => _run ?? Task.CompletedTask;

    /// <summary>Completes once the ingestor has written at least <paramref name="points"/> data points since start.</summary>
    public Task WaitForPointsAsync(long points, CancellationToken ct) => Ingestor.WaitForPointsAsync(points, ct);

    /// <summary>
    /// Stops ingesting; messages not yet written stay unacknowledged at the broker. The MQTT session and the embedded
    /// broker stay until <see cref="DisposeAsync"/>. Rethrows the failure if ingestion had failed.
    /// </summary>
    public async Task StopAsync()
    {
        if (_cts is not null) await _cts.CancelAsync().ConfigureAwait(false);
        if (_run is not null)
        {
            try
            {
                await _run.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Stops, disconnects from the broker (the persistent session stays there), stops the embedded broker.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _log.LogError(ex, "Ingestion had failed");
        }
        if (Jobs is not null) await Jobs.DisposeAsync().ConfigureAwait(false);
        if (Web is not null) await Web.DisposeAsync().ConfigureAwait(false);
        _webContext?.Influx.Dispose();
        _webContext?.Production.Dispose();
        await Ingestor.DisposeAsync().ConfigureAwait(false);
        if (Broker is not null) await Broker.DisposeAsync().ConfigureAwait(false);
        Sink.Dispose();
        _cts?.Dispose();
    }
}
