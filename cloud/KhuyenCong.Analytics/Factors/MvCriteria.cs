namespace KhuyenCong.Analytics.Factors;

/// <summary>The time step of the points a baseline is fitted on.</summary>
public enum DataGranularity
{
    Hourly,
    Daily,
    Monthly,
}

/// <summary>ASHRAE Guideline 14 limits for one granularity, in percent.</summary>
public sealed record CalibrationLimits(DataGranularity Granularity, double MaxCvRmsePercent, double MaxAbsNmbePercent, FactorSource CvRmseSource, FactorSource NmbeSource);

/// <summary>A number from the criteria file with its provenance.</summary>
public sealed record Criterion(double Value, FactorSource Source);

/// <summary>When a baseline model is good enough to claim savings, and the savings target
/// (firmware-config/factors/mv-criteria.yaml).</summary>
public sealed class MvCriteria
{
    public const string FileName = "mv-criteria.yaml";

    private MvCriteria(string file, IReadOnlyDictionary<DataGranularity, CalibrationLimits> limits, Criterion minR2, Criterion minPoints, Criterion recommendedPoints, Criterion targetLow, Criterion targetHigh)
    {
        File = file;
        Calibration = limits;
        MinRSquared = minR2;
        MinPoints = minPoints;
        RecommendedPoints = recommendedPoints;
        SavingsTargetLowPercent = targetLow;
        SavingsTargetHighPercent = targetHigh;
    }

    public string File { get; }

    public IReadOnlyDictionary<DataGranularity, CalibrationLimits> Calibration { get; }

    public Criterion MinRSquared { get; }

    /// <summary>Fewer baseline points than this: the model is rejected.</summary>
    public Criterion MinPoints { get; }

    /// <summary>Fewer baseline points than this (but at least <see cref="MinPoints"/>): the verdict warns.</summary>
    public Criterion RecommendedPoints { get; }

    public Criterion SavingsTargetLowPercent { get; }

    public Criterion SavingsTargetHighPercent { get; }

    public static MvCriteria Load(string path)
    {
        var (dto, b) = FactorFile.Load<Dto>(path);
        FactorFile.RequireVersion(b, dto, dto.Version);
        var limits = new Dictionary<DataGranularity, CalibrationLimits>();
        foreach (var c in dto.Calibration)
        {
            if (limits.ContainsKey(c.Granularity)) throw b.Error(c, nameof(CalibrationDto.Granularity), $"{c.Granularity} appears twice");
            var cv = FactorFile.Check(b, c.MaxCvRmse, "%");
            var nmbe = FactorFile.Check(b, c.MaxAbsNmbe, "%");
            limits[c.Granularity] = new CalibrationLimits(c.Granularity, c.MaxCvRmse.Value, c.MaxAbsNmbe.Value, cv, nmbe);
        }
        foreach (var g in Enum.GetValues<DataGranularity>())
        {
            if (!limits.ContainsKey(g)) throw b.Error(dto, nameof(Dto.Calibration), $"has no entry for granularity '{g.ToString().ToLowerInvariant()}'");
        }
        var r2 = new Criterion(dto.MinRSquared.Value, FactorFile.Check(b, dto.MinRSquared, "1"));
        if (r2.Value > 1) throw b.Error(dto.MinRSquared, nameof(EntryDto.Value), $"R² cannot exceed 1, not {r2.Value}");
        var minPoints = new Criterion(dto.MinPoints.Value, FactorFile.Check(b, dto.MinPoints, "points"));
        var recPoints = new Criterion(dto.RecommendedPoints.Value, FactorFile.Check(b, dto.RecommendedPoints, "points"));
        if (recPoints.Value < minPoints.Value) throw b.Error(dto.RecommendedPoints, nameof(EntryDto.Value), $"must be at least min_points ({minPoints.Value})");
        var low = new Criterion(dto.SavingsTargetLow.Value, FactorFile.Check(b, dto.SavingsTargetLow, "%"));
        var high = new Criterion(dto.SavingsTargetHigh.Value, FactorFile.Check(b, dto.SavingsTargetHigh, "%"));
        if (high.Value < low.Value) throw b.Error(dto.SavingsTargetHigh, nameof(EntryDto.Value), $"must be at least savings_target_low ({low.Value})");
        return new MvCriteria(b.File, limits, r2, minPoints, recPoints, low, high);
    }

    private sealed class Dto
    {
        public required int Version { get; set; }
        public required List<CalibrationDto> Calibration { get; set; }
        [KhuyenCong.Configuration.YamlKey("min_r_squared")]
        public required EntryDto MinRSquared { get; set; }
        public required EntryDto MinPoints { get; set; }
        public required EntryDto RecommendedPoints { get; set; }
        public required EntryDto SavingsTargetLow { get; set; }
        public required EntryDto SavingsTargetHigh { get; set; }
    }

    private sealed class CalibrationDto
    {
        public required DataGranularity Granularity { get; set; }
        public required EntryDto MaxCvRmse { get; set; }
        public required EntryDto MaxAbsNmbe { get; set; }
    }
}
