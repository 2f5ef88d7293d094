using KhuyenCong.Contracts;
using KhuyenCong.Edge.Outbox;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Edge.Publishing;

/// <summary>
/// Moves readings from the outbox to the broker in order: peek the oldest batch, publish it at QoS 1, and delete it
/// from the outbox only after the broker's PUBACK. A failed publish leaves the batch in place for the next try,
/// so an outage delays readings and never loses them (the cloud's writes are idempotent, so a resend is harmless).
/// </summary>
public sealed class TelemetryPublisher
{
    private readonly IOutbox _outbox;
    private readonly MqttLink _link;
    private readonly string _site;
    private readonly string _gateway;
    private readonly string _topic;
    private readonly int _maxBatch;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _clock;
    private readonly ILogger _log;
    private long _published;
    private long _failures;

    public TelemetryPublisher(IOutbox outbox, MqttLink link, string site, string gateway, int maxBatch, TimeSpan interval, TimeProvider clock, ILogger log)
    {
        _outbox = outbox;
        _link = link;
        _site = site;
        _gateway = gateway;
        _topic = Topics.Telemetry(site, gateway);
        _maxBatch = maxBatch;
        _interval = interval;
        _clock = clock;
        _log = log;
    }

    /// <summary>Readings acknowledged by the broker since start.</summary>
    public long Published => Interlocked.Read(ref _published);

    public long Failures => Interlocked.Read(ref _failures);

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _link.WaitConnectedAsync(ct).ConfigureAwait(false);
                var batch = await _outbox.PeekAsync(_maxBatch, ct).ConfigureAwait(false);
                if (batch.Count == 0)
                {
                    await _outbox.WaitForReadingsAsync(ct).ConfigureAwait(false);
                    continue;
                }
                if (batch.Count < _maxBatch)
                {
                    // Let a partial batch fill for one interval: fewer, larger messages.
                    await Task.Delay(_interval, _clock, ct).ConfigureAwait(false);
                    batch = await _outbox.PeekAsync(_maxBatch, ct).ConfigureAwait(false);
                }
                var seq = _outbox.LastSequence + 1;
                var payload = TelemetryCodec.Encode(Build(batch, seq));
                await _link.PublishAsync(_topic, payload, retain: false, ct).ConfigureAwait(false);
                await _outbox.AcknowledgeAsync(batch, seq, ct).ConfigureAwait(false);
                Interlocked.Add(ref _published, batch.Count);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _failures);
                _log.LogDebug("Publish failed, readings stay in the outbox: {Error}", ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(500), _clock, ct).ConfigureAwait(false);
            }
        }
    }

    private TelemetryBatch Build(IReadOnlyList<PendingReading> batch, long seq) => new()
    {
        Site = _site,
        Gateway = _gateway,
        Sequence = seq,
        Sent = _clock.GetUtcNow(),
        Devices = [.. batch.Select(p => p.Device).DistinctBy(d => d.Id)],
        Readings = [.. batch.Select(p => p.Reading)],
    };
}
