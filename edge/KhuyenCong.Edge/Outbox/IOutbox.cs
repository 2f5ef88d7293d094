using KhuyenCong.Contracts;

namespace KhuyenCong.Edge.Outbox;

/// <summary>Where pollers hand their readings.</summary>
public interface IReadingSink
{
    ValueTask AddAsync(DeviceInfo device, IReadOnlyList<Reading> readings, CancellationToken ct);
}

/// <summary>A reading waiting in the outbox, with its position.</summary>
public sealed record PendingReading(long Id, DeviceInfo Device, Reading Reading);

/// <summary>Figures the gateway publishes about its outbox.</summary>
public sealed record OutboxStats(long Depth, DateTimeOffset? OldestTimestamp, long Dropped, long Bytes);

/// <summary>
/// Readings between the pollers and the broker. A reading is kept until the broker has acknowledged the message that
/// carried it; readings leave in the order they came in. When the budget is full the oldest go first, and are counted.
/// </summary>
public interface IOutbox : IReadingSink, IAsyncDisposable
{
    /// <summary>Makes everything added so far durable (the SQLite outbox commits in batches to spare the SD card).</summary>
    Task FlushAsync(CancellationToken ct);

    /// <summary>The oldest durable readings, at most <paramref name="max"/>, in order.</summary>
    Task<IReadOnlyList<PendingReading>> PeekAsync(int max, CancellationToken ct);

    /// <summary>Removes readings the broker has acknowledged and records the batch sequence number that carried them.</summary>
    Task AcknowledgeAsync(IReadOnlyList<PendingReading> delivered, long sequence, CancellationToken ct);

    /// <summary>The last batch sequence number acknowledged (0 when none); survives restarts in the durable outbox.</summary>
    long LastSequence { get; }

    OutboxStats Stats();

    /// <summary>Signalled when readings become durable, so the publisher need not poll.</summary>
    Task WaitForReadingsAsync(CancellationToken ct);
}
