// Ingest benchmark (bench/ingest/run.sh). In one run, on one influxd:
//   ceiling  the same lines the ingestor would write, posted directly as line protocol (5,000 lines per POST, 4 posters)
//   ingest1  one ingestor draining a backlog of telemetry batches queued at mosquitto for its session
//   ingest2  two ingestors in one shared subscription group draining the same backlog
// each in a fresh database, variants back-to-back, repeated for --rounds. Then the latency of a live load: every
// gateway publishes one batch per second stamped with the time of publishing; latency = when InfluxDB answered the
// write (the point is queryable from then on) minus the reading's timestamp.
// --instance-cpu Q: instead of ingest1/ingest2 in this process, `kc-cloud run` processes, each in a cgroup limited to Q of
// a CPU (Capped.cs): 1, 2 (, 3…) instances with the same quota each, against the same ceiling.
// --pin: influxd on CPU 1 alone, mosquitto and this process (ingestors, posters, publishers) on CPU 0, for the ceiling and
// the ingest variants alike — as deployed, where InfluxDB has its own server. run.sh starts this process under taskset.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using InfluxDB.Client.Writes;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Ingest;
using KhuyenCong.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;

var o = Options.Parse(args);
var inv = CultureInfo.InvariantCulture;
if (o.Micro > 0)
{
    Micro.Run(o.Micro);
    return 0;
}
Console.WriteLine(string.Create(inv, $"load: {o.Gateways} gateways x {o.Devices} meters x {Options.Points.Length} points; backlog {o.Seconds} s per gateway = {o.Batches:N0} batches, {o.Readings:N0} readings, {o.Lines:N0} lines"));
Console.WriteLine(string.Create(inv, $"ingest: batch_points {o.Ingest.BatchPoints}, flush_interval {o.Ingest.FlushInterval.TotalMilliseconds} ms, max_in_flight {o.Ingest.MaxInFlight}; ceiling: {o.CeilingLinesPerPost} lines per POST, {o.CeilingPosters} posters"));

if (o.Pin && Cpu.Allowed(Environment.ProcessId) != Options.ClientCpus)
    throw new InvalidOperationException($"--pin: this process may run on CPUs {Cpu.Allowed(Environment.ProcessId)}, expected {Options.ClientCpus}: start it with bench/ingest/run.sh --pin (taskset -c {Options.ClientCpus})");
if (o.InstanceCpu is not null) CpuCgroup.RemoveStale();
using var work = new TempDir();
await using var influxd = await LocalInfluxd.StartAsync(Path.Combine(work.Path, "influxd"), cpus: o.Pin ? Options.InfluxdCpus : null);
await using var mosquitto = Mosquitto.Start(work.Path, o.Pin ? Options.ClientCpus : null);
Console.WriteLine($"influxd 1.6.7 on {influxd.Url}, mosquitto on 127.0.0.1:{mosquitto.Port}");
Cpu.Pids = (influxd.Pid, mosquitto.Pid);
if (o.InstanceCpu is { } quota) Console.WriteLine(string.Create(inv, $"instances: separate kc-cloud processes, each in its own cgroup (cpu.cfs_quota_us {quota * 100_000:0} of cpu.cfs_period_us 100000 = {quota} CPU); variants: {string.Join(", ", o.Instances.Select(n => $"capped{n}"))}"));
Console.WriteLine($"mode: {(o.Pin ? $"pinned (influxd on CPU {Options.InfluxdCpus}; mosquitto and this process on CPU {Options.ClientCpus})" : "unpinned (all processes share every CPU)")}; {Cpu.AllowedAll()}");

var start = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600 - o.Seconds);
var batches = Enumerable.Range(0, o.Seconds).SelectMany(s => Enumerable.Range(0, o.Gateways).Select(g => Load.Batch(o, g, s, start.AddSeconds(s)))).ToList();
var payloads = batches.Select(b => (Topic: Topics.Telemetry(b.Site, b.Gateway), Payload: TelemetryCodec.Encode(b))).ToList();
Console.WriteLine(string.Create(inv, $"payload: {payloads.Average(p => p.Payload.Length):N0} bytes per batch on average"));

if (o.Receive > 0)
{
    await Receive.RunAsync(mosquitto.Port, payloads, o.Receive);
    return 0;
}

Profile.Run(payloads, o);

// Warm-up, not counted: a long-running ingestor's code is compiled and optimised once; without this, round 1 of ingest1
// would pay for the JIT (its background compiler used ≈ 0.5 s of CPU in the first drain) and the ceiling would not.
if (o.WarmupSeconds > 0)
{
    var warm = payloads.Take(o.WarmupSeconds * o.Gateways).ToList();
    foreach (var n in o.InstanceCpu is null ? new[] { 1, 2 } : []) // capped instances warm up in each variant (a process of their own)
    {
        var (seconds, _) = await Drain.RunAsync(influxd.Url, mosquitto.Port, $"warmup{n}", n, warm, o, profile: false);
        Console.WriteLine(string.Create(inv, $"warm-up (not counted): {n} ingestor(s) drained {warm.Count:N0} batches in {seconds:0.00} s"));
    }
    await Ceiling.RunAsync(influxd.Url, "warmup_ceiling", batches.Take(o.WarmupSeconds * o.Gateways).ToList(), o);
    if (o.DropDatabases)
        foreach (var db in new[] { "warmup_ceiling" }.Concat(o.InstanceCpu is null ? ["warmup1", "warmup2"] : []))
            await Influx.DropAsync(influxd.Url, db);
    await Task.Delay(TimeSpan.FromSeconds(3)); // the runtime's background compiler finishes the methods the warm-up made hot
}

var results = new List<(string Variant, int Round, double Seconds, string Note)>();
// Capped instances drain a warm-up backlog of their own first: other instants, so that every line stays distinct.
var warmCappedBatches = Enumerable.Range(0, o.WarmupSeconds).SelectMany(s => Enumerable.Range(0, o.Gateways).Select(g => Load.Batch(o, g, s, start.AddSeconds(s - o.WarmupSeconds)))).ToList();
var warmCapped = warmCappedBatches.Select(b => (Topic: Topics.Telemetry(b.Site, b.Gateway), Payload: TelemetryCodec.Encode(b))).ToList();
var ofQuota = new List<(string Variant, int Round, double[] OfQuota)>();
for (var round = 1; round <= o.Rounds; round++)
{
    // With --instance-cpu the instances write the load into a database that already holds their warm-up lines (written
    // a few seconds before): the ceiling's database gets the same lines first, untimed, so that influxd starts from the
    // same state in both.
    var (c, cpu) = await Ceiling.RunAsync(influxd.Url, $"ceiling_{round}", batches, o, o.InstanceCpu is null ? null : warmCappedBatches);
    results.Add(("ceiling", round, c, cpu));
    Report(results[^1]);
    if (o.DropDatabases) await Influx.DropAsync(influxd.Url, $"ceiling_{round}");
    foreach (var n in o.InstanceCpu is null ? [] : o.Instances)
    {
        var (seconds, note, of) = await CappedDrain.RunAsync(influxd.Url, mosquitto.Port, work.Path, $"capped{n}_{round}", n, warmCapped, payloads, o);
        results.Add(($"capped{n}", round, seconds, note));
        ofQuota.Add(($"capped{n}", round, of));
        Report(results[^1]);
        if (o.DropDatabases) await Influx.DropAsync(influxd.Url, $"capped{n}_{round}");
    }
    foreach (var n in o.InstanceCpu is null ? new[] { 1, 2 } : [])
    {
        var (seconds, note) = await Drain.RunAsync(influxd.Url, mosquitto.Port, $"ingest{n}_{round}", n, payloads, o);
        results.Add(($"ingest{n}", round, seconds, note));
        Report(results[^1]);
        if (o.DropDatabases) await Influx.DropAsync(influxd.Url, $"ingest{n}_{round}");
    }
}

Console.WriteLine();
Console.WriteLine("| variant | round | seconds | readings/s | lines/s | of ceiling (same round) | note |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (var r in results)
{
    var ceiling = results.Single(x => x.Variant == "ceiling" && x.Round == r.Round).Seconds;
    Console.WriteLine(string.Create(inv, $"| {r.Variant} | {r.Round} | {r.Seconds:0.00} | {o.Readings / r.Seconds:N0} | {o.Lines / r.Seconds:N0} | {ceiling / r.Seconds:0.00} | {r.Note} |"));
}
if (o.InstanceCpu is { } q)
{
    Console.WriteLine();
    Console.WriteLine(string.Create(inv, $"instances with {q} CPU each (cgroup quota); speed against 1 instance of the same round:"));
    Console.WriteLine("| round | ceiling readings/s | " + string.Join(" | ", o.Instances.Select(n => $"{n} instance(s) readings/s | of ceiling | vs 1 instance | CPU of quota per instance")) + " |");
    Console.WriteLine("|---|---|" + string.Concat(o.Instances.Select(_ => "---|---|---|---|")));
    for (var round = 1; round <= o.Rounds; round++)
    {
        var ceiling = results.Single(x => x.Variant == "ceiling" && x.Round == round).Seconds;
        var one = results.SingleOrDefault(x => x.Variant == "capped1" && x.Round == round).Seconds;
        Console.WriteLine(string.Create(inv, $"| {round} | {o.Readings / ceiling:N0} | ") + string.Join(" | ", o.Instances.Select(n =>
        {
            var s = results.Single(x => x.Variant == $"capped{n}" && x.Round == round).Seconds;
            var of = ofQuota.Single(x => x.Variant == $"capped{n}" && x.Round == round).OfQuota;
            return string.Create(inv, $"{o.Readings / s:N0} | {ceiling / s:0.00} | {(one > 0 ? (one / s).ToString("0.00", inv) : "-")} | {string.Join(" / ", of.Select(x => x.ToString("0.00", inv)))}");
        })) + " |");
    }
}

if (o.LatencySeconds > 0)
{
    Console.WriteLine();
    await Latency.RunAsync(influxd.Url, mosquitto.Port, o);
}
Console.WriteLine($"at the end: {Cpu.AllowedAll()}");
return 0;

void Report((string Variant, int Round, double Seconds, string Note) r) =>
    Console.WriteLine(string.Create(inv, $"round {r.Round} {r.Variant,-8} {r.Seconds,7:0.00} s  {o.Readings / r.Seconds,12:N0} readings/s  {o.Lines / r.Seconds,10:N0} lines/s  {r.Note}"));

internal sealed class Options
{
    public static readonly (string Name, string Unit)[] Points = [("energy_import_kwh", "kWh"), ("power_w", "W"), ("voltage_l1_v", "V"), ("current_l1_a", "A"), ("power_factor", "")];

    public int Gateways { get; private set; } = 50;
    public int Devices { get; private set; } = 20;
    public int Seconds { get; private set; } = 200;
    public int Rounds { get; private set; } = 2;
    public int LatencySeconds { get; private set; } = 60;
    /// <summary>Seconds of backlog drained (by 1, then 2 ingestors) and posted (ceiling) before round 1, not counted.</summary>
    public int WarmupSeconds { get; private set; } = 50;
    public int CeilingLinesPerPost { get; private set; } = 5000;
    public int CeilingPosters { get; private set; } = 4;
    /// <summary>When set: only the CPU micro-benchmark of the ingest path, on this many realistic batches; no servers.</summary>
    public int Micro { get; private set; }

    /// <summary>When set: only what receiving the backlog costs, MQTTnet against a minimal receive loop, this many rounds (Receive.cs).</summary>
    public int Receive { get; private set; }
    /// <summary>influxd on <see cref="InfluxdCpus"/> alone; mosquitto and this process on <see cref="ClientCpus"/>.</summary>
    public bool Pin { get; private set; }
    /// <summary>When set: a perf profile (perf record -g) of this process, influxd and mosquitto during each drain, one file per variant here.</summary>
    public string? PerfDir { get; private set; }

    /// <summary>When set: every in-process drain prints when each write to InfluxDB ran and how many writes were at InfluxDB at once.</summary>
    public bool Timeline { get; private set; }

    /// <summary>When set: the in-process ingestors write to a sink that accepts every write at once (nothing reaches influxd): the ingest path's own ceiling.</summary>
    public bool NullSink { get; private set; }
    /// <summary>Drop each variant's database once it is verified: every variant finds influxd holding the same data.</summary>
    public bool DropDatabases { get; private set; }
    public const string InfluxdCpus = "1";
    public const string ClientCpus = "0";
    public IngestConfig Ingest { get; } = new();
    /// <summary>When set: the ingest variants are kc-cloud processes, each in a cgroup with this much of a CPU.</summary>
    public double? InstanceCpu { get; private set; }
    /// <summary>With <see cref="InstanceCpu"/>: the numbers of instances measured, in this order, each round.</summary>
    public int[] Instances { get; private set; } = [1, 2];

    public int Batches => Gateways * Seconds;
    public long Readings => (long)Batches * Devices * Points.Length;
    public long Lines => (long)Batches * Devices;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i += 2)
        {
            if (args[i] is "--pin" or "--drop" or "--timeline" or "--null-sink")
            {
                if (args[i] == "--pin") o.Pin = true;
                else if (args[i] == "--timeline") o.Timeline = true;
                else if (args[i] == "--null-sink") o.NullSink = true;
                else o.DropDatabases = true;
                i--;
                continue;
            }
            if (i + 1 >= args.Length) throw new ArgumentException($"option {args[i]} needs a value");
            var v = args[i + 1];
            int N() => int.Parse(v, CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--gateways": o.Gateways = N(); break;
                case "--devices": o.Devices = N(); break;
                case "--seconds": o.Seconds = N(); break;
                case "--rounds": o.Rounds = N(); break;
                case "--latency-seconds": o.LatencySeconds = N(); break;
                case "--warmup-seconds": o.WarmupSeconds = N(); break;
                case "--ceiling-lines": o.CeilingLinesPerPost = N(); break;
                case "--ceiling-posters": o.CeilingPosters = N(); break;
                case "--batch-points": o.Ingest.BatchPoints = N(); break;
                case "--flush-ms": o.Ingest.FlushInterval = TimeSpan.FromMilliseconds(N()); break;
                case "--max-in-flight": o.Ingest.MaxInFlight = N(); break;
                case "--micro": o.Micro = N(); break;
                case "--receive": o.Receive = N(); break;
                case "--perf": o.PerfDir = Path.GetFullPath(v); break;
                case "--instance-cpu": o.InstanceCpu = double.Parse(v, CultureInfo.InvariantCulture); break;
                case "--instances": o.Instances = [.. v.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture))]; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (o.InstanceCpu is { } q && (q < 0.01 || q > Environment.ProcessorCount)) throw new ArgumentException($"--instance-cpu {q}: a share of one CPU between 0.01 and {Environment.ProcessorCount}");
        if (o.InstanceCpu is not null && o.PerfDir is not null) throw new ArgumentException("--perf records this process, influxd and mosquitto only: not with --instance-cpu");
        if (o.InstanceCpu is not null && (o.Timeline || o.NullSink)) throw new ArgumentException("--timeline and --null-sink apply to the in-process ingestors only: not with --instance-cpu");
        return o;
    }
}

internal static class Load
{
    /// <summary>One gateway's batch for one second: every meter with all its points at one instant (one line per meter).</summary>
    public static TelemetryBatch Batch(Options o, int g, long seq, DateTimeOffset t) => new()
    {
        Site = $"site-{g / 10:D2}",
        Gateway = $"gw-{g:D3}",
        Sequence = seq,
        Sent = t,
        Devices = [.. Enumerable.Range(0, o.Devices).Select(d => new DeviceInfo { Id = $"meter-{d:D2}", Class = DeviceClasses.Meter, Kiln = $"kiln-{d:D2}" })],
        Readings = [.. Enumerable.Range(0, o.Devices).SelectMany(d => Options.Points.Select((p, k) =>
            new Reading { Device = $"meter-{d:D2}", Point = p.Name, Timestamp = t, Value = Math.Round((seq * 0.37) + (d * 10) + k + 0.125, 3), Unit = p.Unit }))],
    };
}

internal static class Ceiling
{
    /// <summary>The same lines the ingestor writes, posted straight to /write; returns seconds from first POST to last answer.</summary>
    /// <param name="before">Lines written into the database first, untimed, about as long before as an instance's warm-up.</param>
    public static async Task<(double Seconds, string Cpu)> RunAsync(string url, string db, List<TelemetryBatch> batches, Options o, List<TelemetryBatch>? before = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri(url + "/"), Timeout = TimeSpan.FromMinutes(5) };
        await Influx.CreateAsync(http, db);
        var expected = 0L;
        if (before is not null)
        {
            var early = Bodies(before, o);
            foreach (var body in early.Bodies) await PostAsync(http, db, body);
            expected += early.Lines;
            await Task.Delay(TimeSpan.FromSeconds(5)); // as an instance: 3 s, then the backlog is published, then 0.5 s
        }
        var (bodies, lines) = Bodies(batches, o);
        expected += lines;
        var next = -1;
        var cpu = Cpu.Now();
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, o.CeilingPosters).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < bodies.Count) await PostAsync(http, db, bodies[i]);
        }));
        var seconds = sw.Elapsed.TotalSeconds;
        var used = Cpu.Since(cpu);
        var now = Stopwatch.GetTimestamp();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{db}: drain from {(now - (long)(seconds * Stopwatch.Frequency)) / (double)Stopwatch.Frequency:0.000000} to {now / (double)Stopwatch.Frequency:0.000000} s (CLOCK_MONOTONIC)"));
        await Influx.AssertCountAsync(url, db, expected);
        return (seconds, used);
    }

    /// <summary>The batches' lines as POST bodies of <see cref="Options.CeilingLinesPerPost"/> lines each.</summary>
    private static (List<byte[]> Bodies, long Lines) Bodies(List<TelemetryBatch> batches, Options o)
    {
        var lines = batches.SelectMany(LineProtocol.FromBatch).Select(p => p.ToLineProtocol()).ToList();
        return (lines.Chunk(o.CeilingLinesPerPost).Select(c => Encoding.UTF8.GetBytes(string.Join('\n', c) + "\n")).ToList(), lines.Count);
    }

    private static async Task PostAsync(HttpClient http, string db, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        using var r = await http.PostAsync(new Uri($"write?db={db}&precision=ms", UriKind.Relative), content);
        if (r.StatusCode != HttpStatusCode.NoContent) throw new InvalidOperationException($"ceiling write answered {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
    }
}

/// <summary>A sink that takes every write at once and keeps nothing (the ingestor still counts what it wrote).</summary>
internal sealed class Accepting(ITimeSeriesSink inner) : ITimeSeriesSink
{
    public Task PrepareAsync(CancellationToken ct) => inner.PrepareAsync(ct);

    public Task WriteAsync(IReadOnlyList<InfluxDB.Client.Writes.PointData> points, CancellationToken ct) => Task.CompletedTask;

    public Task WriteLinesAsync(IReadOnlyList<ReadOnlyMemory<byte>> chunks, InfluxDB.Client.Api.Domain.WritePrecision precision, CancellationToken ct) => Task.CompletedTask;

    public string Describe() => "accepting sink";

    public void Dispose() => inner.Dispose();
}

internal static class Drain
{
    /// <summary>
    /// Ingestors subscribe once (creating their sessions) and go away; the whole load is published; then they come back
    /// and the clock runs from their start until InfluxDB has accepted every line.
    /// </summary>
    public static async Task<(double Seconds, string Note)> RunAsync(string url, int mqttPort, string db, int instances, List<(string Topic, byte[] Payload)> payloads, Options o, bool profile = true)
    {
        var ids = Enumerable.Range(1, instances).Select(k => $"{db}-{k}").ToList();
        var mqtt = ids.Select(id => new MqttConfig { Url = $"mqtt://127.0.0.1:{mqttPort}", ClientId = id, SharedGroup = instances > 1 ? db : null }).ToList();

        // 1. Sessions and subscriptions exist at the broker.
        await using (var first = await Instances.StartAsync(url, db, mqttPort, mqtt, o))
        {
        }
        // 2. The backlog: every batch, published at QoS 1, each gateway on its own connection, in order.
        var pub = Stopwatch.StartNew();
        await Publisher.PublishAllAsync(mqttPort, payloads);
        var publishSeconds = pub.Elapsed.TotalSeconds;
        // 3. The ingestors come back and drain it.
        using var perf = o.PerfDir is null || !profile ? null : Perf.Start(Path.Combine(o.PerfDir, db + ".data"));
        var cpu = Cpu.Now();
        var threads = Cpu.Threads();
        var sw = Stopwatch.StartNew();
        var timeline = o.Timeline && profile ? new Timeline(sw) : null;
        using var httpEvents = timeline?.ListenToHttp();
        var accept = o.NullSink && profile;
        Func<ITimeSeriesSink, ITimeSeriesSink>? wrap = accept || timeline is not null
            ? s => timeline is null ? new Accepting(s) : timeline.Wrap(accept ? new Accepting(s) : s)
            : null;
        await using var run = await Instances.StartAsync(url, db, mqttPort, mqtt, o, wrap);
        using var sampler = timeline?.Sample(() => run.Messages);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(15);
        var lines = (long)payloads.Count * o.Devices;
        while (run.PointsWritten < lines)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{db}: only {run.PointsWritten} of {lines} lines written: {run.Describe()}");
            await Task.Delay(5);
        }
        var seconds = sw.Elapsed.TotalSeconds;
        var used = Cpu.Since(cpu);
        perf?.Dispose();
        if (!accept) await Influx.AssertCountAsync(url, db, lines);
        if (timeline is not null) Console.WriteLine($"timeline {db}: {timeline.Describe(seconds)}");
        return (seconds, $"{used}; threads: {Cpu.ThreadsSince(threads)}; {run.Describe()}; backlog published in {publishSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
    }
}

/// <summary>Ingestors writing through the v1 transport into one database.</summary>
internal sealed class Instances : IAsyncDisposable
{
    private readonly List<(Ingestor Ingestor, InfluxV1Sink Sink, Task Run)> _all = [];
    private readonly CancellationTokenSource _stop = new();

    public static async Task<Instances> StartAsync(string url, string db, int mqttPort, List<MqttConfig> mqtt, Options o, Func<ITimeSeriesSink, ITimeSeriesSink>? wrap = null)
    {
        var x = new Instances();
        foreach (var m in mqtt)
        {
            var sink = new InfluxV1Sink(new InfluxConfig { Url = url, Database = db }, password: null);
            await sink.PrepareAsync(default);
            var ingestor = new Ingestor("127.0.0.1", mqttPort, m, null, wrap?.Invoke(sink) ?? sink, o.Ingest, NullLogger.Instance);
            x._all.Add((ingestor, sink, ingestor.RunAsync(x._stop.Token)));
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!x._all.All(i => i.Ingestor.IsConnected))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the ingestors did not connect");
            await Task.Delay(5);
        }
        return x;
    }

    public long PointsWritten => _all.Sum(i => i.Ingestor.Stats.PointsWritten);

    public long Messages => _all.Sum(i => i.Ingestor.Stats.Messages);

    public string Describe() => string.Join("; ", _all.Select(i => $"{i.Ingestor.Stats.Messages} msgs, {i.Ingestor.Stats.Batches} writes"));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var i in _all)
        {
            await i.Run;
            await i.Ingestor.DisposeAsync();
            i.Sink.Dispose();
        }
        _stop.Dispose();
    }
}

internal static class Publisher
{
    public static async Task<IMqttClient> ConnectAsync(int port, string id)
    {
        var c = new MqttClientFactory().CreateMqttClient();
        await c.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(id).WithCleanStart(true)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build());
        return c;
    }

    public static async Task PublishAsync(IMqttClient c, string topic, byte[] payload)
    {
        var r = await c.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        if (!r.IsSuccess) throw new InvalidOperationException($"publish to {topic}: {r.ReasonCode}");
    }

    /// <summary>
    /// Publishes everything at QoS 1 as gateways do: one connection per gateway (topic), its batches in order, each
    /// after the broker acknowledged the one before; all gateways at once. So every meter's lines reach InfluxDB in time
    /// order, as the ceiling posts them. (Before, 10 clients each published up to 50 at a time, which could reorder a
    /// gateway's batches.)
    /// </summary>
    public static async Task PublishAllAsync(int port, List<(string Topic, byte[] Payload)> payloads)
    {
        await Task.WhenAll(payloads.GroupBy(p => p.Topic).Select(async (gateway, k) =>
        {
            using var c = await ConnectAsync(port, $"bench-pub-{k}");
            foreach (var (topic, payload) in gateway) await PublishAsync(c, topic, payload);
            await c.DisconnectAsync();
        }));
    }
}

internal static class Latency
{
    /// <summary>Live load: each gateway publishes one batch per second stamped "now"; one ingestor with the default settings.</summary>
    public static async Task RunAsync(string url, int mqttPort, Options o)
    {
        const string db = "latency";
        var sink = (Recording?)null;
        var mqtt = new List<MqttConfig> { new() { Url = $"mqtt://127.0.0.1:{mqttPort}", ClientId = "latency-1" } };
        var live = new Options();
        await using var run = await Instances.StartAsync(url, db, mqttPort, mqtt, live, s => sink = new Recording(s));
        var clients = await Task.WhenAll(Enumerable.Range(0, o.Gateways).Select(g => Publisher.ConnectAsync(mqttPort, $"live-gw-{g:D3}")));
        var t0 = DateTime.UtcNow;
        var sent = 0L;
        // Each gateway on its own 1 s tick, spread over the second as real gateways would be.
        await Task.WhenAll(Enumerable.Range(0, o.Gateways).Select(async g =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1000.0 * g / o.Gateways));
            using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1));
            for (var s = 0; s < o.LatencySeconds; s++)
            {
                var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                var b = Load.Batch(o, g, s, now);
                await Publisher.PublishAsync(clients[g], Topics.Telemetry(b.Site, b.Gateway), TelemetryCodec.Encode(b));
                Interlocked.Add(ref sent, o.Devices);
                await tick.WaitForNextTickAsync();
            }
        }));
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (run.PointsWritten < sent && DateTime.UtcNow < deadline) await Task.Delay(10);
        var elapsed = (DateTime.UtcNow - t0).TotalSeconds;
        foreach (var c in clients)
        {
            await c.DisconnectAsync();
            c.Dispose();
        }
        await Influx.AssertCountAsync(url, db, sent);
        var ms = sink!.LatenciesMs();
        ms.Sort();
        double P(double q) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"latency (live: {o.Gateways} gateways x {o.Devices} meters x {Options.Points.Length} points, 1 batch per gateway per second, {o.LatencySeconds} s, {sent * Options.Points.Length / elapsed:N0} readings/s offered; default ingest settings): " +
            $"{ms.Count:N0} lines, p50 {P(0.50):0} ms, p90 {P(0.90):0} ms, p99 {P(0.99):0} ms, max {ms[^1]:0} ms; {run.Describe()}"));
    }

    /// <summary>Passes writes on and notes, for every data line, how long after its timestamp InfluxDB accepted it.</summary>
    private sealed class Recording(ITimeSeriesSink inner) : ITimeSeriesSink
    {
        private readonly List<double> _ms = [];

        public Task PrepareAsync(CancellationToken ct) => inner.PrepareAsync(ct);

        public async Task WriteAsync(IReadOnlyList<PointData> points, CancellationToken ct)
        {
            await inner.WriteAsync(points, ct);
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            lock (_ms)
            {
                foreach (var p in points)
                {
                    if (p.Precision != InfluxDB.Client.Api.Domain.WritePrecision.Ms) continue; // dead letters
                    var line = p.ToLineProtocol();
                    _ms.Add(now - long.Parse(line.AsSpan(line.LastIndexOf(' ') + 1), CultureInfo.InvariantCulture));
                }
            }
        }

        public async Task WriteLinesAsync(IReadOnlyList<ReadOnlyMemory<byte>> chunks, InfluxDB.Client.Api.Domain.WritePrecision precision, CancellationToken ct)
        {
            await inner.WriteLinesAsync(chunks, precision, ct);
            if (precision != InfluxDB.Client.Api.Domain.WritePrecision.Ms) return; // dead letters
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            lock (_ms)
            {
                foreach (var chunk in chunks)
                {
                    foreach (var line in Encoding.UTF8.GetString(chunk.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                        _ms.Add(now - long.Parse(line.AsSpan(line.LastIndexOf(' ') + 1), CultureInfo.InvariantCulture));
                }
            }
        }

        public List<double> LatenciesMs()
        {
            lock (_ms) return [.. _ms];
        }

        public string Describe() => inner.Describe();

        public void Dispose() => inner.Dispose();
    }
}

/// <summary>
/// Time of each step of the ingest path on one thread, message by message as the ingestor does it, without MQTT or HTTP:
/// where a slow ingest goes. CPU time of the whole loop beside it (the machine may be shared).
/// </summary>
internal static class Profile
{
    public static void Run(List<(string Topic, byte[] Payload)> payloads, Options o)
    {
        for (var warm = 0; warm < 2; warm++)
        {
            long decode = 0, build = 0, text = 0, bytes = 0, fast = 0;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            var sb = new StringBuilder(1 << 20);
            foreach (var (_, payload) in payloads)
            {
                var t0 = Stopwatch.GetTimestamp();
                var batch = TelemetryCodec.Decode(payload);
                var t1 = Stopwatch.GetTimestamp();
                var points = LineProtocol.FromBatch(batch);
                var t2 = Stopwatch.GetTimestamp();
                foreach (var p in points) sb.Append(p.ToLineProtocol()).Append('\n');
                if (sb.Length > 900_000)
                {
                    bytes += Encoding.UTF8.GetByteCount(sb.ToString());
                    sb.Clear();
                }
                var t3 = Stopwatch.GetTimestamp();
                using (var lines = new LineBuffer(payload.Length / 2))
                {
                    if (!TelemetryLines.TryWrite(payload, DateTimeOffset.UtcNow, lines, out _, out _, out _)) throw new InvalidOperationException("the fast path refused a benchmark batch");
                }
                fast += Stopwatch.GetTimestamp() - t3;
                decode += t1 - t0;
                build += t2 - t1;
                text += t3 - t2;
            }
            bytes += Encoding.UTF8.GetByteCount(sb.ToString());
            var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            if (warm == 0) continue;
            double S(long ticks) => (double)ticks / Stopwatch.Frequency;
            double Us(long ticks) => S(ticks) * 1e6 / o.Readings;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"profile (one thread, message by message, after warm-up; {wall.Elapsed.TotalSeconds:0.00} s wall, {cpuSeconds:0.00} s CPU of the process): " +
                $"JSON decode+validate {Us(decode):0.00} µs/reading, PointData build {Us(build):0.00} µs/reading, line protocol text {Us(text):0.00} µs/reading (together {Us(decode + build + text):0.00}); " +
                $"the ingestor's path (TelemetryLines: decode+validate+line protocol in one pass) {Us(fast):0.00} µs/reading; {bytes / o.Lines} bytes per line"));
        }
    }
}

internal static class Influx
{
    public static async Task CreateAsync(HttpClient http, string db)
    {
        using var body = new FormUrlEncodedContent([new("q", $"CREATE DATABASE \"{db}\"")]);
        using var r = await http.PostAsync(new Uri("query", UriKind.Relative), body);
        r.EnsureSuccessStatusCode();
    }

    /// <summary>Removes a database once its variant is verified, so that every variant finds influxd in the same state.</summary>
    public static async Task DropAsync(string url, string db)
    {
        using var http = new HttpClient { BaseAddress = new Uri(url + "/"), Timeout = TimeSpan.FromMinutes(2) };
        using var body = new FormUrlEncodedContent([new("q", $"DROP DATABASE \"{db}\"")]);
        using var r = await http.PostAsync(new Uri("query", UriKind.Relative), body);
        r.EnsureSuccessStatusCode();
    }

    /// <summary>Every line is there: the benchmark counts only complete, verified runs.</summary>
    public static async Task AssertCountAsync(string url, string db, long lines)
    {
        var n = await CountAsync(url, db);
        if (n != lines) throw new InvalidOperationException($"{db}: InfluxDB holds {n} lines, expected {lines}");
    }

    public static async Task<long> CountAsync(string url, string db)
    {
        using var q = new InfluxQlClient(url, db, timeout: TimeSpan.FromMinutes(2));
        var s = await q.QueryAsync("SELECT count(power_w) FROM meter");
        return s.Count == 0 ? 0 : (long)s[0].Numbers("count").Single()!.Value;
    }
}

/// <summary>mosquitto on a free loopback port: no persistence file (sessions are in memory), no queue limits.</summary>
internal sealed class Mosquitto : IAsyncDisposable
{
    private readonly Process _p;

    private Mosquitto(Process p, int port)
    {
        _p = p;
        Port = port;
    }

    public int Port { get; }

    public int Pid => _p.Id;

    /// <param name="cpus">When set, mosquitto runs only on these CPUs (taskset list).</param>
    public static Mosquitto Start(string dir, string? cpus = null)
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var conf = Path.Combine(dir, "mosquitto.conf");
        File.WriteAllText(conf, $"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\n");
        var psi = cpus is null ? new ProcessStartInfo("/usr/sbin/mosquitto", ["-c", conf]) : new ProcessStartInfo("/usr/bin/taskset", ["-c", cpus, "/usr/sbin/mosquitto", "-c", conf]);
        psi.UseShellExecute = false;
        var p = Process.Start(psi) ?? throw new InvalidOperationException("mosquitto did not start");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }
        }
        return new Mosquitto(p, port);
    }

    public async ValueTask DisposeAsync()
    {
        _p.Kill();
        await _p.WaitForExitAsync();
        _p.Dispose();
    }
}

/// <summary>perf record of this process, influxd and mosquitto until disposed (start with DOTNET_PerfMapEnabled=1 for .NET frames).</summary>
internal sealed class Perf : IDisposable
{
    private readonly Process _p;

    private Perf(Process p) => _p = p;

    public static Perf Start(string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var pids = $"{Environment.ProcessId},{Cpu.Pids.Influxd},{Cpu.Pids.Mosquitto}";
        var p = Process.Start(new ProcessStartInfo("perf", ["record", "-q", "-g", "-F", "1999", "-p", pids, "-o", file]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("perf did not start");
        Thread.Sleep(500); // perf attaches to every thread before the clock starts
        return new Perf(p);
    }

    private bool _stopped;

    public void Dispose()
    {
        if (_stopped) return;
        _stopped = true;
        using (var kill = Process.Start("kill", ["-INT", _p.Id.ToString(CultureInfo.InvariantCulture)])) kill?.WaitForExit();
        _p.WaitForExit();
        _p.Dispose();
    }
}

internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("kc-bench-ingest-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// CPU cost per reading of the ingest path on one thread, no servers: the old path (TelemetryCodec.Decode into Reading
/// objects, LineProtocol.FromBatch into PointData, PointData.ToLineProtocol, UTF-8) against the ingestor's path
/// (TelemetryLines.TryWrite, one pass into a pooled UTF-8 buffer), on realistic batches: 20 meters × 10 points at one
/// instant per batch. Also the bytes allocated per reading.
/// </summary>
internal static class Micro
{
    private static readonly (string Name, string Unit)[] Points =
    [
        ("energy_import_kwh", "kWh"), ("energy_export_kwh", "kWh"), ("power_w", "W"), ("power_l1_w", "W"), ("power_l2_w", "W"),
        ("power_l3_w", "W"), ("voltage_l1_v", "V"), ("current_l1_a", "A"), ("frequency_hz", "Hz"), ("power_factor", ""),
    ];

    public static void Run(int messages)
    {
        var t0 = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600);
        var payloads = Enumerable.Range(0, messages).Select(i => TelemetryCodec.Encode(new TelemetryBatch
        {
            Site = "bat-trang",
            Gateway = $"gw-{i % 50:D3}",
            Sequence = i,
            Sent = t0.AddSeconds(i),
            Devices = [.. Enumerable.Range(0, 20).Select(d => new DeviceInfo { Id = $"meter-{d:D2}", Class = DeviceClasses.Meter, Kiln = d % 2 == 0 ? $"kiln-{d / 2}" : null, Profile = "eastron-sdm630" })],
            Readings = [.. Enumerable.Range(0, 20).SelectMany(d => Points.Select((p, k) =>
                new Reading { Device = $"meter-{d:D2}", Point = p.Name, Timestamp = t0.AddSeconds(i), Value = Math.Round((i * 0.37) + (d * 10) + k + 0.125, 3), Unit = p.Unit }))],
        })).ToList();
        var readings = (double)messages * 200;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"micro: {messages:N0} batches of 20 meters x 10 points ({payloads.Average(p => p.Length):N0} bytes of JSON each), {readings:N0} readings, one thread"));
        double gzipUs, gzipRatio;
        for (var rep = 0; rep < 5; rep++)
        {
            var (oldUs, oldAlloc, oldBytes) = Measure(payloads, readings, p =>
            {
                var sb = new StringBuilder();
                foreach (var point in LineProtocol.FromBatch(TelemetryCodec.Decode(p))) sb.Append(point.ToLineProtocol()).Append('\n');
                return Encoding.UTF8.GetByteCount(sb.ToString());
            });
            var (newUs, newAlloc, newBytes) = Measure(payloads, readings, p =>
            {
                using var lines = new LineBuffer(p.Length / 2);
                if (!TelemetryLines.TryWrite(p, DateTimeOffset.UtcNow, lines, out _, out _, out _)) throw new InvalidOperationException("refused");
                return lines.Length;
            });
            if (oldBytes != newBytes)
            {
                throw new InvalidOperationException($"the two paths wrote {oldBytes} and {newBytes} bytes");
            }
            // What gzip on the write would add: compressing the same lines, 5,000 per body as the ingestor writes them.
            var body = new MemoryStream();
            using (var all = new LineBuffer(1 << 20))
            {
                foreach (var p in payloads.Take(250)) TelemetryLines.TryWrite(p, DateTimeOffset.UtcNow, all, out _, out _, out _);
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                for (var k = 0; k < payloads.Count / 250; k++)
                {
                    body.SetLength(0);
                    using var gz = new System.IO.Compression.GZipStream(body, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true);
                    gz.Write(all.Span);
                }
                gzipUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / readings;
                gzipRatio = (double)all.Length / body.Length;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"rep {rep + 1}: old path (Decode + FromBatch + ToLineProtocol) {oldUs:0.000} µs CPU/reading, {oldAlloc:0} B allocated/reading; " +
                $"TelemetryLines {newUs:0.000} µs CPU/reading, {newAlloc:0.0} B allocated/reading; {oldUs / newUs:0.0}x; " +
                $"gzip (fastest) of the lines would add {gzipUs:0.000} µs CPU/reading for {gzipRatio:0.0}x smaller bodies"));
        }
    }

    private static (double UsPerReading, double BytesPerReading, long Output) Measure(List<byte[]> payloads, double readings, Func<byte[], int> step)
    {
        long output = 0;
        var alloc = GC.GetAllocatedBytesForCurrentThread();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        foreach (var p in payloads) output += step(p);
        var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        return (cpuUs / readings, (GC.GetAllocatedBytesForCurrentThread() - alloc) / readings, output);
    }
}

/// <summary>CPU seconds used by this process (the ingestors or the ceiling's posters), influxd and mosquitto.</summary>
internal static class Cpu
{
    public static (int Influxd, int Mosquitto) Pids { get; set; }

    public static (double Self, double Influxd, double Mosquitto, TimeSpan GcPause, int Gc0, int Gc2) Now() =>
        (Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, Of(Pids.Influxd), Of(Pids.Mosquitto), GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(2));

    public static string Since((double Self, double Influxd, double Mosquitto, TimeSpan GcPause, int Gc0, int Gc2) before)
    {
        var now = Now();
        return string.Create(CultureInfo.InvariantCulture,
            $"CPU s: this process {now.Self - before.Self:0.00} (GC pauses {(now.GcPause - before.GcPause).TotalSeconds:0.00} s, {now.Gc0 - before.Gc0} gen0, {now.Gc2 - before.Gc2} gen2), influxd {now.Influxd - before.Influxd:0.00}, mosquitto {now.Mosquitto - before.Mosquitto:0.00}");
    }

    /// <summary>CPU seconds of this process's threads by thread name, for where the ingestor's CPU goes.</summary>
    public static Dictionary<string, double> Threads() => ThreadsOf(Environment.ProcessId).ToDictionary(kv => kv.Key, kv => kv.Value.Cpu);

    public static string ThreadsSince(Dictionary<string, double> before) =>
        string.Join(", ", Threads().Select(kv => (kv.Key, S: kv.Value - before.GetValueOrDefault(kv.Key))).Where(x => x.S >= 0.05).OrderByDescending(x => x.S)
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Key} {x.S:0.00}")));

    /// <summary>The CPUs the threads of a process may run on (Cpus_allowed_list of each /proc/&lt;pid&gt;/task/*/status), distinct values joined by " | ".</summary>
    public static string Allowed(int pid)
    {
        var lists = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var t in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(t, "status")))
                    if (line.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)) lists.Add(line["Cpus_allowed_list:".Length..].Trim());
            }
            catch (IOException)
            {
            }
        }
        return string.Join(" | ", lists);
    }

    private static int ThreadCount(int pid) => Directory.GetDirectories($"/proc/{pid}/task").Length;

    public static string AllowedAll() =>
        $"Cpus_allowed_list (every thread, from /proc): this process {Allowed(Environment.ProcessId)} ({ThreadCount(Environment.ProcessId)} threads), " +
        $"influxd {Allowed(Pids.Influxd)} ({ThreadCount(Pids.Influxd)} threads), mosquitto {Allowed(Pids.Mosquitto)}";

    /// <summary>System (kernel) CPU seconds of a process so far.</summary>
    public static double SystemOf(int pid) => Stat($"/proc/{pid}/stat").System;

    /// <summary>User and system CPU seconds of a process so far.</summary>
    public static double CpuOf(int pid)
    {
        var s = Stat($"/proc/{pid}/stat");
        return s.User + s.System;
    }

    /// <summary>Minor page faults of a process so far (every thread, ended ones too): pages it touched for the first time.</summary>
    public static long MinorFaultsOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7], CultureInfo.InvariantCulture);
    }

    /// <summary>Context switches (voluntary and not) of a process's live threads so far.</summary>
    public static long SwitchesOf(int pid) => ThreadsOf(pid).Values.Sum(t => t.Switches);

    /// <summary>Context switches and CPU seconds by thread name (threads of one name summed) of a process's live threads.</summary>
    public static Dictionary<string, (long Switches, double Cpu)> ThreadsOf(int pid)
    {
        var d = new Dictionary<string, (long Switches, double Cpu)>();
        foreach (var t in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var (name, user, system) = Stat(Path.Combine(t, "stat"));
                var n = File.ReadLines(Path.Combine(t, "status"))
                    .Where(l => l.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || l.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    .Sum(l => long.Parse(l[(l.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture));
                var (s0, c0) = d.GetValueOrDefault(name);
                d[name] = (s0 + n, c0 + user + system);
            }
            catch (IOException)
            {
                // the thread ended meanwhile
            }
        }
        return d;
    }

    /// <summary>The threads with the most context switches since <paramref name="before"/>: "name switches/CPU s".</summary>
    public static string ThreadsOfSince(int pid, Dictionary<string, (long Switches, double Cpu)> before) =>
        string.Join(", ", ThreadsOf(pid).Select(kv => (kv.Key, S: kv.Value.Switches - before.GetValueOrDefault(kv.Key).Switches, C: kv.Value.Cpu - before.GetValueOrDefault(kv.Key).Cpu))
            .Where(x => x.S > 100).OrderByDescending(x => x.S).Take(5).Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Key} {x.S:N0}/{x.C:0.00}")));

    /// <summary>User + system CPU seconds of a process so far.</summary>
    private static double Of(int pid)
    {
        var (_, user, system) = Stat($"/proc/{pid}/stat");
        return user + system;
    }

    /// <summary>Name, user and system CPU seconds from a /proc …/stat file.</summary>
    private static (string Name, double User, double System) Stat(string path)
    {
        var stat = File.ReadAllText(path);
        var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')], long.Parse(f[11], CultureInfo.InvariantCulture) / 100.0, long.Parse(f[12], CultureInfo.InvariantCulture) / 100.0);
    }
}
