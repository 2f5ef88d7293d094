using KhuyenCong.Analytics.Intervals;
using KhuyenCong.Analytics.Time;

namespace KhuyenCong.Analytics.Firings;

/// <summary>How a detected firing ended, or why it is not a plain complete firing.</summary>
public enum FiringStatus
{
    /// <summary>Start and end both seen.</summary>
    Complete,
    /// <summary>Still running when the data ends: End is the last sample; recompute when more data arrives.</summary>
    Open,
    /// <summary>Heated above the start threshold but cooled again without reaching the minimum peak.</summary>
    Aborted,
    /// <summary>Already running at the first sample: Start is the first sample, the true start is earlier.</summary>
    StartedBeforeData,
}

public enum FiringDetectionMethod
{
    RunState,
    Temperature,
}

/// <summary>One firing of one kiln, as detected. Times are UTC.</summary>
public sealed record FiringWindow(string Site, string Kiln, DateTimeOffset Start, DateTimeOffset End, FiringStatus Status, FiringDetectionMethod Method, double? PeakTemperatureC)
{
    public TimeSpan Duration => End - Start;

    /// <summary>site/kiln/firing/start (UTC): stable as long as the start sample is the same.</summary>
    public AnalyticsKey Key => AnalyticsKey.ForFiring(Site, Kiln, Start);
}

/// <summary>Options for detecting firings from kiln_running (0/1).</summary>
public sealed record RunStateOptions
{
    /// <summary>Runs shorter than this are blips (a test start, a relay chatter) and are dropped; open runs are kept.</summary>
    public TimeSpan MinDuration { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Two runs separated by an off-time shorter than this are one firing (a pause of the programme).</summary>
    public TimeSpan MergeOffShorterThan { get; init; } = TimeSpan.Zero;
}

/// <summary>Options for detecting firings from kiln_temp_c with hysteresis. Defaults suit a stoneware or porcelain gas kiln;
/// change them per kiln (a bisque-only kiln peaks at ~800–900 °C).</summary>
public sealed record TemperatureFiringOptions
{
    /// <summary>A firing starts at the first sample above this (rising from below it)…</summary>
    public double StartAboveC { get; init; } = 100;

    /// <summary>…provided the temperature stays above it for this long (a hot-spot flicker is not a firing).</summary>
    public TimeSpan StartHold { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>It ends at the first sample below this once the peak has reached <see cref="MinPeakC"/>.</summary>
    public double EndBelowC { get; init; } = 200;

    /// <summary>The peak that makes it a real firing; below it the run is <see cref="FiringStatus.Aborted"/> when it cools
    /// back to <see cref="StartAboveC"/>.</summary>
    public double MinPeakC { get; init; } = 600;
}

/// <summary>Finds firings in one kiln's samples (docs/analytics.md, "Firings").</summary>
public static class FiringDetector
{
    /// <summary>A firing is a run of kiln_running = 1 (value ≥ 0.5): it starts at the first sample reading 1 and ends at the first
    /// sample reading 0 after it. NaN samples are skipped. The peak comes from <paramref name="temperatures"/> when given.</summary>
    public static IReadOnlyList<FiringWindow> FromRunState(string site, string kiln, IReadOnlyList<Sample> running, RunStateOptions options, IReadOnlyList<Sample>? temperatures = null)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(options);
        SampleChecks.RequireOrdered(running, "kiln_running");
        var runs = new List<(DateTimeOffset Start, DateTimeOffset End, FiringStatus Status)>();
        DateTimeOffset? start = null;
        var startedBefore = false;
        var first = true;
        DateTimeOffset last = default;
        foreach (var s in running)
        {
            if (!double.IsFinite(s.Value)) continue;
            var on = s.Value >= 0.5;
            if (on && start is null)
            {
                start = s.At;
                startedBefore = first;
            }
            else if (!on && start is { } st)
            {
                runs.Add((st, s.At, startedBefore ? FiringStatus.StartedBeforeData : FiringStatus.Complete));
                start = null;
            }
            first = false;
            last = s.At;
        }
        if (start is { } open) runs.Add((open, last, startedBefore ? FiringStatus.StartedBeforeData : FiringStatus.Open));

        var merged = new List<(DateTimeOffset Start, DateTimeOffset End, FiringStatus Status)>();
        foreach (var r in runs)
        {
            if (merged.Count > 0 && r.Start - merged[^1].End < options.MergeOffShorterThan)
            {
                var prev = merged[^1];
                merged[^1] = (prev.Start, r.End, prev.Status == FiringStatus.StartedBeforeData ? prev.Status : r.Status);
            }
            else merged.Add(r);
        }
        return merged
            .Where(r => r.Status == FiringStatus.Open || r.End - r.Start >= options.MinDuration)
            .Select(r => new FiringWindow(site, kiln, r.Start, r.End, r.Status, FiringDetectionMethod.RunState, Peak(temperatures, r.Start, r.End)))
            .ToList();
    }

    /// <summary>
    /// Hysteresis on temperature: idle → (first sample above StartAboveC, rising from at or below it) candidate → (still above
    /// after StartHold) firing → ends at the first sample below EndBelowC once the peak reached MinPeakC (Complete), or at the
    /// first sample at or below StartAboveC if the peak never did (Aborted). After a firing the detector re-arms only once the
    /// kiln has cooled to StartAboveC, so the cooling tail is never a new firing. Data that starts hot gives a
    /// <see cref="FiringStatus.StartedBeforeData"/> firing if it reaches MinPeakC, and nothing if it is only a cooling tail.
    /// </summary>
    public static IReadOnlyList<FiringWindow> FromTemperature(string site, string kiln, IReadOnlyList<Sample> temperatures, TemperatureFiringOptions options)
    {
        ArgumentNullException.ThrowIfNull(temperatures);
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.EndBelowC > options.StartAboveC) || !(options.MinPeakC > options.EndBelowC))
            throw new ArgumentException($"need StartAboveC < EndBelowC < MinPeakC, not {options.StartAboveC} / {options.EndBelowC} / {options.MinPeakC}");
        SampleChecks.RequireOrdered(temperatures, "kiln_temp_c");
        var result = new List<FiringWindow>();
        var state = 0; // 0 idle, 1 candidate, 2 firing
        var armed = false;
        var first = true;
        var fromStart = false;
        DateTimeOffset start = default;
        DateTimeOffset last = default;
        var peak = double.NegativeInfinity;
        foreach (var s in temperatures)
        {
            var t = s.Value;
            if (!double.IsFinite(t)) continue;
            last = s.At;
            switch (state)
            {
                case 0:
                    if (t <= options.StartAboveC) armed = true;
                    else if (armed || first)
                    {
                        state = 1;
                        fromStart = first;
                        start = s.At;
                        peak = t;
                        armed = false;
                        if (options.StartHold <= TimeSpan.Zero) state = 2;
                    }
                    break;
                case 1:
                    if (t <= options.StartAboveC)
                    {
                        state = 0;
                        armed = true;
                        break;
                    }
                    peak = Math.Max(peak, t);
                    if (s.At - start >= options.StartHold || (fromStart && peak >= options.MinPeakC)) state = 2;
                    break;
                default:
                    peak = Math.Max(peak, t);
                    if (peak >= options.MinPeakC && t < options.EndBelowC)
                    {
                        result.Add(new FiringWindow(site, kiln, start, s.At, fromStart ? FiringStatus.StartedBeforeData : FiringStatus.Complete, FiringDetectionMethod.Temperature, peak));
                        state = 0;
                    }
                    else if (peak < options.MinPeakC && t <= options.StartAboveC)
                    {
                        if (!fromStart) result.Add(new FiringWindow(site, kiln, start, s.At, FiringStatus.Aborted, FiringDetectionMethod.Temperature, peak));
                        state = 0;
                        armed = true;
                    }
                    break;
            }
            first = false;
        }
        if (state == 2 && !(fromStart && peak < options.MinPeakC))
            result.Add(new FiringWindow(site, kiln, start, last, fromStart ? FiringStatus.StartedBeforeData : FiringStatus.Open, FiringDetectionMethod.Temperature, peak));
        return result;
    }

    private static double? Peak(IReadOnlyList<Sample>? temperatures, DateTimeOffset start, DateTimeOffset end)
    {
        if (temperatures is null) return null;
        double? peak = null;
        foreach (var s in temperatures)
        {
            if (s.At < start || s.At > end || !double.IsFinite(s.Value)) continue;
            peak = peak is { } p ? Math.Max(p, s.Value) : s.Value;
        }
        return peak;
    }
}
