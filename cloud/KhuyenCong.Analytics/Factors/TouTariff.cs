using System.Globalization;
using KhuyenCong.Analytics.Intervals;
using KhuyenCong.Configuration;

namespace KhuyenCong.Analytics.Factors;

/// <summary>A time-of-use period (giờ thấp điểm / bình thường / cao điểm).</summary>
public enum TouPeriod
{
    OffPeak,
    Normal,
    Peak,
}

/// <summary>The voltage level of the customer's connection, which selects the price row.</summary>
public enum VoltageLevel
{
    /// <summary>Below 6 kV (most workshops).</summary>
    Below6kV,
    /// <summary>6 kV to below 22 kV.</summary>
    From6To22kV,
    /// <summary>22 kV to below 110 kV.</summary>
    From22To110kV,
}

/// <summary>Day names as written in the tariff file.</summary>
public enum Weekday
{
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// <summary>A window of a schedule: on <see cref="Days"/>, local time [From, To) is <see cref="Period"/>.</summary>
public sealed record TouWindow(TouPeriod Period, IReadOnlySet<DayOfWeek> Days, TimeSpan From, TimeSpan To);

/// <summary>The time-of-use hours in force from <see cref="FactorSource.Effective"/> until the next schedule.</summary>
public sealed record TouSchedule(string Id, TouPeriod DefaultPeriod, IReadOnlyList<TouWindow> Windows, FactorSource Source)
{
    /// <summary>The period of local time-of-day <paramref name="t"/> on <paramref name="day"/>.</summary>
    public TouPeriod PeriodAt(DayOfWeek day, TimeSpan t) =>
        Windows.FirstOrDefault(w => w.Days.Contains(day) && w.From <= t && t < w.To)?.Period ?? DefaultPeriod;
}

/// <summary>Prices (VND/kWh before VAT) per voltage level and period, in force from the effective date until the next list.</summary>
public sealed record TouPriceList(string Id, IReadOnlyDictionary<VoltageLevel, IReadOnlyDictionary<TouPeriod, double>> Prices, FactorSource Source);

/// <summary>One piece of an interval inside one tariff period, schedule and price list. Times are UTC.</summary>
public sealed record TouSegment(DateTimeOffset Start, DateTimeOffset End, TouPeriod Period, string ScheduleId, string PriceListId, double EnergyKWh, double PriceVndPerKWh, double CostVnd);

/// <summary>The cost of some energy split by tariff period. Amounts in kWh and VND before VAT.</summary>
public sealed record TouCost(IReadOnlyList<TouSegment> Segments)
{
    public static TouCost Empty { get; } = new([]);

    public double EnergyKWh => Segments.Sum(s => s.EnergyKWh);

    public double CostVnd => Segments.Sum(s => s.CostVnd);

    public double EnergyIn(TouPeriod period) => Segments.Where(s => s.Period == period).Sum(s => s.EnergyKWh);

    public double CostIn(TouPeriod period) => Segments.Where(s => s.Period == period).Sum(s => s.CostVnd);

    public TouCost Plus(TouCost other) => new([.. Segments, .. other.Segments]);
}

/// <summary>
/// The EVN manufacturing time-of-use tariff (firmware-config/factors/tariff-evn-manufacturing.yaml): hour schedules and price
/// lists with effective dates, evaluated in the file's local time (UTC+07:00 for Vietnam, no DST).
/// </summary>
public sealed class TouTariff
{
    public const string FileName = "tariff-evn-manufacturing.yaml";

    private TouTariff(string file, TimeSpan offset, IReadOnlyList<TouSchedule> schedules, IReadOnlyList<TouPriceList> prices)
    {
        File = file;
        UtcOffset = offset;
        Schedules = schedules;
        PriceLists = prices;
    }

    public string File { get; }

    /// <summary>The local time of the tariff (+07:00).</summary>
    public TimeSpan UtcOffset { get; }

    public IReadOnlyList<TouSchedule> Schedules { get; }

    public IReadOnlyList<TouPriceList> PriceLists { get; }

    public static TouTariff Load(string path)
    {
        var (dto, b) = FactorFile.Load<Dto>(path);
        FactorFile.RequireVersion(b, dto, dto.Version);
        if (!TimeSpan.TryParseExact(dto.UtcOffset.TrimStart('+'), @"hh\:mm", CultureInfo.InvariantCulture, out var offset) || dto.UtcOffset[0] != '+')
            throw b.Error(dto, nameof(Dto.UtcOffset), $"'{dto.UtcOffset}' is not an offset like +07:00");

        var schedules = new List<TouSchedule>();
        foreach (var s in dto.Schedules)
        {
            var src = SourceOf(b, s, s.Effective, s.Source, s.Url, s.Confidence, s.Note);
            if (schedules.Any(x => x.Source.Effective == src.Effective)) throw b.Error(s, nameof(ScheduleDto.Effective), $"two schedules take effect on {src.Effective:yyyy-MM-dd}");
            var windows = new List<TouWindow>();
            foreach (var w in s.Windows)
            {
                var from = ParseTime(b, w, nameof(WindowDto.From), w.From);
                var to = ParseTime(b, w, nameof(WindowDto.To), w.To);
                if (to <= from) throw b.Error(w, nameof(WindowDto.To), $"{w.To} is not after {w.From}; a window never crosses midnight (split it at 24:00)");
                if (w.Days.Count == 0) throw b.Error(w, nameof(WindowDto.Days), "must list at least one day");
                var days = w.Days.Select(ToDayOfWeek).ToHashSet();
                var clash = windows.FirstOrDefault(o => o.Days.Overlaps(days) && o.From < to && from < o.To);
                if (clash is not null) throw b.Error(w, nameof(WindowDto.From), $"{w.From}–{w.To} overlaps {clash.From:hh\\:mm}–{clash.To:hh\\:mm} on a shared day");
                windows.Add(new TouWindow(w.Period, days, from, to));
            }
            schedules.Add(new TouSchedule(s.Id, s.DefaultPeriod, windows, src));
        }
        if (schedules.Count == 0) throw b.Error(dto, nameof(Dto.Schedules), "must list at least one schedule");

        var prices = new List<TouPriceList>();
        foreach (var p in dto.Prices)
        {
            if (p.Unit != "VND/kWh") throw b.Error(p, nameof(PriceDto.Unit), $"'{p.Unit}' is not accepted; expected 'VND/kWh'");
            var src = SourceOf(b, p, p.Effective, p.Source, p.Url, p.Confidence, p.Note);
            if (prices.Any(x => x.Source.Effective == src.Effective)) throw b.Error(p, nameof(PriceDto.Effective), $"two price lists take effect on {src.Effective:yyyy-MM-dd}");
            var levels = new Dictionary<VoltageLevel, IReadOnlyDictionary<TouPeriod, double>>
            {
                [VoltageLevel.Below6kV] = Row(b, p.Levels.Below6kV),
                [VoltageLevel.From6To22kV] = Row(b, p.Levels.From6To22kV),
                [VoltageLevel.From22To110kV] = Row(b, p.Levels.From22To110kV),
            };
            prices.Add(new TouPriceList(p.Id, levels, src));
        }
        if (prices.Count == 0) throw b.Error(dto, nameof(Dto.Prices), "must list at least one price list");

        return new TouTariff(b.File, offset, schedules.OrderBy(s => s.Source.Effective).ToList(), prices.OrderBy(p => p.Source.Effective).ToList());
    }

    /// <summary>The schedule in force on a local date (the latest effective on or before it).</summary>
    public TouSchedule ScheduleOn(DateOnly localDate) =>
        Schedules.LastOrDefault(s => s.Source.Effective <= localDate)
        ?? throw new MissingFactorException(File, $"no time-of-use schedule in force on {localDate:yyyy-MM-dd} (the first starts {Schedules[0].Source.Effective:yyyy-MM-dd})");

    /// <summary>The price list in force on a local date.</summary>
    public TouPriceList PricesOn(DateOnly localDate) =>
        PriceLists.LastOrDefault(p => p.Source.Effective <= localDate)
        ?? throw new MissingFactorException(File, $"no electricity price list in force on {localDate:yyyy-MM-dd} (the first starts {PriceLists[0].Source.Effective:yyyy-MM-dd})");

    /// <summary>
    /// Splits <paramref name="energyKWh"/> used evenly over [start, end) across tariff periods by time: each local day is cut at
    /// its window edges and at midnight (where a new schedule or price list can start), each piece gets energy × its share of the
    /// interval's duration, and is priced at the period's price for <paramref name="level"/> on that day.
    /// </summary>
    public TouCost Split(DateTimeOffset start, DateTimeOffset end, double energyKWh, VoltageLevel level)
    {
        if (end <= start) throw new ArgumentException($"the interval must end after it starts: {start:O} – {end:O}");
        if (!double.IsFinite(energyKWh) || energyKWh < 0) throw new ArgumentException($"energy must be a finite number ≥ 0, not {energyKWh}");
        var total = (double)(end - start).Ticks;
        var segments = new List<TouSegment>();
        var cursor = start.ToOffset(UtcOffset);
        var endLocal = end.ToOffset(UtcOffset);
        while (cursor < endLocal)
        {
            var date = DateOnly.FromDateTime(cursor.DateTime);
            var dayStart = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), UtcOffset);
            var schedule = ScheduleOn(date);
            var priceList = PricesOn(date);
            var prices = priceList.Prices[level];
            var edges = schedule.Windows.Where(w => w.Days.Contains(date.DayOfWeek)).SelectMany(w => new[] { w.From, w.To })
                .Append(TimeSpan.Zero).Append(TimeSpan.FromDays(1)).Distinct().Order().ToList();
            for (var i = 0; i + 1 < edges.Count; i++)
            {
                var a = Max(cursor, dayStart + edges[i]);
                var z = Min(endLocal, dayStart + edges[i + 1]);
                if (z <= a) continue;
                var period = schedule.PeriodAt(date.DayOfWeek, edges[i]);
                var e = energyKWh * ((z - a).Ticks / total);
                var price = prices[period];
                var last = segments.Count > 0 ? segments[^1] : null;
                if (last is not null && last.End == a.ToUniversalTime() && last.Period == period && last.ScheduleId == schedule.Id && last.PriceListId == priceList.Id)
                    segments[^1] = last with { End = z.ToUniversalTime(), EnergyKWh = last.EnergyKWh + e, CostVnd = last.CostVnd + e * price };
                else
                    segments.Add(new TouSegment(a.ToUniversalTime(), z.ToUniversalTime(), period, schedule.Id, priceList.Id, e, price, e * price));
            }
            cursor = dayStart.AddDays(1);
        }
        return new TouCost(segments);
    }

    /// <summary>The cost of electricity intervals (kWh), optionally only their part inside [from, to).</summary>
    public TouCost Cost(IEnumerable<EnergyInterval> intervals, VoltageLevel level, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        ArgumentNullException.ThrowIfNull(intervals);
        var cost = TouCost.Empty;
        foreach (var iv in intervals)
        {
            var a = from is { } f && f > iv.Start ? f : iv.Start;
            var z = to is { } t && t < iv.End ? t : iv.End;
            if (z <= a) continue;
            var e = iv.EnergyWithin(a, z);
            if (e == 0) continue;
            cost = cost.Plus(Split(a, z, e, level));
        }
        return cost;
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static FactorSource SourceOf(YamlBinder b, object dto, string effective, string source, string? url, Confidence confidence, string? note)
    {
        if (string.IsNullOrWhiteSpace(source)) throw b.Error(dto, "Source", "must name the source document");
        return new FactorSource(b.File, b.Where(dto).Path, source, url, confidence, FactorFile.ParseEffective(b, dto, effective), note);
    }

    private static IReadOnlyDictionary<TouPeriod, double> Row(YamlBinder b, RowDto r)
    {
        foreach (var (name, v) in new[] { (nameof(RowDto.Normal), r.Normal), (nameof(RowDto.OffPeak), r.OffPeak), (nameof(RowDto.Peak), r.Peak) })
        {
            if (!double.IsFinite(v) || v <= 0) throw b.Error(r, name, $"must be a positive price, not {v}");
        }
        return new Dictionary<TouPeriod, double> { [TouPeriod.Normal] = r.Normal, [TouPeriod.OffPeak] = r.OffPeak, [TouPeriod.Peak] = r.Peak };
    }

    private static TimeSpan ParseTime(YamlBinder b, object dto, string property, string text)
    {
        if (text == "24:00") return TimeSpan.FromDays(1);
        if (TimeSpan.TryParseExact(text, @"hh\:mm", CultureInfo.InvariantCulture, out var t) && t < TimeSpan.FromDays(1)) return t;
        throw b.Error(dto, property, $"'{text}' is not a time HH:MM (00:00–24:00)");
    }

    private static DayOfWeek ToDayOfWeek(Weekday d) => d switch
    {
        Weekday.Mon => DayOfWeek.Monday,
        Weekday.Tue => DayOfWeek.Tuesday,
        Weekday.Wed => DayOfWeek.Wednesday,
        Weekday.Thu => DayOfWeek.Thursday,
        Weekday.Fri => DayOfWeek.Friday,
        Weekday.Sat => DayOfWeek.Saturday,
        _ => DayOfWeek.Sunday,
    };

    private sealed class Dto
    {
        public required int Version { get; set; }
        public required string UtcOffset { get; set; }
        public required List<ScheduleDto> Schedules { get; set; }
        public required List<PriceDto> Prices { get; set; }
    }

    private sealed class ScheduleDto
    {
        public required string Id { get; set; }
        public required string Effective { get; set; }
        public required string Source { get; set; }
        public string? Url { get; set; }
        public required Confidence Confidence { get; set; }
        public string? Note { get; set; }
        public required TouPeriod DefaultPeriod { get; set; }
        public required List<WindowDto> Windows { get; set; }
    }

    private sealed class WindowDto
    {
        public required TouPeriod Period { get; set; }
        public required List<Weekday> Days { get; set; }
        public required string From { get; set; }
        public required string To { get; set; }
    }

    private sealed class PriceDto
    {
        public required string Id { get; set; }
        public required string Effective { get; set; }
        public required string Unit { get; set; }
        public required string Source { get; set; }
        public string? Url { get; set; }
        public required Confidence Confidence { get; set; }
        public string? Note { get; set; }
        public required LevelsDto Levels { get; set; }
    }

    private sealed class LevelsDto
    {
        [YamlKey("below_6kv")]
        public required RowDto Below6kV { get; set; }

        [YamlKey("from_6_to_22kv")]
        public required RowDto From6To22kV { get; set; }

        [YamlKey("from_22_to_110kv")]
        public required RowDto From22To110kV { get; set; }
    }

    private sealed class RowDto
    {
        public required double Normal { get; set; }
        public required double OffPeak { get; set; }
        public required double Peak { get; set; }
    }
}
