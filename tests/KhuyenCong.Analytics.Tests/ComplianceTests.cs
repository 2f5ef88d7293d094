using KhuyenCong.Analytics.Compliance;
using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using static KhuyenCong.Analytics.Tests.Shared;

namespace KhuyenCong.Analytics.Tests;

public sealed class ComplianceTests
{
    [Fact]
    public void A_site_using_six_point_four_eight_gigawatt_hours_is_just_below_the_key_consumer_threshold()
    {
        // 6,480 MWh × 0.1543 = 999.864 TOE < 1,000 TOE/year (industrial).
        var r = ComplianceReports.AnnualToe("gom-sy", 2025, FacilityType.Industrial, [new Quantity(Carrier.Electricity, 6_480_000, PhysicalUnit.KWh)], Data);

        Assert.Equal(999.864, r.TotalToe, 6);
        Assert.Equal(KeyConsumerStatus.BelowThreshold, r.Status);
        Assert.Equal("gom-sy/*/year/2025", r.Key.ToString());
        Assert.Contains("Decree 21/2011/ND-CP", r.Threshold.Source.Document, StringComparison.Ordinal);
    }

    [Fact]
    public void Adding_one_tonne_of_lpg_makes_it_a_key_energy_consumer_and_firewood_is_reported_as_unconverted()
    {
        // 999.864 + 1 t × 1.09 = 1,000.954 TOE ≥ 1,000. Two electricity entries are summed first (6,000 + 480 MWh).
        Quantity[] use =
        [
            new(Carrier.Electricity, 6_000, PhysicalUnit.MWh),
            new(Carrier.Electricity, 480_000, PhysicalUnit.KWh),
            new(Carrier.Lpg, 1_000, PhysicalUnit.Kg),
            new(Carrier.Firewood, 5_000, PhysicalUnit.Kg),
        ];

        var r = ComplianceReports.AnnualToe("gom-sy", 2025, FacilityType.Industrial, use, Data);

        Assert.Equal(999.864 + 1.09, r.TotalToe, 6);
        Assert.Equal(KeyConsumerStatus.KeyConsumer, r.Status);
        Assert.Single(r.Unconverted);
        Assert.Contains("understated", r.Summary, StringComparison.Ordinal);
        Assert.Equal([Carrier.Electricity, Carrier.Electricity, Carrier.Lpg], r.ByCarrier.Select(c => c.Carrier));
    }

    [Fact]
    public void A_building_uses_the_five_hundred_toe_threshold()
    {
        // 3,300 MWh × 0.1543 = 509.19 TOE ≥ 500.
        var r = ComplianceReports.AnnualToe("hotel", 2025, FacilityType.Building, [new Quantity(Carrier.Electricity, 3_300, PhysicalUnit.MWh)], Data);
        Assert.Equal((500.0, KeyConsumerStatus.KeyConsumer), (r.Threshold.ToePerYear, r.Status));
    }

    [Fact]
    public void Sites_are_ranked_by_sec_lowest_first_with_shared_ranks_for_ties_and_sites_without_production_last()
    {
        // a: 1,000 / 100 = 10; b: 900 / 300 = 3; c: 600 / 200 = 3; d: no production.
        var ranking = ComplianceReports.RankBySec([new("a", 1000, 100), new("d", 500, 0), new("c", 600, 200), new("b", 900, 300)]);

        Assert.Equal(["b", "c", "a", "d"], ranking.Select(r => r.Site));
        Assert.Equal(new int?[] { 1, 1, 3, null }, ranking.Select(r => r.Rank));
        Assert.Equal(3, ranking[0].MjPerKg);
    }

    [Fact]
    public void Completeness_is_the_share_of_poll_slots_with_a_reading()
    {
        // One hour at a 1-minute poll: 60 slots. Readings in minutes 0–59 except 10–19 (10 missing), minute 5 twice, and one
        // reading after the hour: 50 slots / 60 = 0.8333.
        var readings = Enumerable.Range(0, 60).Where(m => m is < 10 or >= 20).Select(m => Min(m))
            .Append(Min(5.5)).Append(Min(61)).ToList();

        var c = DataCompleteness.Compute(readings, Min(0), Min(60), TimeSpan.FromMinutes(1));

        Assert.Equal((60L, 50L), (c.Expected, c.Received));
        Assert.Equal(50.0 / 60, c.Share, 12);
    }
}
