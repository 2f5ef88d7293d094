using System.Diagnostics;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Jobs;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Dashboards.Tests.Seeding;

/// <summary>
/// One influxd 1.6.7 of its own (free port, temp directory) holding a simulated programme, which the dashboards' queries
/// run against. Shared by the tests of one class and stopped after them. Seeded in the order real data arrives:
/// <list type="number">
/// <item>days of simulated history of the demo workshop (<see cref="SimulatedHistory"/>: an electric and an LPG kiln,
/// several firings each, a production entry per firing), ending now;</item>
/// <item>a short live run of the real pipeline for a second site (simulator → edge agent → MQTT → ingestor), which also
/// stores the gateway's birth message;</item>
/// <item>the analytics jobs over all of it (derived series).</item>
/// </list>
/// </summary>
public sealed class SimulatedInflux : IAsyncLifetime
{
    public const string Database = "khuyencong";
    public const string HistorySite = "bat-trang-demo";
    public const string LiveSite = "bat-trang-live";
    public static readonly TimeSpan HistoryLength = TimeSpan.FromDays(10);
    public static readonly TimeSpan HistoryPollInterval = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _dir = new("kc-dash-data");
    private LocalInfluxd? _influxd;
    private ProductionStore? _production;

    public LocalInfluxd Server => _influxd ?? throw new InvalidOperationException("not started");

    public InfluxQlClient Client { get; private set; } = null!;

    /// <summary>"Now" for the dashboards' relative time ranges: the time of the newest raw reading.</summary>
    public DateTimeOffset Now { get; private set; }

    /// <summary>What was seeded, for failure messages and the test log.</summary>
    public string Description { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _influxd = await LocalInfluxd.StartAsync(_dir.File("influxd"));
        Client = new InfluxQlClient(_influxd.Url, Database);
        var clock = Stopwatch.StartNew();

        // 1. History up to now.
        var to = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        using (var sink = new InfluxV1Sink(new InfluxConfig { Url = _influxd.Url, Database = Database }, password: null))
        {
            await sink.PrepareAsync(default);
            _production = new ProductionStore(_dir.File("production.db"));
            var history = await SimulatedHistory.WriteAsync(sink, Path.Combine(RepoPaths.Gateways, "demo-workshop.yaml"), to - HistoryLength, to,
                _production, new HistoryOptions { PollInterval = HistoryPollInterval });
            Description = $"{HistoryLength.TotalDays:0} days of simulated history of {HistorySite} ({history.Lines} lines, {history.Firings.Count} firings, {history.Elapsed.TotalSeconds:0.0} s)";
        }

        // 2. A live run of the pipeline for a second site.
        var liveEnd = await LivePipeline.RunAsync(_influxd.Url, Database, LiveSite);
        Description += $"; a live pipeline run of {LiveSite} up to {liveEnd:O}";
        Now = liveEnd > to ? liveEnd : to;

        // 3. The analytics jobs over all of it.
        Description += await RunJobsAsync(to - HistoryLength, Now.AddSeconds(1));
        Description += $"; seeded in {clock.Elapsed.TotalSeconds:0.0} s";
    }

    /// <summary>
    /// Runs the analytics jobs once over the whole history, as <c>kc-cloud recompute</c> does, with the shipped site
    /// registry and factor files; returns what they did, for the description. A failed run throws.
    /// </summary>
    private async Task<string> RunJobsAsync(DateTimeOffset from, DateTimeOffset to)
    {
        var registry = SiteRegistry.Load(Path.Combine(RepoPaths.Root, "firmware-config", "sites", "sites.yaml"));
        var factors = FactorSet.LoadDirectory(Path.Combine(RepoPaths.Root, "firmware-config", "factors"));
        using var sink = new InfluxV1Sink(new InfluxConfig { Url = Server.Url, Database = Database }, password: null);
        using var influx = new InfluxQlClient(Server.Url, Database, timeout: TimeSpan.FromMinutes(5));
        var job = new AnalyticsJob(registry, factors, influx, sink, _production!);
        var r = await job.RunAsync(from, to, "recompute", default);
        return $"; analytics jobs over {r.From:u} … {r.To:u}: {r.Points} derived points, {r.Firings} firings in {r.Duration.TotalSeconds:0.0} s";
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        _production?.Dispose();
        if (_influxd is not null) await _influxd.DisposeAsync();
        _dir.Dispose();
    }
}
