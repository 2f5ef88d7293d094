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
/// <param name="Held">Readings waiting for a trustworthy clock (not yet publishable).</param>
/// <param name="Unrecoverable">Held readings whose true time could not be worked out (taken before a reboot), dropped.</param>
/// <param name="NewestTimestamp">The newest timestamp ever stored: time on this gateway cannot be earlier than this.</param>
public sealed record OutboxStats(long Depth, DateTimeOffset? OldestTimestamp, long Dropped, long Bytes,
    long Held = 0, long Unrecoverable = 0, DateTimeOffset? NewestTimestamp = null);

/// <summary>
/// When a reading was taken, by a clock that cannot jump: the boot it was taken in and the monotonic clock of that
/// boot (milliseconds since the boot). Within one boot, now − (monotonic now − <see cref="MonotonicMs"/>) is the true
/// time of the reading once the wall clock is right; across a reboot it cannot be worked out.
/// </summary>
public readonly record struct ClockMark(string Boot, long MonotonicMs);

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

    /// <summary>
    /// Keeps readings taken while the wall clock cannot be trusted, with the moment they were taken by the monotonic
    /// clock. They are as durable as added readings (and count against the same budget) but are not published until
    /// <see cref="ReleaseHeldAsync"/> gives them their true time.
    /// </summary>
    ValueTask HoldAsync(DeviceInfo device, IReadOnlyList<Reading> readings, ClockMark takenAt, CancellationToken ct);

    /// <summary>
    /// Moves every held reading into the outbox in the order they were taken, stamped by <paramref name="trueTime"/>
    /// (called in that order with each reading's mark and device id) and marked <see cref="Qualities.Uncertain"/>; a
    /// reading for which it returns null (its time cannot be known) is dropped and counted as unrecoverable. Returns how many were released and how many were unrecoverable.
    /// </summary>
    Task<(long Released, long Unrecoverable)> ReleaseHeldAsync(Func<ClockMark, string, DateTimeOffset?> trueTime, CancellationToken ct);

    /// <summary>Signalled when readings become durable, so the publisher need not poll.</summary>
    Task WaitForReadingsAsync(CancellationToken ct);
}
