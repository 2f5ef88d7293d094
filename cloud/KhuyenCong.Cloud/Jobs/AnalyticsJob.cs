using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KhuyenCong.Analytics.Baselines;
using KhuyenCong.Analytics.Compliance;
using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Analytics.Firings;
using KhuyenCong.Analytics.Intervals;
using KhuyenCong.Analytics.Time;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;
using Microsoft.Extensions.Logging;
using static KhuyenCong.Cloud.Jobs.DerivedStore;

namespace KhuyenCong.Cloud.Jobs;

/// <summary>Tuning of the analytics jobs; the defaults suit the demo and small workshops.</summary>
public sealed record JobOptions
{
    /// <summary>How far back an incremental run recomputes.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromDays(2);
    /// <summary>How far before the window a run looks for the start of a firing still running at the window's start.</summary>
    public TimeSpan LongestFiring { get; init; } = TimeSpan.FromDays(3);
    public VoltageLevel Voltage { get; init; } = VoltageLevel.Below6kV;
    /// <summary>"site/device" → modulus of a counter that wraps (a drop across it is a rollover).</summary>
    public IReadOnlyDictionary<string, double> CounterModulus { get; init; } = new Dictionary<string, double>();
    /// <summary>Plausible maximum rate when the registry gives none: kW for electricity, kg/h or m³/h for gas.</summary>
    public double DefaultMaxRatePerHour { get; init; } = 1000;
    /// <summary>A gap longer than this many poll intervals flags an interval as a gap.</summary>
    public int GapAfterPolls { get; init; } = 3;
    /// <summary>LPG scale: a rise above this is a cylinder change (kg).</summary>
    public double LpgRefillThresholdKg { get; init; } = 5;
    /// <summary>LPG scale: falls are counted once they exceed this (kg), against scale noise.</summary>
    public double LpgDeadbandKg { get; init; } = 0.05;
    public RunStateOptions RunState { get; init; } = new();
    /// <summary>A production entry belongs to a firing when its firing time is within the firing ± this.</summary>
    public TimeSpan ProductionMatch { get; init; } = TimeSpan.FromHours(1);
    public TemperatureFiringOptions Temperature { get; init; } = new();
}

/// <summary>What one run did.</summary>
public sealed record JobRunResult(string Job, DateTimeOffset From, DateTimeOffset To, long Points, TimeSpan Duration, int Firings, string? Error);

/// <summary>
/// The analytics jobs: read raw readings from InfluxDB, compute with <c>KhuyenCong.Analytics</c> per registry site, kiln
/// and meter, and write the derived series of docs/schema.md (energy, firing, enpi, savings, baseline_model, compliance,
/// job_run). Every point is keyed by its tags and timestamp and computed only from the data, so a rerun over the same
/// window writes identical points: runs are idempotent, several cloud instances may run them at once, and a run killed
/// half-way is repaired by the next. The path from a counter to an EnPI, in order:
/// <list type="number">
/// <item>raw counter samples (with one before and one after the window) → <see cref="CounterIntervals"/> → hourly <c>energy</c>;</item>
/// <item>kiln_running → <see cref="FiringDetector"/> → with the kiln meters' intervals and the production ledger →
///   <see cref="FiringCalculator"/> → <c>firing</c>;</item>
/// <item><c>firing</c> points of a period → <see cref="Aggregation"/> → kiln <c>enpi</c>; the site's hourly <c>energy</c> → site <c>enpi</c>;</item>
/// <item>a kiln's <c>firing</c> points → <see cref="Ols"/>, <see cref="BaselineCheck"/>, <see cref="Savings"/> → <c>baseline_model</c>, <c>savings</c>;</item>
/// <item>year <c>enpi</c> of every site → <see cref="ComplianceReports"/> → <c>compliance</c>.</item>
/// </list>
/// </summary>
public sealed class AnalyticsJob(SiteRegistry registry, FactorSet factors, InfluxQlClient influx, ITimeSeriesSink sink, ProductionStore production, JobOptions? options = null, ILogger? log = null)
{
    public const string EnergyMeasurement = "energy";
    public const string FiringMeasurement = "firing";
    public const string EnpiMeasurement = "enpi";
    public const string SavingsMeasurement = "savings";
    public const string BaselineMeasurement = "baseline_model";
    public const string ComplianceMeasurement = "compliance";
    public const string JobRunMeasurement = "job_run";

    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    /// <summary>2100-01-01: the end of "all time" in queries (InfluxDB keeps nanoseconds in 64 bits, up to 2262).</summary>
    private const long FarFuture = 4_102_444_800_000;
    private readonly JobOptions _o = options ?? new JobOptions();

    public JobOptions Options => _o;

    /// <summary>The periodic run: the last <see cref="JobOptions.Window"/> before <paramref name="now"/>, and the periods it touches.</summary>
    public Task<JobRunResult> RunIncrementalAsync(DateTimeOffset now, CancellationToken ct) => RunAsync(now - _o.Window, now, "analytics", ct);

    /// <summary>
    /// Recomputes [from, to) (widened to whole hours, and back to the start of any firing running at <paramref name="from"/>)
    /// and every day, month and year it touches; writes a <c>job_run</c> point. Throws what failed (after recording it in
    /// job_run) unless it was cancellation.
    /// </summary>
    public async Task<JobRunResult> RunAsync(DateTimeOffset from, DateTimeOffset to, string job, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var started = DateTimeOffset.UtcNow;
        var store = new DerivedStore(influx, sink);
        var wFrom = FloorHour(from);
        var wTo = to;
        var firingCount = 0;
        string? error = null;
        try
        {
            var years = new SortedSet<int>();
            foreach (var site in registry.Sites)
            {
                var (touchedFrom, firings) = await RunSiteAsync(store, site, wFrom, wTo, ct).ConfigureAwait(false);
                firingCount += firings;
                foreach (var y in Period.Covering(PeriodKind.Year, touchedFrom, wTo)) years.Add(y.FirstDay.Year);
            }
            foreach (var year in years) await ComplianceAsync(store, year, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            error = ex.Message;
            log?.LogError(ex, "Analytics job {Job} over {From:u} … {To:u} failed", job, wFrom, wTo);
        }
        var result = new JobRunResult(job, wFrom, wTo, store.PointsWritten, clock.Elapsed, firingCount, error);
        var fields = new Dictionary<string, object>
        {
            ["points"] = store.PointsWritten,
            ["duration_ms"] = (long)clock.Elapsed.TotalMilliseconds,
            ["from_ms"] = wFrom.ToUnixTimeMilliseconds(),
            ["to_ms"] = wTo.ToUnixTimeMilliseconds(),
            ["firings"] = (long)firingCount,
        };
        if (error is not null) fields["error"] = error;
        await store.WriteAsync([new DerivedPoint(JobRunMeasurement, new Dictionary<string, string> { ["job"] = job }, started.ToUnixTimeMilliseconds(), fields)], ct).ConfigureAwait(false);
        if (error is not null) throw new InvalidOperationException($"analytics job '{job}' failed: {error}");
        log?.LogInformation("Analytics job {Job} over {From:u} … {To:u}: {Points} points, {Firings} firings in {Ms} ms", job, wFrom, wTo, store.PointsWritten, firingCount, (long)clock.Elapsed.TotalMilliseconds);
        return result;
    }

    /// <summary>One site: firings, hourly energy, firing records, EnPIs, baselines and savings. Returns the earliest instant touched.</summary>
    private async Task<(DateTimeOffset TouchedFrom, int Firings)> RunSiteAsync(DerivedStore store, SiteEntry site, DateTimeOffset wFrom, DateTimeOffset wTo, CancellationToken ct)
    {
        // 1. Firings overlapping the window, from run state (or temperature when a kiln has no run state).
        var windows = new Dictionary<string, List<FiringWindow>>(StringComparer.Ordinal);
        var rangeFrom = wFrom;
        foreach (var kiln in site.Kilns)
        {
            var found = await DetectFiringsAsync(site, kiln, wFrom, wTo, ct).ConfigureAwait(false);
            var overlapping = found.Where(f => f.Status != FiringStatus.StartedBeforeData && f.End > wFrom).ToList();
            windows[kiln.Id] = overlapping;
            foreach (var f in overlapping) rangeFrom = f.Start < rangeFrom ? f.Start : rangeFrom;
        }
        rangeFrom = FloorHour(rangeFrom);

        // 2. Interval energy of every meter over the window and those firings; hourly energy points.
        var series = new Dictionary<string, IntervalSeries>(StringComparer.Ordinal);
        var energy = new List<DerivedPoint>();
        foreach (var meter in site.Meters)
        {
            var tags = new Dictionary<string, string> { ["site"] = site.Id, ["device"] = meter.Device };
            if (meter.Gateway is not null) tags["gateway"] = meter.Gateway;
            var samples = await RawSeries.ReadAsync(influx, meter.Point, tags, rangeFrom, wTo, pad: true, ct).ConfigureAwait(false);
            var intervals = Intervals(site, meter, samples);
            series[meter.Device] = intervals;
            energy.AddRange(HourlyEnergy(site, meter, intervals, samples, wFrom, wTo));
        }
        await store.WriteAsync(energy, ct).ConfigureAwait(false);

        // 3. Firing records.
        var ledger = production.Ledger(site.Id);
        var count = 0;
        foreach (var kiln in site.Kilns)
        {
            var carriers = site.MetersOf(kiln.Id).Select(m => new CarrierSeries(m.Device, m.Carrier, UnitOf(m), series[m.Device].Intervals)).ToList();
            var points = windows[kiln.Id]
                .Select(f => FiringPoint(FiringCalculator.Compute(f, carriers, ledger, factors, _o.Voltage, _o.ProductionMatch)))
                .ToList();
            count += points.Count;
            // This kiln's firings from the start of its first firing overlapping the window (never another kiln's earlier
            // start: a firing of this kiln that ended before the window is not recomputed, so it must not look stale).
            var kilnFrom = windows[kiln.Id].Select(f => f.Start).Append(wFrom).Min();
            await store.ReplaceAsync(FiringMeasurement, new Dictionary<string, string> { ["site"] = site.Id, ["kiln"] = kiln.Id },
                kilnFrom.ToUnixTimeMilliseconds(), wTo.ToUnixTimeMilliseconds() + 1, points, ct).ConfigureAwait(false);
        }

        // 4. EnPIs of every day, month and year touched (from the firing and energy points just written).
        foreach (var kind in new[] { PeriodKind.Day, PeriodKind.Month, PeriodKind.Year })
        {
            foreach (var period in Period.Covering(kind, rangeFrom, wTo)) await EnpiAsync(store, site, period, wTo, ct).ConfigureAwait(false);
        }

        // 5. Baseline and savings per kiln, over all its firings.
        foreach (var kiln in site.Kilns) await SavingsAsync(store, site, kiln, ct).ConfigureAwait(false);
        return (rangeFrom, count);
    }

    /// <summary>
    /// The kiln's firings in [from, to): from run state, looking back up to <see cref="JobOptions.LongestFiring"/> only
    /// when the kiln was running at <paramref name="from"/>; peak temperatures over the firings found. A kiln without run
    /// state is detected from temperature (over the whole look-back).
    /// </summary>
    private async Task<IReadOnlyList<FiringWindow>> DetectFiringsAsync(SiteEntry site, KilnEntry kiln, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var tags = new Dictionary<string, string> { ["site"] = site.Id, ["kiln"] = kiln.Id };
        var running = await RawSeries.ReadAsync(influx, "kiln_running", tags, from, to, pad: false, ct).ConfigureAwait(false);
        if (running.Count > 0 && running[0].Value >= 0.5)
            running = await RawSeries.ReadAsync(influx, "kiln_running", tags, from - _o.LongestFiring, to, pad: false, ct).ConfigureAwait(false);
        if (running.Count == 0)
        {
            var all = await RawSeries.ReadAsync(influx, "kiln_temp_c", tags, from - _o.LongestFiring, to, pad: false, ct).ConfigureAwait(false);
            return FiringDetector.FromTemperature(site.Id, kiln.Id, all, _o.Temperature);
        }
        var found = FiringDetector.FromRunState(site.Id, kiln.Id, running, _o.RunState);
        if (found.Count == 0) return found;
        var temps = await RawSeries.ReadAsync(influx, "kiln_temp_c", tags, found.Min(f => f.Start), to, pad: false, ct).ConfigureAwait(false);
        return FiringDetector.FromRunState(site.Id, kiln.Id, running, _o.RunState, temps);
    }

    /// <summary>Raw samples → intervals, by what the meter's point is (counter, stock on a scale, or power).</summary>
    private IntervalSeries Intervals(SiteEntry site, MeterEntry m, IReadOnlyList<Sample> samples)
    {
        var gap = m.PollInterval * _o.GapAfterPolls;
        var max = m.MaxRatePerHour ?? _o.DefaultMaxRatePerHour;
        return m.Point switch
        {
            "lpg_mass_kg" => StockConsumption.Compute(samples, new StockOptions { MaxUseRatePerHour = max, RefillThreshold = _o.LpgRefillThresholdKg, Deadband = _o.LpgDeadbandKg, GapAfter = gap }),
            "power_w" => PowerIntegration.Compute(samples, new PowerIntegrationOptions { MaxGap = gap }),
            _ => CounterIntervals.Compute(samples, new CounterOptions
            {
                MaxRatePerHour = max,
                GapAfter = gap,
                Modulus = _o.CounterModulus.TryGetValue($"{site.Id}/{m.Device}", out var mod) ? mod : null,
                // Stored counters may come from float32 registers: a step back of a few thousandths is resolution, not use.
                NoiseTolerance = 0.01,
            }),
        };
    }

    private static PhysicalUnit UnitOf(MeterEntry m) => m.Point switch
    {
        "lpg_mass_kg" => PhysicalUnit.Kg,
        "gas_volume_m3" => PhysicalUnit.CubicMetre,
        _ => PhysicalUnit.KWh,
    };

    /// <summary>
    /// One point per local hour in [wFrom, wTo) that any interval overlaps: the energy inside the hour (pro rata for an
    /// interval across its edge), its MJ, kgoe, CO2 and (electricity) cost; the part from flagged intervals; the adjustment
    /// of the intervals that end in the hour (end in (h, h + 1 h], so Σ amount = counter difference − Σ adjustment over any run of hours);
    /// and the poll slots that received a reading (completeness).
    /// </summary>
    private List<DerivedPoint> HourlyEnergy(SiteEntry site, MeterEntry m, IntervalSeries s, IReadOnlyList<Sample> samples, DateTimeOffset wFrom, DateTimeOffset wTo)
    {
        var byHour = new SortedDictionary<DateTimeOffset, List<EnergyInterval>>();
        foreach (var iv in s.Intervals)
        {
            for (var h = FloorHour(iv.Start > wFrom ? iv.Start : wFrom); h < iv.End && h < wTo; h += Hour)
            {
                if (!byHour.TryGetValue(h, out var list)) byHour[h] = list = [];
                list.Add(iv);
            }
        }
        var unit = UnitOf(m);
        var points = new List<DerivedPoint>();
        foreach (var (h, list) in byHour)
        {
            var end = h + Hour;
            var amount = list.Sum(iv => iv.EnergyWithin(h, end));
            var flagged = list.Where(iv => iv.Flag != IntervalFlag.Ok).Sum(iv => iv.EnergyWithin(h, end));
            var adjustment = list.Where(iv => iv.End > h && iv.End <= end).Sum(iv => iv.Adjustment);
            var date = VietnamTime.LocalDate(h);
            var q = new Quantity(m.Carrier, amount, unit);
            var eq = factors.Toe.Convert(q, date);
            var slotsTo = end < wTo ? end : wTo;
            var completeness = DataCompleteness.Compute(samples.Where(x => x.At >= h && x.At < slotsTo).Select(x => x.At), h, slotsTo, m.PollInterval);
            var fields = new Dictionary<string, object>
            {
                ["amount"] = amount,
                ["mj"] = eq.Mj,
                ["kgoe"] = eq.Kgoe,
                ["flagged_amount"] = flagged,
                ["adjustment"] = adjustment,
                ["estimated"] = list.Any(iv => iv.Source == EnergySource.IntegratedFromPower) ? 1.0 : 0.0,
                ["readings"] = (double)completeness.Received,
                ["expected_readings"] = (double)completeness.Expected,
            };
            if (factors.Emissions.Co2(q, date).KgCo2 is { } co2) fields["co2_kg"] = co2;
            if (m.Carrier == Carrier.Electricity) fields["cost_vnd"] = factors.Tariff.Cost(list, _o.Voltage, h, end).CostVnd;
            var tags = new Dictionary<string, string>
            {
                ["site"] = site.Id,
                ["device"] = m.Device,
                ["carrier"] = CarrierTag(m.Carrier),
                ["covers"] = m.Covers.ToString().ToLowerInvariant(),
            };
            if (m.Kiln is not null) tags["kiln"] = m.Kiln;
            points.Add(new DerivedPoint(EnergyMeasurement, tags, h.ToUnixTimeMilliseconds(), fields));
        }
        return points;
    }

    private static DerivedPoint FiringPoint(FiringRecord r)
    {
        var f = r.Firing;
        var running = f.Status == FiringStatus.Open;
        var fields = new Dictionary<string, object>
        {
            ["running"] = running ? 1.0 : 0.0,
            ["status"] = f.Status switch { FiringStatus.Open => "open", FiringStatus.Aborted => "aborted", FiringStatus.StartedBeforeData => "started_before_data", _ => "complete" },
            ["duration_h"] = f.Duration.TotalHours,
            ["method"] = f.Method == FiringDetectionMethod.RunState ? "run_state" : "temperature",
            ["electricity_kwh"] = r.Energy.Where(u => u.Carrier == Carrier.Electricity).Sum(u => u.Amount * Units.BaseFactor(u.Unit)),
            ["lpg_kg"] = r.Energy.Where(u => u.Carrier == Carrier.Lpg && u.Unit is PhysicalUnit.Kg or PhysicalUnit.Tonne).Sum(u => u.Amount * Units.BaseFactor(u.Unit)),
            ["gas_m3"] = r.Energy.Where(u => u.Unit == PhysicalUnit.CubicMetre).Sum(u => u.Amount),
            ["energy_mj"] = r.TotalMj,
            ["kgoe"] = r.TotalKgoe,
            ["cost_vnd"] = r.ElectricityCostVnd,
            ["flagged_mj"] = r.Energy.Where(u => u.Amount > 0).Sum(u => u.Mj * u.FlaggedAmount / u.Amount),
        };
        if (!running) fields["end_ms"] = f.End.ToUnixTimeMilliseconds();
        if (f.PeakTemperatureC is { } peak) fields["peak_c"] = peak;
        if (r.KgCo2 is { } co2) fields["co2_kg"] = co2;
        if (r.Production.Effective is { } p)
        {
            fields["ware_kg"] = p.WareKg;
            fields["pieces"] = (double)p.Pieces;
            fields["product"] = p.ProductType;
        }
        if (r.Sec is { } sec)
        {
            fields["sec_mj_per_kg"] = sec.MjPerKg;
            fields["sec_kgoe_per_t"] = sec.KgoePerTonne;
        }
        return new DerivedPoint(FiringMeasurement, new Dictionary<string, string> { ["site"] = f.Site, ["kiln"] = f.Kiln }, f.Start.ToUnixTimeMilliseconds(), fields);
    }

    /// <summary>A firing point read back, as the record <see cref="Aggregation"/> sums (energy totals and production).</summary>
    private static FiringRecord FromPoint(string site, string kiln, long ms, Dictionary<string, JsonElement> row)
    {
        double N(string k) => row.TryGetValue(k, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
        var start = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        var end = row.TryGetValue("end_ms", out var e) ? DateTimeOffset.FromUnixTimeMilliseconds(e.GetInt64()) : start + TimeSpan.FromHours(N("duration_h"));
        var window = new FiringWindow(site, kiln, start, end, N("running") > 0 ? FiringStatus.Open : FiringStatus.Complete, FiringDetectionMethod.RunState, null);
        var ware = N("ware_kg");
        var entry = row.ContainsKey("ware_kg")
            ? new ProductionEntry($"firing:{ms}", site, kiln, start, start, "firing point", ware, (int)N("pieces"), row.TryGetValue("product", out var pr) ? pr.GetString() ?? "" : "")
            : null;
        double? co2 = row.ContainsKey("co2_kg") ? N("co2_kg") : null;
        return new FiringRecord(window.Key, window, [], N("kgoe") / 1000, N("kgoe"), N("energy_mj"), N("cost_vnd"), co2,
            entry is null ? ProductionResolution.None : new ProductionResolution(entry, [entry]), entry is null ? null : Sec.From(N("energy_mj"), N("kgoe"), ware), []);
    }

    /// <summary>
    /// The EnPIs of one period. Kiln scope: the firings that started in the period (energy, cost, CO2 and production summed
    /// by <see cref="Aggregation"/>; SEC = Σ energy / Σ production over firings with production). Site scope: everything the
    /// site's meters recorded in the period (<see cref="SiteEntry.SiteTotalMeters"/>, base load included) over the production
    /// of the firings started in it; <c>firing_mj</c> is the part the firings account for.
    /// </summary>
    private async Task EnpiAsync(DerivedStore store, SiteEntry site, Period period, DateTimeOffset wTo, CancellationToken ct)
    {
        var kindTag = period.Kind.ToString().ToLowerInvariant();
        var q = $"SELECT * FROM {Ident(FiringMeasurement)} WHERE \"site\" = {Literal(site.Id)} AND time >= {Ms(period.StartUtc)} AND time < {Ms(period.EndUtc)} GROUP BY \"kiln\";"
            + $"SELECT sum(\"amount\") AS amount, sum(\"mj\") AS mj, sum(\"kgoe\") AS kgoe, sum(\"co2_kg\") AS co2_kg, sum(\"cost_vnd\") AS cost_vnd, sum(\"readings\") AS readings FROM {Ident(EnergyMeasurement)} WHERE \"site\" = {Literal(site.Id)} AND time >= {Ms(period.StartUtc)} AND time < {Ms(period.EndUtc)} GROUP BY \"device\"";
        var result = await influx.QueryAsync(q, ct).ConfigureAwait(false);
        var firingRows = Rows(result.Where(s => s.Name == FiringMeasurement)).ToList();
        var records = firingRows.Select(r => FromPoint(site.Id, r.Tags["kiln"], r.TimeMs, r.Row)).ToList();
        var meters = Rows(result.Where(s => s.Name == EnergyMeasurement)).ToDictionary(r => r.Tags["device"], r => r.Row, StringComparer.Ordinal);
        double M(string device, string col) => meters.TryGetValue(device, out var r) && r.TryGetValue(col, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
        // Expected readings: the period up to the end of the computed window (a period still running counts so far).
        var slotsTo = period.EndUtc < wTo ? period.EndUtc : wTo;
        double Completeness(IEnumerable<MeterEntry> ms)
        {
            var list = ms.ToList();
            var expected = list.Sum(m => Math.Ceiling((slotsTo - period.StartUtc) / m.PollInterval));
            return expected > 0 ? Math.Min(1, list.Sum(m => M(m.Device, "readings")) / expected) : 0;
        }

        var points = new List<DerivedPoint>();
        var byKiln = Aggregation.Summarise(records, period.Kind, AggregationScope.Kiln).ToDictionary(s => s.Key.Kiln!, StringComparer.Ordinal);
        foreach (var kiln in site.Kilns)
        {
            var rows = firingRows.Where(r => r.Tags["kiln"] == kiln.Id).Select(r => r.Row).ToList();
            double Sum(string k) => rows.Sum(r => r.TryGetValue(k, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0);
            var s = byKiln.GetValueOrDefault(kiln.Id);
            var fields = new Dictionary<string, object>
            {
                ["energy_mj"] = s?.TotalMj ?? 0,
                ["kgoe"] = s?.TotalKgoe ?? 0,
                ["toe"] = s?.TotalToe ?? 0,
                ["electricity_kwh"] = Sum("electricity_kwh"),
                ["lpg_kg"] = Sum("lpg_kg"),
                ["gas_m3"] = Sum("gas_m3"),
                ["cost_vnd"] = s?.ElectricityCostVnd ?? 0,
                ["production_kg"] = s?.ProductionKg ?? 0,
                ["pieces"] = (double)(s?.Pieces ?? 0),
                ["firings"] = (double)(s?.Firings ?? 0),
                ["completeness"] = Completeness(site.MetersOf(kiln.Id)),
            };
            if (s?.KgCo2 is { } co2) fields["co2_kg"] = co2;
            if (s?.Sec is { } sec)
            {
                fields["sec_mj_per_kg"] = sec.MjPerKg;
                fields["sec_kgoe_per_t"] = sec.KgoePerTonne;
            }
            points.Add(new DerivedPoint(EnpiMeasurement, new Dictionary<string, string> { ["site"] = site.Id, ["scope"] = "kiln", ["kiln"] = kiln.Id, ["period"] = kindTag }, period.StartUtc.ToUnixTimeMilliseconds(), fields));
        }

        var siteSummary = Aggregation.Summarise(records, period.Kind, AggregationScope.Site).SingleOrDefault();
        var totals = new[] { Carrier.Electricity, Carrier.Lpg, Carrier.NaturalGas }.ToDictionary(c => c, c => site.SiteTotalMeters(c));
        double Total(Carrier c, string col, Func<MeterEntry, bool>? which = null) => totals[c].Where(which ?? (_ => true)).Sum(m => M(m.Device, col));
        var mj = totals.Keys.Sum(c => Total(c, "mj"));
        var kgoe = totals.Keys.Sum(c => Total(c, "kgoe"));
        var productionKg = siteSummary?.ProductionKg ?? 0;
        var siteFields = new Dictionary<string, object>
        {
            ["energy_mj"] = mj,
            ["kgoe"] = kgoe,
            ["toe"] = kgoe / 1000,
            ["electricity_kwh"] = Total(Carrier.Electricity, "amount"),
            ["lpg_kg"] = Total(Carrier.Lpg, "amount", m => m.Point == "lpg_mass_kg"),
            ["gas_m3"] = totals.Keys.Sum(c => Total(c, "amount", m => m.Point == "gas_volume_m3")),
            ["cost_vnd"] = Total(Carrier.Electricity, "cost_vnd"),
            ["co2_kg"] = totals.Keys.Sum(c => Total(c, "co2_kg")),
            ["production_kg"] = productionKg,
            ["pieces"] = (double)(siteSummary?.Pieces ?? 0),
            ["firings"] = (double)(siteSummary?.Firings ?? 0),
            ["firing_mj"] = siteSummary?.TotalMj ?? 0,
            ["completeness"] = Completeness(site.Meters),
        };
        if (Sec.From(mj, kgoe, productionKg) is { } siteSec)
        {
            siteFields["sec_mj_per_kg"] = siteSec.MjPerKg;
            siteFields["sec_kgoe_per_t"] = siteSec.KgoePerTonne;
        }
        points.Add(new DerivedPoint(EnpiMeasurement, new Dictionary<string, string> { ["site"] = site.Id, ["scope"] = "site", ["period"] = kindTag }, period.StartUtc.ToUnixTimeMilliseconds(), siteFields));
        var ms = period.StartUtc.ToUnixTimeMilliseconds();
        await store.ReplaceAsync(EnpiMeasurement, new Dictionary<string, string> { ["site"] = site.Id, ["period"] = kindTag }, ms, ms + 1, points, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The kiln's energy baseline, basis one firing: E (MJ) = a + b × ware kg over the complete firings with production
    /// in the site's baseline period (registry); when the registry names none, over the first half of the kiln's firings
    /// (the summary says so). The firings after it are the reporting period: expected (adjusted baseline), avoided, CUSUM.
    /// </summary>
    private async Task SavingsAsync(DerivedStore store, SiteEntry site, KilnEntry kiln, CancellationToken ct)
    {
        var scope = new Dictionary<string, string> { ["site"] = site.Id, ["kiln"] = kiln.Id };
        var rows = Rows(await influx.QueryAsync($"SELECT * FROM {Ident(FiringMeasurement)} WHERE \"site\" = {Literal(site.Id)} AND \"kiln\" = {Literal(kiln.Id)}", ct).ConfigureAwait(false))
            .Where(r => r.Row.TryGetValue("running", out var run) && run.GetDouble() == 0 && r.Row.TryGetValue("ware_kg", out var w) && w.GetDouble() > 0)
            .Select(r => (Start: r.TimeMs, End: r.Row["end_ms"].GetInt64(), Mj: r.Row["energy_mj"].GetDouble(), Kg: r.Row["ware_kg"].GetDouble()))
            .OrderBy(r => r.Start)
            .ToList();
        List<(long Start, long End, double Mj, double Kg)> baseline, reporting;
        string rule;
        long modelAt;
        if (site.Baseline is { } bp)
        {
            baseline = [.. rows.Where(r => r.Start >= bp.From.ToUnixTimeMilliseconds() && r.Start < bp.To.ToUnixTimeMilliseconds())];
            reporting = [.. rows.Where(r => r.Start >= bp.To.ToUnixTimeMilliseconds())];
            rule = string.Create(CultureInfo.InvariantCulture, $"baseline period from the site registry ({bp.From:yyyy-MM-dd HH:mm}Z … {bp.To:yyyy-MM-dd HH:mm}Z)");
            modelAt = bp.To.ToUnixTimeMilliseconds();
        }
        else
        {
            var half = rows.Count / 2;
            baseline = rows.Take(half).ToList();
            reporting = rows.Skip(half).ToList();
            rule = $"no baseline period in the site registry: the first half of the kiln's firings ({half} of {rows.Count}) is the baseline";
            modelAt = baseline.Count > 0 ? baseline[^1].End : 0;
        }
        var modelPoints = new List<DerivedPoint>();
        var savingsPoints = new List<DerivedPoint>();
        var modelTags = new Dictionary<string, string>(scope) { ["scope"] = "kiln", ["basis"] = "firing" };
        // Two coefficients need at least three points to leave a residual degree of freedom.
        if (baseline.Count >= 3 && baseline.Select(b => b.Kg).Distinct().Count() >= 2)
        {
            var bpoints = baseline.Select(b => new BaselinePoint(b.Start.ToString(CultureInfo.InvariantCulture), b.Mj, [b.Kg])).ToList();
            var model = Ols.Fit(bpoints, ["ware_kg"]);
            var verdict = BaselineCheck.Assess(model, factors.Mv, DataGranularity.Daily);
            var target = site.TargetSavingsPercent ?? factors.Mv.SavingsTargetLowPercent.Value;
            modelPoints.Add(new DerivedPoint(BaselineMeasurement, modelTags, modelAt, new Dictionary<string, object>
            {
                ["n"] = (double)model.Fit.N,
                ["r2"] = model.Fit.RSquared,
                ["cv_rmse_pct"] = model.Fit.CvRmsePercent,
                ["nmbe_pct"] = model.Fit.NmbePercent,
                ["intercept_mj"] = model.Intercept,
                ["slope_mj_per_kg"] = model.Slopes[0],
                ["adequate"] = verdict.Adequate ? 1.0 : 0.0,
                ["summary"] = rule + ". " + verdict.Summary,
                ["from_ms"] = baseline[0].Start,
                ["to_ms"] = baseline[^1].End,
                ["reporting_firings"] = (double)reporting.Count,
            }));
            if (reporting.Count > 0)
            {
                var report = Savings.Compute(model, verdict, [.. reporting.Select(r => new BaselinePoint(r.Start.ToString(CultureInfo.InvariantCulture), r.Mj, [r.Kg]))], factors.Mv);
                double expectedSoFar = 0, avoidedSoFar = 0;
                for (var i = 0; i < report.Points.Count; i++)
                {
                    var p = report.Points[i];
                    expectedSoFar += p.Expected;
                    avoidedSoFar += p.Avoided;
                    savingsPoints.Add(new DerivedPoint(SavingsMeasurement, modelTags, reporting[i].Start, new Dictionary<string, object>
                    {
                        ["actual_mj"] = p.Actual,
                        ["expected_mj"] = p.Expected,
                        ["avoided_mj"] = p.Avoided,
                        ["cusum_mj"] = p.Cusum,
                        ["savings_pct"] = expectedSoFar != 0 ? 100 * avoidedSoFar / expectedSoFar : 0,
                        ["target_pct"] = target,
                        ["ware_kg"] = reporting[i].Kg,
                        ["claim_allowed"] = report.ClaimAllowed ? 1.0 : 0.0,
                    }));
                }
            }
        }
        await store.ReplaceAsync(BaselineMeasurement, modelTags, 0, FarFuture, modelPoints, ct).ConfigureAwait(false);
        await store.ReplaceAsync(SavingsMeasurement, modelTags, 0, FarFuture, savingsPoints, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Per site and year: annual TOE by carrier (factor in force on 1 January) against the key-consumer threshold for its
    /// facility type, the SEC ranking among all registry sites, completeness, the savings target and the savings so far
    /// (Σ avoided / Σ expected of its kilns' reporting firings in the year).
    /// </summary>
    private async Task ComplianceAsync(DerivedStore store, int year, CancellationToken ct)
    {
        var period = Period.Year(year);
        var ms = period.StartUtc.ToUnixTimeMilliseconds();
        var enpi = Rows(await influx.QueryAsync($"SELECT * FROM {Ident(EnpiMeasurement)} WHERE \"scope\" = 'site' AND \"period\" = 'year' AND time >= {ms}ms AND time <= {ms}ms GROUP BY \"site\"", ct).ConfigureAwait(false))
            .ToDictionary(r => r.Tags["site"], r => r.Row, StringComparer.Ordinal);
        var savings = Rows(await influx.QueryAsync($"SELECT sum(\"avoided_mj\") AS avoided, sum(\"expected_mj\") AS expected FROM {Ident(SavingsMeasurement)} WHERE time >= {Ms(period.StartUtc)} AND time < {Ms(period.EndUtc)} GROUP BY \"site\"", ct).ConfigureAwait(false))
            .ToDictionary(r => r.Tags["site"], r => r.Row, StringComparer.Ordinal);
        static double N(Dictionary<string, JsonElement>? row, string k) => row is not null && row.TryGetValue(k, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
        var ranking = ComplianceReports.RankBySec(registry.Sites.Select(s => new SiteSec(s.Id, N(enpi.GetValueOrDefault(s.Id), "energy_mj"), N(enpi.GetValueOrDefault(s.Id), "production_kg"))))
            .ToDictionary(r => r.Site, StringComparer.Ordinal);
        foreach (var site in registry.Sites)
        {
            var row = enpi.GetValueOrDefault(site.Id);
            var use = new List<Quantity>();
            if (N(row, "electricity_kwh") > 0) use.Add(new Quantity(Carrier.Electricity, N(row, "electricity_kwh"), PhysicalUnit.KWh));
            if (N(row, "lpg_kg") > 0) use.Add(new Quantity(Carrier.Lpg, N(row, "lpg_kg"), PhysicalUnit.Kg));
            if (N(row, "gas_m3") > 0) use.Add(new Quantity(site.Meters.Any(m => m.Point == "gas_volume_m3" && m.Carrier == Carrier.Lpg) ? Carrier.Lpg : Carrier.NaturalGas, N(row, "gas_m3"), PhysicalUnit.CubicMetre));
            var toe = ComplianceReports.AnnualToe(site.Id, year, site.Facility, use, factors);
            var rank = ranking[site.Id];
            var fields = new Dictionary<string, object>
            {
                ["toe"] = toe.TotalToe,
                ["key_consumer"] = toe.Status == KeyConsumerStatus.KeyConsumer ? 1.0 : 0.0,
                ["threshold_toe"] = toe.Threshold.ToePerYear,
                ["completeness"] = N(row, "completeness"),
                ["target_pct"] = site.TargetSavingsPercent ?? factors.Mv.SavingsTargetLowPercent.Value,
                ["electricity_kwh"] = N(row, "electricity_kwh"),
                ["lpg_kg"] = N(row, "lpg_kg"),
                ["gas_m3"] = N(row, "gas_m3"),
                ["production_kg"] = N(row, "production_kg"),
                ["summary"] = toe.Summary,
            };
            if (rank.Rank is { } r) fields["sec_rank"] = (double)r;
            if (rank.MjPerKg is { } sec) fields["sec_mj_per_kg"] = sec;
            if (savings.GetValueOrDefault(site.Id) is { } sv && N(sv, "expected") > 0) fields["savings_pct"] = 100 * N(sv, "avoided") / N(sv, "expected");
            await store.ReplaceAsync(ComplianceMeasurement, new Dictionary<string, string> { ["site"] = site.Id }, ms, ms + 1,
                [new DerivedPoint(ComplianceMeasurement, new Dictionary<string, string> { ["site"] = site.Id }, ms, fields)], ct).ConfigureAwait(false);
        }
    }

    public static string CarrierTag(Carrier c) => c switch
    {
        Carrier.Electricity => "electricity",
        Carrier.Lpg => "lpg",
        Carrier.NaturalGas => "natural_gas",
        _ => c.ToString().ToLowerInvariant(),
    };

    private static DateTimeOffset FloorHour(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero);
}
