using System.Globalization;
using InfluxDB.Client.Writes;
using KhuyenCong.Analytics.Firings;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Config;
using KhuyenCong.Simulator;

namespace KhuyenCong.Cloud.Demo;

/// <summary>Options of <see cref="SimulatedHistory.WriteAsync(ITimeSeriesSink, LoadedGateway, DateTimeOffset, DateTimeOffset, ProductionStore?, HistoryOptions?, CancellationToken)"/>.</summary>
public sealed record HistoryOptions
{
    /// <summary>Seed of the loads, rests and measurement noise: the same seed gives the same history.</summary>
    public int Seed { get; init; } = 7;
    /// <summary>Overrides every device's poll interval (null: each device's own, as the gateway polls).</summary>
    public TimeSpan? PollInterval { get; init; }
    /// <summary>Lines per write request.</summary>
    public int BatchLines { get; init; } = 5000;
    /// <summary>Ware per firing of an electric kiln, kg (uniform between the two).</summary>
    public (double Min, double Max) ElectricLoadKg { get; init; } = (30, 90);
    /// <summary>Ware per firing of an LPG kiln, kg.</summary>
    public (double Min, double Max) LpgLoadKg { get; init; } = (200, 600);
    /// <summary>Rest between the end of cooling and the next firing (uniform between the two).</summary>
    public (TimeSpan Min, TimeSpan Max) Rest { get; init; } = (TimeSpan.FromMinutes(20), TimeSpan.FromHours(4));
    /// <summary>Who the production entries are recorded by.</summary>
    public string RecordedBy { get; init; } = "simulator";
    /// <summary>
    /// Make the history join a live simulator started at its end (the demo): stop at the last poll before the end at
    /// which every kiln was idle (no firing is cut in two), and shift every cumulative counter so that it ends at the
    /// value a fresh simulator starts from (the live counters carry on, with no drop that would read as a reset).
    /// </summary>
    public bool EndAtLiveStart { get; init; }
}

/// <summary>A firing the history started, with the load it was given.</summary>
public sealed record SimulatedFiring(string Kiln, DateTimeOffset Start, double WareKg, int Pieces, string Product);

/// <summary>What a history wrote.</summary>
public sealed record HistoryResult(DateTimeOffset From, DateTimeOffset To, long Lines, long Readings, IReadOnlyList<SimulatedFiring> Firings, TimeSpan Elapsed);

/// <summary>
/// Writes days of simulated raw data into InfluxDB in seconds: the simulator's workshop (<see cref="Workshop"/>,
/// <see cref="KilnModel"/>) is stepped through simulated time without waiting, every device is read at its poll interval
/// as the edge agent reads it (<see cref="SimulatedPolls"/>), and the readings become the same lines the ingestor writes
/// (<see cref="LineProtocol.FromBatch"/>: measurements meter, kiln, gas; tags site, gateway, device, kiln). Each firing
/// gets a different load of ware, so energy varies with production as a baseline regression needs, and a production
/// entry (recorded_by "simulator") in the ledger. Used by the demo (history before the live part), by
/// <c>kc-cloud history</c> and by tests.
/// </summary>
public static class SimulatedHistory
{
    /// <summary>Loads the gateway config (file:line:col errors as <see cref="KhuyenCong.Configuration.ConfigException"/>) and writes its history.</summary>
    public static Task<HistoryResult> WriteAsync(ITimeSeriesSink sink, string gatewayConfigFile, DateTimeOffset from, DateTimeOffset to,
        ProductionStore? production = null, HistoryOptions? options = null, CancellationToken ct = default) =>
        WriteAsync(sink, GatewayConfigLoader.Load(gatewayConfigFile), from, to, production, options, ct);

    /// <summary>
    /// Simulates <paramref name="gateway"/>'s workshop from <paramref name="from"/> (kilns cold) to <paramref name="to"/> and
    /// writes every reading through <paramref name="sink"/>; records a production entry per firing started in
    /// <paramref name="production"/> when given (entries already there, from an earlier run, are kept as they are).
    /// The same arguments write the same points: writing twice changes nothing.
    /// </summary>
    public static async Task<HistoryResult> WriteAsync(ITimeSeriesSink sink, LoadedGateway gateway, DateTimeOffset from, DateTimeOffset to,
        ProductionStore? production = null, HistoryOptions? options = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(gateway);
        if (to <= from) throw new ArgumentException($"the history must end after it starts ({from:O} … {to:O})");
        var o = options ?? new HistoryOptions();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var cfg = gateway.Config;
        var offsets = new Dictionary<(string Device, string Point), double>();
        if (o.EndAtLiveStart) (to, offsets) = DryRun(gateway, from, to, o);
        var polls = new SimulatedPolls(gateway, from, o.Seed, o.PollInterval);
        var random = new Random(o.Seed);
        var firings = new List<SimulatedFiring>();
        var loading = new Dictionary<string, SimulatedFiring>(StringComparer.Ordinal);
        var kilnOf = cfg.Devices.ToDictionary(d => d.Id, d => d.Kiln, StringComparer.Ordinal);
        foreach (var kiln in polls.Workshop.Kilns.Values)
        {
            kiln.FiringStarting += k =>
            {
                var (min, max) = k.Fuel == KilnFuel.Electric ? o.ElectricLoadKg : o.LpgLoadKg;
                k.LoadKg = Math.Round(min + (max - min) * random.NextDouble(), 1);
                var product = k.Fuel == KilnFuel.Electric ? "glazed tableware" : "stoneware vases";
                var pieces = (int)Math.Round(k.LoadKg / (k.Fuel == KilnFuel.Electric ? 0.6 : 2.5));
                // Its start is the first poll that reads kiln_running = 1, as the jobs will see it (set below).
                loading[k.Id] = new SimulatedFiring(k.Id, default, k.LoadKg, pieces, product);
                // The rest before the next firing: firings then start at different hours of the day.
                k.RestBetweenFirings = o.Rest.Min + (o.Rest.Max - o.Rest.Min) * random.NextDouble();
            };
        }
        var devices = cfg.Devices.Select(d => new DeviceInfo { Id = d.Id, Class = polls.ClassOf(d.Id), Kiln = d.Kiln, Profile = d.Profile }).ToList();
        var pending = new List<PointData>(o.BatchLines + 16);
        long lines = 0, readings = 0, seq = 0;
        while (polls.NextPoll < to)
        {
            ct.ThrowIfCancellationRequested();
            var batch = polls.Poll();
            if (batch.Count == 0) continue;
            if (offsets.Count > 0)
                batch = [.. batch.Select(r => offsets.TryGetValue((r.Device, r.Point), out var shift) ? r with { Value = r.Value + shift } : r)];
            readings += batch.Count;
            foreach (var r in batch)
            {
                if (r.Point == "kiln_running" && r.Value >= 0.5 && kilnOf[r.Device] is { } kiln && loading.Remove(kiln, out var f))
                    firings.Add(f with { Start = r.Timestamp });
            }
            pending.AddRange(LineProtocol.FromBatch(new TelemetryBatch { Site = cfg.Site, Gateway = cfg.Gateway, Sequence = ++seq, Sent = polls.Now, Devices = devices, Readings = batch }));
            if (pending.Count >= o.BatchLines)
            {
                await sink.WriteAsync(pending, ct).ConfigureAwait(false);
                lines += pending.Count;
                pending.Clear();
            }
        }
        if (pending.Count > 0)
        {
            await sink.WriteAsync(pending, ct).ConfigureAwait(false);
            lines += pending.Count;
        }
        if (production is not null)
        {
            foreach (var f in firings)
            {
                var id = string.Create(CultureInfo.InvariantCulture, $"sim-{cfg.Site}-{f.Kiln}-{f.Start.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}");
                if (production.Exists(id)) continue;
                production.Append(new ProductionEntry(id, cfg.Site, f.Kiln, f.Start, f.Start, o.RecordedBy, f.WareKg, f.Pieces, f.Product,
                    Note: "simulated load (kc-cloud history)"));
            }
        }
        return new HistoryResult(from, to, lines, readings, firings, clock.Elapsed);
    }

    private static readonly string[] Counters = ["energy_import_kwh", "energy_total_kwh", "gas_volume_m3"];

    /// <summary>
    /// Steps the same workshop the same way without reading or writing: the last poll before <paramref name="to"/> with
    /// every kiln idle, and per counter the shift that makes its value there equal its value at the start of a fresh
    /// simulator.
    /// </summary>
    private static (DateTimeOffset End, Dictionary<(string, string), double> Offsets) DryRun(LoadedGateway gateway, DateTimeOffset from, DateTimeOffset to, HistoryOptions o)
    {
        var fresh = new SimulatedPolls(gateway, from, o.Seed, o.PollInterval);
        var dry = new SimulatedPolls(gateway, from, o.Seed, o.PollInterval);
        var random = new Random(o.Seed);
        foreach (var kiln in dry.Workshop.Kilns.Values)
        {
            // The same draws in the same order as the real pass, so the workshop evolves identically.
            kiln.FiringStarting += k =>
            {
                var (min, max) = k.Fuel == KilnFuel.Electric ? o.ElectricLoadKg : o.LpgLoadKg;
                k.LoadKg = Math.Round(min + (max - min) * random.NextDouble(), 1);
                k.RestBetweenFirings = o.Rest.Min + (o.Rest.Max - o.Rest.Min) * random.NextDouble();
            };
        }
        var end = from;
        var atEnd = new Dictionary<(string, string), double>();
        while (dry.NextPoll < to)
        {
            dry.Poll(read: false);
            if (dry.Workshop.Kilns.Values.Any(k => k.Running)) continue;
            end = dry.Now + TimeSpan.FromMilliseconds(1);
            foreach (var d in gateway.Config.Devices)
            {
                foreach (var p in Counters)
                {
                    if (dry.Workshop.Value(d.Id, p) is { } v) atEnd[(d.Id, p)] = v;
                }
            }
        }
        var offsets = atEnd.ToDictionary(kv => kv.Key, kv => fresh.Workshop.Value(kv.Key.Item1, kv.Key.Item2)!.Value - kv.Value);
        return (end, offsets);
    }
}
