using KhuyenCong.Analytics.Factors;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Jobs;
using KhuyenCong.TestSupport;
using KhuyenCong.TestSupport.Pipeline;

namespace KhuyenCong.Jobs.Tests;

/// <summary>
/// A real influxd holding three days of simulated raw data of the demo site (bat-trang-demo) with production entries,
/// and the analytics job run once over it.
/// </summary>
public sealed class SimulatedSiteFixture : IAsyncLifetime
{
    public const string Database = "jobs";
    public static readonly DateTimeOffset From = new(2026, 11, 1, 17, 0, 0, TimeSpan.Zero); // local midnight, 2 November
    public static readonly DateTimeOffset To = From.AddDays(3);

    private readonly TempDirectory _dir = new("kc-jobs");
    private SimulatedSite _site = null!;
    public InfluxV1Sink Sink => _site.Sink;
    public InfluxQlClient Influx => _site.Influx;
    public HistoryResult History { get; private set; } = null!;
    public JobRunResult FirstRun { get; private set; } = null!;
    public static FactorSet Factors => SimulatedSite.Factors;

    public AnalyticsJob Job(ITimeSeriesSink? sink = null) => _site.Job(sink);

    public async Task InitializeAsync()
    {
        _site = await SimulatedSite.StartAsync(_dir.File("influx"), Database, _dir.File("production.db"), queryTimeout: TimeSpan.FromMinutes(2));
        History = await _site.WriteHistoryAsync(From, To);
        FirstRun = await _site.RunJobsAsync(From, To);
    }

    public async Task DisposeAsync()
    {
        await _site.DisposeAsync();
        _dir.Dispose();
    }
}
