using System.Globalization;
using KhuyenCong.Analytics.Time;
using System.ComponentModel;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace KhuyenCong.Cloud.Api;

/// <summary>
/// The time span of a request, from its query string: one of <c>day=2026-11-28</c>, <c>month=2026-11</c>, <c>year=2026</c>
/// (Vietnam local calendar), or <c>from</c> and/or <c>to</c> (a local day YYYY-MM-DD — <c>to</c> then includes that day —
/// or an instant with its offset, 2026-11-28T08:00:00+07:00). Errors name the parameter.
/// </summary>
public sealed record PeriodQuery(DateTimeOffset From, DateTimeOffset To)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The span asked for, or null with <paramref name="errors"/> filled. <paramref name="fallback"/> when nothing is given.</summary>
    public static PeriodQuery? Parse(PeriodParams query, Errors errors, Func<PeriodQuery> fallback)
    {
        var day = One(query.Day, "day", errors);
        var month = One(query.Month, "month", errors);
        var year = One(query.Year, "year", errors);
        var from = One(query.From, "from", errors);
        var to = One(query.To, "to", errors);
        var shorthands = new[] { ("day", day), ("month", month), ("year", year) }.Where(x => x.Item2 is not null).ToList();
        if (errors.Any) return null;
        if (shorthands.Count > 1)
        {
            errors.Add(shorthands[1].Item1, $"give one of day, month, year (not both {shorthands[0].Item1} and {shorthands[1].Item1})");
            return null;
        }
        if (shorthands.Count == 1 && (from is not null || to is not null))
        {
            errors.Add(from is not null ? "from" : "to", $"cannot be combined with {shorthands[0].Item1}");
            return null;
        }
        Period? p = null;
        if (day is not null)
        {
            if (DateOnly.TryParseExact(day, "yyyy-MM-dd", Inv, DateTimeStyles.None, out var d)) p = new Period(PeriodKind.Day, d);
            else errors.Add("day", $"'{day}' is not a day (YYYY-MM-DD)");
        }
        else if (month is not null)
        {
            if (DateOnly.TryParseExact(month + "-01", "yyyy-MM-dd", Inv, DateTimeStyles.None, out var d) && month.Length == 7) p = new Period(PeriodKind.Month, d);
            else errors.Add("month", $"'{month}' is not a month (YYYY-MM, month 01–12)");
        }
        else if (year is not null)
        {
            if (TryYear(year, out var y)) p = Period.Year(y);
            else errors.Add("year", $"'{year}' is not a year (YYYY, 2000–2100)");
        }
        if (p is not null) return new PeriodQuery(p.StartUtc, p.EndUtc);
        if (errors.Any) return null;
        if (from is null && to is null) return fallback();

        var def = fallback();
        var f = from is null ? def.From : Instant(from, "from", endOfDay: false, errors);
        var t = to is null ? def.To : Instant(to, "to", endOfDay: true, errors);
        if (errors.Any) return null;
        if (from is not null && to is null && t <= f) t = f.AddDays(31);
        if (to is not null && from is null && f >= t) f = t.AddDays(-31);
        if (f >= t)
        {
            errors.Add("from", $"must be before to ({from ?? f.ToString("O", Inv)} is not before {to ?? t.ToString("O", Inv)})");
            return null;
        }
        return new PeriodQuery(f, t);
    }

    public static bool TryYear(string text, out int year) =>
        int.TryParse(text, NumberStyles.None, Inv, out year) && text.Length == 4 && year is >= 2000 and <= 2100;

    /// <summary>The local month containing now.</summary>
    public static PeriodQuery CurrentMonth(DateTimeOffset now)
    {
        var p = Period.Containing(PeriodKind.Month, now);
        return new PeriodQuery(p.StartUtc, p.EndUtc);
    }

    /// <summary>The local year containing now.</summary>
    public static PeriodQuery CurrentYear(DateTimeOffset now)
    {
        var p = Period.Containing(PeriodKind.Year, now);
        return new PeriodQuery(p.StartUtc, p.EndUtc);
    }

    private static string? One(string? value, string name, Errors errors)
    {
        if (value is null) return null;
        var s = value.Trim();
        if (s.Length == 0)
        {
            errors.Add(name, "is empty");
            return null;
        }
        return s;
    }

    /// <summary>A local day (YYYY-MM-DD) or an ISO 8601 instant with offset.</summary>
    internal static DateTimeOffset Instant(string text, string field, bool endOfDay, Errors errors)
    {
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", Inv, DateTimeStyles.None, out var d))
            return VietnamTime.StartOfDayUtc(endOfDay ? d.AddDays(1) : d);
        if (text.Length > 10 && (text.EndsWith('Z') || text[^6] is '+' or '-')
            && DateTimeOffset.TryParse(text, Inv, DateTimeStyles.None, out var at))
            return at.ToUniversalTime();
        errors.Add(field, $"'{text}' is not a day (YYYY-MM-DD) or an instant with its offset (2026-11-28T08:00:00+07:00)");
        return default;
    }
}

/// <summary>The query parameters that choose a time span (see <see cref="PeriodQuery"/>).</summary>
public sealed class PeriodParams
{
    [FromQuery(Name = "day")]
    [Description("One local day, YYYY-MM-DD")]
    public string? Day { get; set; }

    [FromQuery(Name = "month")]
    [Description("One local month, YYYY-MM")]
    public string? Month { get; set; }

    [FromQuery(Name = "year")]
    [Description("One local year, YYYY")]
    public string? Year { get; set; }

    [FromQuery(Name = "from")]
    [Description("Start: a local day YYYY-MM-DD or an instant with offset (2025-03-01T08:00:00+07:00)")]
    public string? From { get; set; }

    [FromQuery(Name = "to")]
    [Description("End: a local day YYYY-MM-DD (included) or an instant with offset (excluded)")]
    public string? To { get; set; }
}

/// <summary>Validation errors keyed by the field or parameter they concern, as ProblemDetails <c>errors</c> carries them.</summary>
public sealed class Errors
{
    private readonly Dictionary<string, List<string>> _byField = new(StringComparer.Ordinal);

    public bool Any => _byField.Count > 0;

    public void Add(string field, string message)
    {
        if (!_byField.TryGetValue(field, out var list)) _byField[field] = list = [];
        list.Add(message);
    }

    public IDictionary<string, string[]> ToDictionary() => _byField.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal);

    /// <summary>A 400 ProblemDetails whose <c>errors</c> names each field; the detail repeats them in one sentence.</summary>
    public IResult ToResult() => Results.ValidationProblem(ToDictionary(), detail: string.Join("; ", _byField.Select(kv => $"{kv.Key}: {string.Join(", ", kv.Value)}")),
        title: "The request is not valid");
}
