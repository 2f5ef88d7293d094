namespace KhuyenCong.Analytics.Time;

/// <summary>
/// Vietnam local time: UTC+07:00 all year (Vietnam has no daylight saving time). Tariff periods, days, months and years
/// of every aggregation are counted in this local time; every input and output instant is a UTC <see cref="DateTimeOffset"/>.
/// </summary>
public static class VietnamTime
{
    /// <summary>The fixed offset of Indochina Time (ICT).</summary>
    public static readonly TimeSpan Offset = TimeSpan.FromHours(7);

    /// <summary>The same instant seen on a Vietnamese wall clock.</summary>
    public static DateTimeOffset ToLocal(DateTimeOffset instant) => instant.ToOffset(Offset);

    /// <summary>The UTC instant of local midnight at the start of <paramref name="date"/>.</summary>
    public static DateTimeOffset StartOfDayUtc(DateOnly date) =>
        new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), Offset).ToUniversalTime();

    /// <summary>The local calendar date of an instant.</summary>
    public static DateOnly LocalDate(DateTimeOffset instant) => DateOnly.FromDateTime(ToLocal(instant).DateTime);
}
