using KhuyenCong.Contracts;
using KhuyenCong.Edge.Clock;
using KhuyenCong.Edge.Outbox;
using KhuyenCong.TestSupport;

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
    public async Task A_wall_clock_that_stood_still_does_not_give_a_device_the_same_timestamp_twice()
    {
        var clock = new ManualClock(TrueNow);
        var outbox = new MemoryOutbox();
        var guard = new ClockGuard(clock, outbox, Floor, boot: "b");
        await guard.AddAsync(Kiln, [Temp(TrueNow, 1)], default);
        // Half a second passes, but the wall clock stands still: the next poll carries the same timestamp. Handed
        // over as it is, it would overwrite the first reading in InfluxDB (same series, same time).
        clock.Advance(TimeSpan.FromMilliseconds(500));
        clock.SetWall(TrueNow);
        await guard.AddAsync(Kiln, [Temp(TrueNow, 2)], default);
        Assert.Single(await outbox.PeekAsync(10, default));
        Assert.Equal(1, guard.HeldCount);

        // The clock catches up: the held poll gets its true time back from the monotonic clock.
        clock.Advance(TimeSpan.FromMilliseconds(500));
        clock.SetWall(TrueNow.AddSeconds(1));
        await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 3)], default);
        var all = await outbox.PeekAsync(10, default);
        Assert.Equal([1.0, 2, 3], all.Select(p => p.Reading.Value));
        Assert.Equal([TrueNow, TrueNow.AddMilliseconds(500), TrueNow.AddSeconds(1)], all.Select(p => p.Reading.Timestamp));
        Assert.Equal([Qualities.Good, Qualities.Uncertain, Qualities.Good], all.Select(p => p.Reading.Quality));
    }

    [Fact]
    public async Task When_the_clock_never_catches_up_each_poll_still_gets_a_later_timestamp_than_the_last()
    {
        var clock = new ManualClock(TrueNow);
        var outbox = new MemoryOutbox();
        var guard = new ClockGuard(clock, outbox, Floor, boot: "b");
        await guard.AddAsync(Kiln, [Temp(TrueNow, 1), Temp(TrueNow, 1.5) with { Point = "kiln_setpoint_c" }], default);
        clock.Advance(TimeSpan.FromMilliseconds(500));
        clock.SetWall(TrueNow); // stood still for 500 ms, then runs on from there: the 500 ms are lost to it
        await guard.AddAsync(Kiln, [Temp(TrueNow, 2), Temp(TrueNow, 2.5) with { Point = "kiln_setpoint_c" }], default);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 3)], default);

        var all = await outbox.PeekAsync(10, default);
        Assert.Equal([1.0, 1.5, 2, 2.5, 3], all.Select(p => p.Reading.Value));
        // The held poll's true time (now − 1 ms of age, i.e. the first poll's time) is taken: it is moved 1 ms after
        // the device's last timestamp, and its two readings keep sharing one timestamp.
        Assert.Equal([TrueNow, TrueNow, TrueNow.AddMilliseconds(1), TrueNow.AddMilliseconds(1), TrueNow.AddMilliseconds(2)],
            all.Select(p => p.Reading.Timestamp));
        Assert.Equal([Qualities.Good, Qualities.Good, Qualities.Uncertain, Qualities.Uncertain, Qualities.Uncertain], all.Select(p => p.Reading.Quality));
    }

    [Fact]
    public async Task Held_readings_count_against_the_outbox_budget()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var outbox = new MemoryOutbox(maxReadings: 3);
        var guard = new ClockGuard(clock, outbox, Floor, boot: "b");
        for (var i = 0; i < 5; i++) await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), i)], default);
        Assert.Equal(3, guard.HeldCount);
        Assert.Equal(2, outbox.Stats().Dropped);
    }

    [Fact]
    public async Task A_reading_handed_over_while_the_agent_stops_is_still_stored()
    {
        var clock = new ManualClock(TrueNow);
        var outbox = new MemoryOutbox();
        var guard = new ClockGuard(clock, outbox, Floor, boot: "b");
        using var stopping = new CancellationTokenSource();
        await stopping.CancelAsync();
        await guard.AddAsync(Kiln, [Temp(TrueNow, 1)], stopping.Token);
        clock.SetWall(DateTimeOffset.UnixEpoch);
        await guard.AddAsync(Kiln, [Temp(DateTimeOffset.UnixEpoch, 2)], stopping.Token);
        Assert.Single(await outbox.PeekAsync(10, default));
        Assert.Equal(1, guard.HeldCount);
    }

    [Fact]
    public async Task Held_readings_survive_a_restart_of_the_agent_and_are_dated_in_the_same_boot()
    {
        using var dir = new TempDirectory("kc-clock");
        var path = dir.File("outbox.db");
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        clock.Advance(TimeSpan.FromMinutes(5)); // five minutes since boot
        await using (var outbox = new SqliteOutbox(path, 1 << 24, TimeSpan.FromHours(1)))
        {
            var guard = new ClockGuard(clock, outbox, Floor, boot: "boot-1");
            await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 20)], default);
            clock.Advance(TimeSpan.FromSeconds(30));
            await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 25)], default);
        } // the agent stops (or is restarted by systemd); the machine keeps running

        clock.Advance(TimeSpan.FromSeconds(90));
        clock.SetWall(TrueNow); // NTP syncs
        await using var again = new SqliteOutbox(path, 1 << 24, TimeSpan.FromHours(1));
        var restarted = new ClockGuard(clock, again, Floor, boot: "boot-1");
        Assert.Equal(2, restarted.HeldCount);
        await restarted.AddAsync(Kiln, [Temp(TrueNow, 31)], default);
        await again.FlushAsync(default);

        var all = await again.PeekAsync(10, default);
        Assert.Equal([20.0, 25, 31], all.Select(p => p.Reading.Value));
        Assert.Equal([TrueNow.AddSeconds(-120), TrueNow.AddSeconds(-90), TrueNow], all.Select(p => p.Reading.Timestamp));
        Assert.Equal([Qualities.Uncertain, Qualities.Uncertain, Qualities.Good], all.Select(p => p.Reading.Quality));
        Assert.Equal(2, restarted.Corrected);
    }

    [Fact]
    public async Task Readings_held_before_a_reboot_cannot_be_dated_and_are_dropped_and_counted()
    {
        using var dir = new TempDirectory("kc-clock");
        var path = dir.File("outbox.db");
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        await using (var outbox = new SqliteOutbox(path, 1 << 24, TimeSpan.FromHours(1)))
        {
            var guard = new ClockGuard(clock, outbox, Floor, boot: "boot-1");
            await guard.AddAsync(Kiln, [Temp(clock.GetUtcNow(), 20)], default);
        } // the power goes before NTP ever synced

        var rebooted = new ManualClock(TrueNow);
        await using var again = new SqliteOutbox(path, 1 << 24, TimeSpan.FromHours(1));
        var guard2 = new ClockGuard(rebooted, again, Floor, boot: "boot-2");
        await guard2.AddAsync(Kiln, [Temp(TrueNow, 31)], default);
        await again.FlushAsync(default);
        Assert.Equal([31.0], (await again.PeekAsync(10, default)).Select(p => p.Reading.Value));
        Assert.Equal(1, guard2.Unrecoverable);
        Assert.Equal(0, guard2.HeldCount);
    }

    [Fact]
    public async Task After_a_restart_a_clock_behind_the_newest_stored_reading_is_not_trusted()
    {
        using var dir = new TempDirectory("kc-clock");
        var path = dir.File("outbox.db");
        var clock = new ManualClock(TrueNow);
        await using (var outbox = new SqliteOutbox(path, 1 << 24, TimeSpan.FromHours(1)))
        {
            var guard = new ClockGuard(clock, outbox, Floor, boot: "boot-1");
            await guard.AddAsync(Kiln, [Temp(TrueNow, 20)], default);
        }
        // A Pi with fake-hwclock boots with the time it saved an hour before the power cut: after the build floor,
        // but behind the last reading.
        var rebooted = new ManualClock(TrueNow.AddHours(-1));
        await using var again = new SqliteOutbox(path, 1 << 24, TimeSpan.FromHours(1));
        var guard2 = new ClockGuard(rebooted, again, Floor, boot: "boot-2");
        Assert.Equal(TrueNow, guard2.Floor);
        await guard2.AddAsync(Kiln, [Temp(rebooted.GetUtcNow(), 21)], default);
        Assert.Equal(1, guard2.HeldCount);
    }
}
