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

}
