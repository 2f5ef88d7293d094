using System.Net;
using KhuyenCong.Cloud.Broker;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Configuration;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Ingest;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Cloud;

/// <summary>
/// The cloud side, whole: the embedded broker when no external one is configured, and the ingestor writing into
/// InfluxDB through the configured transport. Usable from the CLI, the demo and tests alike.
/// </summary>
public sealed class CloudService : IAsyncDisposable
{
    private readonly ILogger _log;
    private CancellationTokenSource? _cts;
    private Task? _run;

    public CloudService(LoadedCloudConfig loaded, ILoggerFactory logs)
    {
        var c = loaded.Config;
        _log = logs.CreateLogger("cloud");
        Sink = CreateSink(c.Influx, loaded.Dir);
        string host;
        int port;
        string? password = null;
        if (c.Mqtt is { } m)
        {
            var uri = new Uri(m.Url);
            host = uri.Host;
            port = uri.IsDefaultPort || uri.Port <= 0 ? (uri.Scheme == "mqtts" ? 8883 : 1883) : uri.Port;
            password = Secrets.Read(m.PasswordFile, m.PasswordEnv, loaded.Dir);
        }
        else
        {
            Broker = new EmbeddedBroker(IPAddress.Parse(c.EmbeddedBroker.Bind), c.EmbeddedBroker.Port, logs.CreateLogger("broker"));
            host = c.EmbeddedBroker.Bind == "0.0.0.0" ? "127.0.0.1" : c.EmbeddedBroker.Bind;
            port = c.EmbeddedBroker.Port;
        }
        Ingestor = new Ingestor(host, port, c.Mqtt, password, Sink, c.Ingest, logs.CreateLogger("ingest"));
    }

    public EmbeddedBroker? Broker { get; }
    public ITimeSeriesSink Sink { get; }
    public Ingestor Ingestor { get; }

    public static ITimeSeriesSink CreateSink(InfluxConfig cfg, string baseDir) => cfg.Api switch
    {
        InfluxApi.V2 => new InfluxV2Sink(cfg, Secrets.Read(cfg.TokenFile, null, baseDir)),
        _ => new InfluxV1Sink(cfg, Secrets.Read(cfg.PasswordFile, null, baseDir)),
    };

    /// <summary>Starts the broker (if embedded), prepares InfluxDB and starts ingesting in the background.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        if (Broker is not null)
        {
            await Broker.StartAsync().ConfigureAwait(false);
            _log.LogInformation("Embedded MQTT broker listening on {Url}", Broker.Url);
        }
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Sink.PrepareAsync(ct).ConfigureAwait(false);
                break;
            }
            catch (SinkException ex) when (ex.Kind == SinkFailure.Retry && attempt < 30)
            {
                // InfluxDB may still be starting; the ingestor would wait for it anyway.
                _log.LogWarning("{Sink} not ready ({Error}); retrying", Sink.Describe(), ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
        }
        _cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _run = Ingestor.RunAsync(_cts.Token);
        _log.LogInformation("Ingesting into {Sink}", Sink.Describe());
    }

    /// <summary>Completes when the service stops (cancellation) or fails.</summary>
    public Task Completion => _run ?? Task.CompletedTask;

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

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await Ingestor.DisposeAsync().ConfigureAwait(false);
        if (Broker is not null) await Broker.DisposeAsync().ConfigureAwait(false);
        Sink.Dispose();
        _cts?.Dispose();
    }
}
