namespace KhuyenCong.Analytics.Factors;

/// <summary>All factor files of one directory (firmware-config/factors), loaded and checked together.</summary>
public sealed record FactorSet(ToeFactors Toe, EmissionFactors Emissions, TouTariff Tariff, KeyConsumerThresholds KeyConsumers, MvCriteria Mv)
{
    /// <summary>Loads every file; the first missing or invalid entry throws a
    /// <see cref="KhuyenCong.Configuration.ConfigException"/> naming the file, line, column and field.</summary>
    public static FactorSet LoadDirectory(string directory) => new(
        ToeFactors.Load(Path.Combine(directory, ToeFactors.FileName)),
        EmissionFactors.Load(Path.Combine(directory, EmissionFactors.FileName)),
        TouTariff.Load(Path.Combine(directory, TouTariff.FileName)),
        KeyConsumerThresholds.Load(Path.Combine(directory, KeyConsumerThresholds.FileName)),
        MvCriteria.Load(Path.Combine(directory, MvCriteria.FileName)));
}
