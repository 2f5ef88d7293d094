namespace KhuyenCong.Analytics.Intervals;

/// <summary>One reading of one point of one device: a UTC instant and a value in the point's unit.</summary>
public readonly record struct Sample(DateTimeOffset At, double Value);

/// <summary>What happened in an interval. One flag per interval; when several apply, the first in this list wins.</summary>
public enum IntervalFlag
{
    /// <summary>A plain interval: the energy is the change of the reading.</summary>
    Ok,
    /// <summary>A meter replacement marker falls inside: energy = (old final − previous) + (next − new initial).</summary>
    Replaced,
    /// <summary>The counter wrapped at its modulus: energy = next + modulus − previous.</summary>
    Rollover,
    /// <summary>The counter dropped to near zero and counts on from there: energy = the new reading.</summary>
    Reset,
    /// <summary>A step the plausible maximum rate cannot explain and that persists: energy 0, the step is the adjustment.</summary>
    Discontinuity,
    /// <summary>An LPG cylinder changed (a rise above the refill threshold, or a persistent fall faster than any burner): energy 0.</summary>
    Refill,
    /// <summary>A single bad sample (brief 0, spike, NaN) inside was rejected; the interval runs from the good sample before to the good one after.</summary>
    GlitchRejected,
    /// <summary>The interval is longer than the gap threshold: its energy is real but its timing inside the interval is unknown.</summary>
    Gap,
}

/// <summary>Where an interval's energy came from.</summary>
public enum EnergySource
{
    /// <summary>The difference of a cumulative counter (energy_import_kwh, gas_volume_m3).</summary>
    Counter,
    /// <summary>The trapezoid integral of a power gauge (power_w): an estimate, labelled as such.</summary>
    IntegratedFromPower,
    /// <summary>The fall of a stock on a scale (lpg_mass_kg).</summary>
    StockDecrease,
}

/// <summary>
/// Energy used between two accepted samples, in the series' own unit (kWh, m³, kg). Always ≥ 0.
/// <see cref="RawChange"/> is the change of the reading in the direction of use (counter: end − start; stock: start − end;
/// power: the untruncated trapezoid) and <see cref="Adjustment"/> = RawChange − Energy is what was not counted as energy,
/// explained by <see cref="Flag"/>. So over any series Σ Energy = Σ RawChange − Σ Adjustment, and Σ RawChange telescopes to
/// (last accepted − first accepted) reading.
/// </summary>
public sealed record EnergyInterval(
    DateTimeOffset Start,
    DateTimeOffset End,
    double Energy,
    IntervalFlag Flag,
    double RawChange,
    double Adjustment,
    EnergySource Source)
{
    public TimeSpan Duration => End - Start;

    /// <summary>The share of this interval's energy inside [from, to), assuming a constant rate over the interval.</summary>
    public double EnergyWithin(DateTimeOffset from, DateTimeOffset to)
    {
        var a = Start > from ? Start : from;
        var b = End < to ? End : to;
        if (b <= a) return 0;
        if (a == Start && b == End) return Energy;
        return Energy * ((b - a).Ticks / (double)(End - Start).Ticks);
    }
}

/// <summary>A sample that was not used, and why.</summary>
public sealed record RejectedSample(DateTimeOffset At, double Value, string Reason);

/// <summary>The result of turning one device's samples into intervals.</summary>
public sealed record IntervalSeries(IReadOnlyList<EnergyInterval> Intervals, IReadOnlyList<RejectedSample> Rejected, IReadOnlyList<string> Warnings)
{
    public double TotalEnergy => Intervals.Sum(i => i.Energy);

    public double TotalAdjustment => Intervals.Sum(i => i.Adjustment);

    /// <summary>Energy of intervals inside [from, to), pro rata for intervals that straddle an edge.</summary>
    public double EnergyWithin(DateTimeOffset from, DateTimeOffset to) => Intervals.Sum(i => i.EnergyWithin(from, to));
}

internal static class SampleChecks
{
    public static void RequireOrdered(IReadOnlyList<Sample> samples, string what)
    {
        for (var i = 1; i < samples.Count; i++)
        {
            if (samples[i].At <= samples[i - 1].At)
                throw new ArgumentException($"{what}: samples must be in strictly increasing time order; sample {i} at {samples[i].At:O} is not after sample {i - 1} at {samples[i - 1].At:O}", nameof(samples));
        }
    }

    /// <summary>Rejects the leading samples that are not finite numbers; returns the index of the first finite one (Count if none).</summary>
    public static int SkipLeadingNonFinite(IReadOnlyList<Sample> samples, List<RejectedSample> rejected)
    {
        var k = 0;
        while (k < samples.Count && !double.IsFinite(samples[k].Value))
        {
            rejected.Add(new RejectedSample(samples[k].At, samples[k].Value, "not a finite number"));
            k++;
        }
        return k;
    }

    /// <summary>The first finite sample after index <paramref name="i"/> (what a suspected glitch is judged against), or null.</summary>
    public static Sample? NextFinite(IReadOnlyList<Sample> samples, int i)
    {
        for (var j = i + 1; j < samples.Count; j++)
        {
            if (double.IsFinite(samples[j].Value)) return samples[j];
        }
        return null;
    }
}
