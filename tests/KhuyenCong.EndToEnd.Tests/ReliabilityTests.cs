using System.Buffers;
using System.Collections.Concurrent;
using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Contracts;
using KhuyenCong.Edge;
using KhuyenCong.Edge.Outbox;
using KhuyenCong.Simulator;
using KhuyenCong.TestSupport;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;

namespace KhuyenCong.EndToEnd.Tests;

/// <summary>The edge through broker outages, crashes and a full disk budget, against real mosquitto and influxd.</summary>
public sealed class ReliabilityTests
{

    // Accounting per (device, timestamp): each poll counted good must have been handed to the outbox (or held for the
    // clock and released under its true time), and each must end up in InfluxDB or still in the outbox. A failure names
    // the device, its counts and what the clock guard did.
    [Fact]
    public async Task Every_reading_taken_during_a_broker_outage_reaches_InfluxDB_once_and_in_order()
    {
        await using var influxd = await LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        using var dir = new TempDirectory();
        var gw = TestGateway.Write(dir, mosquitto.Url, FreePort.Next());
        await using var sim = new SimulatorHost(gw, timeScale: 60);
        sim.Advance(TimeSpan.FromHours(2));
        await sim.StartAsync(default);
        await using var cloud = new CloudService(CloudConfigLoader.Parse($$"""
            mqtt: { url: "{{mosquitto.Url}}", client_id: outage-ingestor }
            influx: { url: "{{influxd.Url}}", api: v1, database: outage }
            """, "test"), NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects");

        await using var tap = await TelemetryTap.StartAsync(mosquitto.Port);
        // The outbox, watched: every (device, timestamp) the pollers hand over is remembered, with its fate.
        var outbox = new WatchedOutbox(new SqliteOutbox(gw.OutboxPath, gw.Config.Outbox.MaxBytes, gw.Config.Outbox.CommitInterval));
        await using var agent = new EdgeAgent(gw, NullLoggerFactory.Instance, outbox: outbox);
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(stop.Token);
        await Eventually.Until(() => agent.Publisher.Published > 20, "the edge publishes");

        await mosquitto.StopAsync();
        var pollsAtOutage = TotalPolls(agent);
        await Task.Delay(TimeSpan.FromSeconds(32)); // the broker is away for more than 30 s while the edge polls
        var pollsDuringOutage = TotalPolls(agent) - pollsAtOutage;
        Assert.True(pollsDuringOutage >= 40, $"only {pollsDuringOutage} polls during the outage");
        Assert.True(agent.Outbox.Stats().Depth > 0, "nothing waited in the outbox");
        await mosquitto.StartAgainAsync();
        await tap.ReconnectAsync(TimeSpan.FromSeconds(30));

        // After the outage: stop polling, let the outbox drain, then compare.
        await Eventually.Until(() => agent.Link.IsConnected && agent.Outbox.Stats().Depth == 0, "the outbox drains after the broker returns");
        await stop.CancelAsync();
        await run;
        await agent.Outbox.FlushAsync(default);
        // Each poll counted as good handed exactly one (device, timestamp) to the outbox.
        var polled = outbox.Handed;
        Assert.True(TotalPolls(agent) == polled.Count, $"{TotalPolls(agent)} polls counted good, {polled.Count} (device, timestamp) handed to the outbox: {outbox.Account(agent)}");
        // Polls taken after the drain may still sit in the outbox; a batch whose acknowledgement the stop cut off may
        // be both there and in InfluxDB.
        var left = (await agent.Outbox.PeekAsync(1_000_000, default)).Select(p => (p.Reading.Device, p.Reading.Timestamp.ToUnixTimeMilliseconds())).ToHashSet();

        using var influx = new InfluxQlClient(influxd.Url, "outage");
        var stored = new HashSet<(string Device, long Ms)>();
        await Eventually.Until(async () =>
        {
            stored = await StoredLinesAsync(influx);
            return polled.All(k => stored.Contains(k) || left.Contains(k));
        }, () => $"every poll is in InfluxDB or still in the outbox; missing: {Missing(polled, stored, left, outbox, tap)}");
        // One line per poll: nothing lost (above), nothing that was not polled; a resent batch overwrites the same
        // series and timestamps, so nothing is stored twice.
        Assert.Empty(stored.Except(polled));
        Assert.Equal(0, cloud.Ingestor.Stats.Invalid);
        Assert.Equal(0, cloud.Ingestor.Stats.Rejected);

        // In order: the batches arrived with growing sequence numbers, and each device's readings in time order
        // (a batch resent after a lost acknowledgement may repeat, never go back).
        var batches = tap.Batches.ToList();
        Assert.True(batches.Zip(batches.Skip(1)).All(p => p.Second.Sequence >= p.First.Sequence), "batch sequence numbers went backwards");
        foreach (var device in gw.Config.Devices.Select(d => d.Id))
        {
            var ts = batches.SelectMany(b => b.Readings).Where(r => r.Device == device).Select(r => r.Timestamp).ToList();
            Assert.True(ts.Zip(ts.Skip(1)).All(p => p.Second >= p.First), $"{device}: readings arrived out of order");
        }
        // The energy counter never goes backwards either.
        var energy = (await influx.QueryAsync("SELECT energy_import_kwh FROM meter WHERE device = 'kiln1-meter'")).Single();
        var values = energy.Numbers("energy_import_kwh").Select(v => v!.Value).ToList();
        Assert.True(values.Zip(values.Skip(1)).All(p => p.Second >= p.First));
    }

    [Fact]
    public async Task Killing_the_edge_agent_loses_no_committed_reading_and_never_corrupts_the_outbox()
    {
        await using var influxd = await LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        using var dir = new TempDirectory();
        var gw = TestGateway.Write(dir, mosquitto.Url, FreePort.Next(), pollInterval: "200ms");
        await using var sim = new SimulatorHost(gw, timeScale: 60);
        await sim.StartAsync(default);
        await using var cloud = new CloudService(CloudConfigLoader.Parse($$"""
            mqtt: { url: "{{mosquitto.Url}}", client_id: crash-ingestor }
            influx: { url: "{{influxd.Url}}", api: v1, database: crash }
            """, "test"), NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        using var influx = new InfluxQlClient(influxd.Url, "crash");
        var edge = Path.Combine(AppContext.BaseDirectory, "kc-edge");
        var committed = new HashSet<(string Device, long Ms)>();

        // Rounds 1–2 crash while publishing; rounds 3–4 crash with the broker away, so readings wait in the outbox.
        for (var round = 1; round <= 4; round++)
        {
            if (round == 3) await mosquitto.StopAsync();
            var before = await CountLinesAsync(influx);
            var queued = OutboxRows(gw.OutboxPath);
            await using (var p = ExternalProcess.Start(edge, ["run", "--config", gw.File]))
            {
                if (round <= 2)
                    await Eventually.Until(async () => await CountLinesAsync(influx) > before + 10, () => $"round {round}: the edge publishes ({p.Output})");
                else
                    await Eventually.Until(() => Task.FromResult(OutboxRows(gw.OutboxPath) > queued + 20), () => $"round {round}: readings are committed to the outbox ({p.Output})");
                p.Kill(); // SIGKILL: no flush, no goodbye, as in a power cut
                await p.WaitForExitAsync(TimeSpan.FromSeconds(60)); // a deadline, not a speed claim: the machine may be busy
            }
            using var db = new SqliteConnection($"Data Source={gw.OutboxPath};Pooling=False");
            db.Open();
            using (var check = db.CreateCommand())
            {
                check.CommandText = "PRAGMA integrity_check";
                Assert.Equal("ok", check.ExecuteScalar());
            }
            using var rows = db.CreateCommand();
            rows.CommandText = "SELECT DISTINCT device, ts FROM readings";
            using var r = rows.ExecuteReader();
            while (r.Read()) committed.Add((r.GetString(0), r.GetInt64(1)));
        }
        await mosquitto.StartAgainAsync();
        Assert.NotEmpty(committed);

        // A last, clean run publishes what the crashes left behind.
        await using (var p = ExternalProcess.Start(edge, ["run", "--config", gw.File]))
        {
            await Eventually.Until(async () =>
            {
                var stored = await StoredLinesAsync(influx);
                return committed.All(stored.Contains);
            }, () => $"every reading committed before a crash reaches InfluxDB ({p.Output})");
            await p.StopAsync();
        }
    }

    [Fact]
    public async Task With_the_broker_down_and_a_tiny_budget_the_oldest_readings_are_dropped_and_the_count_is_reported()
    {
        using var dir = new TempDirectory();
        var brokerPort = FreePort.Next();
        var gw = TestGateway.Write(dir, $"mqtt://127.0.0.1:{brokerPort}", FreePort.Next(), outboxBytes: 65536, pollInterval: "100ms");
        await using var sim = new SimulatorHost(gw, timeScale: 60);
        await sim.StartAsync(default);
        await using var agent = new EdgeAgent(gw, NullLoggerFactory.Instance);
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(stop.Token);
        await Eventually.Until(() => agent.Outbox.Stats().Dropped > 0, "the budget forces drops");
        var stats = agent.Outbox.Stats();
        Assert.True(stats.Bytes <= 65536, $"outbox uses {stats.Bytes} bytes, over its 65,536-byte budget");

        // The broker comes up: the health report tells how many readings were dropped.
        await using var mosquitto = await MosquittoServer.StartAsync(port: brokerPort);
        var health = new ConcurrentQueue<GatewayHealth>();
        using var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += e =>
        {
            health.Enqueue(TelemetryCodec.DecodeHealth(e.ApplicationMessage.Payload.ToArray()));
            return Task.CompletedTask;
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", brokerPort).Build());
        await client.SubscribeAsync(Topics.Health(TestGateway.Site, TestGateway.Gateway));
        await Eventually.Until(() => !health.IsEmpty, "a health report arrives");
        Assert.True(health.First().Dropped >= stats.Dropped, $"health reports {health.First().Dropped} dropped, the outbox counted {stats.Dropped}");
        Assert.Contains(health.First().Devices, d => d.Device == "kiln1-meter" && d.PollsOk > 0);
        await stop.CancelAsync();
        await run;
    }

    /// <summary>Where each missing reading was last seen: which batch acknowledged it, whether a subscriber got that batch.</summary>
    private static string Missing(HashSet<(string, long)> polled, HashSet<(string Device, long Ms)> stored, HashSet<(string, long)> left, WatchedOutbox outbox, TelemetryTap tap)
    {
        var tapped = tap.Batches.SelectMany(b => b.Readings.Select(r => ((r.Device, r.Timestamp.ToUnixTimeMilliseconds()), b.Sequence))).ToLookup(x => x.Item1, x => x.Sequence);
        return string.Join("; ", polled.Where(k => !stored.Contains(k) && !left.Contains(k)).Take(10).Select(k =>
            $"{k.Item1} at {DateTimeOffset.FromUnixTimeMilliseconds(k.Item2):HH:mm:ss.fff} (acknowledged by the broker in batch {outbox.AcknowledgedIn(k)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, "
            + $"seen by the tap in batch {string.Join(",", tapped[k])})"));
    }

    private static long OutboxRows(string path)
    {
        if (!File.Exists(path)) return 0;
        using var db = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        db.Open();
        using var c = db.CreateCommand();
        c.CommandText = "SELECT COUNT(*) FROM readings";
        try
        {
            return Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (SqliteException)
        {
            return 0; // the table is not created yet
        }
    }

    private static long TotalPolls(EdgeAgent agent) => agent.Pollers.SelectMany(p => p.Devices).Sum(d => d.Health.PollsOk);

    private static async Task<long> CountLinesAsync(InfluxQlClient influx) => (await StoredLinesAsync(influx)).Count;

    private static async Task<HashSet<(string Device, long Ms)>> StoredLinesAsync(InfluxQlClient influx)
    {
        var set = new HashSet<(string, long)>();
        foreach (var s in await influx.QueryAsync($"SELECT * FROM meter, kiln, gas WHERE site = '{TestGateway.Site}'"))
        {
            var device = s.Column("device");
            foreach (var v in s.Values) set.Add((v[device].GetString()!, v[0].GetInt64()));
        }
        return set;
    }
}

/// <summary>The edge's outbox with a record of what went in and which batch sequence took each reading out.</summary>
internal sealed class WatchedOutbox(IOutbox inner) : IOutbox
{
    private readonly ConcurrentDictionary<(string, long), long?> _fate = new();
    private readonly ConcurrentDictionary<(string, long), int> _handedTimes = new();
    private readonly ConcurrentDictionary<string, int> _calls = new();
    private readonly ConcurrentQueue<string> _empty = new();
    private long _held;

    /// <summary>Per device: polls counted good, hand-overs, distinct timestamps, repeats; and what the clock guard holds.</summary>
    public string Account(EdgeAgent agent) => string.Join("; ", agent.Pollers.SelectMany(p => p.Devices).Select(d =>
        $"{d.Config.Id}: ok {d.Health.PollsOk}, handed {_calls.GetValueOrDefault(d.Config.Id)}, distinct {_fate.Keys.Count(k => k.Item1 == d.Config.Id)}, "
        + $"repeated [{string.Join(",", _handedTimes.Where(x => x.Key.Item1 == d.Config.Id && x.Value > 1).Select(x => $"{x.Key.Item2}x{x.Value}"))}]"))
        + $"; empty hand-overs [{string.Join(",", _empty)}]; held for the clock {Interlocked.Read(ref _held)} (still held {agent.Clock.HeldCount}, corrected {agent.Clock.Corrected}, undatable {agent.Clock.Unrecoverable})";

    /// <summary>Every (device, timestamp) handed to the outbox so far.</summary>
    public HashSet<(string, long)> Handed => [.. _fate.Keys];

    public long? AcknowledgedIn((string, long) key) => _fate.TryGetValue(key, out var seq) ? seq : null;

    public ValueTask AddAsync(DeviceInfo device, IReadOnlyList<Reading> readings, CancellationToken ct)
    {
        _calls.AddOrUpdate(device.Id, 1, (_, n) => n + 1);
        if (readings.Count == 0) _empty.Enqueue(device.Id);
        foreach (var key in readings.Select(r => (r.Device, r.Timestamp.ToUnixTimeMilliseconds())).Distinct())
        {
            _fate.TryAdd(key, null);
            _handedTimes.AddOrUpdate(key, 1, (_, n) => n + 1);
        }
        return inner.AddAsync(device, readings, ct);
    }

    public async Task AcknowledgeAsync(IReadOnlyList<PendingReading> delivered, long sequence, CancellationToken ct)
    {
        await inner.AcknowledgeAsync(delivered, sequence, ct);
        foreach (var p in delivered) _fate[(p.Reading.Device, p.Reading.Timestamp.ToUnixTimeMilliseconds())] = sequence;
    }

    // A poll taken while the clock guard distrusted the clock (a step back of the wall clock) is held, then released
    // with its true time: it is handed over then, under that time.
    private readonly ConcurrentDictionary<(ClockMark, string), bool> _heldPolls = new();

    public ValueTask HoldAsync(DeviceInfo device, IReadOnlyList<Reading> readings, ClockMark takenAt, CancellationToken ct)
    {
        Interlocked.Add(ref _held, readings.Count);
        if (readings.Count > 0) _heldPolls.TryAdd((takenAt, device.Id), true);
        return inner.HoldAsync(device, readings, takenAt, ct);
    }

    public Task<(long Released, long Unrecoverable)> ReleaseHeldAsync(Func<ClockMark, string, DateTimeOffset?> trueTime, CancellationToken ct) =>
        inner.ReleaseHeldAsync((mark, device) =>
        {
            var ts = trueTime(mark, device);
            if (ts is { } t && _heldPolls.TryRemove((mark, device), out _))
            {
                // One held poll, handed over now under the time the guard gave it.
                var key = (device, t.ToUnixTimeMilliseconds());
                _calls.AddOrUpdate(device, 1, (_, n) => n + 1);
                _fate.TryAdd(key, null);
                _handedTimes.AddOrUpdate(key, 1, (_, n) => n + 1);
            }
            return ts;
        }, ct);

    public Task FlushAsync(CancellationToken ct) => inner.FlushAsync(ct);
    public Task<IReadOnlyList<PendingReading>> PeekAsync(int max, CancellationToken ct) => inner.PeekAsync(max, ct);
    public long LastSequence => inner.LastSequence;
    public OutboxStats Stats() => inner.Stats();
    public Task WaitForReadingsAsync(CancellationToken ct) => inner.WaitForReadingsAsync(ct);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
