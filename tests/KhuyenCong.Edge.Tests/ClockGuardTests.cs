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
