namespace KhuyenCong.Cloud.Ingest;

/// <summary>What the ingestor has done since it started.</summary>
public sealed class IngestStats
{
    private long _messages;
    private long _readings;
    private long _points;
    private long _invalid;
    private long _rejected;
    private long _writeFailures;
    private long _batches;
    private long _deadLetters;
    private long _acked;
    private long _ackSkipped;
    private long _unauthorized;
    private long _lastWriteTicks;

    /// <summary>MQTT messages received (including redeliveries).</summary>
    public long Messages => Interlocked.Read(ref _messages);
    public long Readings => Interlocked.Read(ref _readings);
    /// <summary>Data lines InfluxDB accepted (dead letters are counted in <see cref="DeadLettersWritten"/>).</summary>
    public long PointsWritten => Interlocked.Read(ref _points);
    /// <summary>Messages that broke the wire contract (dead-lettered).</summary>
    public long Invalid => Interlocked.Read(ref _invalid);
    /// <summary>Messages from a gateway the site registry does not allow to write that site (dead-lettered).</summary>
    public long Unauthorized => Interlocked.Read(ref _unauthorized);
    /// <summary>Messages whose points InfluxDB refused (dead-lettered).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);
    /// <summary>Writes that failed and were retried.</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);
    /// <summary>Successful write requests.</summary>
    public long Batches => Interlocked.Read(ref _batches);
    /// <summary>Records of refused messages written to the <c>rejected</c> measurement.</summary>
    public long DeadLettersWritten => Interlocked.Read(ref _deadLetters);
    /// <summary>Messages acknowledged to the broker (always after their points were written).</summary>
    public long Acknowledgements => Interlocked.Read(ref _acked);
    /// <summary>Written messages whose acknowledgement could not be sent (the connection dropped): the broker redelivers them.</summary>
    public long AcknowledgementsSkipped => Interlocked.Read(ref _ackSkipped);
    /// <summary>When InfluxDB last accepted a write (UTC), or null before the first: is the ingestor still writing?</summary>
    public DateTime? LastWrite => Interlocked.Read(ref _lastWriteTicks) is > 0 and var t ? new DateTime(t, DateTimeKind.Utc) : null;

    internal void Message() => Interlocked.Increment(ref _messages);
    internal void AddReadings(long n) => Interlocked.Add(ref _readings, n);
    internal void Written(long points, long deadLetters)
    {
        Interlocked.Add(ref _points, points);
        Interlocked.Add(ref _deadLetters, deadLetters);
        Interlocked.Increment(ref _batches);
        // The latest of concurrent writes wins, whatever order their threads get here in.
        var now = DateTime.UtcNow.Ticks;
        for (var seen = Interlocked.Read(ref _lastWriteTicks); seen < now;)
        {
            var was = Interlocked.CompareExchange(ref _lastWriteTicks, now, seen);
            if (was == seen) break;
            seen = was;
        }
    }
    internal void Acknowledged() => Interlocked.Increment(ref _acked);
    internal void AckSkipped() => Interlocked.Increment(ref _ackSkipped);
    internal void UnauthorizedMessage() => Interlocked.Increment(ref _unauthorized);
    internal void InvalidMessage() => Interlocked.Increment(ref _invalid);
    internal void RejectedMessage() => Interlocked.Increment(ref _rejected);
    internal void WriteFailed() => Interlocked.Increment(ref _writeFailures);

    public override string ToString() =>
        $"messages {Messages}, readings {Readings}, points written {PointsWritten}, invalid {Invalid}, unauthorized {Unauthorized}, rejected {Rejected}, writes {Batches}, write retries {WriteFailures}, acked {Acknowledgements}, last write {(LastWrite is { } t ? t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture) : "none")}";
}
