using System.Net;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Outbox;
using KhuyenCong.Edge.Polling;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.Modbus;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Edge.Tests;

/// <summary>Polling over a real Modbus TCP connection to the project's slave (a register array behind a real socket).</summary>
public sealed class BusPollerTests : IAsyncLifetime
{
    private readonly ModbusDataStore _store = new();
    private ModbusTcpSlave _slave = null!;
    private LoadedProfile _meter = null!;

    public async Task InitializeAsync()
    {
        _meter = ProfileLoader.Load(Path.Combine(RepoPaths.Devices, "eastron-sdm630", ProfileLoader.FileName));
        foreach (var f in _meter.Fields()) _store.DefineRegisters(1, f.Table, f.Address, new ushort[f.Width]);
        var energy = _meter.Fields().Single(f => f.Name == "energy_import_kwh");
        var regs = new ushort[2];
        RegisterCodec.Encode(energy, 10234.5, regs);
        _store.SetRegisters(1, energy.Table, energy.Address, regs);
        _slave = new ModbusTcpSlave(new IPEndPoint(IPAddress.Loopback, 0), _store);
        await _slave.StartAsync();
    }

    public async Task DisposeAsync() => await _slave.DisposeAsync();

    // A live device gets a generous timeout: a loaded machine must not turn a slow answer into a failed poll.
    private PolledDevice Device(string id, byte unit, int pollMs, int timeoutMs = 5000, int retries = 0) =>
        new(new DeviceConfig { Id = id, Bus = "lan", Profile = "eastron-sdm630", Unit = unit, PollInterval = TimeSpan.FromMilliseconds(pollMs), Timeout = TimeSpan.FromMilliseconds(timeoutMs), Retries = retries, Kiln = "kiln-1" }, _meter);

    private ModbusTcpMaster Master() => new(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = _slave.LocalEndPoint.Port });

    [Fact]
    public async Task A_poll_decodes_every_point_of_the_profile_with_one_timestamp()
    {
        var outbox = new MemoryOutbox();
        await using var master = Master();
        var live = Device("meter", 1, 1000);
        var poller = new BusPoller("lan", master, [live], outbox, TimeProvider.System, NullLogger.Instance);
        Assert.True(await poller.PollOnceAsync(live, default));
        var readings = await outbox.PeekAsync(100, default);
        Assert.Equal(_meter.Profile.Points.Select(p => p.Name).Order(), readings.Select(r => r.Reading.Point).Order());
        Assert.Single(readings.Select(r => r.Reading.Timestamp).Distinct());
        Assert.Equal(10234.5, readings.Single(r => r.Reading.Point == "energy_import_kwh").Reading.Value);
        Assert.All(readings, r => Assert.Equal("kiln-1", r.Device.Kiln));
        Assert.Equal(5, master.Stats().Requests); // the planned requests, not one per point
    }

    [Fact]
    public async Task A_silent_device_is_backed_off_exponentially()
    {
        await using var master = Master();
        var dead = Device("dead", 9, 100, timeoutMs: 100, retries: 1);
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var poller = new BusPoller("lan", master, [dead], new MemoryOutbox(), clock, NullLogger.Instance);
        for (var failures = 1; failures <= 5; failures++)
        {
            Assert.False(await poller.PollOnceAsync(dead, default));
            // 100 ms × 2^(failures−1): 100, 200, 400, 800, 1,600 ms.
            Assert.Equal(TimeSpan.FromMilliseconds(100 * Math.Pow(2, failures - 1)), dead.NextDue - clock.GetUtcNow());
        }
        Assert.Equal(5, dead.Health.PollsFailed);
        Assert.Equal(5, dead.Health.Timeouts);
        Assert.Equal(5, dead.Health.Retries);       // each poll tried its first request twice
        Assert.Equal(5, dead.Health.ConsecutiveFailures);
    }

    [Fact]
    public async Task A_dead_device_on_a_shared_bus_does_not_stop_the_others_being_polled()
    {
        var outbox = new MemoryOutbox();
        await using var master = Master();
        var live = Device("live", 1, 100);
        var dead = Device("dead", 9, 100, timeoutMs: 200);
        var poller = new BusPoller("lan", master, [live, dead], outbox, TimeProvider.System, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = poller.RunAsync(stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (live.Health.PollsOk < 20 && DateTime.UtcNow < deadline) await Task.Delay(50);
        await stop.CancelAsync();
        await Record.ExceptionAsync(() => run);

        Assert.True(live.Health.PollsOk >= 20, $"the live device was polled only {live.Health.PollsOk} times");
        Assert.Equal(0, live.Health.PollsFailed);
        // Without back-off the dead device would take a turn (and a full timeout) for every live poll.
        Assert.True(dead.Health.PollsFailed <= live.Health.PollsOk / 2, $"dead device tried {dead.Health.PollsFailed} times against {live.Health.PollsOk} live polls");
        Assert.True(dead.Health.PollsFailed >= 2, "the dead device was not retried");
    }

    [Fact]
    public async Task A_device_that_comes_back_resumes_its_schedule()
    {
        await using var master = Master();
        var meter = Device("meter", 7, 100, timeoutMs: 100);
        var poller = new BusPoller("lan", master, [meter], new MemoryOutbox(), TimeProvider.System, NullLogger.Instance);
        Assert.False(await poller.PollOnceAsync(meter, default));
        foreach (var f in _meter.Fields()) _store.DefineRegisters(7, f.Table, f.Address, new ushort[f.Width]);
        Assert.True(await poller.PollOnceAsync(meter, default));
        Assert.Equal(0, meter.Health.ConsecutiveFailures);
    }
}
