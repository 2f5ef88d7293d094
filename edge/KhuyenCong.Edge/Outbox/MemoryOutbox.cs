using KhuyenCong.Contracts;

namespace KhuyenCong.Edge.Outbox;

/// <summary>
/// The outbox in memory: same contract as <see cref="SqliteOutbox"/> but nothing survives a restart. For tests and
/// for gateways without writable storage. The budget counts readings instead of bytes.
/// </summary>
public sealed class MemoryOutbox(int maxReadings = 1_000_000) : IOutbox
{
    private readonly LinkedList<PendingReading> _items = new();
    private readonly object _gate = new();
    private TaskCompletionSource _available = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextId = 1;
    private long _dropped;
    private long _lastSequence;

    public long LastSequence => Interlocked.Read(ref _lastSequence);

    public ValueTask AddAsync(DeviceInfo device, IReadOnlyList<Reading> readings, CancellationToken ct)
    {
        lock (_gate)
        {
            foreach (var r in readings)
            {
                _items.AddLast(new PendingReading(_nextId++, device, r));
                if (_items.Count > maxReadings)
                {
                    _items.RemoveFirst();
                    _dropped++;
                }
            }
            if (_items.Count > 0) _available.TrySetResult();
        }
        return ValueTask.CompletedTask;
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
            return new OutboxStats(_items.Count, _items.First?.Value.Reading.Timestamp, _dropped, 0);
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
