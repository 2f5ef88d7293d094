using KhuyenCong.Analytics.Factors;
using static KhuyenCong.Analytics.Tests.Shared;

namespace KhuyenCong.Analytics.Tests;

/// <summary>Prices (Decision 1279/QĐ-BCT, VND/kWh before VAT), normal / off-peak / peak: &lt;6 kV 1,987 / 1,300 / 3,640;
/// 6–22 kV 1,899 / 1,234 / 3,508. Times below are Vietnam local (UTC+07:00), passed in as UTC instants.</summary>
public sealed class TouTariffTests
{
    private static TouTariff Tariff => Data.Tariff;

    [Fact]
    public void A_weekday_morning_under_the_2014_hours_is_split_at_the_peak_boundaries()
    {
        // Monday 2 June 2025, 09:00–12:00 local (02:00–05:00 UTC), 30 kWh evenly = 10 kWh/h:
        // 09:00–09:30 normal 5; 09:30–11:30 peak 20; 11:30–12:00 normal 5.
        // Cost = 10 × 1,987 + 20 × 3,640 = 19,870 + 72,800 = 92,670 VND.
        var start = Local(2025, 6, 2, 9);
        Assert.Equal(DayOfWeek.Monday, new DateTime(2025, 6, 2).DayOfWeek);
        Assert.Equal(new DateTimeOffset(2025, 6, 2, 2, 0, 0, TimeSpan.Zero), start);

        var cost = Tariff.Split(start, Local(2025, 6, 2, 12), 30, VoltageLevel.Below6kV);

        Assert.Equal([TouPeriod.Normal, TouPeriod.Peak, TouPeriod.Normal], cost.Segments.Select(s => s.Period));
        Assert.Equal([5.0, 20.0, 5.0], cost.Segments.Select(s => Math.Round(s.EnergyKWh, 9)));
        Assert.Equal(Local(2025, 6, 2, 9, 30), cost.Segments[1].Start);
        Assert.Equal(Local(2025, 6, 2, 11, 30), cost.Segments[1].End);
        Assert.Equal(92_670, cost.CostVnd, 6);
        Assert.All(cost.Segments, s => Assert.Equal("circular-16-2014", s.ScheduleId));
    }

    [Fact]
    public void A_weekday_evening_into_the_night_under_the_2014_hours_crosses_peak_normal_off_peak_and_midnight()
    {
        // Monday 19:00 → Tuesday 05:00 local, 100 kWh over 10 h = 10 kWh/h:
        // 19–20 peak 10; 20–22 normal 20; 22–04 off-peak 60 (across midnight); 04–05 normal 10.
        // Cost = 10 × 3,640 + 30 × 1,987 + 60 × 1,300 = 36,400 + 59,610 + 78,000 = 174,010 VND.
        var cost = Tariff.Split(Local(2025, 6, 2, 19), Local(2025, 6, 3, 5), 100, VoltageLevel.Below6kV);

        Assert.Equal(10, cost.EnergyIn(TouPeriod.Peak), 9);
        Assert.Equal(30, cost.EnergyIn(TouPeriod.Normal), 9);
        Assert.Equal(60, cost.EnergyIn(TouPeriod.OffPeak), 9);
        Assert.Equal(174_010, cost.CostVnd, 6);
    }

    [Fact]
    public void A_sunday_under_the_2014_hours_has_no_peak()
    {
        // Sunday 8 June 2025, 09:00–12:00, 30 kWh: all normal → 30 × 1,987 = 59,610 VND.
        Assert.Equal(DayOfWeek.Sunday, new DateTime(2025, 6, 8).DayOfWeek);
        var cost = Tariff.Split(Local(2025, 6, 8, 9), Local(2025, 6, 8, 12), 30, VoltageLevel.Below6kV);

        Assert.Equal(TouPeriod.Normal, Assert.Single(cost.Segments).Period);
        Assert.Equal(59_610, cost.CostVnd, 6);
    }

    [Fact]
    public void A_weekday_evening_under_the_2026_hours_has_its_peak_from_17_30_to_22_30()
    {
        // Monday 6 July 2026, 17:00–23:00, 60 kWh = 10 kWh/h, 6–22 kV:
        // 17:00–17:30 normal 5; 17:30–22:30 peak 50; 22:30–23:00 normal 5.
        // Cost = 10 × 1,899 + 50 × 3,508 = 18,990 + 175,400 = 194,390 VND.
        Assert.Equal(DayOfWeek.Monday, new DateTime(2026, 7, 6).DayOfWeek);
        var cost = Tariff.Split(Local(2026, 7, 6, 17), Local(2026, 7, 6, 23), 60, VoltageLevel.From6To22kV);

        Assert.Equal([TouPeriod.Normal, TouPeriod.Peak, TouPeriod.Normal], cost.Segments.Select(s => s.Period));
        Assert.Equal(50, cost.EnergyIn(TouPeriod.Peak), 9);
        Assert.Equal(194_390, cost.CostVnd, 6);
        Assert.All(cost.Segments, s => Assert.Equal("decision-963-2026", s.ScheduleId));
    }

    [Fact]
    public void A_sunday_under_the_2026_hours_has_no_peak_but_its_early_morning_is_off_peak()
    {
        // Sunday 12 July 2026, 04:00–08:00 and 17:00–23:00, 6–22 kV, 10 kWh/h:
        // morning: 04–06 off-peak 20 (× 1,234 = 24,680), 06–08 normal 20 (× 1,899 = 37,980);
        // evening: all normal 60 × 1,899 = 113,940.
        Assert.Equal(DayOfWeek.Sunday, new DateTime(2026, 7, 12).DayOfWeek);
        var morning = Tariff.Split(Local(2026, 7, 12, 4), Local(2026, 7, 12, 8), 40, VoltageLevel.From6To22kV);
        var evening = Tariff.Split(Local(2026, 7, 12, 17), Local(2026, 7, 12, 23), 60, VoltageLevel.From6To22kV);

        Assert.Equal(20, morning.EnergyIn(TouPeriod.OffPeak), 9);
        Assert.Equal(24_680 + 37_980, morning.CostVnd, 6);
        Assert.Equal(TouPeriod.Normal, Assert.Single(evening.Segments).Period);
        Assert.Equal(113_940, evening.CostVnd, 6);
    }

    [Fact]
    public void An_interval_across_the_change_of_rules_uses_each_days_own_hours()
    {
        // Tuesday 30 June 2026 21:00 → Wednesday 1 July 07:00, 100 kWh over 10 h, below 6 kV.
        // 30 June (2014 hours): 21–22 normal 10, 22–24 off-peak 20. 1 July (2026 hours): 00–06 off-peak 60, 06–07 normal 10.
        // Cost = 20 × 1,987 + 80 × 1,300 = 39,740 + 104,000 = 143,740 VND.
        var cost = Tariff.Split(Local(2026, 6, 30, 21), Local(2026, 7, 1, 7), 100, VoltageLevel.Below6kV);

        Assert.Equal(["circular-16-2014", "circular-16-2014", "decision-963-2026", "decision-963-2026"], cost.Segments.Select(s => s.ScheduleId));
        Assert.Equal(80, cost.EnergyIn(TouPeriod.OffPeak), 9);
        Assert.Equal(143_740, cost.CostVnd, 6);
    }

    [Fact]
    public void Energy_before_the_first_price_list_is_an_error_naming_the_tariff_file()
    {
        var ex = Assert.Throws<MissingFactorException>(() => Tariff.Split(Local(2025, 1, 6, 9), Local(2025, 1, 6, 10), 10, VoltageLevel.Below6kV));
        Assert.Contains(TouTariff.FileName, ex.Message, StringComparison.Ordinal);
    }
}
