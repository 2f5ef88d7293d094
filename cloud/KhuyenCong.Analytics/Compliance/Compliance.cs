using System.Globalization;
using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Analytics.Time;

namespace KhuyenCong.Analytics.Compliance;

public enum KeyConsumerStatus
{
    BelowThreshold,
    /// <summary>At or above the threshold: an energy management system, yearly reports and a 3-yearly audit are required.</summary>
    KeyConsumer,
}

/// <summary>One carrier's annual use and its TOE.</summary>
public sealed record CarrierToe(Carrier Carrier, PhysicalUnit Unit, double Amount, double Toe, ToeFactor Factor);

/// <summary>A site's annual TOE by carrier and its key-energy-consumer status, with the threshold and its decree.</summary>
public sealed record AnnualToeReport(
    AnalyticsKey Key,
    int Year,
    FacilityType Facility,
    IReadOnlyList<CarrierToe> ByCarrier,
    double TotalToe,
    KeyConsumerThreshold Threshold,
    KeyConsumerStatus Status,
    double ShareOfThreshold,
    IReadOnlyList<string> Unconverted,
    string Summary);

/// <summary>A site's energy and production over the ranking period.</summary>
public sealed record SiteSec(string Site, double EnergyMj, double ProductionKg);

/// <summary>A site's place in the SEC ranking (1 = lowest MJ/kg). Sites without production have no SEC and no rank.</summary>
public sealed record SecRanking(int? Rank, string Site, double EnergyMj, double ProductionKg, double? MjPerKg);

/// <summary>Legal and programme reporting (docs/analytics.md, "Compliance").</summary>
public static class ComplianceReports
{
    /// <summary>
    /// Converts each carrier's annual use to TOE with the factor in force on 1 January of <paramref name="year"/>, sums them, and
    /// compares the total with the key-energy-consumer threshold for the facility type (≥ threshold → key consumer). A carrier
    /// without a factor (firewood) is listed in Unconverted and the summary warns that the total is understated.
    /// </summary>
    public static AnnualToeReport AnnualToe(string site, int year, FacilityType facility, IEnumerable<Quantity> annualUse, FactorSet factors)
    {
        ArgumentNullException.ThrowIfNull(annualUse);
        ArgumentNullException.ThrowIfNull(factors);
        var date = new DateOnly(year, 1, 1);
        var rows = new List<CarrierToe>();
        var unconverted = new List<string>();
        foreach (var g in annualUse.GroupBy(q => (q.Carrier, q.Unit)).OrderBy(g => g.Key.Carrier).ThenBy(g => g.Key.Unit))
        {
            var q = new Quantity(g.Key.Carrier, g.Sum(x => x.Amount), g.Key.Unit);
            try
            {
                var eq = factors.Toe.Convert(q, date);
                rows.Add(new CarrierToe(q.Carrier, q.Unit, q.Amount, eq.Toe, eq.Factor));
            }
            catch (MissingFactorException ex)
            {
                unconverted.Add($"{q}: {ex.Message}");
            }
        }
        var total = rows.Sum(r => r.Toe);
        var threshold = factors.KeyConsumers.For(facility, year);
        var status = total >= threshold.ToePerYear ? KeyConsumerStatus.KeyConsumer : KeyConsumerStatus.BelowThreshold;
        var share = total / threshold.ToePerYear;
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"{site} used {total:0.0} TOE in {year} ({100 * share:0.0} % of the {threshold.ToePerYear:0} TOE/year threshold for {facility.ToString().ToLowerInvariant()} facilities, {threshold.Source.Document}): {(status == KeyConsumerStatus.KeyConsumer ? "a key energy consumer" : "below the threshold")}.");
        if (unconverted.Count > 0) summary += $" The total leaves out {unconverted.Count} carrier(s) without a TOE factor, so it is understated.";
        return new AnnualToeReport(AnalyticsKey.ForPeriod(site, null, Period.Year(year)), year, facility, rows, total, threshold, status, share, unconverted, summary);
    }

    /// <summary>Ranks sites by SEC = energy / production (lowest first; equal SECs share a rank; ties ordered by site id).
    /// Sites without production come last, unranked.</summary>
    public static IReadOnlyList<SecRanking> RankBySec(IEnumerable<SiteSec> sites)
    {
        ArgumentNullException.ThrowIfNull(sites);
        var withSec = sites.Where(s => s.ProductionKg > 0)
            .Select(s => (s, sec: s.EnergyMj / s.ProductionKg))
            .OrderBy(x => x.sec).ThenBy(x => x.s.Site, StringComparer.Ordinal).ToList();
        var result = new List<SecRanking>();
        for (var i = 0; i < withSec.Count; i++)
        {
            var rank = i > 0 && withSec[i].sec == withSec[i - 1].sec ? result[i - 1].Rank : i + 1;
            result.Add(new SecRanking(rank, withSec[i].s.Site, withSec[i].s.EnergyMj, withSec[i].s.ProductionKg, withSec[i].sec));
        }
        result.AddRange(sites.Where(s => !(s.ProductionKg > 0)).OrderBy(s => s.Site, StringComparer.Ordinal)
            .Select(s => new SecRanking(null, s.Site, s.EnergyMj, s.ProductionKg, null)));
        return result;
    }
}
