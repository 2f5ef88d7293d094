namespace KhuyenCong.Analytics.Intervals;

/// <summary>How the device stores the counter, which decides where it wraps.</summary>
public enum CounterEncoding
{
    /// <summary>A 64-bit float or a wide integer: never wraps in practice.</summary>
    Float64,
    /// <summary>An unsigned 16-bit register: wraps at 65,536 counts × <see cref="CounterOptions.Scale"/>.</summary>
    UInt16,
    /// <summary>An unsigned 32-bit register pair: wraps at 4,294,967,296 counts × <see cref="CounterOptions.Scale"/>.</summary>
    UInt32,
    /// <summary>A 32-bit float: never wraps but loses resolution as it grows (24-bit mantissa); small backward steps of a
    /// couple of units in the last place are rounding noise, not resets.</summary>
    Float32,
}

/// <summary>A meter swapped for another: the old meter's last reading (if someone wrote it down) and the new meter's first.</summary>
public sealed record MeterReplacement(DateTimeOffset At, double NewInitialReading, double? OldFinalReading = null);

/// <summary>Options for <see cref="CounterIntervals.Compute"/>. Quantities are in the counter's unit (kWh, m³).</summary>
public sealed record CounterOptions
{
    /// <summary>The largest plausible rate in counter units per hour: for an electricity meter the maximum power in kW
    /// (e.g. the kiln's rating plus margin), which caps the energy of an interval of h hours at MaxRatePerHour × h.</summary>
    public required double MaxRatePerHour { get; init; }

    /// <summary>Intervals longer than this are flagged <see cref="IntervalFlag.Gap"/> (typically 3 × the poll interval).</summary>
    public required TimeSpan GapAfter { get; init; }

    public CounterEncoding Encoding { get; init; } = CounterEncoding.Float64;

    /// <summary>Counter units per raw count (a register counting 0.01 kWh has Scale 0.01). Sets the wrap point.</summary>
    public double Scale { get; init; } = 1;

    /// <summary>An explicit wrap point (e.g. 1,000,000 for a six-digit register); overrides <see cref="Encoding"/>.</summary>
    public double? Modulus { get; init; }

    /// <summary>Backward steps up to this size are noise (energy 0, the high-water mark is kept), not resets.</summary>
    public double NoiseTolerance { get; init; }

    /// <summary>Known meter replacements of this series.</summary>
    public IReadOnlyList<MeterReplacement> Replacements { get; init; } = [];

    /// <summary>The wrap point in counter units, or null when the counter does not wrap.</summary>
    public double? EffectiveModulus => Modulus ?? Encoding switch
    {
        CounterEncoding.UInt16 => 65_536 * Scale,
        CounterEncoding.UInt32 => 4_294_967_296.0 * Scale,
        _ => null,
    };

    internal void Validate()
    {
        if (!(MaxRatePerHour > 0) || !double.IsFinite(MaxRatePerHour)) throw new ArgumentException($"MaxRatePerHour must be a positive number, not {MaxRatePerHour}");
        if (GapAfter <= TimeSpan.Zero) throw new ArgumentException($"GapAfter must be positive, not {GapAfter}");
        if (!(Scale > 0)) throw new ArgumentException($"Scale must be positive, not {Scale}");
        if (!(NoiseTolerance >= 0)) throw new ArgumentException($"NoiseTolerance must be ≥ 0, not {NoiseTolerance}");
        if (Modulus is { } m && !(m > 0)) throw new ArgumentException($"Modulus must be positive, not {m}");
    }
}

/// <summary>
/// Interval energy from one cumulative counter of one device (docs/analytics.md, "Interval energy from counters").
/// Rules, applied to each new sample v against the high-water mark H of the last accepted sample (time t₀), with
/// E_max = MaxRatePerHour × Δt and tolerance τ:
/// <list type="number">
/// <item>a meter replacement between the two samples → <see cref="IntervalFlag.Replaced"/>;</item>
/// <item>−τ ≤ v − H ≤ E_max + τ → plausible: energy max(0, v − H) (a small backward step is noise: energy 0, H kept);</item>
/// <item>otherwise, if the next finite sample is plausible against H, v alone is a glitch: rejected, and the interval runs on
///   to the next sample;</item>
/// <item>a drop: a wrap (0 ≤ v + modulus − H ≤ E_max + τ) → <see cref="IntervalFlag.Rollover"/>; a drop to near zero
///   (v ≤ E_max + τ) → <see cref="IntervalFlag.Reset"/>, energy v; else <see cref="IntervalFlag.Discontinuity"/>, energy 0;</item>
/// <item>a rise above E_max that persists → <see cref="IntervalFlag.Discontinuity"/>, energy 0.</item>
/// </list>
/// Energy is never negative and never above E_max + τ (except across a replacement, which is computed from the given readings).
/// Pass one sample before and one after the period of interest: the first sample is trusted as the anchor, and the last
/// sample cannot be recognised as a glitch without a sample after it.
/// </summary>
public static class CounterIntervals
{
    public static IntervalSeries Compute(IReadOnlyList<Sample> samples, CounterOptions options)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        SampleChecks.RequireOrdered(samples, "counter");

        var intervals = new List<EnergyInterval>();
        var rejected = new List<RejectedSample>();
        var warnings = new List<string>();
        var replacements = options.Replacements.OrderBy(r => r.At).ToList();
        var modulus = options.EffectiveModulus;

        var k = SampleChecks.SkipLeadingNonFinite(samples, rejected);
        if (k == samples.Count) return new IntervalSeries(intervals, rejected, warnings);

        var baseT = samples[k].At;
        var baseV = samples[k].Value;
        var high = baseV;
        var glitchInside = false;
        var r = 0;
        while (r < replacements.Count && replacements[r].At <= baseT) r++;

        for (var i = k + 1; i < samples.Count; i++)
        {
            var s = samples[i];
            if (!double.IsFinite(s.Value))
            {
                rejected.Add(new RejectedSample(s.At, s.Value, "not a finite number"));
                glitchInside = true;
                continue;
            }

            var dt = s.At - baseT;
            var maxE = options.MaxRatePerHour * dt.TotalHours;
            var tol = Tolerance(options, high, s.Value);
            double energy;
            IntervalFlag flag;

            if (r < replacements.Count && replacements[r].At <= s.At)
            {
                var rep = replacements[r++];
                while (r < replacements.Count && replacements[r].At <= s.At)
                {
                    warnings.Add($"two meter replacements between {baseT:O} and {s.At:O}: only the one at {rep.At:O} was applied");
                    r++;
                }
                double before = 0;
                if (rep.OldFinalReading is { } oldFinal) before = Math.Max(0, oldFinal - high);
                else warnings.Add($"meter replaced at {rep.At:O} without the old meter's final reading: energy between {baseT:O} and the replacement is not counted");
                energy = before + Math.Max(0, s.Value - rep.NewInitialReading);
                flag = IntervalFlag.Replaced;
                high = s.Value;
            }
            else
            {
                var d = s.Value - high;
                if (d >= -tol && d <= maxE + tol)
                {
                    energy = Math.Max(0, d);
                    high = Math.Max(high, s.Value);
                    flag = IntervalFlag.Ok;
                }
                else if (NextIsPlausible(samples, i, baseT, high, options, replacements, r))
                {
                    rejected.Add(new RejectedSample(s.At, s.Value, d < 0
                        ? $"glitch: a drop of {-d:G6} between two consistent samples"
                        : $"glitch: a rise of {d:G6} above the plausible {maxE:G6} between two consistent samples"));
                    glitchInside = true;
                    continue;
                }
                else if (d < 0)
                {
                    if (modulus is { } m && s.Value + m - high is var wrapped && wrapped >= -tol && wrapped <= maxE + tol)
                    {
                        energy = Math.Max(0, wrapped);
                        flag = IntervalFlag.Rollover;
                    }
                    else if (s.Value >= -tol && s.Value <= maxE + tol)
                    {
                        energy = Math.Max(0, s.Value);
                        flag = IntervalFlag.Reset;
                    }
                    else
                    {
                        energy = 0;
                        flag = IntervalFlag.Discontinuity;
                        warnings.Add($"counter fell from {high:G9} to {s.Value:G9} at {s.At:O}, neither a wrap nor a reset to near zero: no energy counted for {baseT:O}–{s.At:O}");
                    }
                    high = s.Value;
                }
                else
                {
                    energy = 0;
                    flag = IntervalFlag.Discontinuity;
                    warnings.Add($"counter rose by {d:G9} in {dt} at {s.At:O}, above the plausible {maxE:G6}, and stayed there: no energy counted (check MaxRatePerHour or a missing replacement marker)");
                    high = s.Value;
                }
            }

            if (flag == IntervalFlag.Ok) flag = glitchInside ? IntervalFlag.GlitchRejected : dt > options.GapAfter ? IntervalFlag.Gap : IntervalFlag.Ok;
            var raw = s.Value - baseV;
            intervals.Add(new EnergyInterval(baseT, s.At, energy, flag, raw, raw - energy, EnergySource.Counter));
            baseT = s.At;
            baseV = s.Value;
            glitchInside = false;
        }

        if (options.Encoding == CounterEncoding.Float32 && intervals.Count > 0)
        {
            var largest = samples.Where(x => double.IsFinite(x.Value)).Max(x => Math.Abs(x.Value));
            var ulp = Ulp32(largest);
            var spacing = Median(intervals.Select(x => x.Duration.TotalHours));
            if (ulp > 0.1 * options.MaxRatePerHour * spacing)
                warnings.Add($"float32 counter: at {largest:G9} its resolution is {ulp:G6} units, more than a tenth of the most one interval can hold ({options.MaxRatePerHour * spacing:G6}); interval energy is quantised");
        }
        return new IntervalSeries(intervals, rejected, warnings);
    }

    private static bool NextIsPlausible(IReadOnlyList<Sample> samples, int i, DateTimeOffset baseT, double high, CounterOptions o, List<MeterReplacement> replacements, int r)
    {
        if (SampleChecks.NextFinite(samples, i) is not { } n) return false;
        if (r < replacements.Count && replacements[r].At <= n.At) return false;
        var d = n.Value - high;
        var tol = Tolerance(o, high, n.Value);
        return d >= -tol && d <= o.MaxRatePerHour * (n.At - baseT).TotalHours + tol;
    }

    private static double Tolerance(CounterOptions o, double a, double b) =>
        o.Encoding == CounterEncoding.Float32 ? Math.Max(o.NoiseTolerance, 2 * Ulp32(Math.Max(Math.Abs(a), Math.Abs(b)))) : o.NoiseTolerance;

    /// <summary>The gap between a float32 value and the next one up: its resolution at that size.</summary>
    internal static double Ulp32(double value)
    {
        var f = (float)Math.Abs(value);
        return (double)MathF.BitIncrement(f) - f;
    }

    internal static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0) return 0;
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
