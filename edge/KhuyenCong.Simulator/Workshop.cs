using KhuyenCong.Contracts;
using KhuyenCong.Edge.Config;

namespace KhuyenCong.Simulator;

/// <summary>
/// A simulated workshop built from a gateway config: one <see cref="KilnModel"/> per kiln named by the devices, and the
/// values each device would show. A kiln with a gas device is LPG-fired; otherwise it is electric. A meter without a kiln
/// measures the whole workshop (every kiln plus a base load). Counters only grow.
/// </summary>
public sealed class Workshop
{
    /// <summary>Lights, wheels and a compressor: the workshop's load besides the kilns, W.</summary>
    public const double BaseLoadW = 600;
    public const double LpgBankFullKg = 180;   // four 45 kg cylinders on one manifold
    public const double LpgRefillBelowKg = 20;
    /// <summary>Density of LPG vapour used by the flow totaliser, kg/m³ (propane/butane mix near 15 °C).</summary>
    public const double LpgKgPerM3 = 2.0;

    private readonly Dictionary<string, KilnModel> _kilns = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DeviceState> _devices = new(StringComparer.Ordinal);
    private readonly Random _noise;
    private readonly object _gate = new();

    /// <param name="config">The gateway whose devices are simulated.</param>
    /// <param name="deviceClasses">Device id → class (meter, kiln, gas), from each device's profile.</param>
    /// <param name="seed">Seed of the measurement noise.</param>
    public Workshop(GatewayConfig config, IReadOnlyDictionary<string, string> deviceClasses, int seed = 42)
    {
        Config = config;
        _noise = new Random(seed);
        _classOf = new Dictionary<string, string>(deviceClasses, StringComparer.Ordinal);
        var gasKilns = config.Devices.Where(d => d.Kiln is not null && _classOf[d.Id] == DeviceClasses.Gas).Select(d => d.Kiln!).ToHashSet(StringComparer.Ordinal);
        var kilnIds = config.Devices.Where(d => d.Kiln is not null).Select(d => d.Kiln!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        for (var i = 0; i < kilnIds.Count; i++)
        {
            _kilns[kilnIds[i]] = new KilnModel(kilnIds[i], gasKilns.Contains(kilnIds[i]) ? KilnFuel.Lpg : KilnFuel.Electric)
            {
                // Stagger kilns so they are not all in the same phase of their firing.
                RestBetweenFirings = TimeSpan.FromMinutes(10 + 40 * i),
            };
        }
        foreach (var d in config.Devices)
        {
            _devices[d.Id] = new DeviceState
            {
                EnergyImportKwh = 10_000 + 1_000 * _devices.Count,
                LpgMassKg = LpgBankFullKg - 35,
                GasVolumeM3 = 500 + 100 * _devices.Count,
            };
        }
    }

    private readonly Dictionary<string, string> _classOf;

    public GatewayConfig Config { get; }

    public IReadOnlyDictionary<string, KilnModel> Kilns => _kilns;

    /// <summary>Simulated time elapsed, seconds.</summary>
    public double SimulatedSeconds { get; private set; }

    /// <summary>Advances everything by <paramref name="seconds"/> of simulated time, in steps of at most 10 s.</summary>
    public void Advance(double seconds)
    {
        lock (_gate)
        {
            while (seconds > 1e-9)
            {
                var dt = Math.Min(seconds, 10);
                seconds -= dt;
                SimulatedSeconds += dt;
                foreach (var k in _kilns.Values) k.Step(dt);
                foreach (var d in Config.Devices) Integrate(d, dt);
            }
        }
    }

    private void Integrate(DeviceConfig d, double dt)
    {
        var s = _devices[d.Id];
        var cls = _classOf[d.Id];
        if (cls == DeviceClasses.Meter)
        {
            s.VoltageV = 230 + Jitter(1.5);
            s.FrequencyHz = 50 + Jitter(0.03);
            s.PowerW = MeterPower(d);
            s.EnergyImportKwh += s.PowerW * dt / 3_600_000;
        }
        else if (cls == DeviceClasses.Gas && d.Kiln is not null)
        {
            var kgPerHour = _kilns[d.Kiln].LpgKgPerHour;
            var kg = kgPerHour * dt / 3600;
            s.FlowM3h = kgPerHour / LpgKgPerM3;
            s.GasVolumeM3 += kg / LpgKgPerM3;
            s.LpgMassKg -= kg;
            if (s.LpgMassKg < LpgRefillBelowKg)
            {
                s.LpgMassKg = LpgBankFullKg; // cylinders swapped: the scale jumps up
                s.Refills++;
            }
        }
    }

    private double MeterPower(DeviceConfig d) =>
        d.Kiln is { } kiln ? _kilns[kiln].ElectricPowerW : BaseLoadW + _kilns.Values.Sum(k => k.ElectricPowerW);

    /// <summary>
    /// The value a device shows for a canonical point right now, or null when the simulation has nothing for it
    /// (then the register keeps its initial value).
    /// </summary>
    public double? Value(string deviceId, string point)
    {
        lock (_gate)
        {
            var d = Config.Devices.First(x => x.Id == deviceId);
            var s = _devices[deviceId];
            var kiln = d.Kiln is null ? null : _kilns[d.Kiln];
            var phaseW = s.PowerW / 3;
            var v = s.VoltageV;
            return point switch
            {
                "energy_import_kwh" => s.EnergyImportKwh,
                "energy_total_kwh" => s.EnergyImportKwh,
                "energy_export_kwh" => 0,
                "power_w" => s.PowerW,
                "power_l1_w" or "power_l2_w" or "power_l3_w" => phaseW,
                "voltage_l1_v" or "voltage_l2_v" or "voltage_l3_v" => v,
                "current_l1_a" or "current_l2_a" or "current_l3_a" => phaseW / (v * 0.99),
                "frequency_hz" => s.FrequencyHz,
                "power_factor" => s.PowerW > 50 ? 0.99 : 0.9,
                "kiln_temp_c" => kiln?.TemperatureC,
                "kiln_setpoint_c" => kiln?.SetpointC,
                "kiln_running" => kiln is null ? null : kiln.Running ? 1 : 0,
                "kiln_alarm" => 0,
                "kiln_segment" => kiln?.Segment,
                "lpg_mass_kg" => s.LpgMassKg,
                "gas_volume_m3" => s.GasVolumeM3,
                "gas_flow_m3h" => s.FlowM3h,
                _ => null,
            };
        }
    }

    /// <summary>Measurement noise, drawn once per simulation step so that a paused workshop shows steady values.</summary>
    private double Jitter(double amplitude) => (_noise.NextDouble() * 2 - 1) * amplitude;

    private sealed class DeviceState
    {
        public double EnergyImportKwh;
        public double PowerW;
        public double LpgMassKg;
        public double GasVolumeM3;
        public double FlowM3h;
        public int Refills;
        public double VoltageV = 230;
        public double FrequencyHz = 50;
    }
}
