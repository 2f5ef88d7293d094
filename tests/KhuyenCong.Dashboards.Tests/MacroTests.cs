using KhuyenCong.Dashboards.Tests.Grafana;

namespace KhuyenCong.Dashboards.Tests;

/// <summary>The test's Grafana expander produces what Grafana sends for the macros and variables the dashboards use.</summary>
public sealed class MacroTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeRange Last12h = TimeRange.Parse("now-12h", "now", Now);

    private static readonly Dictionary<string, VariableValue> Vars = new(StringComparer.Ordinal)
    {
        ["site"] = new(["bat-trang-1", "bat-trang-2"], MultiOrAll: true),
        ["kiln"] = new(["kiln-1"], MultiOrAll: true),
        ["basis"] = new(["month"], MultiOrAll: false),
    };

    [Fact]
    public void Relative_times_resolve_against_now_with_calendar_months_and_years()
    {
        Assert.Equal(Now.AddHours(-12), Last12h.From);
        Assert.Equal(Now, Last12h.To);
        Assert.Equal(new DateTimeOffset(2026, 8, 28, 10, 0, 0, TimeSpan.Zero), TimeRange.ParseTime("now-3M", Now));
        Assert.Equal(new DateTimeOffset(2025, 11, 28, 10, 0, 0, TimeSpan.Zero), TimeRange.ParseTime("now-1y", Now));
        Assert.Throws<FormatException>(() => TimeRange.ParseTime("now/d", Now));
    }

    [Fact]
    public void TimeFilter_becomes_an_epoch_millisecond_range()
    {
        var sent = Macros.Expand("SELECT x FROM m WHERE $timeFilter", Last12h, new GrafanaInterval(30_000, "30s"), Vars);
        Assert.Equal($"SELECT x FROM m WHERE time >= {Now.AddHours(-12).ToUnixTimeMilliseconds()}ms and time <= {Now.ToUnixTimeMilliseconds()}ms", sent);
    }

    [Theory]
    [InlineData(12 * 3600, 960, null, 60_000, "1m")]       // 12 h over a 960 px panel: 45 s rounds to 1 m
    [InlineData(12 * 3600, 1920, null, 20_000, "20s")]     // 22.5 s rounds to 20 s
    [InlineData(3600, 1920, "10s", 10_000, "10s")]         // 1.9 s is below the datasource's 10 s floor
    [InlineData(90 * 86400, 1920, "10s", 3_600_000, "1h")] // 90 d: 67.5 min rounds to 1 h
    [InlineData(366 * 86400, 640, "10s", 43_200_000, "12h")] // 13.7 h rounds to 12 h
    [InlineData(400 * 86400, 200, null, 86_400_000, "1d")]  // 48 h rounds to 1 d
    [InlineData(1, 1000, null, 10, "10ms")]
    public void The_interval_is_computed_and_formatted_like_Grafana(int rangeSeconds, int resolution, string? floor, long ms, string text)
    {
        var range = new TimeRange(Now.AddSeconds(-rangeSeconds), Now);
        Assert.Equal(new GrafanaInterval(ms, text), GrafanaInterval.Calculate(range, resolution, floor));
    }

    [Fact]
    public void Interval_macros_are_replaced_without_one_swallowing_the_other()
    {
        var sent = Macros.Expand("GROUP BY time($__interval) -- $__interval_ms $interval", Last12h, new GrafanaInterval(60_000, "1m"), Vars);
        Assert.Equal("GROUP BY time(1m) -- 60000 1m", sent);
    }

    [Fact]
    public void Multi_value_variables_become_a_regex_alternation_and_single_values_are_regex_escaped()
    {
        var i = new GrafanaInterval(60_000, "1m");
        Assert.Equal("\"site\" =~ /^(bat-trang-1|bat-trang-2)$/", Macros.Expand("\"site\" =~ /^($site)$/", Last12h, i, Vars));
        Assert.Equal("\"kiln\" =~ /^(kiln-1)$/", Macros.Expand("\"kiln\" =~ /^(${kiln})$/", Last12h, i, Vars));
        Assert.Equal("a\\.b", Macros.InfluxFormat(new VariableValue(["a.b"], false)));
        Assert.Equal("a\\.b|c", Macros.InfluxFormat(new VariableValue(["a.b", "c"], true)));
        Assert.Equal("2.5", Macros.InfluxFormat(new VariableValue(["2.5"], false)));
        Assert.Equal("(a\\.b|c)", Macros.Expand("${site:regex}", Last12h, i, new Dictionary<string, VariableValue> { ["site"] = new(["a.b", "c"], true) }));
        Assert.Equal("'month'", Macros.Expand("'[[basis]]'", Last12h, i, Vars));
    }

    [Fact]
    public void From_and_to_are_epoch_milliseconds_and_unknown_variables_are_left_alone()
    {
        var sent = Macros.Expand("time >= ${__to}ms - 7d AND time >= $__from AND x = '$nope'", Last12h, new GrafanaInterval(60_000, "1m"), Vars);
        Assert.Equal($"time >= {Now.ToUnixTimeMilliseconds()}ms - 7d AND time >= {Now.AddHours(-12).ToUnixTimeMilliseconds()} AND x = '$nope'", sent);
        Assert.Equal(["__to", "__from", "nope"], Macros.References("${__to}ms $__from [[nope]]").Select(r => r.Name));
    }
}
