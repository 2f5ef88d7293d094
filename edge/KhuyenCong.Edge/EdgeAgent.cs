using System.Diagnostics;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Clock;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Outbox;
using KhuyenCong.Edge.Polling;
using KhuyenCong.Edge.Publishing;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Edge;

/// <summary>
/// The gateway agent, whole: one poller per bus feeding the outbox, one publisher draining it to the broker, and a
/// health report on its own topic. The path of a value: register → <see cref="BusPoller"/> (decode by profile) →
/// <see cref="IOutbox"/> (durable) → <see cref="TelemetryPublisher"/> (MQTT QoS 1) → cloud.
/// </summary>
public sealed class EdgeAgent : IAsyncDisposable
{
    private readonly LoadedGateway _gateway;
    private readonly TimeProvider _clock;
    private readonly ILogger _log;
    private readonly List<BusPoller> _pollers = [];
    private readonly List<LinePoller> _linePollers = [];
    private readonly List<Modbus.IModbusMaster> _masters = [];
    private readonly Stopwatch _uptime = Stopwatch.StartNew();

    public EdgeAgent(LoadedGateway gateway, ILoggerFactory logs, TimeProvider? clock = null, IOutbox? outbox = null)
    {
        _gateway = gateway;
        _clock = clock ?? TimeProvider.System;
        _log = logs.CreateLogger("edge");
        var cfg = gateway.Config;
        Outbox = outbox ?? new SqliteOutbox(gateway.OutboxPath, cfg.Outbox.MaxBytes, cfg.Outbox.CommitInterval);
        Link = new MqttLink(cfg, BrokerCredentials.Load(gateway), _clock, logs.CreateLogger("mqtt"));
        Clock = new ClockGuard(_clock, Outbox, ClockGuard.BuildFloor(), log: logs.CreateLogger("clock"));
        Publisher = new TelemetryPublisher(Outbox, Link, cfg.Site, cfg.Gateway, cfg.Publish.MaxBatch, cfg.Publish.Interval, _clock, logs.CreateLogger("publish"));
        foreach (var bus in cfg.Buses.Where(b => b.Type == BusType.Ascii))
        {
            foreach (var d in cfg.Devices.Where(d => d.Bus == bus.Id))
                _linePollers.Add(new LinePoller(bus, d, gateway.ProfilesByDevice[d.Id], Clock, _clock, logs.CreateLogger($"bus.{bus.Id}")));
        }
        foreach (var bus in cfg.Buses.Where(b => b.Type != BusType.Ascii))
        {
            var devices = cfg.Devices.Where(d => d.Bus == bus.Id).Select(d => new PolledDevice(d, gateway.ProfilesByDevice[d.Id])).ToList();
            if (devices.Count == 0) continue;
            var master = MasterFactory.Create(bus, devices);
            _masters.Add(master);
            _pollers.Add(new BusPoller(bus.Id, master, devices, Clock, _clock, logs.CreateLogger($"bus.{bus.Id}")));
        }
    }

    public IOutbox Outbox { get; }
    /// <summary>Holds readings while the wall clock cannot be trusted (a Pi before NTP sync).</summary>
    public ClockGuard Clock { get; }
    public MqttLink Link { get; }
    public TelemetryPublisher Publisher { get; }
    public IReadOnlyList<BusPoller> Pollers => _pollers;
    public IReadOnlyList<LinePoller> LinePollers => _linePollers;

    /// <summary>
    /// The last moment every bus loop had finished a poll (the oldest of their last attempts): the watchdog's proof of
    /// life. Null until every bus has polled once.
    /// </summary>
    public DateTimeOffset? LastProgress
    {
        get
        {
            var attempts = _pollers.Select(p => p.LastAttempt).Concat(_linePollers.Select(p => p.LastAttempt)).ToList();
            return attempts.Count == 0 ? _clock.GetUtcNow() : attempts.Any(a => a is null) ? null : attempts.Min();
        }
    }

    /// <summary>How often the health report is published.</summary>
    public TimeSpan HealthInterval => _gateway.Config.Publish.HealthInterval;

    /// <summary>Runs until <paramref name="ct"/> is cancelled, then flushes the outbox and says goodbye to the broker.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var cfg = _gateway.Config;
        _log.LogInformation("Gateway {Site}/{Gateway}: {Devices} devices on {Buses} buses, outbox {Outbox}",
            cfg.Site, cfg.Gateway, cfg.Devices.Count, _pollers.Count, _gateway.OutboxPath);
        var tasks = new List<Task> { Link.RunAsync(ct), Publisher.RunAsync(ct), HealthLoopAsync(ct) };
        tasks.AddRange(_pollers.Select(p => p.RunAsync(ct)));
        tasks.AddRange(_linePollers.Select(p => p.RunAsync(ct)));
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        await Outbox.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        using var bye = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        await Link.StopAsync(bye.Token).ConfigureAwait(false);
    }

    public GatewayHealth Health()
    {
        var s = Outbox.Stats();
        using var proc = Process.GetCurrentProcess();
        return new GatewayHealth
        {
            Timestamp = _clock.GetUtcNow(),
            UptimeSeconds = _uptime.Elapsed.TotalSeconds,
            RssBytes = proc.WorkingSet64,
            ManagedBytes = GC.GetTotalMemory(false),
            OutboxDepth = s.Depth,
            OutboxOldest = s.OldestTimestamp,
            OutboxBytes = s.Bytes,
            Dropped = s.Dropped,
            Published = Publisher.Published,
            PublishFailures = Publisher.Failures,
            ClockCorrected = Clock.Corrected,
            ClockHeld = s.Held,
            ClockUnrecoverable = s.Unrecoverable,
            Devices = [.. _pollers.SelectMany(p => p.Devices.Select(d => (d.Health, p.BusId)))
                .Concat(_linePollers.Select(l => (l.Health, l.BusId)))
                .Select(x => (d: x.Health, BusId: x.BusId))
                .Select(x => new DeviceHealthReport
            {
                Device = x.d.Device,
                Bus = x.BusId,
                PollsOk = x.d.PollsOk,
                PollsFailed = x.d.PollsFailed,
                Timeouts = x.d.Timeouts,
                ExceptionResponses = x.d.ExceptionResponses,
                FrameErrors = x.d.FrameErrors,
                LinkErrors = x.d.LinkErrors,
                Retries = x.d.Retries,
                ConsecutiveFailures = x.d.ConsecutiveFailures,
                LastOk = x.d.LastOk,
                LastLatencyMs = x.d.LastLatency.TotalMilliseconds,
                LastError = x.d.LastError,
            })],
        };
    }

    private async Task HealthLoopAsync(CancellationToken ct)
    {
        var topic = Topics.Health(_gateway.Config.Site, _gateway.Config.Gateway);
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(HealthInterval, _clock, ct).ConfigureAwait(false);
            if (!Link.IsConnected) continue;
            try
            {
                await Link.PublishAsync(topic, TelemetryCodec.Encode(Health()), retain: false, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _log.LogDebug("Health report not published: {Error}", ex.Message);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var m in _masters) await m.DisposeAsync().ConfigureAwait(false);
        await Link.DisposeAsync().ConfigureAwait(false);
        await Outbox.DisposeAsync().ConfigureAwait(false);
    }
}
