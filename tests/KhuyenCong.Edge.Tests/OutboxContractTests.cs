using KhuyenCong.Contracts;
using KhuyenCong.Edge.Outbox;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Edge.Tests;

/// <summary>One contract, two outboxes: every test here runs against the in-memory and the SQLite outbox.</summary>
public abstract class OutboxContractTests : IAsyncLifetime
{
    protected static readonly DeviceInfo Meter = new() { Id = "kiln1-meter", Class = DeviceClasses.Meter, Kiln = "kiln-1", Profile = "eastron-sdm630" };
    protected static readonly DateTimeOffset T0 = new(2026, 11, 28, 8, 0, 0, TimeSpan.Zero);

    protected IOutbox Outbox { get; private set; } = null!;

    protected abstract IOutbox Create();

    public Task InitializeAsync()
    {
        Outbox = Create();
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync() => await Outbox.DisposeAsync();

    protected static Reading Energy(int i) => new()
    {
        Device = Meter.Id,
        Point = "energy_import_kwh",
        Timestamp = T0.AddSeconds(i),
        Value = 1000 + i,
        Unit = "kWh",
    };

    protected async Task AddAsync(int from, int count)
    {
        await Outbox.AddAsync(Meter, [.. Enumerable.Range(from, count).Select(Energy)], default);
        await Outbox.FlushAsync(default);
    }

    [Fact]
    public async Task Readings_come_out_in_the_order_they_went_in()
    {
        await AddAsync(0, 10);
        var batch = await Outbox.PeekAsync(100, default);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => 1000.0 + i), batch.Select(p => p.Reading.Value));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => T0.AddSeconds(i)), batch.Select(p => p.Reading.Timestamp));
        Assert.All(batch, p => Assert.Equal(Meter, p.Device));
    }

    [Fact]
    public async Task Peek_does_not_remove_and_acknowledge_removes_exactly_the_batch()
    {
        await AddAsync(0, 10);
        var first = await Outbox.PeekAsync(4, default);
        Assert.Equal(4, first.Count);
        Assert.Equal(first.Select(p => p.Id), (await Outbox.PeekAsync(4, default)).Select(p => p.Id));

        await Outbox.AcknowledgeAsync(first, sequence: 1, default);
        var rest = await Outbox.PeekAsync(100, default);
        Assert.Equal(Enumerable.Range(4, 6).Select(i => 1000.0 + i), rest.Select(p => p.Reading.Value));
        Assert.Equal(1, Outbox.LastSequence);
        Assert.Equal(6, Outbox.Stats().Depth);
    }

    [Fact]
    public async Task Stats_report_depth_and_the_oldest_reading()
    {
        Assert.Equal(0, Outbox.Stats().Depth);
        Assert.Null(Outbox.Stats().OldestTimestamp);
        await AddAsync(3, 5);
        var s = Outbox.Stats();
        Assert.Equal(5, s.Depth);
        Assert.Equal(T0.AddSeconds(3), s.OldestTimestamp);
        Assert.Equal(0, s.Dropped);
    }

    [Fact]
    public async Task A_waiting_publisher_is_woken_when_readings_arrive()
    {
        Assert.Empty(await Outbox.PeekAsync(10, default));
        var wait = Outbox.WaitForReadingsAsync(default);
        Assert.False(wait.IsCompleted);
        await AddAsync(0, 1);
        await wait.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Held_readings_wait_unpublished_then_join_in_order_with_their_true_time_and_flagged()
    {
        await AddAsync(0, 2);
        // Taken while the clock was wrong: their own stamps (1970) are meaningless, the marks are what count.
        var wrong = DateTimeOffset.UnixEpoch;
        await Outbox.HoldAsync(Meter, [Energy(2) with { Timestamp = wrong }, Energy(3) with { Timestamp = wrong }], new ClockMark("boot-a", 5_000), default);
        await Outbox.HoldAsync(Meter, [Energy(4) with { Timestamp = wrong }], new ClockMark("boot-a", 6_000), default);
        await Outbox.FlushAsync(default);
        Assert.Equal([1000.0, 1001], (await Outbox.PeekAsync(100, default)).Select(p => p.Reading.Value));
        Assert.Equal(3, Outbox.Stats().Held);
        Assert.Equal(2, Outbox.Stats().Depth);

        var (released, lost) = await Outbox.ReleaseHeldAsync((m, _) => T0.AddMilliseconds(m.MonotonicMs), default);
        Assert.Equal((3L, 0L), (released, lost));
        var all = await Outbox.PeekAsync(100, default);
        Assert.Equal([1000.0, 1001, 1002, 1003, 1004], all.Select(p => p.Reading.Value));
        Assert.Equal([T0, T0.AddSeconds(1), T0.AddSeconds(5), T0.AddSeconds(5), T0.AddSeconds(6)], all.Select(p => p.Reading.Timestamp));
        Assert.Equal([Qualities.Good, Qualities.Good, Qualities.Uncertain, Qualities.Uncertain, Qualities.Uncertain], all.Select(p => p.Reading.Quality));
        Assert.All(all, p => Assert.Equal(Meter, p.Device));
        var s = Outbox.Stats();
        Assert.Equal((0L, 5L), (s.Held, s.Depth));
        Assert.Equal(T0.AddSeconds(6), s.NewestTimestamp);
    }

    [Fact]
    public async Task Held_readings_that_cannot_be_dated_are_dropped_and_counted_never_published()
    {
        await Outbox.HoldAsync(Meter, [Energy(0), Energy(1)], new ClockMark("before-the-power-cut", 9_000), default);
        await Outbox.HoldAsync(Meter, [Energy(2)], new ClockMark("this-boot", 1_000), default);
        var (released, lost) = await Outbox.ReleaseHeldAsync((m, _) => m.Boot == "this-boot" ? T0 : null, default);
        Assert.Equal((1L, 2L), (released, lost));
        Assert.Equal([1002.0], (await Outbox.PeekAsync(100, default)).Select(p => p.Reading.Value));
        Assert.Equal(2, Outbox.Stats().Unrecoverable);
        Assert.Equal(0, Outbox.Stats().Held);
    }

    [Fact]
    public async Task A_waiting_publisher_is_not_woken_by_held_readings_but_by_their_release()
    {
        var wait = Outbox.WaitForReadingsAsync(default);
        await Outbox.HoldAsync(Meter, [Energy(0)], new ClockMark("b", 0), default);
        await Outbox.FlushAsync(default);
        Assert.False(wait.IsCompleted);
        await Outbox.ReleaseHeldAsync((_, _) => T0, default);
        await wait.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Acknowledging_an_empty_batch_changes_nothing()
    {
        await AddAsync(0, 2);
        await Outbox.AcknowledgeAsync([], 5, default);
        Assert.Equal(2, Outbox.Stats().Depth);
        Assert.Equal(0, Outbox.LastSequence);
    }
}

public sealed class MemoryOutboxContract : OutboxContractTests
{
    protected override IOutbox Create() => new MemoryOutbox();

    [Fact]
    public async Task Over_budget_the_oldest_readings_are_dropped_and_counted()
    {
        await using var small = new MemoryOutbox(maxReadings: 5);
        await small.AddAsync(Meter, [.. Enumerable.Range(0, 8).Select(Energy)], default);
        var left = await small.PeekAsync(100, default);
        Assert.Equal(Enumerable.Range(3, 5).Select(i => 1000.0 + i), left.Select(p => p.Reading.Value));
        Assert.Equal(3, small.Stats().Dropped);
    }

    [Fact]
    public async Task Held_readings_count_against_the_budget_after_the_ready_ones()
    {
        await using var small = new MemoryOutbox(maxReadings: 5);
        await small.AddAsync(Meter, [.. Enumerable.Range(0, 3).Select(Energy)], default);
        await small.HoldAsync(Meter, [.. Enumerable.Range(3, 4).Select(Energy)], new ClockMark("b", 0), default);
        // 7 readings in a budget of 5: the two oldest ready ones go first.
        Assert.Equal((2L, 1L, 4L), (small.Stats().Dropped, small.Stats().Depth, small.Stats().Held));
        await small.HoldAsync(Meter, [.. Enumerable.Range(7, 2).Select(Energy)], new ClockMark("b", 0), default);
        Assert.Equal((4L, 0L, 5L), (small.Stats().Dropped, small.Stats().Depth, small.Stats().Held));
        await small.ReleaseHeldAsync((_, _) => T0, default);
        Assert.Equal([1004.0, 1005, 1006, 1007, 1008], (await small.PeekAsync(100, default)).Select(p => p.Reading.Value));
    }
}

public sealed class SqliteOutboxContract : OutboxContractTests
{
    private readonly TempDirectory _dir = new("kc-outbox");

    private string DbPath => _dir.File("outbox.db");

    protected override IOutbox Create() => new SqliteOutbox(DbPath, 256L * 1024 * 1024, TimeSpan.FromHours(1));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    [Fact]
    public async Task Readings_and_the_sequence_number_survive_a_restart()
    {
        await AddAsync(0, 6);
        var batch = await Outbox.PeekAsync(2, default);
        await Outbox.AcknowledgeAsync(batch, sequence: 41, default);
        await Outbox.DisposeAsync();

        await using var reopened = new SqliteOutbox(DbPath, 256L * 1024 * 1024, TimeSpan.FromHours(1));
        Assert.Equal(41, reopened.LastSequence);
        var rest = await reopened.PeekAsync(100, default);
        Assert.Equal(Enumerable.Range(2, 4).Select(i => 1000.0 + i), rest.Select(p => p.Reading.Value));
        Assert.Equal("ok", reopened.IntegrityCheck());
    }

    [Fact]
    public async Task Readings_not_yet_committed_are_committed_on_dispose()
    {
        await Outbox.AddAsync(Meter, [Energy(7)], default);
        await Outbox.DisposeAsync();
        await using var reopened = new SqliteOutbox(DbPath, 256L * 1024 * 1024, TimeSpan.FromHours(1));
        Assert.Equal([1007.0], (await reopened.PeekAsync(10, default)).Select(p => p.Reading.Value));
    }

    [Fact]
    public async Task Over_the_disk_budget_the_oldest_readings_are_dropped_and_the_count_persists()
    {
        await Outbox.DisposeAsync();
        const long budget = 64 * 1024;
        var small = new SqliteOutbox(DbPath, budget, TimeSpan.FromHours(1));
        for (var round = 0; round < 20; round++)
        {
            await small.AddAsync(Meter, [.. Enumerable.Range(round * 200, 200).Select(Energy)], default);
            await small.FlushAsync(default);
        }
        var stats = small.Stats();
        Assert.True(stats.Dropped > 0, "nothing was dropped");
        Assert.True(stats.Bytes <= budget, $"{stats.Bytes} bytes in use exceeds the budget of {budget}");
        Assert.Equal(4000, stats.Depth + stats.Dropped);
        var left = await small.PeekAsync(10_000, default);
        // What is left is the newest readings, still in order, ending with the last one added.
        Assert.Equal(1000.0 + 3999, left[^1].Reading.Value);
        Assert.True(left.Zip(left.Skip(1)).All(p => p.First.Reading.Value + 1 == p.Second.Reading.Value));
        Assert.Equal(4000 - left.Count, stats.Dropped);
        await small.DisposeAsync();

        await using var reopened = new SqliteOutbox(DbPath, budget, TimeSpan.FromHours(1));
        Assert.Equal(stats.Dropped, reopened.Stats().Dropped);
    }

    [Fact]
    public async Task Held_readings_the_newest_timestamp_and_the_undatable_count_survive_a_restart()
    {
        await AddAsync(0, 3);
        await Outbox.HoldAsync(Meter, [Energy(10), Energy(11)], new ClockMark("boot-a", 70_000), default);
        await Outbox.HoldAsync(Meter, [Energy(12)], new ClockMark("boot-0", 1_000), default);
        await Outbox.DisposeAsync(); // held readings not yet committed are committed on the way out

        await using var reopened = new SqliteOutbox(DbPath, 256L * 1024 * 1024, TimeSpan.FromHours(1));
        var s = reopened.Stats();
        Assert.Equal((3L, 3L), (s.Depth, s.Held));
        Assert.Equal(T0.AddSeconds(2), s.NewestTimestamp);
        var (released, lost) = await reopened.ReleaseHeldAsync((m, _) => m.Boot == "boot-a" ? T0.AddMilliseconds(m.MonotonicMs) : null, default);
        Assert.Equal((2L, 1L), (released, lost));
        await reopened.DisposeAsync();

        await using var again = new SqliteOutbox(DbPath, 256L * 1024 * 1024, TimeSpan.FromHours(1));
        var values = (await again.PeekAsync(100, default)).Select(p => (p.Reading.Value, p.Reading.Timestamp)).ToList();
        Assert.Equal([(1000.0, T0), (1001, T0.AddSeconds(1)), (1002, T0.AddSeconds(2)), (1010, T0.AddSeconds(70)), (1011, T0.AddSeconds(70))], values);
        Assert.Equal((0L, 1L), (again.Stats().Held, again.Stats().Unrecoverable));
        Assert.Equal(T0.AddSeconds(70), again.Stats().NewestTimestamp);
        Assert.Equal("ok", again.IntegrityCheck());
    }

    [Fact]
    public async Task Over_the_disk_budget_held_readings_go_after_the_ready_ones()
    {
        await Outbox.DisposeAsync();
        const long budget = 64 * 1024;
        var small = new SqliteOutbox(DbPath, budget, TimeSpan.FromHours(1));
        await small.AddAsync(Meter, [.. Enumerable.Range(0, 200).Select(Energy)], default);
        await small.FlushAsync(default);
        for (var round = 1; round < 20; round++)
        {
            await small.HoldAsync(Meter, [.. Enumerable.Range(round * 200, 200).Select(Energy)], new ClockMark("b", round), default);
            await small.FlushAsync(default);
        }
        var stats = small.Stats();
        Assert.True(stats.Bytes <= budget, $"{stats.Bytes} bytes in use exceeds the budget of {budget}");
        Assert.Equal(0, stats.Depth);
        Assert.True(stats.Dropped > 200, $"only {stats.Dropped} dropped: held readings were not dropped");
        Assert.Equal(4000, stats.Held + stats.Dropped);
        await small.ReleaseHeldAsync((_, _) => T0, default);
        var left = await small.PeekAsync(10_000, default);
        Assert.Equal(1000.0 + 3999, left[^1].Reading.Value);
        Assert.True(left.Zip(left.Skip(1)).All(p => p.First.Reading.Value + 1 == p.Second.Reading.Value));
        await small.DisposeAsync();
    }

}
