using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using static KhuyenCong.Analytics.Tests.Shared;

namespace KhuyenCong.Analytics.Tests;

public sealed class ConversionTests
{
    private static readonly DateOnly D2025 = new(2025, 6, 1);

    [Fact]
    public void Six_point_four_eight_gigawatt_hours_of_electricity_is_about_one_thousand_toe()
    {
        // 6.48 GWh = 6,480 MWh × 0.1543 TOE/MWh = 999.864 TOE.
        var eq = Data.Toe.Convert(new Quantity(Carrier.Electricity, 6_480_000, PhysicalUnit.KWh), D2025);

        Assert.Equal(999.864, eq.Toe, 6);
        Assert.Equal(999_864, eq.Kgoe, 3);
        // 999.864 TOE × 41,868 MJ/TOE = 41,862,305.95 MJ.
        Assert.Equal(999.864 * 41_868, eq.Mj, 3);
        Assert.Equal(Confidence.H, eq.Factor.Source.Confidence);
    }

    [Fact]
    public void Nine_hundred_seventeen_tonnes_of_lpg_is_about_one_thousand_toe_whether_given_in_kg_or_t()
    {
        // 917 t × 1.09 TOE/t = 999.53 TOE.
        Assert.Equal(999.53, Data.Toe.Convert(new Quantity(Carrier.Lpg, 917, PhysicalUnit.Tonne), D2025).Toe, 6);
        Assert.Equal(999.53, Data.Toe.Convert(new Quantity(Carrier.Lpg, 917_000, PhysicalUnit.Kg), D2025).Toe, 6);
    }

    [Fact]
    public void A_kilowatt_hour_is_six_point_four_six_megajoules_under_the_moit_convention()
    {
        // 1 kWh = 0.1543 / 1,000 TOE × 41,868 MJ = 6.4602 MJ (primary-energy convention, not 3.6 MJ).
        Assert.Equal(0.1543 / 1000 * 41_868, Data.Toe.Convert(new Quantity(Carrier.Electricity, 1, PhysicalUnit.KWh), D2025).Mj, 9);
    }

    [Fact]
    public void Diesel_in_litres_uses_the_per_volume_factor_and_natural_gas_the_per_thousand_cubic_metre_one()
    {
        // 500 L = 0.5 × 1,000 L × 0.88 = 0.44 TOE; 2,000 m³ = 2 × 1,000 m³ × 0.90 = 1.8 TOE.
        Assert.Equal(0.44, Data.Toe.Convert(new Quantity(Carrier.Diesel, 500, PhysicalUnit.Litre), D2025).Toe, 9);
        Assert.Equal(1.8, Data.Toe.Convert(new Quantity(Carrier.NaturalGas, 2000, PhysicalUnit.CubicMetre), D2025).Toe, 9);
    }

    [Fact]
    public void Firewood_has_no_official_factor_and_converting_it_is_an_error_naming_the_file()
    {
        var ex = Assert.Throws<MissingFactorException>(() => Data.Toe.Convert(new Quantity(Carrier.Firewood, 1000, PhysicalUnit.Kg), D2025));
        Assert.Contains(ToeFactors.FileName, ex.Message, StringComparison.Ordinal);
        Assert.Contains("Firewood", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Electricity_co2_uses_the_grid_factor_of_its_year()
    {
        // 1,000 kWh × 0.6592 tCO2/MWh = 659.2 kgCO2 (2023, official).
        var co2 = Data.Emissions.Co2(new Quantity(Carrier.Electricity, 1000, PhysicalUnit.KWh), new DateOnly(2023, 3, 1));
        Assert.Equal(659.2, co2.KgCo2!.Value, 9);
        Assert.False(co2.IsFallback);
    }

    [Fact]
    public void A_year_without_a_grid_factor_falls_back_to_the_latest_earlier_year_and_says_so()
    {
        // 2025 has none: 2024's estimate 0.6811 (M) is used. 1,000 kWh → 681.1 kgCO2.
        var co2 = Data.Emissions.Co2(new Quantity(Carrier.Electricity, 1000, PhysicalUnit.KWh), new DateOnly(2025, 3, 1));
        Assert.Equal(681.1, co2.KgCo2!.Value, 9);
        Assert.True(co2.IsFallback);
        Assert.Contains("2025", co2.Basis, StringComparison.Ordinal);
        Assert.Contains("used 2024", co2.Basis, StringComparison.Ordinal);
        Assert.Contains("confidence M", co2.Basis, StringComparison.Ordinal);
    }

    [Fact]
    public void A_year_before_the_first_grid_factor_is_an_error()
    {
        Assert.Throws<MissingFactorException>(() => Data.Emissions.GridFactorFor(2018));
    }

    [Fact]
    public void Lpg_co2_is_the_ipcc_calorific_value_times_the_emission_factor()
    {
        // 100 kg = 0.1 t × 47.3 GJ/t × 63.1 kgCO2/GJ = 298.463 kgCO2 (≈ 2.985 tCO2/t).
        var co2 = Data.Emissions.Co2(new Quantity(Carrier.Lpg, 100, PhysicalUnit.Kg), D2025);
        Assert.Equal(298.463, co2.KgCo2!.Value, 9);
    }

    [Fact]
    public void A_carrier_without_an_emission_factor_gives_no_co2_and_the_reason()
    {
        var co2 = Data.Emissions.Co2(new Quantity(Carrier.Diesel, 100, PhysicalUnit.Litre), D2025);
        Assert.Null(co2.KgCo2);
        Assert.Contains("no emission factor", co2.Basis, StringComparison.Ordinal);
    }
}
