using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Analytics.Firings;
using KhuyenCong.Analytics.Intervals;
using KhuyenCong.Analytics.Time;
using static KhuyenCong.Analytics.Tests.Shared;

namespace KhuyenCong.Analytics.Tests;

public sealed class FiringTests
{
    private static Sample H(double hours, double value) => new(T0.AddHours(hours), value);

    [Fact]
    public void A_firing_is_detected_from_the_run_state_and_a_short_blip_is_ignored()
    {
        // Off at 0 h, on from 0.5 h to 10 h, off at 10.5 h; a 6-minute blip at 12 h is shorter than 30 min and dropped.
        var running = new List<Sample> { H(0, 0) };
        for (var h = 0.5; h <= 10; h += 0.5) running.Add(H(h, 1));
        running.AddRange([H(10.5, 0), H(11, 0), H(12, 1), H(12.1, 0), H(13, 0)]);
        Sample[] temps = [H(0.5, 30), H(5, 1248), H(6, 1262), H(10.5, 600)];

        var firings = FiringDetector.FromRunState("gom-sy", "lo-1", running, new RunStateOptions(), temps);

        var f = Assert.Single(firings);
        Assert.Equal((T0.AddHours(0.5), T0.AddHours(10.5), FiringStatus.Complete), (f.Start, f.End, f.Status));
        Assert.Equal(TimeSpan.FromHours(10), f.Duration);
        Assert.Equal(1262, f.PeakTemperatureC);
        Assert.Equal("gom-sy/lo-1/firing/20250602T003000Z", f.Key.ToString());
    }

    [Fact]
    public void A_firing_still_running_when_the_data_ends_is_open()
    {
        var f = Assert.Single(FiringDetector.FromRunState("s", "k", [H(0, 0), H(1, 1), H(2, 1)], new RunStateOptions()));
        Assert.Equal((FiringStatus.Open, T0.AddHours(2)), (f.Status, f.End));
    }

    [Fact]
    public void A_firing_is_detected_from_temperature_with_hysteresis_and_its_cooling_tail_is_not_a_second_firing()
    {
        // Hourly: 25, 80, 150 (start: first above 100 °C, and still above 15 min later), 400, 800, 1150, 1250 (peak), 1240, 900,
        // 500, 250, 180 (end: first below 200 °C after a peak ≥ 600 °C), 120 (above 100 again, but not re-armed), 90, 60.
        double[] t = [25, 80, 150, 400, 800, 1150, 1250, 1240, 900, 500, 250, 180, 120, 90, 60];
        var samples = t.Select((v, i) => H(i, v)).ToList();

        var firings = FiringDetector.FromTemperature("gom-sy", "lo-2", samples, new TemperatureFiringOptions());

        var f = Assert.Single(firings);
        Assert.Equal((T0.AddHours(2), T0.AddHours(11)), (f.Start, f.End));
        Assert.Equal((FiringStatus.Complete, 1250.0), (f.Status, f.PeakTemperatureC!.Value));
        Assert.Equal(FiringDetectionMethod.Temperature, f.Method);
    }

    [Fact]
    public void A_brief_rise_above_the_start_threshold_is_not_a_firing_and_a_warm_up_that_never_peaks_is_aborted()
    {
        // 10-minute samples. 110 °C for one sample then 90: shorter than the 15-minute hold → nothing.
        // Then 150, 300, 450 (never 600) and back to 95 → aborted.
        double[] t = [25, 110, 90, 150, 300, 450, 300, 95, 40];
        var samples = t.Select((v, i) => S(10 * i, v)).ToList();

        var f = Assert.Single(FiringDetector.FromTemperature("s", "k", samples, new TemperatureFiringOptions()));

        Assert.Equal((Min(30), Min(70), FiringStatus.Aborted, 450.0), (f.Start, f.End, f.Status, f.PeakTemperatureC!.Value));
    }

    [Fact]
    public void A_firing_record_attributes_overlapping_energy_prices_it_by_tariff_period_and_uses_the_latest_production_entry()
    {
        // Firing: Monday 2 June 2025, 08:30–18:00 local.
        var firing = new FiringWindow("gom-sy", "lo-1", Local(2025, 6, 2, 8, 30), Local(2025, 6, 2, 18), FiringStatus.Complete, FiringDetectionMethod.RunState, 1250);
        // Electricity: 10 kWh per hour from 07:00 to 19:00 local. Inside the firing: half of 08–09 (5) + 09–18 (9 × 10) = 95 kWh.
        var kwh = Enumerable.Range(7, 12).Select(h => new EnergyInterval(Local(2025, 6, 2, h), Local(2025, 6, 2, h + 1), 10, IntervalFlag.Ok, 10, 0, EnergySource.Counter)).ToList();
        // LPG: 2 kg per half hour from 08:30 to 18:00 = 19 intervals = 38 kg.
        var kg = Enumerable.Range(0, 19).Select(i => new EnergyInterval(firing.Start.AddMinutes(30 * i), firing.Start.AddMinutes(30 * (i + 1)), 2, IntervalFlag.Ok, 2, 0, EnergySource.StockDecrease)).ToList();
        // Production: 200 kg entered at 19:00 by Lan, corrected to 180 kg at 20:00 by Minh (supersedes the first).
        var ledger = new ProductionLedger(
        [
            new ProductionEntry("p-1", "gom-sy", "lo-1", Local(2025, 6, 2, 8, 30), Local(2025, 6, 2, 19), "lan", 200, 400, "stoneware"),
            new ProductionEntry("p-2", "gom-sy", "lo-1", Local(2025, 6, 2, 8, 30), Local(2025, 6, 2, 20), "minh", 180, 360, "stoneware", Supersedes: "p-1"),
        ]);

        var r = FiringCalculator.Compute(firing, [new("meter-1", Carrier.Electricity, PhysicalUnit.KWh, kwh), new("scale-1", Carrier.Lpg, PhysicalUnit.Kg, kg)], ledger, Data, VoltageLevel.Below6kV);

        var elec = r.Energy.Single(e => e.Carrier == Carrier.Electricity);
        var lpg = r.Energy.Single(e => e.Carrier == Carrier.Lpg);
        Assert.Equal(95, elec.Amount, 9);
        Assert.Equal(38, lpg.Amount, 9);
        // TOE: 95 kWh × 0.1543/1,000 = 0.0146585; 38 kg × 1.09/1,000 = 0.04142; total 0.0560785 TOE = 56.0785 kgoe.
        Assert.Equal(0.0560785, r.TotalToe, 9);
        Assert.Equal(56.0785, r.TotalKgoe, 7);
        Assert.Equal(0.0560785 * 41_868, r.TotalMj, 6);
        // Cost (2014 hours, below 6 kV): 08:30–09:30 normal 10; 09:30–11:30 peak 20; 11:30–17:00 normal 55; 17:00–18:00 peak 10.
        // = 65 × 1,987 + 30 × 3,640 = 129,155 + 109,200 = 238,355 VND.
        Assert.Equal(238_355, r.ElectricityCostVnd, 6);
        Assert.Null(lpg.ElectricityCost);
        // CO2: 2025 has no grid factor → 2024's 0.6811: 95 × 0.6811 = 64.7045; LPG 38 × 2.98463 = 113.41594; total 178.12044 kg.
        Assert.Equal(178.12044, r.KgCo2!.Value, 6);
        Assert.Contains(r.Notes, n => n.Contains("used 2024", StringComparison.Ordinal));
        // Production: the correction wins, the history keeps both.
        Assert.Equal("p-2", r.Production.Effective!.EntryId);
        Assert.Equal(["p-1", "p-2"], r.Production.History.Select(e => e.EntryId));
        // SEC = MJ / 180 kg; kgoe per tonne = 56.0785 / 0.18 = 311.547 kgoe/t.
        Assert.Equal(0.0560785 * 41_868 / 180, r.Sec!.MjPerKg, 9);
        Assert.Equal(56.0785 / 0.18, r.Sec.KgoePerTonne, 6);
        Assert.Equal(firing.Key, r.Key);
    }

    [Fact]
    public void Recomputing_a_firing_record_from_the_same_inputs_gives_an_equal_record_under_the_same_key()
    {
        var firing = new FiringWindow("s", "k", Local(2025, 6, 2, 8), Local(2025, 6, 2, 9), FiringStatus.Complete, FiringDetectionMethod.RunState, null);
        CarrierSeries[] series = [new("m", Carrier.Electricity, PhysicalUnit.KWh, [new EnergyInterval(firing.Start, firing.End, 7, IntervalFlag.Ok, 7, 0, EnergySource.Counter)])];
        var ledger = new ProductionLedger([]);

        var a = FiringCalculator.Compute(firing, series, ledger, Data, VoltageLevel.Below6kV);
        var b = FiringCalculator.Compute(firing, series, ledger, Data, VoltageLevel.Below6kV);

        Assert.Equal(a.Key, b.Key);
        Assert.Equal(a.TotalMj, b.TotalMj);
        Assert.Equal(a.ElectricityCostVnd, b.ElectricityCostVnd);
        Assert.Equal(a.Notes, b.Notes);
        Assert.Null(a.Sec);
    }

    [Fact]
    public void A_period_sec_is_the_sum_of_energy_over_the_sum_of_production_not_an_average_of_firing_secs()
    {
        // Firing A: 100 MJ for 10 kg (10 MJ/kg); firing B: 900 MJ for 300 kg (3 MJ/kg); firing C: 50 MJ, no production.
        // Day SEC = (100 + 900) / (10 + 300) = 3.2258 MJ/kg — not (10 + 3) / 2 = 6.5. C counts in the total (1,050 MJ), not in SEC.
        var day = Local(2025, 6, 2, 6);
        FiringRecord Rec(string kiln, int hour, double mj, double? kg) => new(
            AnalyticsKey.ForFiring("s", kiln, day.AddHours(hour)),
            new FiringWindow("s", kiln, day.AddHours(hour), day.AddHours(hour + 1), FiringStatus.Complete, FiringDetectionMethod.RunState, null),
            [], mj / 41_868, mj / 41.868, mj, 0, 0,
            kg is { } w ? new ProductionResolution(new ProductionEntry(kiln + hour, "s", kiln, day.AddHours(hour), day.AddHours(hour + 2), "lan", w, 1, "bowl"), []) : ProductionResolution.None,
            kg is { } w2 ? Sec.From(mj, mj / 41.868, w2) : null, []);
        FiringRecord[] records = [Rec("lo-1", 0, 100, 10), Rec("lo-2", 1, 900, 300), Rec("lo-1", 2, 50, null)];

        var site = Assert.Single(Aggregation.Summarise(records, PeriodKind.Day, AggregationScope.Site));
        var kilns = Aggregation.Summarise(records, PeriodKind.Day, AggregationScope.Kiln);

        Assert.Equal("s/*/day/2025-06-02", site.Key.ToString());
        Assert.Equal((3, 2), (site.Firings, site.FiringsWithProduction));
        Assert.Equal(1050, site.TotalMj, 9);
        Assert.Equal(1000.0 / 310, site.Sec!.MjPerKg, 9);
        Assert.Equal(["s/lo-1/day/2025-06-02", "s/lo-2/day/2025-06-02"], kilns.Select(k => k.Key.ToString()));
        Assert.Equal(10, kilns[0].Sec!.MjPerKg, 9); // lo-1: 100 MJ / 10 kg; the 50 MJ firing without production is left out
    }

    [Fact]
    public void Days_and_months_are_counted_in_vietnam_local_time()
    {
        // 2025-05-31 18:00 UTC is 1 June 01:00 in Hanoi.
        var instant = new DateTimeOffset(2025, 5, 31, 18, 0, 0, TimeSpan.Zero);
        Assert.Equal("2025-06-01", Period.Containing(PeriodKind.Day, instant).Id);
        Assert.Equal("2025-06", Period.Containing(PeriodKind.Month, instant).Id);
        Assert.Equal(new DateTimeOffset(2025, 5, 31, 17, 0, 0, TimeSpan.Zero), Period.Month(2025, 6).StartUtc);
    }

    [Fact]
    public void A_production_entry_that_supersedes_a_missing_entry_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ProductionLedger([new ProductionEntry("p-2", "s", "k", T0, T0, "lan", 1, 1, "x", Supersedes: "p-1")]));
        Assert.Contains("p-1", ex.Message, StringComparison.Ordinal);
    }
}
