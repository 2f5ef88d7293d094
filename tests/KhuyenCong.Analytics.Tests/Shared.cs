using KhuyenCong.Analytics.Factors;
using KhuyenCong.Analytics.Intervals;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Analytics.Tests;

/// <summary>The shipped factor files and small helpers to write samples.</summary>
internal static class Shared
{
    public static string FactorsDir { get; } = Path.Combine(RepoPaths.Root, "firmware-config", "factors");

    private static readonly Lazy<FactorSet> LazyFactors = new(() => FactorSet.LoadDirectory(FactorsDir));

    public static FactorSet Data => LazyFactors.Value;

    /// <summary>2025-06-02 00:00 UTC, a Monday.</summary>
    public static readonly DateTimeOffset T0 = new(2025, 6, 2, 0, 0, 0, TimeSpan.Zero);

    public static DateTimeOffset Min(double minutes) => T0.AddMinutes(minutes);

    public static Sample S(double minutes, double value) => new(T0.AddMinutes(minutes), value);

    /// <summary>A Vietnam wall-clock time, as the UTC instant the rest of the code takes.</summary>
    public static DateTimeOffset Local(int y, int mo, int d, int h, int mi = 0) =>
        new DateTimeOffset(y, mo, d, h, mi, 0, TimeSpan.FromHours(7)).ToUniversalTime();
}
