namespace KhuyenCong.Edge.Tests;

/// <summary>A clock the test sets by hand: wall time can jump (as on a Pi at NTP sync); monotonic time only advances.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _wall = start;
    private long _ticks;

    public override DateTimeOffset GetUtcNow() => _wall;

    public override long GetTimestamp() => _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>Time passes: both clocks advance.</summary>
    public void Advance(TimeSpan by)
    {
        _wall += by;
        _ticks += by.Ticks;
    }

    /// <summary>The wall clock is set (NTP sync); monotonic time does not move.</summary>
    public void SetWall(DateTimeOffset wall) => _wall = wall;
}
