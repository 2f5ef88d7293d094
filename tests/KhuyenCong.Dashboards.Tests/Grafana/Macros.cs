using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace KhuyenCong.Dashboards.Tests.Grafana;

/// <summary>An absolute time range, as Grafana resolves the dashboard's time picker when it runs the queries.</summary>
public sealed record TimeRange(DateTimeOffset From, DateTimeOffset To)
{
    /// <summary>
    /// Resolves Grafana's relative times against <paramref name="now"/>: <c>now</c> and <c>now-&lt;n&gt;&lt;unit&gt;</c> with
    /// units s, m, h, d, w, M (calendar month), y (calendar year). Rounding (<c>now/d</c>) is not used by the project's
    /// dashboards and is refused, so a dashboard that starts using it fails the lint instead of being run differently.
    /// </summary>
    public static TimeRange Parse(string from, string to, DateTimeOffset now) => new(ParseTime(from, now), ParseTime(to, now));

    public static DateTimeOffset ParseTime(string text, DateTimeOffset now)
    {
        if (text == "now") return now;
        var m = Regex.Match(text, @"^now-(\d+)([smhdwMy])$");
        if (!m.Success) throw new FormatException($"time '{text}': only 'now' and 'now-<n><s|m|h|d|w|M|y>' are supported");
        var n = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch
        {
            "s" => now.AddSeconds(-n),
            "m" => now.AddMinutes(-n),
            "h" => now.AddHours(-n),
            "d" => now.AddDays(-n),
            "w" => now.AddDays(-7 * n),
            "M" => now.AddMonths(-n),
            _ => now.AddYears(-n),
        };
    }

    public long FromMs => From.ToUnixTimeMilliseconds();
    public long ToMs => To.ToUnixTimeMilliseconds();
}

/// <summary>The GROUP BY interval Grafana computes for a panel: <c>$__interval</c> (text) and <c>$__interval_ms</c>.</summary>
public sealed record GrafanaInterval(long Ms, string Text)
{
    /// <summary>
    /// Grafana's <c>rangeUtil.calculateInterval</c>: (to − from) / resolution rounded to a "nice" step, but never below the
    /// low limit (the panel's min interval, else the datasource's <c>timeInterval</c>). The resolution is the panel's
    /// max data points, else its width in pixels.
    /// </summary>
    public static GrafanaInterval Calculate(TimeRange range, int resolution, string? lowLimit)
    {
        long lowMs = lowLimit is null ? 1 : ParseMs(lowLimit);
        var ms = Round((range.ToMs - range.FromMs) / (double)Math.Max(1, resolution));
        if (lowMs > ms) ms = lowMs;
        return new GrafanaInterval(ms, SecondsToHms(ms / 1000.0));
    }

    /// <summary>Grafana's <c>roundInterval</c>: the step table of its time utilities.</summary>
    public static long Round(double ms) => ms switch
    {
        < 15 => 10,
        < 35 => 20,
        < 75 => 50,
        < 150 => 100,
        < 350 => 200,
        < 750 => 500,
        < 1500 => 1000,
        < 3500 => 2000,
        < 7500 => 5000,
        < 12500 => 10000,
        < 17500 => 15000,
        < 25000 => 20000,
        < 45000 => 30000,
        < 90000 => 60000,
        < 210000 => 120000,
        < 450000 => 300000,
        < 750000 => 600000,
        < 1050000 => 900000,
        < 1500000 => 1200000,
        < 2700000 => 1800000,
        < 5400000 => 3600000,
        < 9000000 => 7200000,
        < 16200000 => 10800000,
        < 32400000 => 21600000,
        < 86400000 => 43200000,
        < 604800000 => 86400000,
        < 1814400000 => 604800000,
        < 3628800000 => 2592000000,
        _ => 31536000000,
    };

    /// <summary>Grafana's <c>secondsToHms</c>: the largest whole unit, e.g. 1d, 30m, 10s, 500ms (and 1y, which InfluxQL refuses).</summary>
    public static string SecondsToHms(double seconds)
    {
        var years = Math.Floor(seconds / 31536000);
        if (years > 0) return $"{years}y";
        var days = Math.Floor(seconds % 31536000 / 86400);
        if (days > 0) return $"{days}d";
        var hours = Math.Floor(seconds % 31536000 % 86400 / 3600);
        if (hours > 0) return $"{hours}h";
        var minutes = Math.Floor(seconds % 31536000 % 86400 % 3600 / 60);
        if (minutes > 0) return $"{minutes}m";
        var secs = Math.Floor(seconds % 31536000 % 86400 % 3600 % 60);
        if (secs > 0) return $"{secs}s";
        var millis = Math.Floor(seconds * 1000.0);
        return millis > 0 ? $"{millis}ms" : "less than a millisecond";
    }

    /// <summary>A Grafana interval such as 10s, 1m, 2h, 1d to milliseconds.</summary>
    public static long ParseMs(string text)
    {
        var m = Regex.Match(text.Trim(), @"^>?(\d+)(ms|s|m|h|d|w|y)$");
        if (!m.Success) throw new FormatException($"interval '{text}' is not <n><ms|s|m|h|d|w|y>");
        var n = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return n * m.Groups[2].Value switch
        {
            "ms" => 1L,
            "s" => 1000L,
            "m" => 60_000L,
            "h" => 3_600_000L,
            "d" => 86_400_000L,
            "w" => 604_800_000L,
            _ => 31_536_000_000L,
        };
    }
}

/// <summary>The value a template variable holds when the queries run: one or more selected values.</summary>
/// <param name="MultiOrAll">The variable is multi-value or has an "All" option: Grafana then formats it as a regex alternation.</param>
public sealed record VariableValue(IReadOnlyList<string> Values, bool MultiOrAll);

/// <summary>
/// Turns a dashboard's InfluxQL text into what Grafana sends to InfluxDB. Two steps, as Grafana does them:
/// <list type="number">
/// <item>The browser (template service) replaces template variables — <c>$name</c>, <c>${name}</c>, <c>[[name]]</c> — with
/// the InfluxDB datasource's formatter, and the global <c>$__from</c>/<c>$__to</c> (epoch ms).</item>
/// <item>The server (InfluxQL backend) replaces <c>$timeFilter</c> with <c>time &gt;= &lt;from&gt;ms and time &lt;= &lt;to&gt;ms</c>,
/// <c>$interval</c> and <c>$__interval</c> with the interval text, and <c>$__interval_ms</c> with its milliseconds.</item>
/// </list>
/// Anything else that looks like a variable is left as it is — InfluxDB then refuses the query, which is the point.
/// </summary>
public static partial class Macros
{
    /// <summary>Names Grafana itself defines and the expander replaces.</summary>
    public static readonly IReadOnlySet<string> BuiltIns = new HashSet<string>(StringComparer.Ordinal)
    {
        "__from", "__to", "timeFilter", "interval", "__interval", "__interval_ms",
    };

    /// <summary>Grafana's template-variable pattern (templateSrv): $name, [[name:fmt]], ${name.field:fmt}.</summary>
    [GeneratedRegex(@"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}")]
    private static partial Regex VariablePattern();

    /// <summary>The variable names a query refers to (with the format, if any), in order.</summary>
    public static IEnumerable<(string Name, string? Format)> References(string text)
    {
        foreach (Match m in VariablePattern().Matches(text))
        {
            var name = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Success ? m.Groups[2].Value : m.Groups[4].Value;
            var format = m.Groups[3].Success ? m.Groups[3].Value : m.Groups[6].Success ? m.Groups[6].Value : null;
            yield return (name, format);
        }
    }

    public static string Expand(string query, TimeRange range, GrafanaInterval interval, IReadOnlyDictionary<string, VariableValue> variables)
    {
        // 1. Browser: template variables and the global time variables.
        var text = VariablePattern().Replace(query, m =>
        {
            var name = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Success ? m.Groups[2].Value : m.Groups[4].Value;
            var format = m.Groups[3].Success ? m.Groups[3].Value : m.Groups[6].Success ? m.Groups[6].Value : null;
            if (name == "__from") return range.FromMs.ToString(CultureInfo.InvariantCulture);
            if (name == "__to") return range.ToMs.ToString(CultureInfo.InvariantCulture);
            if (!variables.TryGetValue(name, out var value)) return m.Value; // unknown: left for the backend (or InfluxDB's error)
            return format switch
            {
                null => InfluxFormat(value),
                "raw" => string.Join(",", value.Values),
                "regex" => value.Values.Count == 1 ? EscapeRegex(value.Values[0]) : "(" + string.Join("|", value.Values.Select(EscapeRegex)) + ")",
                _ => throw new NotSupportedException($"variable format ':{format}' in '{m.Value}' is not supported by the test expander"),
            };
        });

        // 2. Server: the InfluxQL macros (in Grafana's order, so $__interval_ms is not taken for $__interval).
        var sb = new StringBuilder(text);
        sb.Replace("$timeFilter", $"time >= {range.FromMs}ms and time <= {range.ToMs}ms");
        sb.Replace("$interval", interval.Text);
        sb.Replace("$__interval_ms", interval.Ms.ToString(CultureInfo.InvariantCulture));
        sb.Replace("$__interval", interval.Text);
        return sb.ToString();
    }

    /// <summary>
    /// The InfluxDB datasource's <c>interpolateQueryExpr</c>: a single-value variable is regex-escaped (numbers are left
    /// alone); a multi-value or "All" variable has each value escaped for a regex and the values joined with <c>|</c>
    /// (without parentheses, which is why the dashboards write <c>=~ /^($site)$/</c>).
    /// </summary>
    public static string InfluxFormat(VariableValue value)
    {
        if (!value.MultiOrAll)
        {
            var v = value.Values.Count > 0 ? value.Values[0] : "";
            return double.TryParse(LeadingNumber(v), NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? v : EscapeRegex(v);
        }
        return string.Join("|", value.Values.Select(SpecialRegexEscape));
    }

    /// <summary>@grafana/data <c>escapeRegex</c>.</summary>
    public static string EscapeRegex(string v) => Regex.Replace(v, @"[\\^$*+?.()|\[\]{}/]", @"\$0");

    /// <summary>The InfluxDB datasource's <c>influxSpecialRegexEscape</c>.</summary>
    public static string SpecialRegexEscape(string v) => Regex.Replace(v.Replace(@"\", @"\\", StringComparison.Ordinal), @"[$^*{}\[\]'+?.()|]", @"\$0");

    // JavaScript's parseFloat reads the longest leading number ("2kiln" → 2): Grafana leaves such values unescaped.
    private static string LeadingNumber(string v) => Regex.Match(v.TrimStart(), @"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?").Value is { Length: > 0 } n ? n : "x";
}
