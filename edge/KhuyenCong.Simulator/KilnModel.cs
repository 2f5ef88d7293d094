namespace KhuyenCong.Simulator;

/// <summary>How a kiln is heated.</summary>
public enum KilnFuel
{
    Electric,
    Lpg,
}

/// <summary>One step of a firing program: ramp at a rate to a target, or hold.</summary>
public sealed record FiringSegment(double TargetC, double RateCPerHour, TimeSpan Hold);

/// <summary>
/// A physically plausible kiln: a lumped thermal mass with losses to ambient, a controller that follows a firing
/// program (ramp, ramp, soak), and a heater or gas burner that supplies what the ramp and the losses ask for, up to its
/// rating. After the program the kiln cools naturally with the burner off; when it is cold and has rested, the next
/// firing starts. Everything is deterministic for a given start and step sequence.
/// </summary>
public sealed class KilnModel
{
    public const double AmbientC = 30;
    /// <summary>Net calorific value of LPG, MJ/kg (IPCC 2006 default, docs/analytics.md).</summary>
    public const double LpgMjPerKg = 47.3;

    private int _segment = -1;
    private double _segmentHeldSeconds;
    private double _idleSeconds;

    public KilnModel(string id, KilnFuel fuel)
    {
        Id = id;
        Fuel = fuel;
        if (fuel == KilnFuel.Electric)
        {
            // An 18 kW studio kiln of about 0.3 m³: 130 kJ/K thermal mass, 6.5 W/K losses (≈8 kW at 1,250 °C).
            RatedPowerW = 18_000;
            HeatCapacityJPerK = 130_000;
            LossWPerK = 6.5;
        }
        else
        {
            // A gas shuttle kiln of a few m³: 400 kJ/K, 20 W/K losses, burner efficiency 35 %.
            RatedPowerW = 80_000;
            HeatCapacityJPerK = 400_000;
            LossWPerK = 20;
        }
    }

    public string Id { get; }
    public KilnFuel Fuel { get; }
    public double RatedPowerW { get; }
    public double HeatCapacityJPerK { get; }
    public double LossWPerK { get; }
    public double BurnerEfficiency { get; } = 0.35;
    /// <summary>Rest between the end of cooling and the next firing (settable: a history may vary it per firing).</summary>
    public TimeSpan RestBetweenFirings { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Ware in the kiln, kg. Its heat capacity adds to the kiln's, so a fuller kiln takes more energy to fire (and longer
    /// to cool). 0 (the default) is an empty kiln. Set it from <see cref="FiringStarting"/> to load each firing.
    /// </summary>
    public double LoadKg { get; set; }

    /// <summary>Specific heat of fired clay, J/(kg·K) (about 0.8–1.1 kJ/(kg·K) for stoneware bodies).</summary>
    public double WareHeatCapacityJPerKgK { get; init; } = 900;

    /// <summary>Raised just before a firing starts (the kiln is loaded): the owner may set <see cref="LoadKg"/> here.</summary>
    public event Action<KilnModel>? FiringStarting;

    private double TotalHeatCapacityJPerK => HeatCapacityJPerK + LoadKg * WareHeatCapacityJPerKgK;
    public IReadOnlyList<FiringSegment> Program { get; init; } =
    [
        new(600, 150, TimeSpan.Zero),       // water smoking and organic burnout
        new(1250, 250, TimeSpan.Zero),      // to stoneware peak
        new(1250, 0, TimeSpan.FromMinutes(30)), // soak
    ];

    public double TemperatureC { get; private set; } = AmbientC;
    public double SetpointC { get; private set; } = AmbientC;
    public bool Running => _segment >= 0;
    /// <summary>1-based program step while running, 0 otherwise.</summary>
    public int Segment => _segment + 1;
    /// <summary>Heat delivered into the kiln right now, W.</summary>
    public double HeatW { get; private set; }
    /// <summary>Electric power drawn (elements for an electric kiln; blower and controls for a gas kiln), W.</summary>
    public double ElectricPowerW { get; private set; }
    /// <summary>LPG burnt right now, kg/h.</summary>
    public double LpgKgPerHour { get; private set; }
    public int FiringsStarted { get; private set; }

    /// <summary>Advances the model by <paramref name="dtSeconds"/> of simulated time (call with small steps, ≤ 60 s).</summary>
    public void Step(double dtSeconds)
    {
        if (!Running)
        {
            HeatW = 0;
            SetpointC = AmbientC;
            if (TemperatureC < 100)
            {
                _idleSeconds += dtSeconds;
                if (_idleSeconds >= RestBetweenFirings.TotalSeconds) StartFiring();
            }
        }
        if (Running) AdvanceProgram(dtSeconds);

        var loss = LossWPerK * (TemperatureC - AmbientC);
        if (Running)
        {
            // The controller asks for what keeps the kiln on the setpoint ramp, limited by the heater rating.
            var wanted = loss + TotalHeatCapacityJPerK * (SetpointC - TemperatureC) / Math.Max(dtSeconds, 60);
            HeatW = Math.Clamp(wanted, 0, RatedPowerW);
        }
        TemperatureC += (HeatW - loss) * dtSeconds / TotalHeatCapacityJPerK;

        if (Fuel == KilnFuel.Electric)
        {
            ElectricPowerW = HeatW;
            LpgKgPerHour = 0;
        }
        else
        {
            ElectricPowerW = Running ? 450 : 0; // combustion-air blower and controller
            LpgKgPerHour = HeatW / BurnerEfficiency / (LpgMjPerKg * 1e6) * 3600;
        }
    }

    private void StartFiring()
    {
        FiringStarting?.Invoke(this);
        _segment = 0;
        _segmentHeldSeconds = 0;
        _idleSeconds = 0;
        SetpointC = TemperatureC;
        FiringsStarted++;
    }

    private void AdvanceProgram(double dt)
    {
        var seg = Program[_segment];
        if (seg.RateCPerHour > 0 && SetpointC < seg.TargetC)
        {
            SetpointC = Math.Min(seg.TargetC, SetpointC + seg.RateCPerHour * dt / 3600);
            return;
        }
        SetpointC = seg.TargetC;
        _segmentHeldSeconds += dt;
        if (_segmentHeldSeconds >= seg.Hold.TotalSeconds)
        {
            _segment++;
            _segmentHeldSeconds = 0;
            if (_segment >= Program.Count)
            {
                _segment = -1; // program done: burner off, natural cooling
                SetpointC = AmbientC;
            }
        }
    }
}
