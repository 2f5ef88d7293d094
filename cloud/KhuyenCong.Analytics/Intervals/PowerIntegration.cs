namespace KhuyenCong.Analytics.Intervals;

/// <summary>Options for <see cref="PowerIntegration.Compute"/>.</summary>
public sealed record PowerIntegrationOptions
{
    /// <summary>Across a longer interval the power is unknown: the trapezoid is counted over at most this long (and the
    /// interval is flagged <see cref="IntervalFlag.Gap"/>), so an outage never turns into hours of assumed power.</summary>
    public required TimeSpan MaxGap { get; init; }
}

/// <summary>
/// Energy (kWh) from a power gauge (power_w, W) by the trapezoid rule, for devices without an energy counter. Every interval
/// is <see cref="EnergySource.IntegratedFromPower"/>: an estimate, since power between samples is assumed to change linearly.
/// energy = (max(0, P₀) + max(0, P₁)) / 2 × min(Δt, MaxGap) / 1000; negative power (export) is counted as 0.
/// </summary>
public static class PowerIntegration
{
    public static IntervalSeries Compute(IReadOnlyList<Sample> powerW, PowerIntegrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(powerW);
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxGap <= TimeSpan.Zero) throw new ArgumentException($"MaxGap must be positive, not {options.MaxGap}");
        SampleChecks.RequireOrdered(powerW, "power");

        var intervals = new List<EnergyInterval>();
        var rejected = new List<RejectedSample>();
        var warnings = new List<string>();
        Sample? prev = null;
        var skipped = false;
        var negative = 0;
        foreach (var s in powerW)
        {
            if (!double.IsFinite(s.Value))
            {
                rejected.Add(new RejectedSample(s.At, s.Value, "not a finite number"));
                skipped = prev is not null;
                continue;
            }
            if (s.Value < 0) negative++;
            if (prev is { } p)
            {
                var meanW = (Math.Max(0, p.Value) + Math.Max(0, s.Value)) / 2;
                var dt = s.At - p.At;
                var counted = dt > options.MaxGap ? options.MaxGap : dt;
                var raw = meanW * dt.TotalHours / 1000;
                var energy = meanW * counted.TotalHours / 1000;
                var flag = dt > options.MaxGap ? IntervalFlag.Gap : skipped ? IntervalFlag.GlitchRejected : IntervalFlag.Ok;
                intervals.Add(new EnergyInterval(p.At, s.At, energy, flag, raw, raw - energy, EnergySource.IntegratedFromPower));
            }
            prev = s;
            skipped = false;
        }
        if (negative > 0) warnings.Add($"{negative} negative power readings (export) were counted as 0 W");
        return new IntervalSeries(intervals, rejected, warnings);
    }
}
