using System.Buffers;
using System.Text;
using System.Threading.Channels;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Contracts;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

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

    private readonly MqttClientOptions _options;
    private readonly IMqttClient _client;
    private readonly ITimeSeriesSink _sink;
    private readonly IngestConfig _cfg;
    private readonly string? _sharedGroup;
    private readonly ILogger _log;
    private readonly Channel<MqttApplicationMessageReceivedEventArgs> _inbox;
    private readonly List<(long Target, TaskCompletionSource Done)> _waiters = [];

    public Ingestor(string brokerHost, int brokerPort, MqttConfig? mqtt, string? password, ITimeSeriesSink sink, IngestConfig cfg, ILogger log)
    {
        _sink = sink;
        _cfg = cfg;
        _log = log;
        _sharedGroup = mqtt?.SharedGroup;
        _inbox = Channel.CreateBounded<MqttApplicationMessageReceivedEventArgs>(new BoundedChannelOptions(cfg.MaxInFlight) { SingleReader = true });
        _client = new MqttClientFactory().CreateMqttClient();
        var b = new MqttClientOptionsBuilder()
            .WithTcpServer(brokerHost, brokerPort)
            .WithClientId(mqtt?.ClientId ?? "kc-ingestor-1")
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)(mqtt?.SessionExpiry ?? TimeSpan.FromDays(1)).TotalSeconds)
            .WithReceiveMaximum((ushort)Math.Min(cfg.MaxInFlight, ushort.MaxValue))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (mqtt?.Username is not null) b = b.WithCredentials(mqtt.Username, password ?? "");
        if (mqtt is not null && mqtt.Url.StartsWith("mqtts:", StringComparison.Ordinal)) b = b.WithTlsOptions(o => o.UseTls().WithTargetHost(brokerHost));
        _options = b.Build();
        _client.ApplicationMessageReceivedAsync += async e =>
        {
            e.AutoAcknowledge = false;
            // Waiting here is the back-pressure: MQTTnet reads no further message until there is room.
            await _inbox.Writer.WriteAsync(e).ConfigureAwait(false);
        };
    }

    public IngestStats Stats { get; } = new();

    public bool IsConnected => _client.IsConnected;

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

    public async Task RunAsync(CancellationToken ct)
    {
        var consumer = ConsumeAsync(ct);
        await ConnectionLoopAsync(ct).ConfigureAwait(false);
        _inbox.Writer.TryComplete();
        try
        {
            await consumer.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task ConnectionLoopAsync(CancellationToken ct)
    {
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (!_client.IsConnected)
                {
                    var r = await _client.ConnectAsync(_options, ct).ConfigureAwait(false);
                    if (r.ResultCode != MqttClientConnectResultCode.Success)
                        throw new InvalidOperationException($"broker refused the connection: {r.ResultCode} {r.ReasonString}");
                    var filters = new[] { Topics.AllOf("telemetry"), Topics.AllOf("status") };
                    var sub = new MqttClientSubscribeOptionsBuilder();
                    foreach (var f in filters)
                        sub = sub.WithTopicFilter(_sharedGroup is null ? f : $"$share/{_sharedGroup}/{f}", MqttQualityOfServiceLevel.AtLeastOnce);
                    var s = await _client.SubscribeAsync(sub.Build(), ct).ConfigureAwait(false);
                    foreach (var item in s.Items)
                    {
                        if ((int)item.ResultCode > 2)
                            throw new InvalidOperationException($"broker refused subscription {item.TopicFilter.Topic}: {item.ResultCode}");
                    }
                    _log.LogInformation("Ingestor connected to {Host}:{Port} (session present: {Session}), subscribed to {Filters}",
                        Host(), Port(), r.IsSessionPresent, string.Join(", ", filters));
                    failures = 0;
                }
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                failures++;
                var delay = TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, Math.Min(failures, 8))) * (0.5 + Random.Shared.NextDouble() / 2));
                if (failures is 1 or 5 || failures % 50 == 0)
                    _log.LogWarning("Ingestor cannot reach the broker at {Host}:{Port} ({Failures}x): {Error}", Host(), Port(), failures, ex.Message);
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

    private string Host() => _options.ChannelOptions is MqttClientTcpOptions { RemoteEndpoint: System.Net.DnsEndPoint d } ? d.Host : "?";
    private int Port() => _options.ChannelOptions is MqttClientTcpOptions { RemoteEndpoint: System.Net.DnsEndPoint d } ? d.Port : 0;

    private sealed record Decoded(MqttApplicationMessageReceivedEventArgs Message, List<PointData> Points);

    private async Task ConsumeAsync(CancellationToken ct)
    {
        var reader = _inbox.Reader;
        var batch = new List<Decoded>();
        while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            var points = 0;
            var deadline = DateTime.UtcNow + _cfg.FlushInterval;
            while (points < _cfg.BatchPoints)
            {
                if (reader.TryRead(out var m))
                {
                    var d = Decode(m);
                    batch.Add(d);
                    points += d.Points.Count;
                    continue;
                }
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) break;
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(left);
                try
                {
                    if (!await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false)) break;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    break;
                }
            }
            await WriteAsync(batch, ct).ConfigureAwait(false);
            foreach (var d in batch) await AcknowledgeAsync(d.Message).ConfigureAwait(false);
            batch.Clear();
        }
    }

    /// <summary>Turns a message into points, or into a dead letter when it breaks the contract.</summary>
    private Decoded Decode(MqttApplicationMessageReceivedEventArgs e)
    {
        Stats.Message();
        var topic = e.ApplicationMessage.Topic;
        var payload = e.ApplicationMessage.Payload;
        try
        {
            if (!Topics.TryParse(topic, out var site, out var gateway, out var kind))
                throw new ContractViolationException($"topic: '{topic}' is not kc/v1/<site>/<gateway>/<kind>");
            var bytes = payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray();
            switch (kind)
            {
                case "telemetry":
                    var batch = TelemetryCodec.Decode(bytes);
                    if (batch.Site != site || batch.Gateway != gateway)
                        throw new ContractViolationException($"site/gateway: payload says {batch.Site}/{batch.Gateway} but was published on {site}/{gateway}");
                    Stats.AddReadings(batch.Readings.Count);
                    return new Decoded(e, LineProtocol.FromBatch(batch));
                case "status":
                    var status = TelemetryCodec.DecodeStatus(bytes);
                    if (status.State is not (GatewayStatus.Online or GatewayStatus.Offline)) throw new ContractViolationException($"state: '{status.State}' is not online or offline");
                    return new Decoded(e, [LineProtocol.FromStatus(site, gateway, status)]);
                default:
                    throw new ContractViolationException($"topic: unknown message kind '{kind}'");
            }
        }
        catch (Exception ex) when (ex is ContractViolationException or System.Text.Json.JsonException or ArgumentException or InvalidOperationException or DecoderFallbackException)
        {
            Stats.InvalidMessage();
            _log.LogWarning("Dead-lettered message on {Topic}: {Reason}", Clip(topic, 200), ex.Message);
            return new Decoded(e, [DeadLetter(topic, payload.ToArray(), "invalid", ex.Message)]);
        }
    }

    /// <summary>A record of a refused message: its reason and raw payload, queryable beside the data.</summary>
    private static PointData DeadLetter(string topic, byte[] payload, string kind, string reason)
    {
        Topics.TryParse(topic, out var site, out var gateway, out _);
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(payload);
        }
        catch (DecoderFallbackException)
        {
            text = "base64:" + Convert.ToBase64String(payload);
        }
        return PointData.Measurement(RejectedMeasurement)
            .Tag("site", site.Length > 0 ? site : "unknown")
            .Tag("gateway", gateway.Length > 0 ? gateway : "unknown")
            .Tag("kind", kind)
            .Field("reason", Clip(reason, 1000))
            .Field("topic", Clip(topic, 300))
            .Field("payload", Clip(text, 32_000))
            .Field("bytes", (long)payload.Length)
            .Timestamp(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000 + Random.Shared.Next(1000), WritePrecision.Us);
    }

    private async Task WriteAsync(List<Decoded> batch, CancellationToken ct)
    {
        var points = batch.SelectMany(d => d.Points).ToList();
        if (points.Count == 0) return;
        if (await TryWriteAsync(points, ct).ConfigureAwait(false)) return;
        // InfluxDB refused some points: find the messages responsible, one by one, and dead-letter those.
        foreach (var d in batch)
        {
            if (d.Points.Count == 0 || await TryWriteAsync(d.Points, ct).ConfigureAwait(false)) continue;
            Stats.RejectedMessage();
            var reason = _lastRejection ?? "refused by InfluxDB";
            _log.LogWarning("InfluxDB refused the points of a message on {Topic}: {Reason}", d.Message.ApplicationMessage.Topic, reason);
            await TryWriteAsync([DeadLetter(d.Message.ApplicationMessage.Topic, d.Message.ApplicationMessage.Payload.ToArray(), "rejected", reason)], ct).ConfigureAwait(false);
        }
    }

    private string? _lastRejection;

    /// <summary>
    /// Writes until InfluxDB accepts (true) or refuses the points as bad data (false). Everything else — InfluxDB down,
    /// overloaded, unauthorised — is retried with back-off for as long as it takes: that is what makes it lossless.
    /// </summary>
    private async Task<bool> TryWriteAsync(List<PointData> points, CancellationToken ct)
    {
        var failures = 0;
        while (true)
        {
            try
            {
                await WriteSplittingAsync(points, ct).ConfigureAwait(false);
                Stats.Written(points.Count);
                NotifyWaiters();
                return true;
            }
            catch (SinkException ex) when (ex.Kind == SinkFailure.Rejected)
            {
                _lastRejection = ex.Message;
                return false;
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
                var backoff = TimeSpan.FromMilliseconds(Math.Min(30_000, 200 * Math.Pow(2, Math.Min(failures, 8))));
                var wait = ex.RetryAfter is { } ra && ra > backoff ? ra : backoff;
                var level = ex.Kind == SinkFailure.Unauthorized ? LogLevel.Error : LogLevel.Warning;
                if (failures is 1 or 5 || failures % 20 == 0)
                    _log.Log(level, "Write to {Sink} failed ({Failures}x), nothing acknowledged, retrying in {Wait:0.0} s: {Error}", _sink.Describe(), failures, wait.TotalSeconds, ex.Message);
                await Task.Delay(wait, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task WriteSplittingAsync(List<PointData> points, CancellationToken ct)
    {
        try
        {
            await _sink.WriteAsync(points, ct).ConfigureAwait(false);
        }
        catch (SinkException ex) when (ex.Kind == SinkFailure.TooLarge && points.Count > 1)
        {
            var half = points.Count / 2;
            await WriteSplittingAsync(points[..half], ct).ConfigureAwait(false);
            await WriteSplittingAsync(points[half..], ct).ConfigureAwait(false);
        }
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

    private async Task AcknowledgeAsync(MqttApplicationMessageReceivedEventArgs m)
    {
        try
        {
            await m.AcknowledgeAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The connection dropped after the write: the broker redelivers, and the write is idempotent.
            _log.LogDebug("Acknowledgement not sent ({Error}); the message will be redelivered", ex.Message);
        }
    }

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max] + "…";

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _log.LogDebug("Disconnect failed: {Error}", ex.Message);
            }
        }
        _client.Dispose();
    }
}
