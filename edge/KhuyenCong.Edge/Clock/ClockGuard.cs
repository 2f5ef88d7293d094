using System.Diagnostics;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Outbox;

namespace KhuyenCong.Edge.Clock;

/// <summary>
/// A Raspberry Pi has no real-time clock: after a power cut it boots with the time it last saved (or 1970) until NTP
/// syncs, so wall-clock timestamps can be hours or years wrong. The guard decides whether the wall clock is
/// trustworthy — not earlier than a floor (the agent's build time, or the newest timestamp it has stored), and not
/// absurdly in the future — and, while it is not, holds readings stamped with the monotonic clock. When the wall clock
/// becomes trustworthy, held readings get their true time back (now − monotonic age), are marked
/// <see cref="Qualities.Uncertain"/>, and go to the outbox in their original order. Nothing is published with a wrong
/// timestamp.
/// </summary>
public sealed class ClockGuard : IReadingSink
{
    private readonly TimeProvider _clock;
    private readonly IReadingSink _next;
    private readonly int _maxHeld;
    private readonly List<Held> _held = [];
    private readonly object _gate = new();
    private DateTimeOffset _floor;
    private long _corrected;
    private long _droppedWhileHeld;

    /// <param name="clock">The wall clock and the monotonic timestamp source.</param>
    /// <param name="next">Where trusted readings go (the outbox).</param>
    /// <param name="floor">No trustworthy time can be earlier than this (the build time of the agent, or the newest reading stored).</param>
    /// <param name="maxHeld">Most readings held while the clock is untrusted; beyond it the oldest are dropped and counted.</param>
    public ClockGuard(TimeProvider clock, IReadingSink next, DateTimeOffset floor, int maxHeld = 200_000)
    {
        _clock = clock;
        _next = next;
        _floor = floor;
        _maxHeld = maxHeld;
    }

    /// <summary>How far ahead of the floor a clock may be before it is considered wrong too (a Pi that boots in 2099).</summary>
    public TimeSpan MaxAheadOfFloor { get; init; } = TimeSpan.FromDays(3650);

    /// <summary>Readings whose timestamps were corrected after the clock became trustworthy.</summary>
    public long Corrected => Interlocked.Read(ref _corrected);

    /// <summary>Readings dropped because the hold buffer was full while the clock stayed untrusted.</summary>
    public long DroppedWhileHeld => Interlocked.Read(ref _droppedWhileHeld);

    public int HeldCount
    {
        get
        {
            lock (_gate) return _held.Count;
        }
    }

    public bool IsTrusted(DateTimeOffset now) => now >= _floor && now - _floor <= MaxAheadOfFloor;

    /// <summary>The newest timestamp seen so far is a floor for the future too: time never runs backwards.</summary>
    public DateTimeOffset Floor
    {
        get
        {
            lock (_gate) return _floor;
        }
    }

    public async ValueTask AddAsync(DeviceInfo device, IReadOnlyList<Reading> readings, CancellationToken ct)
    {
        DateTimeOffset now;
        List<Held>? release = null;
        lock (_gate)
        {
            // Read the clock inside the lock: read before it, another bus's poller could raise the floor past this
            // reading of the clock in between, and a sound clock would be taken for one that went backwards.
            now = _clock.GetUtcNow();
            if (!IsTrusted(now))
            {
                var mono = _clock.GetTimestamp();
                foreach (var r in readings) _held.Add(new Held(device, r, mono));
                if (_held.Count > _maxHeld)
                {
                    var excess = _held.Count - _maxHeld;
                    _held.RemoveRange(0, excess);
                    _droppedWhileHeld += excess;
                }
                return;
            }
            if (_held.Count > 0)
            {
                release = [.. _held];
                _held.Clear();
            }
            var newest = readings.Count == 0 ? now : readings.Max(r => r.Timestamp);
            if (newest > _floor) _floor = newest;
        }
        if (release is not null) await ReleaseAsync(release, now, ct).ConfigureAwait(false);
        await _next.AddAsync(device, readings, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Readings are stamped with the wall clock by the poller; while held, that stamp is wrong, so it is replaced by
    /// now − (monotonic now − monotonic at reading).
    /// </summary>
    private async Task ReleaseAsync(List<Held> held, DateTimeOffset now, CancellationToken ct)
    {
        var monoNow = _clock.GetTimestamp();
        foreach (var group in GroupConsecutive(held))
        {
            var fixedReadings = group.Select(h =>
            {
                var age = _clock.GetElapsedTime(h.Monotonic, monoNow);
                var ts = DateTimeOffset.FromUnixTimeMilliseconds((now - age).ToUnixTimeMilliseconds());
                return h.Reading with { Timestamp = ts, Quality = Qualities.Uncertain };
            }).ToList();
            Interlocked.Add(ref _corrected, fixedReadings.Count);
            await _next.AddAsync(group[0].Device, fixedReadings, ct).ConfigureAwait(false);
        }
    }

    private static IEnumerable<List<Held>> GroupConsecutive(List<Held> held)
    {
        var current = new List<Held>();
        foreach (var h in held)
        {
            if (current.Count > 0 && !ReferenceEquals(current[0].Device, h.Device) && current[0].Device != h.Device)
            {
                yield return current;
                current = [];
            }
            current.Add(h);
        }
        if (current.Count > 0) yield return current;
    }

    /// <summary>The build time of this agent: a clock earlier than this is certainly wrong.</summary>
    public static DateTimeOffset BuildFloor()
    {
        // The agent's own file: the dll beside it, or the single-file executable when published that way.
        var dll = Path.Combine(AppContext.BaseDirectory, typeof(ClockGuard).Assembly.GetName().Name + ".dll");
        var path = File.Exists(dll) ? dll : Environment.ProcessPath;
        if (string.IsNullOrEmpty(path)) return DateTimeOffset.UnixEpoch;
        var built = new DateTimeOffset(File.GetLastWriteTimeUtc(path), TimeSpan.Zero);
        // Allow for a build machine whose own clock ran a day ahead.
        return built - TimeSpan.FromDays(1);
    }

    private sealed record Held(DeviceInfo Device, Reading Reading, long Monotonic);
}
