using System.Diagnostics;
using System.Net;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.Modbus;

namespace KhuyenCong.Simulator;

/// <summary>
/// Serves a <see cref="Workshop"/> as real Modbus devices: every device of the gateway config is emulated at its unit id
/// with the register map of its own profile (the same file the edge agent decodes with), on the TCP address of its bus.
/// Simulated time runs <see cref="TimeScale"/> times faster than the wall clock; tests may pause it and step it by hand.
/// </summary>
public sealed class SimulatorHost : IAsyncDisposable
{
    private readonly LoadedGateway _gateway;
    private readonly Dictionary<string, ModbusDataStore> _stores = new(StringComparer.Ordinal);
    private readonly List<ModbusTcpSlave> _slaves = [];
    private readonly object _gate = new();
    private CancellationTokenSource? _loop;
    private Task? _loopTask;

    public SimulatorHost(LoadedGateway gateway, double timeScale = 600, int seed = 42)
    {
        _gateway = gateway;
        TimeScale = timeScale;
        Workshop = new Workshop(gateway.Config, gateway.ProfilesByDevice.ToDictionary(p => p.Key, p => p.Value.Profile.Class), seed);
        foreach (var bus in gateway.Config.Buses.Where(b => b.Type == BusType.Tcp))
        {
            var store = new ModbusDataStore();
            _stores[bus.Id] = store;
            foreach (var d in gateway.Config.Devices.Where(d => d.Bus == bus.Id))
                DefineDevice(store, d, gateway.ProfilesByDevice[d.Id]);
        }
        WriteRegisters();
    }

    public Workshop Workshop { get; }

    /// <summary>Simulated seconds per wall-clock second.</summary>
    public double TimeScale { get; set; }

    /// <summary>While paused, time stands still and the registers keep their values.</summary>
    public bool Paused { get; set; }

    /// <summary>The endpoint each TCP bus is served on.</summary>
    public IReadOnlyDictionary<string, IPEndPoint> Endpoints { get; private set; } = new Dictionary<string, IPEndPoint>();

    /// <summary>Starts a Modbus TCP slave per TCP bus and the clock that advances the workshop.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        var endpoints = new Dictionary<string, IPEndPoint>(StringComparer.Ordinal);
        foreach (var bus in _gateway.Config.Buses.Where(b => b.Type == BusType.Tcp))
        {
            var address = bus.Host is "localhost" ? IPAddress.Loopback : IPAddress.Parse(bus.Host!);
            var slave = new ModbusTcpSlave(new IPEndPoint(address, bus.Port), _stores[bus.Id]);
            await slave.StartAsync(ct).ConfigureAwait(false);
            _slaves.Add(slave);
            endpoints[bus.Id] = slave.LocalEndPoint;
        }
        Endpoints = endpoints;
        _loop = new CancellationTokenSource();
        _loopTask = RunClockAsync(_loop.Token);
    }

    /// <summary>Advances simulated time by hand (used by tests while <see cref="Paused"/>).</summary>
    public void Advance(TimeSpan simulated)
    {
        lock (_gate)
        {
            Workshop.Advance(simulated.TotalSeconds);
            WriteRegisters();
        }
    }

    /// <summary>The value a device's register map shows for a point right now, decoded exactly as a master would.</summary>
    public double Served(string deviceId, string point)
    {
        lock (_gate)
        {
            var d = _gateway.Config.Devices.First(x => x.Id == deviceId);
            var profile = _gateway.ProfilesByDevice[deviceId];
            var p = profile.Point(point);
            var field = p.ToField(profile.Profile.WordOrder);
            var unit = d.Unit ?? profile.Profile.DefaultUnit;
            var store = _stores[d.Bus];
            if (field.Table is RegisterTable.Coil or RegisterTable.DiscreteInput)
                return p.FromField(store.GetBits(unit, field.Table, field.Address, 1)[0] ? 1 : 0);
            var regs = store.GetRegisters(unit, field.Table, field.Address, (ushort)field.Width);
            return p.FromField(RegisterCodec.Decode(field, regs));
        }
    }

    private async Task RunClockAsync(CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var last = sw.Elapsed;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                var now = sw.Elapsed;
                var real = now - last;
                last = now;
                if (Paused || TimeScale <= 0) continue;
                Advance(real * TimeScale);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void DefineDevice(ModbusDataStore store, DeviceConfig d, LoadedProfile profile)
    {
        var unit = d.Unit ?? profile.Profile.DefaultUnit;
        // Everything the edge will ask for exists on the device, including the unused registers a planned read spans
        // (a real meter answers those too); the points then get their values.
        var rq = profile.Profile.Requests;
        foreach (var r in RequestPlanner.Plan(profile.Fields(), new PlannerOptions { MaxRegisters = rq.MaxRegisters, MaxGap = rq.MaxGap, OneRequestPerField = rq.OnePerPoint }))
        {
            if (r.Table is RegisterTable.Coil or RegisterTable.DiscreteInput)
                store.DefineBits(unit, r.Table, r.Address, new bool[r.Count]);
            else
                store.DefineRegisters(unit, r.Table, r.Address, new ushort[r.Count]);
        }
    }

    /// <summary>Encodes the workshop's current values into every device's registers.</summary>
    private void WriteRegisters()
    {
        foreach (var d in _gateway.Config.Devices)
        {
            if (!_stores.TryGetValue(d.Bus, out var store)) continue;
            var profile = _gateway.ProfilesByDevice[d.Id];
            var unit = d.Unit ?? profile.Profile.DefaultUnit;
            var statusWords = new Dictionary<(RegisterTable, ushort), ushort>();
            foreach (var p in profile.Profile.Points)
            {
                if (Workshop.Value(d.Id, p.Name) is not { } value) continue;
                var f = p.ToField(profile.Profile.WordOrder);
                if (f.Table is RegisterTable.Coil or RegisterTable.DiscreteInput)
                {
                    store.SetBits(unit, f.Table, f.Address, [p.ToRawBit(value)]);
                }
                else if (p.Bit is { } bit)
                {
                    // Several points may be bits of one status word: gather them, then write the word once.
                    var key = (f.Table, f.Address);
                    statusWords.TryGetValue(key, out var word);
                    statusWords[key] = p.ToRawBit(value) ? (ushort)(word | (1 << bit)) : (ushort)(word & ~(1 << bit));
                }
                else if (p.Type == DataType.Bit && p.Invert)
                {
                    store.SetRegisters(unit, f.Table, f.Address, [p.ToRawBit(value) ? (ushort)1 : (ushort)0]);
                }
                else
                {
                    var regs = new ushort[f.Width];
                    RegisterCodec.Encode(f, value, regs);
                    store.SetRegisters(unit, f.Table, f.Address, regs);
                }
            }
            foreach (var ((table, address), word) in statusWords) store.SetRegisters(unit, table, address, [word]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_loop is not null)
        {
            await _loop.CancelAsync().ConfigureAwait(false);
            if (_loopTask is not null) await _loopTask.ConfigureAwait(false);
            _loop.Dispose();
        }
        foreach (var s in _slaves) await s.DisposeAsync().ConfigureAwait(false);
    }
}
