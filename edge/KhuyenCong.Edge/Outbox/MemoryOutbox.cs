using KhuyenCong.Contracts;

namespace KhuyenCong.Edge.Outbox;

/// <summary>
/// The outbox in memory: same contract as <see cref="SqliteOutbox"/> but nothing survives a restart. For tests and
/// for gateways without writable storage. The budget counts readings instead of bytes.
/// </summary>
public sealed class MemoryOutbox(int maxReadings = 1_000_000) : IOutbox
{
    private readonly LinkedList<PendingReading> _items = new();
    private readonly LinkedList<(DeviceInfo Device, Reading Reading, ClockMark Mark)> _held = new();
    private readonly object _gate = new();
    private TaskCompletionSource _available = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextId = 1;
    private long _dropped;
    private long _lastSequence;
    private long _unrecoverable;
    private DateTimeOffset? _newest;

    public long LastSequence => Interlocked.Read(ref _lastSequence);

    public ValueTask AddAsync(DeviceInfo device, IReadOnlyList<Reading> readings, CancellationToken ct)
    {
        lock (_gate)
        {
            foreach (var r in readings)
            {
                _items.AddLast(new PendingReading(_nextId++, device, r));
                if (_newest is null || r.Timestamp > _newest) _newest = r.Timestamp;
                EnforceBudget();
            }
            if (_items.Count > 0) _available.TrySetResult();
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>The oldest go first: published-ready readings before held ones (those were taken later).</summary>
    private void EnforceBudget()
    {
        while (_items.Count + _held.Count > maxReadings)
        {
            if (_items.Count > 0) _items.RemoveFirst();
            else _held.RemoveFirst();
            _dropped++;
        }
    }

    public ValueTask HoldAsync(DeviceInfo device, IReadOnlyList<Reading> readings, ClockMark takenAt, CancellationToken ct)
    {
        lock (_gate)
        {
            foreach (var r in readings)
            {
                _held.AddLast((device, r, takenAt));
                EnforceBudget();
            }
        }
        return ValueTask.CompletedTask;
    }

    public Task<(long Released, long Unrecoverable)> ReleaseHeldAsync(Func<ClockMark, string, DateTimeOffset?> trueTime, CancellationToken ct)
    {
        long released = 0, lost = 0;
        lock (_gate)
        {
            foreach (var (device, reading, mark) in _held)
            {
                if (trueTime(mark, device.Id) is not { } ts)
                {
                    lost++;
                    continue;
                }
                var r = reading with { Timestamp = ts, Quality = Qualities.Uncertain };
                _items.AddLast(new PendingReading(_nextId++, device, r));
                if (_newest is null || ts > _newest) _newest = ts;
                released++;
            }
            _held.Clear();
            _unrecoverable += lost;
            if (_items.Count > 0) _available.TrySetResult();
        }
        return Task.FromResult((released, lost));
    }

    public Task FlushAsync(CancellationToken ct) => Task.CompletedTask;

    public Task<IReadOnlyList<PendingReading>> PeekAsync(int max, CancellationToken ct)
    {
        lock (_gate)
        {
            var list = _items.Take(max).ToList();
            if (list.Count == 0) _available = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return Task.FromResult<IReadOnlyList<PendingReading>>(list);
        }
    }

    public Task AcknowledgeAsync(IReadOnlyList<PendingReading> delivered, long sequence, CancellationToken ct)
    {
        if (delivered.Count == 0) return Task.CompletedTask;
        lock (_gate)
        {
            var first = delivered[0].Id;
            var last = delivered[^1].Id;
            while (_items.First is { } node && node.Value.Id <= last && node.Value.Id >= first) _items.RemoveFirst();
            _lastSequence = sequence;
        }
        return Task.CompletedTask;
    }

    public OutboxStats Stats()
    {
        lock (_gate)
        {
            return new OutboxStats(_items.Count, _items.First?.Value.Reading.Timestamp, _dropped, 0, _held.Count, _unrecoverable, _newest);
        }
    }

    public Task WaitForReadingsAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            return _available.Task.WaitAsync(ct);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
