using KhuyenCong.Contracts;
using KhuyenCong.Edge.Outbox;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Edge.Clock;

/// <summary>
/// A Raspberry Pi has no real-time clock: after a power cut it boots with the time it last saved (or 1970) until NTP
/// syncs, so wall-clock timestamps can be hours or years wrong. The guard decides whether the wall clock is
/// trustworthy — not earlier than a floor (the agent's build time, or the newest timestamp the outbox ever stored),
/// and not absurdly in the future — and, while it is not, has the outbox hold readings (durably, like any other)
/// marked with the boot they were taken in and the monotonic clock of that boot. When the wall clock becomes
/// trustworthy, held readings get their true time back (now − monotonic age), are marked
/// <see cref="Qualities.Uncertain"/>, and join the outbox in their original order. Readings held across a reboot
/// cannot be dated (the monotonic clock restarts with the machine): they are dropped and counted, never published
/// with a wrong time.
/// </summary>
public sealed class ClockGuard : IReadingSink
{
    private readonly TimeProvider _clock;
    private readonly IOutbox _outbox;
    private readonly string _boot;
    private readonly ILogger? _log;
    // One hand-over at a time, so the clock is read and the floor raised in the order readings reach the outbox.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private DateTimeOffset _floor;
    // The last timestamp handed over per device (ms): a device's timestamps must grow, or a later reading would
    // overwrite an earlier one in InfluxDB (same series, same time).
    private readonly Dictionary<string, long> _lastMs = new(StringComparer.Ordinal);
    private bool _mayHold;
    private long _corrected;

    /// <param name="clock">The wall clock and the monotonic timestamp source.</param>
    /// <param name="outbox">Where trusted readings go, and where untrusted ones are held.</param>
    /// <param name="floor">No trustworthy time can be earlier than this (the build time of the agent); the newest timestamp the outbox ever stored raises it.</param>
    /// <param name="boot">Identifies this boot of the machine (Linux's boot id by default): held readings from another boot cannot be dated.</param>
    public ClockGuard(TimeProvider clock, IOutbox outbox, DateTimeOffset floor, string? boot = null, ILogger? log = null)
    {
        _clock = clock;
        _outbox = outbox;
        _boot = boot ?? CurrentBoot();
        _log = log;
        var stats = outbox.Stats();
        _floor = stats.NewestTimestamp is { } newest && newest > floor ? newest : floor;
        _mayHold = stats.Held > 0;
    }

    /// <summary>How far ahead of the floor a clock may be before it is considered wrong too (a Pi that boots in 2099).</summary>
    public TimeSpan MaxAheadOfFloor { get; init; } = TimeSpan.FromDays(3650);

    /// <summary>Readings whose timestamps were corrected after the clock became trustworthy.</summary>
    public long Corrected => Interlocked.Read(ref _corrected);

    /// <summary>Readings waiting for a trustworthy clock.</summary>
    public long HeldCount => _outbox.Stats().Held;

    /// <summary>Held readings dropped because they were taken before a reboot and cannot be dated.</summary>
    public long Unrecoverable => _outbox.Stats().Unrecoverable;

    public bool IsTrusted(DateTimeOffset now) => now >= _floor && now - _floor <= MaxAheadOfFloor;

    /// <summary>The newest timestamp seen so far is a floor for the future too: time never runs backwards.</summary>
    public DateTimeOffset Floor => _floor;

    public async ValueTask AddAsync(DeviceInfo device, IReadOnlyList<Reading> readings, CancellationToken ct)
    {
        // Not cancellable: a reading that was taken is always handed over, even when the agent is stopping.
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var now = _clock.GetUtcNow();
            // A poll stamped no later than the device's previous one means the wall clock stood still or went back
            // between them (seen on virtual machines, and when NTP steps the clock): hold it like an untrusted one.
            if (!IsTrusted(now) || (readings.Count > 0 && _lastMs.TryGetValue(device.Id, out var last) && readings.Min(r => r.Timestamp.ToUnixTimeMilliseconds()) <= last))
            {
                await _outbox.HoldAsync(device, readings, Mark(), CancellationToken.None).ConfigureAwait(false);
                _mayHold = true;
                return;
            }
            if (_mayHold) await ReleaseAsync(now).ConfigureAwait(false);
            readings = InOrder(device.Id, readings);
            foreach (var r in readings)
                if (r.Timestamp > _floor) _floor = r.Timestamp;
            await _outbox.AddAsync(device, readings, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>This moment by the monotonic clock of this boot.</summary>
    private ClockMark Mark() => new(_boot, MonotonicMs(_clock.GetTimestamp()));

    private long MonotonicMs(long timestamp) => (long)(timestamp * (1000.0 / _clock.TimestampFrequency));

    /// <summary>
    /// Readings are stamped with the wall clock by the poller; while held, that stamp is wrong, so it is replaced by
    /// now − (monotonic now − monotonic at reading).
    /// </summary>
    private async Task ReleaseAsync(DateTimeOffset now)
    {
        var monoNow = MonotonicMs(_clock.GetTimestamp());
        var nowMs = now.ToUnixTimeMilliseconds();
        // The readings of one poll share one mark and get one time; each device's times keep growing.
        var given = new Dictionary<(ClockMark, string), DateTimeOffset>();
        var (released, lost) = await _outbox.ReleaseHeldAsync((mark, device) =>
        {
            if (mark.Boot != _boot || mark.MonotonicMs > monoNow) return null;
            if (given.TryGetValue((mark, device), out var ts)) return ts;
            ts = DateTimeOffset.FromUnixTimeMilliseconds(After(device, nowMs - (monoNow - mark.MonotonicMs)));
            given[(mark, device)] = ts;
            if (ts > _floor) _floor = ts;
            return ts;
        }, CancellationToken.None).ConfigureAwait(false);
        _mayHold = false;
        Interlocked.Add(ref _corrected, released);
        if (released > 0) _log?.LogInformation("Clock trusted again: {Count} held readings re-stamped with their true time", released);
        if (lost > 0) _log?.LogWarning("{Count} readings held before a reboot cannot be dated (the clock was never trusted in that boot); dropped", lost);
    }

    /// <summary>
    /// <paramref name="ms"/>, or 1 ms after the device's last timestamp when it is not later (then the true time is not
    /// known to the millisecond); remembered as the device's last.
    /// </summary>
    private long After(string device, long ms)
    {
        if (_lastMs.TryGetValue(device, out var last) && ms <= last) ms = last + 1;
        _lastMs[device] = ms;
        return ms;
    }

    /// <summary>The readings with each device's timestamps growing; any moved are marked uncertain and counted as corrected.</summary>
    private IReadOnlyList<Reading> InOrder(string device, IReadOnlyList<Reading> readings)
    {
        List<Reading>? moved = null;
        long? from = null, to = null;
        for (var i = 0; i < readings.Count; i++)
        {
            var r = readings[i];
            var ms = r.Timestamp.ToUnixTimeMilliseconds();
            // Readings of one poll share a timestamp: they keep sharing it.
            if (ms != from)
            {
                from = ms;
                to = After(device, ms);
            }
            if (to == ms && moved is null) continue;
            moved ??= [.. readings.Take(i)];
            moved.Add(to == ms ? r : r with { Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(to!.Value), Quality = Qualities.Uncertain });
            if (to != ms) Interlocked.Increment(ref _corrected);
        }
        return moved ?? readings;
    }

    /// <summary>Linux's id of this boot; elsewhere one per process (a restart is then treated like a reboot).</summary>
    public static string CurrentBoot()
    {
        try
        {
            var id = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            if (id.Length > 0) return id;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return "process-" + Guid.NewGuid().ToString("N");
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

}
