using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Analytics.Intervals;
using KhuyenCong.Analytics.Time;

namespace KhuyenCong.Analytics.Firings;

/// <summary>The energy intervals of one device measuring one carrier for one kiln (or for the site), in <see cref="Unit"/>.</summary>
public sealed record CarrierSeries(string DeviceId, Carrier Carrier, PhysicalUnit Unit, IReadOnlyList<EnergyInterval> Intervals);

/// <summary>Specific energy consumption: MJ per kg of ware and kgoe per tonne of ware.</summary>
public sealed record Sec(double MjPerKg, double KgoePerTonne)
{
    /// <summary>SEC = energy / production; null when there is no production to divide by.</summary>
    public static Sec? From(double mj, double kgoe, double wareKg) =>
        wareKg > 0 ? new Sec(mj / wareKg, kgoe / (wareKg / 1000)) : null;
}

/// <summary>One carrier's use in a firing: the physical amount (and how much of it came from flagged intervals), its TOE /
/// kgoe / MJ, CO2 (null when no factor) and electricity cost (null for other carriers: no price file for them yet).</summary>
public sealed record CarrierUse(
    Carrier Carrier,
    PhysicalUnit Unit,
    double Amount,
    double FlaggedAmount,
    double Toe,
    double Kgoe,
    double Mj,
    double? KgCo2,
    string Co2Basis,
    TouCost? ElectricityCost,
    IReadOnlyList<string> DeviceIds);

/// <summary>Everything computed for one firing. Pure function of (firing, series, ledger, factors, voltage): a recomputation
/// with the same inputs gives an equal record under the same <see cref="Key"/>.</summary>
public sealed record FiringRecord(
    AnalyticsKey Key,
    FiringWindow Firing,
    IReadOnlyList<CarrierUse> Energy,
    double TotalToe,
    double TotalKgoe,
    double TotalMj,
    double ElectricityCostVnd,
    double? KgCo2,
    ProductionResolution Production,
    Sec? Sec,
    IReadOnlyList<string> Notes)
{
    public double? WareKg => Production.Effective?.WareKg;
}

/// <summary>Energy, cost, CO2, production and SEC of a firing (docs/analytics.md, "Firings").</summary>
public static class FiringCalculator
{
    /// <summary>
    /// Attributes to the firing the energy of every interval that overlaps [Start, End), pro rata for intervals that straddle an
    /// edge (constant rate inside an interval). Factors are taken as of the firing's start date in Vietnam local time.
    /// </summary>
    public static FiringRecord Compute(FiringWindow firing, IEnumerable<CarrierSeries> series, ProductionLedger production, FactorSet factors, VoltageLevel voltage, TimeSpan? productionMatchTolerance = null)
    {
        ArgumentNullException.ThrowIfNull(firing);
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(production);
        ArgumentNullException.ThrowIfNull(factors);
        var date = VietnamTime.LocalDate(firing.Start);
        var notes = new List<string>();
        var uses = new List<CarrierUse>();
        foreach (var group in series.GroupBy(s => (s.Carrier, s.Unit)).OrderBy(g => g.Key.Carrier).ThenBy(g => g.Key.Unit))
        {
            double amount = 0, flagged = 0;
            TouCost? cost = group.Key.Carrier == Carrier.Electricity ? TouCost.Empty : null;
            foreach (var s in group)
            {
                foreach (var iv in s.Intervals)
                {
                    var e = iv.EnergyWithin(firing.Start, firing.End);
                    if (e == 0) continue;
                    amount += e;
                    if (iv.Flag != IntervalFlag.Ok) flagged += e;
                }
                if (cost is not null)
                {
                    var kwh = Units.BaseFactor(group.Key.Unit);
                    var scaled = kwh == 1 ? s.Intervals : s.Intervals.Select(i => i with { Energy = i.Energy * kwh }).ToList();
                    cost = cost.Plus(factors.Tariff.Cost(scaled, voltage, firing.Start, firing.End));
                }
            }
            var q = new Quantity(group.Key.Carrier, amount, group.Key.Unit);
            var eq = factors.Toe.Convert(q, date);
            var co2 = factors.Emissions.Co2(q, date);
            if (co2.KgCo2 is null) notes.Add($"CO2 of {group.Key.Carrier} not computed: {co2.Basis}");
            if (co2.IsFallback) notes.Add(co2.Basis);
            if (flagged > 0) notes.Add($"{flagged:G6} {Units.Symbol(group.Key.Unit)} of {group.Key.Carrier} came from flagged intervals (gap, reset, glitch…)");
            uses.Add(new CarrierUse(group.Key.Carrier, group.Key.Unit, amount, flagged, eq.Toe, eq.Kgoe, eq.Mj, co2.KgCo2, co2.Basis, cost,
                group.Select(s => s.DeviceId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList()));
        }
        if (firing.Status != FiringStatus.Complete) notes.Add($"firing is {firing.Status}: its energy covers only the part seen");
        var totalToe = uses.Sum(u => u.Toe);
        var totalKgoe = uses.Sum(u => u.Kgoe);
        var totalMj = uses.Sum(u => u.Mj);
        double? kgCo2 = uses.All(u => u.KgCo2 is not null) ? uses.Sum(u => u.KgCo2!.Value) : null;
        var prod = production.For(firing, productionMatchTolerance);
        if (prod.Effective is null) notes.Add("no production entry for this firing: SEC not computed");
        var sec = prod.Effective is { } p ? Sec.From(totalMj, totalKgoe, p.WareKg) : null;
        return new FiringRecord(firing.Key, firing, uses, totalToe, totalKgoe, totalMj,
            uses.Sum(u => u.ElectricityCost?.CostVnd ?? 0), kgCo2, prod, sec, notes);
    }
}
