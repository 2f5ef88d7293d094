using KhuyenCong.Contracts;
using KhuyenCong.Edge.Clock;
using KhuyenCong.Edge.Outbox;

namespace KhuyenCong.Edge.Tests;

public sealed class ClockGuardTests
{
    private static readonly DeviceInfo Kiln = new() { Id = "kiln1-ctl", Class = DeviceClasses.Kiln, Kiln = "kiln-1" };
    private static readonly DateTimeOffset Floor = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset TrueNow = new(2026, 11, 28, 8, 0, 0, TimeSpan.Zero);

    private static Reading Temp(DateTimeOffset ts, double v) =>
        new() { Device = Kiln.Id, Point = "kiln_temp_c", Timestamp = ts, Value = v, Unit = "°C" };

    [Fact]
    public async Task With_a_trustworthy_clock_readings_pass_through_unchanged()
    {
        var clock = new ManualClock(TrueNow);
        var outbox = new MemoryOutbox();
        var guard = new ClockGuard(clock, outbox, Floor);
        await guard.AddAsync(Kiln, [Temp(TrueNow, 812.5)], default);
        var got = Assert.Single(await outbox.PeekAsync(10, default));
        Assert.Equal(TrueNow, got.Reading.Timestamp);
        Assert.Equal(Qualities.Good, got.Reading.Quality);
        Assert.Equal(0, guard.Corrected);
    }

    [Fact]
    public async Task Readings_taken_before_ntp_sync_are_held_then_restamped_with_their_true_time_and_flagged()
    {
        // The Pi boots believing it is 1 January 1970.
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var outbox = new MemoryOutbox();
        var guard = new ClockGuard(clock, outbox, Floor);

        await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 20)], default);
        clock.Advance(TimeSpan.FromSeconds(30));
        await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 25)], default);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Empty(await outbox.PeekAsync(10, default));
        Assert.Equal(2, guard.HeldCount);

        // NTP syncs; 10 s later the next reading arrives.
        clock.SetWall(TrueNow);
        clock.Advance(TimeSpan.FromSeconds(10));
        await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 31)], default);

        var all = await outbox.PeekAsync(10, default);
        Assert.Equal([20.0, 25, 31], all.Select(p => p.Reading.Value));
        // The first reading was taken 70 s before the third, the second 40 s before it.
        Assert.Equal(TrueNow.AddSeconds(10 - 70), all[0].Reading.Timestamp);
        Assert.Equal(TrueNow.AddSeconds(10 - 40), all[1].Reading.Timestamp);
        Assert.Equal(TrueNow.AddSeconds(10), all[2].Reading.Timestamp);
        Assert.Equal([Qualities.Uncertain, Qualities.Uncertain, Qualities.Good], all.Select(p => p.Reading.Quality));
        Assert.Equal(2, guard.Corrected);
        Assert.Equal(0, guard.HeldCount);
    }

    [Fact]
    public async Task A_clock_far_in_the_future_is_not_trusted_either()
    {
        var clock = new ManualClock(new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var outbox = new MemoryOutbox();
        var guard = new ClockGuard(clock, outbox, Floor);
        await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 20)], default);
        Assert.Empty(await outbox.PeekAsync(10, default));
        Assert.Equal(1, guard.HeldCount);
    }

    [Fact]
    public async Task Time_never_runs_backwards_past_the_newest_reading()
    {
        var clock = new ManualClock(TrueNow);
        var outbox = new MemoryOutbox();
        var guard = new ClockGuard(clock, outbox, Floor);
        await guard.AddAsync(Kiln, [Temp(TrueNow, 1)], default);
        // After a reboot without RTC the clock restarts from an older saved time.
        clock.SetWall(TrueNow.AddHours(-5));
        await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 2)], default);
        Assert.Single(await outbox.PeekAsync(10, default));
        Assert.Equal(1, guard.HeldCount);
    }

    [Fact]
    public async Task The_hold_buffer_is_bounded_and_counts_what_it_drops()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var guard = new ClockGuard(clock, new MemoryOutbox(), Floor, maxHeld: 3);
        for (var i = 0; i < 5; i++) await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), i)], default);
        Assert.Equal(3, guard.HeldCount);
        Assert.Equal(2, guard.DroppedWhileHeld);
    }
}
