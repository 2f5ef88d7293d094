using KhuyenCong.Analytics.Conversion;

namespace KhuyenCong.Analytics.Factors;

/// <summary>What to do for a year that has no grid factor of its own.</summary>
public enum GridFallback
{
    /// <summary>A missing year is an error.</summary>
    None,
    /// <summary>Use the latest earlier year that has a factor, whatever its confidence.</summary>
    LatestEarlierYear,
    /// <summary>Use the latest earlier year whose factor is official (confidence H).</summary>
    LatestEarlierOfficial,
}

/// <summary>The grid factor of one year, tCO2/MWh (numerically equal to kgCO2/kWh).</summary>
public sealed record GridFactor(int Year, double TonnesCo2PerMWh, FactorSource Source);

/// <summary>The grid factor chosen for a year, and a plain sentence saying whether a fallback was used.</summary>
public sealed record GridFactorChoice(int RequestedYear, GridFactor Used, bool IsFallback, string Explanation);

/// <summary>A fuel's CO2: net calorific value (GJ/t) × CO2 per energy (kgCO2/GJ).</summary>
public sealed record FuelEmission(Carrier Carrier, double NcvGjPerTonne, double KgCo2PerGj, FactorSource NcvSource, FactorSource Co2Source)
{
    public double KgCo2PerKg => NcvGjPerTonne * KgCo2PerGj / 1000;
}

/// <summary>CO2 of a quantity, or null with the reason when the files hold no factor for it.</summary>
public sealed record Co2Estimate(Quantity Quantity, double? KgCo2, string Basis, bool IsFallback, IReadOnlyList<FactorSource> Sources);

/// <summary>CO2 emission factors (firmware-config/factors/emission-factors.yaml).</summary>
public sealed class EmissionFactors
{
    public const string FileName = "emission-factors.yaml";

    private EmissionFactors(string file, GridFallback fallback, IReadOnlyList<GridFactor> grid, IReadOnlyList<FuelEmission> fuels)
    {
        File = file;
        Fallback = fallback;
        Grid = grid;
        Fuels = fuels;
    }

    public string File { get; }

    public GridFallback Fallback { get; }

    public IReadOnlyList<GridFactor> Grid { get; }

    public IReadOnlyList<FuelEmission> Fuels { get; }

    public static EmissionFactors Load(string path)
    {
        var (dto, b) = FactorFile.Load<Dto>(path);
        FactorFile.RequireVersion(b, dto, dto.Version);
        if (dto.GridElectricity.Unit != "tCO2/MWh") throw b.Error(dto.GridElectricity, "Unit", $"'{dto.GridElectricity.Unit}' is not accepted; expected 'tCO2/MWh'");
        var grid = new List<GridFactor>();
        foreach (var y in dto.GridElectricity.Years)
        {
            if (y.Year < 1900 || y.Year > 2200) throw b.Error(y, nameof(GridYear.Year), $"{y.Year} is not a plausible year");
            if (grid.Any(g => g.Year == y.Year)) throw b.Error(y, nameof(GridYear.Year), $"year {y.Year} appears twice");
            var src = FactorFile.Check(b, y, "tCO2/MWh");
            if (src.Effective.Year != y.Year) throw b.Error(y, nameof(EntryDto.Effective), $"the factor of {y.Year} must be effective in {y.Year}, not {src.Effective:yyyy-MM-dd}");
            grid.Add(new GridFactor(y.Year, y.Value, src));
        }
        if (grid.Count == 0) throw b.Error(dto.GridElectricity, nameof(GridDto.Years), "must list at least one year");
        var fuels = new List<FuelEmission>();
        foreach (var f in dto.Fuels)
        {
            if (fuels.Any(x => x.Carrier == f.Carrier)) throw b.Error(f, nameof(FuelDto.Carrier), $"{f.Carrier} appears twice");
            var ncv = FactorFile.Check(b, f.NetCalorificValue, "GJ/t");
            var co2 = FactorFile.Check(b, f.Co2PerEnergy, "kgCO2/GJ");
            fuels.Add(new FuelEmission(f.Carrier, f.NetCalorificValue.Value, f.Co2PerEnergy.Value, ncv, co2));
        }
        return new EmissionFactors(b.File, dto.GridElectricity.Fallback, grid.OrderBy(g => g.Year).ToList(), fuels);
    }

    /// <summary>The grid factor for <paramref name="year"/> under the file's fallback rule.</summary>
    public GridFactorChoice GridFactorFor(int year)
    {
        var exact = Grid.FirstOrDefault(g => g.Year == year);
        if (exact is not null)
        {
            var note = exact.Source.Confidence == Confidence.H ? "" : $" (confidence {exact.Source.Confidence}: {exact.Source.Note ?? exact.Source.Document})";
            return new GridFactorChoice(year, exact, false, $"grid factor {year} = {exact.TonnesCo2PerMWh} tCO2/MWh{note}");
        }
        var candidates = Fallback switch
        {
            GridFallback.LatestEarlierYear => Grid.Where(g => g.Year < year),
            GridFallback.LatestEarlierOfficial => Grid.Where(g => g.Year < year && g.Source.Confidence == Confidence.H),
            _ => [],
        };
        var used = candidates.MaxBy(g => g.Year)
            ?? throw new MissingFactorException(File, $"no grid emission factor for {year} and the fallback rule '{Fallback}' finds none (the file covers {Grid[0].Year}–{Grid[^1].Year})");
        return new GridFactorChoice(year, used, true,
            $"no grid factor published for {year}: used {used.Year} = {used.TonnesCo2PerMWh} tCO2/MWh (confidence {used.Source.Confidence}) under the rule '{Fallback}'");
    }

    /// <summary>CO2 of a quantity used on <paramref name="date"/> (its year picks the grid factor). Electricity: kWh × tCO2/MWh
    /// = kgCO2. Fuels with a factor: kg × NCV (GJ/t) / 1,000 × kgCO2/GJ. Anything else: KgCo2 null and the reason in Basis.</summary>
    public Co2Estimate Co2(Quantity quantity, DateOnly date)
    {
        if (quantity.Carrier == Carrier.Electricity)
        {
            if (quantity.Dimension != Dimension.Energy) return new Co2Estimate(quantity, null, $"electricity must be in kWh or MWh, not {Units.Symbol(quantity.Unit)}", false, []);
            var choice = GridFactorFor(date.Year);
            return new Co2Estimate(quantity, quantity.InBaseUnit * choice.Used.TonnesCo2PerMWh, choice.Explanation, choice.IsFallback, [choice.Used.Source]);
        }
        var fuel = Fuels.FirstOrDefault(f => f.Carrier == quantity.Carrier);
        if (fuel is null) return new Co2Estimate(quantity, null, $"{File}: no emission factor for {quantity.Carrier}", false, []);
        if (quantity.Dimension != Dimension.Mass) return new Co2Estimate(quantity, null, $"{File}: the {quantity.Carrier} factor is per mass; {Units.Symbol(quantity.Unit)} given", false, []);
        return new Co2Estimate(quantity, quantity.InBaseUnit * fuel.KgCo2PerKg,
            $"{quantity.Carrier}: {fuel.NcvGjPerTonne} GJ/t × {fuel.KgCo2PerGj} kgCO2/GJ = {fuel.KgCo2PerKg * 1000:G6} kgCO2/t", false, [fuel.NcvSource, fuel.Co2Source]);
    }

    private sealed class Dto
    {
        public required int Version { get; set; }
        public required GridDto GridElectricity { get; set; }
        public List<FuelDto> Fuels { get; set; } = [];
    }

    private sealed class GridDto
    {
        public required string Unit { get; set; }
        public required GridFallback Fallback { get; set; }
        public required List<GridYear> Years { get; set; }
    }

    private sealed class GridYear : EntryDto
    {
        public required int Year { get; set; }
    }

    private sealed class FuelDto
    {
        public required Carrier Carrier { get; set; }
        public required EntryDto NetCalorificValue { get; set; }
        public required EntryDto Co2PerEnergy { get; set; }
    }
}
