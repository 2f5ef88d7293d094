using System.Text.RegularExpressions;
using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Configuration;
using static KhuyenCong.Analytics.Tests.Shared;

namespace KhuyenCong.Analytics.Tests;

public sealed class FactorFileTests
{
    public static TheoryData<string> FileNames => new()
    {
        ToeFactors.FileName, EmissionFactors.FileName, TouTariff.FileName, KeyConsumerThresholds.FileName, MvCriteria.FileName,
    };

    private static object LoadOne(string path) => Path.GetFileName(path) switch
    {
        ToeFactors.FileName => ToeFactors.Load(path),
        EmissionFactors.FileName => EmissionFactors.Load(path),
        TouTariff.FileName => TouTariff.Load(path),
        KeyConsumerThresholds.FileName => KeyConsumerThresholds.Load(path),
        _ => MvCriteria.Load(path),
    };

    [Theory]
    [MemberData(nameof(FileNames))]
    public void Each_shipped_factor_file_loads(string file) =>
        Assert.NotNull(LoadOne(Path.Combine(FactorsDir, file)));

    [Fact]
    public void The_whole_factor_directory_loads_with_the_numbers_of_the_facts_sheet()
    {
        var f = Data;
        Assert.Equal(41.868, f.Toe.GjPerToe);
        Assert.Equal(0.1543, f.Toe.Find(Carrier.Electricity, PhysicalUnit.KWh, new DateOnly(2025, 1, 1)).Value);
        Assert.Equal(1.09, f.Toe.Find(Carrier.Lpg, PhysicalUnit.Kg, new DateOnly(2025, 1, 1)).Value);
        Assert.Equal(0.6592, f.Emissions.GridFactorFor(2023).Used.TonnesCo2PerMWh);
        Assert.Equal(1000, f.KeyConsumers.For(FacilityType.Industrial, 2025).ToePerYear);
        Assert.Equal(500, f.KeyConsumers.For(FacilityType.Building, 2025).ToePerYear);
        Assert.Equal(15, f.Mv.Calibration[DataGranularity.Monthly].MaxCvRmsePercent);
        Assert.Equal(3640, f.Tariff.PricesOn(new DateOnly(2025, 6, 1)).Prices[VoltageLevel.Below6kV][TouPeriod.Peak]);
        Assert.All(f.Toe.Factors, x => Assert.False(string.IsNullOrWhiteSpace(x.Source.Document)));
    }

    // Each case breaks one entry of a copy of a shipped file; the error must name the file and the field.
    public static TheoryData<string, string, string, string> BrokenEntries => new()
    {
        // file, regex to replace (first match), replacement, field path expected in the message
        { ToeFactors.FileName, @"(?m)^    value: 1\.09\n", "", "factors[1].value: required key 'value' is missing" },
        { ToeFactors.FileName, @"TOE/t\n", "TOE/gallon\n", "factors[1].unit: 'TOE/gallon' is not a TOE factor unit" },
        { ToeFactors.FileName, @"effective: ""2011-04-19""", "effective: \"19/4/2011\"", "toe_energy_content.effective: '19/4/2011' is not a year" },
        { ToeFactors.FileName, @"carrier: lpg", "carrier: lpgas", "factors[1].carrier: 'lpgas' is not one of" },
        { EmissionFactors.FileName, @"value: 0\.6592", "value: -0.6592", "grid_electricity.years[4].value: must be a positive number" },
        { EmissionFactors.FileName, @"confidence: M\n      note: ""Estimate", "confidence: X\n      note: \"Estimate", "grid_electricity.years[5].confidence: 'X' is not one of" },
        { TouTariff.FileName, @"to: ""11:30""", "to: \"09:00\"", "schedules[0].windows[0].to: 09:00 is not after 09:30" },
        { TouTariff.FileName, @"peak: 3640", "peak: 0", "prices[0].levels.below_6kv.peak: must be a positive price" },
        { KeyConsumerThresholds.FileName, @"unit: TOE/year", "unit: TOE", "thresholds[0].unit: 'TOE' is not an accepted unit" },
        { MvCriteria.FileName, @"(?m)^  source: ""Rule of thumb for regression baselines.*\n", "", "min_r_squared.source: required key 'source' is missing" },
    };

    [Theory]
    [MemberData(nameof(BrokenEntries))]
    public void A_missing_or_invalid_entry_gives_an_error_naming_the_file_and_the_field(string file, string pattern, string replacement, string expected)
    {
        var dir = Directory.CreateTempSubdirectory("kc-factors-");
        try
        {
            var text = File.ReadAllText(Path.Combine(FactorsDir, file));
            var regex = new Regex(pattern);
            Assert.True(regex.IsMatch(text), $"the test's pattern {pattern} no longer matches {file}");
            var path = Path.Combine(dir.FullName, file);
            File.WriteAllText(path, regex.Replace(text, replacement, 1));

            var ex = Assert.Throws<ConfigException>(() => LoadOne(path));

            Assert.StartsWith(path + ":", ex.Message, StringComparison.Ordinal);
            Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_missing_factor_file_is_an_error_naming_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "kc-no-such-dir", ToeFactors.FileName);
        var ex = Assert.Throws<ConfigException>(() => ToeFactors.Load(path));
        Assert.StartsWith(path, ex.Message, StringComparison.Ordinal);
    }
}
