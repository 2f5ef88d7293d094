using System.Buffers;
using System.Text;
using System.Threading.Channels;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Contracts;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Cloud.Ingest;

/// <summary>
/// Subscribes to every gateway's telemetry and status, validates each message against the wire contract, writes it to
/// InfluxDB, and acknowledges the MQTT message only after InfluxDB has accepted its points. While InfluxDB is down
/// nothing is acknowledged: the broker keeps the messages in the ingestor's persistent session and they are written
/// when it returns. A message that breaks the contract, or whose points InfluxDB refuses, is dead-lettered (counted,
/// logged with its reason, and stored in the <c>rejected</c> measurement) and acknowledged, so it never blocks the rest.
/// </summary>
public sealed class Ingestor : IAsyncDisposable
{
    public const string RejectedMeasurement = "rejected";

    /// <summary>The <c>kind</c> tag of a dead letter whose gateway may not write its site (see <see cref="Registry"/>).</summary>
    public const string UnauthorizedKind = "unauthorized";

    private readonly Func<(string Host, int Port)> _broker;
    private readonly MqttConfig? _mqtt;
    private readonly string? _password;
    private readonly ArrayPool<byte> _payloads;
    private MqttReceiver? _receiver;
    private readonly ITimeSeriesSink _sink;
    private readonly IngestConfig _cfg;
    private readonly IReadOnlyList<string> _filters;
    private readonly ILogger _log;
    private readonly Channel<Inbound> _inbox;
    private readonly List<(long Target, TaskCompletionSource Done)> _waiters = [];
    private (string Host, int Port) _endpoint;
    // Counts connection attempts. A message remembers the connection it came on: acknowledging it on a later connection
    // would send its packet id to a session where the broker may have given that id to another message.
    private int _connection;
    // The connection whose subscriptions the broker granted (0: none yet).
    private int _subscribedOn;

    /// <summary>An ingestor for the broker at <paramref name="brokerHost"/>:<paramref name="brokerPort"/>.</summary>
    /// <param name="mqtt">Client id, credentials, TLS (mqtts), subscriptions, shared group; null for the embedded broker's defaults.</param>
    /// <param name="password">The broker password (read from the configured secret), or null.</param>
    public Ingestor(string brokerHost, int brokerPort, MqttConfig? mqtt, string? password, ITimeSeriesSink sink, IngestConfig cfg, ILogger log)
        : this(() => (brokerHost, brokerPort), mqtt, password, sink, cfg, log)
    {
    }

    /// <summary>An ingestor whose broker address is looked up at each connection attempt (an embedded broker on port 0).</summary>
    public Ingestor(Func<(string Host, int Port)> broker, MqttConfig? mqtt, string? password, ITimeSeriesSink sink, IngestConfig cfg, ILogger log)
    {
        _broker = broker;
        _mqtt = mqtt;
        _password = password;
        _sink = sink;
        _cfg = cfg;
        _log = log;
        var filters = mqtt?.Subscriptions is { Count: > 0 } f ? f : MqttDefaults.Subscriptions;
        _filters = [.. filters.Select(x => mqtt?.SharedGroup is { } g ? $"$share/{g}/{x}" : x)];
        _inbox = Channel.CreateBounded<Inbound>(new BoundedChannelOptions(cfg.MaxInFlight) { SingleReader = true });
        // Payloads wait in these arrays until their message is acknowledged: at most max_in_flight of them at once.
        _payloads = ArrayPool<byte>.Create(MqttReceiver.MaxPooledPayload, cfg.MaxInFlight + 16);
    }

    /// <summary>
    /// Waiting here is the back-pressure: the receiver reads no further message until there is room (and, with receive
    /// maximum, the broker sends no more than max_in_flight unacknowledged messages anyway).
    /// </summary>
    private ValueTask OnMessage(ReceivedMessage m, CancellationToken connectionClosed)
    {
        Stats.Message();
        return _inbox.Writer.WriteAsync(new Inbound(m, Volatile.Read(ref _connection)), connectionClosed);
    }

    public IngestStats Stats { get; } = new();

    /// <summary>
    /// Who may write which site. With it, a message whose site and gateway (topic, and payload for telemetry) the
    /// registry refuses is dead-lettered as <c>unauthorized</c>; without it, any gateway may write any site.
    /// </summary>
    public SiteRegistry? Registry { get; init; }

    /// <summary>
    /// Connected and subscribed: only then does the broker route messages to this ingestor. Between CONNACK and SUBACK
    /// a first-time session has no subscription, and the broker drops what is published meanwhile.
    /// </summary>
    public bool IsConnected => _receiver is { IsConnected: true } && Volatile.Read(ref _subscribedOn) == Volatile.Read(ref _connection);

    /// <summary>The topic filters subscribed to, with the shared-subscription prefix when a group is configured.</summary>
    public IReadOnlyList<string> Subscriptions => _filters;

    /// <summary>Completes once at least <paramref name="points"/> points have been written since start.</summary>
    public Task WaitForPointsAsync(long points, CancellationToken ct)
    {
        lock (_waiters)
        {
            if (Stats.PointsWritten >= points) return Task.CompletedTask;
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((points, tcs));
            return tcs.Task.WaitAsync(ct);
        }
    }

    /// <summary>
    /// Connects (and reconnects, with capped exponential back-off and jitter), consumes and writes until
    /// <paramref name="ct"/> is cancelled. Faults only when the consumer itself fails (a bug): then nothing more would be
    /// written, so the service must stop rather than look healthy.
    /// </summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var consumer = ConsumeAsync(stop.Token);
        var connection = ConnectionLoopAsync(stop.Token);
        if (await Task.WhenAny(consumer, connection).ConfigureAwait(false) == consumer && consumer.IsFaulted)
            _log.LogCritical(consumer.Exception!.InnerException, "The ingest consumer failed; stopping");
        await stop.CancelAsync().ConfigureAwait(false);
        await connection.ConfigureAwait(false);
        _inbox.Writer.TryComplete();
        try
        {
            await consumer.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private MqttReceiver.Options BuildOptions()
    {
        _endpoint = _broker();
        var tls = _mqtt is not null && _mqtt.Url.StartsWith("mqtts:", StringComparison.Ordinal) ? Tls() : null;
        return new MqttReceiver.Options(_endpoint.Host, _endpoint.Port, ClientId, _mqtt?.Username,
            _mqtt?.Username is null ? null : _password ?? "", (uint)(_mqtt?.SessionExpiry ?? TimeSpan.FromDays(1)).TotalSeconds,
            (ushort)Math.Min(_cfg.MaxInFlight, ushort.MaxValue), KeepAliveSeconds, tls, TimeSpan.FromSeconds(10));
    }

    /// <summary>PINGREQ every half of it when idle; a broker silent for one and a half of it is taken as gone.</summary>
    internal const ushort KeepAliveSeconds = 15;

    /// <summary>
    /// Send and receive buffer of the broker connection: room for several of the largest payloads, so that a backlog
    /// streams (an 8 KB buffer capped the TCP window below one telemetry batch; Linux caps it at net.core.rmem_max).
    /// </summary>
    internal const int SocketBufferBytes = 4 * TelemetryCodec.MaxPayloadBytes;

    /// <summary>What one read from the broker connection asks the socket for: a backlog of 13 KB messages comes in few reads.</summary>
    internal const int ReadBufferBytes = 64 * 1024;

    /// <summary>The directory <see cref="MqttTlsConfig"/> paths are relative to (the config file's).</summary>
    public string ConfigDir { get; init; } = ".";

    private MqttReceiver.TlsSettings Tls()
    {
        if (_mqtt?.Tls is not { } tls) return new MqttReceiver.TlsSettings(null, null);
        System.Security.Cryptography.X509Certificates.X509Certificate2Collection? trust = null;
        if (tls.CaFile is { } ca)
        {
            trust = [];
            trust.ImportFromPemFile(Path.GetFullPath(ca, ConfigDir));
        }
        var cert = tls.CertFile is { } c && tls.KeyFile is { } key
            ? System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(Path.GetFullPath(c, ConfigDir), Path.GetFullPath(key, ConfigDir))
            : null;
        return new MqttReceiver.TlsSettings(trust, cert);
    }

    private async Task ConnectionLoopAsync(CancellationToken ct)
    {
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (_receiver is not { IsConnected: true })
                {
                    if (_receiver is { } old)
                    {
                        if (old.Failure is { } why) _log.LogWarning("Ingestor lost the broker at {Host}:{Port}: {Error}", _endpoint.Host, _endpoint.Port, why);
                        _receiver = null;
                        await old.DisposeAsync().ConfigureAwait(false);
                    }
                    var options = BuildOptions();
                    // Every message of the previous connection was received before this point.
                    Interlocked.Increment(ref _connection);
                    MqttReceiver r;
                    try
                    {
                        r = await MqttReceiver.ConnectAsync(options, OnMessage, _payloads, ct).ConfigureAwait(false);
                    }
                    catch (MqttRefusedException ex)
                    {
                        throw new InvalidOperationException($"broker refused the connection: {ex.Message}", ex);
                    }
                    _receiver = r;
                    var codes = await r.SubscribeAsync(_filters, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
                    var refused = _filters.Zip(codes).Where(x => x.Second >= 0x80).ToList();
                    if (refused.Count > 0)
                    {
                        // Connected but deaf is worse than disconnected: drop the connection and keep trying loudly.
                        _receiver = null;
                        await r.DisposeAsync().ConfigureAwait(false);
                        throw new InvalidOperationException("broker refused the subscription " + string.Join(", ", refused.Select(x => $"{x.First} ({MqttRefusedException.Describe(x.Second)})"))
                            + (_mqtt?.SharedGroup is not null ? "; shared subscriptions need a broker that supports them (mosquitto), not the embedded one" : ""));
                    }
                    Volatile.Write(ref _subscribedOn, Volatile.Read(ref _connection));
                    _log.LogInformation("Ingestor connected to {Host}:{Port} (session present: {Session}), subscribed to {Filters}",
                        _endpoint.Host, _endpoint.Port, r.SessionPresent, string.Join(", ", _filters));
                    failures = 0;
                }
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                failures++;
                var delay = Backoff(failures, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30), jitter: true);
                if (failures is 1 or 5 || failures % 50 == 0)
                    _log.LogWarning("Ingestor cannot reach the broker at {Host}:{Port} ({Failures}x, next try in {Delay:0.0} s): {Error}", _endpoint.Host, _endpoint.Port, failures, delay.TotalSeconds, ex.Message);
                try
                {
                    await Task.Delay(delay, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Capped exponential back-off: <paramref name="first"/> · 2^(n-1), at most <paramref name="cap"/>; jitter keeps 50–100 % of it.</summary>
    internal static TimeSpan Backoff(int failures, TimeSpan first, TimeSpan cap, bool jitter)
    {
        var ms = Math.Min(cap.TotalMilliseconds, first.TotalMilliseconds * Math.Pow(2, Math.Clamp(failures - 1, 0, 30)));
        return TimeSpan.FromMilliseconds(jitter ? ms * (0.5 + (Random.Shared.NextDouble() / 2)) : ms);
    }

    private sealed record Inbound(ReceivedMessage Message, int Connection);

    /// <summary>A message turned into line protocol (its own pooled buffer), or into its dead letter.</summary>
    private sealed record Decoded(Inbound Inbound, LineBuffer Lines, WritePrecision Precision, bool IsDeadLetter = false) : IDisposable
    {
        public ReceivedMessage Message => Inbound.Message;

        public Chunk Chunk => new(Lines.Memory, Lines.Lines, Precision);

        public void Dispose() => Lines.Dispose();
    }

    /// <summary>Whole lines of line protocol, each ending in '\n', with timestamps in <see cref="Precision"/>.</summary>
    internal readonly record struct Chunk(ReadOnlyMemory<byte> Utf8, int Lines, WritePrecision Precision);

    private async Task ConsumeAsync(CancellationToken ct)
    {
        var reader = _inbox.Reader;
        var writing = new List<Task>();
        try
        {
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                var batch = await CollectAsync(reader, writing, ct).ConfigureAwait(false);
                // Several batches are written at once, so that decoding the next one overlaps InfluxDB's work on the
                // previous ones; each batch is acknowledged as soon as its own points are accepted. The broker's receive
                // maximum (max_in_flight) still bounds how many messages are unacknowledged in all of them together.
                writing.Add(WriteAndAcknowledgeAsync(batch, ct));
                while (writing.Count >= ConcurrentWrites || writing.Any(t => t.IsCompleted))
                {
                    var done = await Task.WhenAny(writing).ConfigureAwait(false);
                    writing.Remove(done);
                    await done.ConfigureAwait(false); // a failure here is a bug of ours: let RunAsync report it
                }
            }
        }
        finally
        {
            // On shutdown the writes still running end with the cancellation; their messages stay unacknowledged.
            try
            {
                await Task.WhenAll(writing).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>Batches written at the same time by one ingestor.</summary>
    internal const int ConcurrentWrites = 4;

    /// <summary>Write first, acknowledge after: until InfluxDB has the points, the broker keeps the messages.</summary>
    private async Task WriteAndAcknowledgeAsync(List<Decoded> batch, CancellationToken ct)
    {
        try
        {
            await WriteAsync(batch, ct).ConfigureAwait(false);
            foreach (var d in batch) Acknowledge(d.Inbound);
        }
        finally
        {
            foreach (var d in batch)
            {
                d.Dispose();
                d.Message.Release();
            }
        }
    }

    /// <summary>
    /// Reads and decodes messages until the batch has <see cref="IngestConfig.BatchPoints"/> points, or no more messages
    /// are waiting and InfluxDB has no write of ours in hand, or the flush interval has passed. So a batch is held back
    /// only while earlier writes are still running: at a light load every message is written as soon as it arrives,
    /// and under a backlog the batches fill (the writes in flight clock them).
    /// </summary>
    private async Task<List<Decoded>> CollectAsync(ChannelReader<Inbound> reader, List<Task> writing, CancellationToken ct)
    {
        var batch = new List<Decoded>();
        var points = 0;
        var deadline = DateTime.UtcNow + _cfg.FlushInterval;
        // Completes when every write that was running as the batch got its first message has finished. No write starts
        // while a batch is collected, so then InfluxDB has nothing of ours in hand.
        Task? idle = null;
        while (points < _cfg.BatchPoints)
        {
            if (reader.TryRead(out var m))
            {
                var d = Decode(m);
                batch.Add(d);
                points += d.Lines.Lines;
                continue;
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) break;
            if (batch.Count > 0)
            {
                idle ??= Task.WhenAll(writing);
                if (idle.IsCompleted) break;
            }
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(left);
            try
            {
                if (idle is null)
                {
                    if (!await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false)) break;
                    continue;
                }
                var more = reader.WaitToReadAsync(wait.Token).AsTask();
                if (await Task.WhenAny(more, idle).ConfigureAwait(false) != more)
                {
                    // Every write in hand has finished and nothing new arrived: InfluxDB is idle, give it this batch.
                    await wait.CancelAsync().ConfigureAwait(false);
                    if (!reader.TryPeek(out _)) break;
                    continue;
                }
                if (!await more.ConfigureAwait(false)) break;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                break;
            }
        }
        return batch;
    }

    /// <summary>Turns a message into line protocol, or into a dead letter when it breaks the contract.</summary>
    private Decoded Decode(Inbound inbound)
    {
        var e = inbound.Message;
        var lines = new LineBuffer((int)Math.Clamp(e.Payload.Length / 2, 256, TelemetryCodec.MaxPayloadBytes));
        try
        {
            return Decode(inbound, lines);
        }
        catch
        {
            lines.Dispose();
            throw;
        }
    }

    private Decoded Decode(Inbound inbound, LineBuffer lines)
    {
        var e = inbound.Message;
        var topic = e.Topic;
        var payload = e.Payload;
        try
        {
            if (!Topics.TryParse(topic, out var site, out var gateway, out var kind))
                throw new ContractViolationException($"topic: '{topic}' is not kc/v1/<site>/<gateway>/<kind>");
            if (Registry?.WriteRefusal(site, gateway) is { } refusal) throw new UnauthorizedWriteException(site, gateway, refusal);
            // Refused before it is copied or parsed: the dead letter keeps only its first bytes.
            if (payload.Length > TelemetryCodec.MaxPayloadBytes)
                throw new ContractViolationException($"payload: {payload.Length} bytes exceeds the limit of {TelemetryCodec.MaxPayloadBytes}");
            var bytes = payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray();
            switch (kind)
            {
                case "telemetry":
                    // The fast path takes every valid batch of the usual shape; the codec decides the rest and names what is wrong.
                    var mark = lines.Mark;
                    if (!TelemetryLines.TryWrite(bytes, DateTimeOffset.UtcNow, lines, out var claimedSite, out var claimedGateway, out var readings))
                    {
                        var batch = TelemetryCodec.Decode(bytes);
                        (claimedSite, claimedGateway, readings) = (batch.Site, batch.Gateway, batch.Readings.Count);
                        foreach (var p in LineProtocol.FromBatch(batch)) lines.AppendLine(p.ToLineProtocol());
                    }
                    if ((claimedSite != site || claimedGateway != gateway) && Registry?.WriteRefusal(claimedSite, claimedGateway) is { } claimed)
                    {
                        lines.Truncate(mark);
                        throw new UnauthorizedWriteException(claimedSite, claimedGateway, claimed + $" (the payload's; published on {site}/{gateway})");
                    }
                    if (claimedSite != site || claimedGateway != gateway)
                    {
                        lines.Truncate(mark);
                        throw new ContractViolationException($"site/gateway: payload says {claimedSite}/{claimedGateway} but was published on {site}/{gateway}");
                    }
                    Stats.AddReadings(readings);
                    return new Decoded(inbound, lines, WritePrecision.Ms);
                case "status":
                    var status = TelemetryCodec.DecodeStatus(bytes);
                    if (status.State is not (GatewayStatus.Online or GatewayStatus.Offline)) throw new ContractViolationException($"state: '{status.State}' is not online or offline");
                    return Single(inbound, lines, LineProtocol.FromStatus(site, gateway, status));
                case "health":
                    return Single(inbound, lines, HealthPoint.From(site, gateway, bytes));
                default:
                    throw new ContractViolationException($"topic: unknown message kind '{kind}'");
            }
        }
        catch (UnauthorizedWriteException ex)
        {
            Stats.UnauthorizedMessage();
            _log.LogWarning("Dead-lettered unauthorized message on {Topic}: {Reason}", Clip(topic, 200), ex.Message);
            return Single(inbound, lines, DeadLetter(topic, payload, UnauthorizedKind, ex.Message), deadLetter: true);
        }
        catch (Exception ex) when (ex is ContractViolationException or System.Text.Json.JsonException or ArgumentException or InvalidOperationException or DecoderFallbackException)
        {
            Stats.InvalidMessage();
            _log.LogWarning("Dead-lettered message on {Topic}: {Reason}", Clip(topic, 200), ex.Message);
            return Single(inbound, lines, DeadLetter(topic, payload, "invalid", ex.Message), deadLetter: true);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A bug of ours, not the sender's: keep the message (payload and reason) rather than stop ingesting.
            Stats.InvalidMessage();
            _log.LogError(ex, "Dead-lettered message on {Topic} after an unexpected error", Clip(topic, 200));
            return Single(inbound, lines, DeadLetter(topic, payload, "error", $"{ex.GetType().Name}: {ex.Message}"), deadLetter: true);
        }
    }

    /// <summary>A message that is one point (a status, a health report, a dead letter), in the buffer alone.</summary>
    private static Decoded Single(Inbound inbound, LineBuffer lines, PointData point, bool deadLetter = false)
    {
        lines.Truncate((0, 0));
        lines.AppendLine(point.ToLineProtocol());
        return new Decoded(inbound, lines, point.Precision, deadLetter);
    }

    /// <summary>
    /// A record of a refused message: its reason and raw payload, queryable beside the data. InfluxDB keeps one point per
    /// series and time, so two dead letters must never share both: the time is unique within this process
    /// (<see cref="DeadLetterTime"/>) and the <c>ingestor</c> tag (the MQTT client id, unique per instance) keeps two
    /// instances' letters apart.
    /// </summary>
    private PointData DeadLetter(string topic, ReadOnlySequence<byte> payload, string kind, string reason)
    {
        Topics.TryParse(topic, out var site, out var gateway, out _);
        var text = PayloadText(payload, DeadLetterPayloadChars);
        return PointData.Measurement(RejectedMeasurement)
            .Tag("site", site.Length > 0 ? site : "unknown")
            .Tag("gateway", gateway.Length > 0 ? gateway : "unknown")
            .Tag("kind", kind)
            .Tag("ingestor", ClientId)
            .Field("reason", Clip(reason, 1000))
            .Field("topic", Clip(topic, 300))
            .Field("payload", text)
            .Field("bytes", (long)payload.Length)
            .Timestamp(DeadLetterTime(DateTimeOffset.UtcNow), WritePrecision.Us);
    }

    private static long _lastDeadLetterUs;

    /// <summary>
    /// <paramref name="now"/> in microseconds, or one microsecond after the last dead letter's time if that is not
    /// earlier: strictly increasing across every ingestor in the process, however many letters fall in one clock tick.
    /// </summary>
    internal static long DeadLetterTime(DateTimeOffset now)
    {
        var us = (now.UtcTicks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond;
        while (true)
        {
            var last = Interlocked.Read(ref _lastDeadLetterUs);
            var next = Math.Max(us, last + 1);
            if (Interlocked.CompareExchange(ref _lastDeadLetterUs, next, last) == last) return next;
        }
    }

    /// <summary>The MQTT client id: names this instance in its dead letters.</summary>
    private string ClientId => _mqtt?.ClientId ?? MqttConfig.DefaultClientId;

    /// <summary>Most characters of a refused payload kept in its dead letter.</summary>
    internal const int DeadLetterPayloadChars = 32_000;

    /// <summary>
    /// The payload as text for a dead letter: at most <paramref name="maxChars"/> characters (with "…" when cut),
    /// copied from its first bytes only, so a huge payload costs no huge allocation; "base64:…" when it is not UTF-8.
    /// </summary>
    internal static string PayloadText(ReadOnlySequence<byte> payload, int maxChars)
    {
        var cut = payload.Length > maxChars;
        var head = payload.Slice(0, Math.Min(payload.Length, maxChars)).ToArray();
        var strict = new UTF8Encoding(false, true);
        // A cut may split a multi-byte character: drop up to 3 trailing bytes to find a whole one.
        for (var drop = 0; drop <= (cut ? 3 : 0) && drop < head.Length; drop++)
        {
            if (!System.Text.Unicode.Utf8.IsValid(head.AsSpan(0, head.Length - drop))) continue;
            return strict.GetString(head, 0, head.Length - drop) + (cut ? "…" : "");
        }
        if (head.Length == 0) return "";
        var b64 = Convert.ToBase64String(head.AsSpan(0, Math.Min(head.Length, maxChars / 4 * 3)));
        return "base64:" + b64 + (cut || b64.Length * 3 / 4 < head.Length ? "…" : "");
    }

    private async Task WriteAsync(List<Decoded> batch, CancellationToken ct)
    {
        var chunks = batch.Where(d => d.Lines.Lines > 0).Select(d => d.Chunk).ToList();
        if (chunks.Count == 0) return;
        if (await TryWriteAsync(chunks, batch.Where(d => !d.IsDeadLetter).Sum(d => d.Lines.Lines), ct).ConfigureAwait(false) is null) return;
        // InfluxDB refused some points: find the messages responsible, one by one, and dead-letter those.
        foreach (var d in batch)
        {
            if (d.Lines.Lines == 0) continue;
            var reason = await TryWriteAsync([d.Chunk], d.IsDeadLetter ? 0 : d.Lines.Lines, ct).ConfigureAwait(false);
            if (reason is null) continue;
            Stats.RejectedMessage();
            _log.LogWarning("InfluxDB refused the points of a message on {Topic}: {Reason}", d.Message.Topic, reason);
            using var dead = new LineBuffer(1024);
            var letter = DeadLetter(d.Message.Topic, d.Message.Payload, "rejected", reason);
            dead.AppendLine(letter.ToLineProtocol());
            var refused = await TryWriteAsync([new Chunk(dead.Memory, dead.Lines, letter.Precision)], 0, ct).ConfigureAwait(false);
            // Only when the rejected measurement itself conflicts (a field written with another type by hand): the log is
            // then the one place the message's payload remains.
            if (refused is not null)
                _log.LogError("InfluxDB refused the dead letter too ({Reason}); the message on {Topic} is kept only here: {Payload}",
                    refused, d.Message.Topic, PayloadText(d.Message.Payload, DeadLetterPayloadChars));
        }
    }

    /// <summary>
    /// Writes until InfluxDB accepts (null) or refuses the points as bad data (its reason). Everything else — InfluxDB down,
    /// overloaded, unauthorised — is retried with back-off for as long as it takes: that is what makes it lossless.
    /// </summary>
    /// <param name="dataPoints">How many of the lines are data (the rest are dead letters), for the counters.</param>
    private async Task<string?> TryWriteAsync(List<Chunk> chunks, int dataPoints, CancellationToken ct)
    {
        var failures = 0;
        SinkFailure? lastKind = null;
        var lines = chunks.Sum(c => c.Lines);
        while (true)
        {
            try
            {
                // One request per timestamp precision: the precision is a parameter of the request, not of the line.
                foreach (var precision in chunks.Select(c => c.Precision).Distinct())
                    await WriteSplittingAsync(chunks.Where(c => c.Precision == precision).ToList(), precision, ct).ConfigureAwait(false);
                Stats.Written(dataPoints, lines - dataPoints);
                NotifyWaiters();
                return null;
            }
            catch (SinkException ex) when (ex.Kind == SinkFailure.Rejected)
            {
                return ex.Message;
            }
            catch (SinkException ex)
            {
                failures++;
                Stats.WriteFailed();
                if (ex.Kind == SinkFailure.NotFound)
                {
                    try
                    {
                        await _sink.PrepareAsync(ct).ConfigureAwait(false);
                    }
                    catch (SinkException)
                    {
                    }
                }
                var backoff = Backoff(failures, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30), jitter: true);
                var wait = ex.RetryAfter is { } ra && ra > backoff ? ra : backoff;
                var level = ex.Kind == SinkFailure.Unauthorized ? LogLevel.Error : LogLevel.Warning;
                // Logged at the first failure, sparsely while it lasts, and whenever the kind changes (an outage that
                // turns into refused credentials must be seen at once).
                if (failures is 1 or 5 || failures % 20 == 0 || ex.Kind != lastKind)
                    _log.Log(level, "Write to {Sink} failed ({Failures}x), nothing acknowledged, retrying in {Wait:0.0} s: {Error}", _sink.Describe(), failures, wait.TotalSeconds, ex.Message);
                lastKind = ex.Kind;
                await Task.Delay(wait, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes the chunks in one request; when InfluxDB finds it too large, in two halves (by messages, then by lines).</summary>
    private async Task WriteSplittingAsync(List<Chunk> chunks, WritePrecision precision, CancellationToken ct)
    {
        try
        {
            await _sink.WriteLinesAsync([.. chunks.Select(c => c.Utf8)], precision, ct).ConfigureAwait(false);
        }
        catch (SinkException ex) when (ex.Kind == SinkFailure.TooLarge && (chunks.Count > 1 || chunks[0].Lines > 1))
        {
            List<Chunk> first, second;
            if (chunks.Count > 1)
            {
                (first, second) = (chunks[..(chunks.Count / 2)], chunks[(chunks.Count / 2)..]);
            }
            else
            {
                var (a, b) = SplitLines(chunks[0]);
                (first, second) = ([a], [b]);
            }
            await WriteSplittingAsync(first, precision, ct).ConfigureAwait(false);
            await WriteSplittingAsync(second, precision, ct).ConfigureAwait(false);
        }
    }

    /// <summary>A chunk of two or more lines cut after its middle line.</summary>
    internal static (Chunk First, Chunk Second) SplitLines(Chunk c)
    {
        var half = c.Lines / 2;
        var span = c.Utf8.Span;
        var at = 0;
        for (var n = 0; n < half; n++) at += span[at..].IndexOf((byte)'\n') + 1;
        return (new Chunk(c.Utf8[..at], half, c.Precision), new Chunk(c.Utf8[at..], c.Lines - half, c.Precision));
    }

    private void NotifyWaiters()
    {
        lock (_waiters)
        {
            var written = Stats.PointsWritten;
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (written < _waiters[i].Target) continue;
                _waiters[i].Done.TrySetResult();
                _waiters.RemoveAt(i);
            }
        }
    }

    private void Acknowledge(Inbound m)
    {
        // On a connection that has since dropped the broker redelivers it on the new one (same session), where it is
        // written again (idempotently) and acknowledged.
        if (m.Connection == Volatile.Read(ref _connection) && _receiver is { } r && r.Acknowledge(m.Message)) Stats.Acknowledged();
        else Stats.AckSkipped();
    }

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max] + "…";

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _receiver, null) is { } r) await r.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>A message from a gateway that the site registry does not allow to write that site.</summary>
internal sealed class UnauthorizedWriteException(string site, string gateway, string refusal)
    : Exception($"gateway '{gateway}' may not write site '{site}': {refusal}");
