using System.Diagnostics;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.TestSupport;
using KhuyenCong.TestSupport.Pipeline;

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
    private SimulatedSite? _site;

    public LocalInfluxd Server => _site?.Influxd ?? throw new InvalidOperationException("not started");

    public InfluxQlClient Client => _site?.Influx ?? throw new InvalidOperationException("not started");

    /// <summary>"Now" for the dashboards' relative time ranges: the time of the newest raw reading.</summary>
    public DateTimeOffset Now { get; private set; }

    /// <summary>What was seeded, for failure messages and the test log.</summary>
    public string Description { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _site = await SimulatedSite.StartAsync(_dir.File("influxd"), Database, _dir.File("production.db"), queryTimeout: TimeSpan.FromMinutes(5));
        var clock = Stopwatch.StartNew();

        // 1. History up to now.
        var to = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var history = await _site.WriteHistoryAsync(to - HistoryLength, to, new HistoryOptions { PollInterval = HistoryPollInterval });
        Description = $"{HistoryLength.TotalDays:0} days of simulated history of {HistorySite} ({history.Lines} lines, {history.Firings.Count} firings, {history.Elapsed.TotalSeconds:0.0} s)";

        // 2. A live run of the pipeline for a second site.
        var liveEnd = await LivePipeline.RunAsync(_site.Influxd.Url, Database, LiveSite);
        Description += $"; a live pipeline run of {LiveSite} up to {liveEnd:O}";
        Now = liveEnd > to ? liveEnd : to;

        // 3. The analytics jobs over all of it, as kc-cloud recompute does, with the shipped site registry and factor
        // files. A failed run throws.
        var r = await _site.RunJobsAsync(to - HistoryLength, Now.AddSeconds(1));
        Description += $"; analytics jobs over {r.From:u} … {r.To:u}: {r.Points} derived points, {r.Firings} firings in {r.Duration.TotalSeconds:0.0} s";
        Description += $"; seeded in {clock.Elapsed.TotalSeconds:0.0} s";
    }

    public async Task DisposeAsync()
    {
        if (_site is not null) await _site.DisposeAsync();
        _dir.Dispose();
    }
}
