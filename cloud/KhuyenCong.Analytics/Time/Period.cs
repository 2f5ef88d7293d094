using System.Globalization;

namespace KhuyenCong.Analytics.Time;

/// <summary>The length of a reporting period.</summary>
public enum PeriodKind
{
    Day,
    Month,
    Year,
}

/// <summary>
/// A calendar day, month or year in Vietnam local time (UTC+07:00). <see cref="StartUtc"/> is inclusive and
/// <see cref="EndUtc"/> exclusive. <see cref="Id"/> is "2025-05-10", "2025-05" or "2025".
/// </summary>
public sealed record Period(PeriodKind Kind, DateOnly FirstDay)
{
    public static Period Day(int year, int month, int day) => new(PeriodKind.Day, new DateOnly(year, month, day));

    public static Period Month(int year, int month) => new(PeriodKind.Month, new DateOnly(year, month, 1));

    public static Period Year(int year) => new(PeriodKind.Year, new DateOnly(year, 1, 1));

    /// <summary>The period of the given kind that contains <paramref name="instant"/> (in local time).</summary>
    public static Period Containing(PeriodKind kind, DateTimeOffset instant)
    {
        var d = VietnamTime.LocalDate(instant);
        return kind switch
        {
            PeriodKind.Day => Day(d.Year, d.Month, d.Day),
            PeriodKind.Month => Month(d.Year, d.Month),
            _ => Year(d.Year),
        };
    }

    public DateOnly EndDayExclusive => Kind switch
    {
        PeriodKind.Day => FirstDay.AddDays(1),
        PeriodKind.Month => FirstDay.AddMonths(1),
        _ => FirstDay.AddYears(1),
    };

    public DateTimeOffset StartUtc => VietnamTime.StartOfDayUtc(FirstDay);

    public DateTimeOffset EndUtc => VietnamTime.StartOfDayUtc(EndDayExclusive);

    public string Id => Kind switch
    {
        PeriodKind.Day => FirstDay.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        PeriodKind.Month => FirstDay.ToString("yyyy-MM", CultureInfo.InvariantCulture),
        _ => FirstDay.ToString("yyyy", CultureInfo.InvariantCulture),
    };

    /// <summary>The periods of <paramref name="kind"/> that overlap [from, to).</summary>
    public static IEnumerable<Period> Covering(PeriodKind kind, DateTimeOffset from, DateTimeOffset to)
    {
        if (to <= from) yield break;
        var p = Containing(kind, from);
        while (p.StartUtc < to)
        {
            yield return p;
            p = p with { FirstDay = p.EndDayExclusive };
        }
    }

    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()}:{Id}";
}
