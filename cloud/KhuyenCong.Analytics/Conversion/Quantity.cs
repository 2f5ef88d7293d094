namespace KhuyenCong.Analytics.Conversion;

/// <summary>An energy carrier. Its conversion factors live in firmware-config/factors, never in code.</summary>
public enum Carrier
{
    Electricity,
    Lpg,
    NaturalGas,
    Diesel,
    FuelOil,
    Gasoline,
    Coke,
    CoalGrade1To2,
    CoalGrade3To4,
    CoalGrade5To6,
    /// <summary>Firewood and other biomass: no official TOE factor exists, so converting it is an error that says so.</summary>
    Firewood,
}

/// <summary>The physical unit a quantity of a carrier is measured in.</summary>
public enum PhysicalUnit
{
    KWh,
    MWh,
    Kg,
    Tonne,
    CubicMetre,
    Litre,
}

/// <summary>What a unit measures; factors and quantities meet only on the same dimension.</summary>
public enum Dimension
{
    Energy,
    Mass,
    Volume,
}

/// <summary>An amount of one carrier in a physical unit: 1,250 kWh of electricity, 43.5 kg of LPG.</summary>
public readonly record struct Quantity(Carrier Carrier, double Amount, PhysicalUnit Unit)
{
    public Dimension Dimension => Units.DimensionOf(Unit);

    /// <summary>The amount in the dimension's base unit: kWh, kg or litres.</summary>
    public double InBaseUnit => Amount * Units.BaseFactor(Unit);

    public override string ToString() => $"{Amount:G6} {Units.Symbol(Unit)} of {Carrier}";
}

public static class Units
{
    public static Dimension DimensionOf(PhysicalUnit unit) => unit switch
    {
        PhysicalUnit.KWh or PhysicalUnit.MWh => Dimension.Energy,
        PhysicalUnit.Kg or PhysicalUnit.Tonne => Dimension.Mass,
        _ => Dimension.Volume,
    };

    /// <summary>How many base units (kWh, kg, L) one of <paramref name="unit"/> is. These are unit definitions, not factors.</summary>
    public static double BaseFactor(PhysicalUnit unit) => unit switch
    {
        PhysicalUnit.KWh => 1,
        PhysicalUnit.MWh => 1000,
        PhysicalUnit.Kg => 1,
        PhysicalUnit.Tonne => 1000,
        PhysicalUnit.CubicMetre => 1000,
        _ => 1,
    };

    public static string Symbol(PhysicalUnit unit) => unit switch
    {
        PhysicalUnit.KWh => "kWh",
        PhysicalUnit.MWh => "MWh",
        PhysicalUnit.Kg => "kg",
        PhysicalUnit.Tonne => "t",
        PhysicalUnit.CubicMetre => "m³",
        _ => "L",
    };

    /// <summary>The denominators a factor file may use ("TOE/MWh" → MWh): dimension and size in base units.</summary>
    internal static bool TryParseDenominator(string text, out Dimension dimension, out double baseUnits)
    {
        (dimension, baseUnits) = text.Trim() switch
        {
            "MWh" => (Dimension.Energy, 1000.0),
            "kWh" => (Dimension.Energy, 1.0),
            "t" => (Dimension.Mass, 1000.0),
            "kg" => (Dimension.Mass, 1.0),
            "1000 m3" => (Dimension.Volume, 1_000_000.0),
            "m3" => (Dimension.Volume, 1000.0),
            "1000 L" => (Dimension.Volume, 1000.0),
            "L" => (Dimension.Volume, 1.0),
            _ => (Dimension.Energy, double.NaN),
        };
        return !double.IsNaN(baseUnits);
    }
}
