namespace KhuyenCong.Analytics.Intervals;

/// <summary>Options for <see cref="StockConsumption.Compute"/>. Quantities are in the stock's unit (kg of LPG).</summary>
public sealed record StockOptions
{
    /// <summary>The fastest plausible use in units per hour (all burners of the kiln at full fire, plus margin).</summary>
    public required double MaxUseRatePerHour { get; init; }

    /// <summary>A rise larger than this is a refill (a new cylinder), never negative use. Smaller rises are noise.</summary>
    public required double RefillThreshold { get; init; }

    /// <summary>A fall counts as use only once the level is more than this below the reference level (hysteresis against
    /// scale noise and wind load); the whole fall since the reference is then counted, so nothing is lost.</summary>
    public required double Deadband { get; init; }

    /// <summary>Intervals longer than this are flagged <see cref="IntervalFlag.Gap"/>.</summary>
    public required TimeSpan GapAfter { get; init; }

    internal void Validate()
    {
        if (!(MaxUseRatePerHour > 0) || !double.IsFinite(MaxUseRatePerHour)) throw new ArgumentException($"MaxUseRatePerHour must be a positive number, not {MaxUseRatePerHour}");
        if (!(RefillThreshold > 0)) throw new ArgumentException($"RefillThreshold must be positive, not {RefillThreshold}");
        if (!(Deadband >= 0) || Deadband >= RefillThreshold) throw new ArgumentException($"Deadband must be ≥ 0 and below RefillThreshold, not {Deadband}");
        if (GapAfter <= TimeSpan.Zero) throw new ArgumentException($"GapAfter must be positive, not {GapAfter}");
    }
}

/// <summary>
/// Consumption from a stock on a scale (lpg_mass_kg): use = falls in mass. The rule keeps a reference level R (the last level
/// at which use was counted, or after a refill the new level). For each sample m, with d = R − m and U = MaxUseRatePerHour × Δt:
/// <list type="number">
/// <item>Deadband &lt; d ≤ U + Deadband → use d; R = m;</item>
/// <item>−RefillThreshold ≤ d ≤ Deadband → noise (a small rise or a fall inside the deadband): no use, R kept;</item>
/// <item>otherwise, if the next finite sample is within those bands against R, m alone is a glitch (scale unplugged for one
///   reading, a knock): rejected;</item>
/// <item>a rise above RefillThreshold → <see cref="IntervalFlag.Refill"/>, use 0, R = m;</item>
/// <item>a fall faster than U that persists (the cylinder taken off the scale) → <see cref="IntervalFlag.Refill"/>, use 0, R = m.</item>
/// </list>
/// Because R stays put inside the deadband, slow use (below the deadband per sample) accumulates and is counted when it crosses
/// the deadband: use appears in steps of about the deadband, and a partial top-up smaller than RefillThreshold is not seen.
/// </summary>
public static class StockConsumption
{
    public static IntervalSeries Compute(IReadOnlyList<Sample> samples, StockOptions options)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        SampleChecks.RequireOrdered(samples, "stock");

        var intervals = new List<EnergyInterval>();
        var rejected = new List<RejectedSample>();
        var warnings = new List<string>();
        var k = SampleChecks.SkipLeadingNonFinite(samples, rejected);
        if (k == samples.Count) return new IntervalSeries(intervals, rejected, warnings);

        var baseT = samples[k].At;
        var baseV = samples[k].Value;
        var reference = baseV;
        var glitchInside = false;
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
            var d = reference - s.Value;
            double used;
            IntervalFlag flag;
            var band = InBand(d, dt, options);
            if (band > 0)
            {
                used = d;
                reference = s.Value;
                flag = IntervalFlag.Ok;
            }
            else if (band == 0)
            {
                used = 0;
                flag = IntervalFlag.Ok;
            }
            else if (NextIsPlausible(samples, i, baseT, reference, options))
            {
                rejected.Add(new RejectedSample(s.At, s.Value, d < 0
                    ? $"glitch: a rise of {-d:G6} between two consistent readings"
                    : $"glitch: a fall of {d:G6}, faster than any burner, between two consistent readings"));
                glitchInside = true;
                continue;
            }
            else
            {
                used = 0;
                flag = IntervalFlag.Refill;
                if (d > 0) warnings.Add($"level fell from {reference:G6} to {s.Value:G6} at {s.At:O}, faster than any burner, and stayed: taken as a cylinder change, no use counted");
                reference = s.Value;
            }
            if (flag == IntervalFlag.Ok) flag = glitchInside ? IntervalFlag.GlitchRejected : dt > options.GapAfter ? IntervalFlag.Gap : IntervalFlag.Ok;
            var raw = baseV - s.Value;
            intervals.Add(new EnergyInterval(baseT, s.At, used, flag, raw, raw - used, EnergySource.StockDecrease));
            baseT = s.At;
            baseV = s.Value;
            glitchInside = false;
        }
        return new IntervalSeries(intervals, rejected, warnings);
    }

    /// <summary>1 = counted use, 0 = noise band, −1 = implausible.</summary>
    private static int InBand(double d, TimeSpan dt, StockOptions o)
    {
        var maxUse = o.MaxUseRatePerHour * dt.TotalHours;
        if (d > o.Deadband && d <= maxUse + o.Deadband) return 1;
        if (d >= -o.RefillThreshold && d <= o.Deadband) return 0;
        return -1;
    }

    private static bool NextIsPlausible(IReadOnlyList<Sample> samples, int i, DateTimeOffset baseT, double reference, StockOptions o) =>
        SampleChecks.NextFinite(samples, i) is { } n && InBand(reference - n.Value, n.At - baseT, o) >= 0;
}
