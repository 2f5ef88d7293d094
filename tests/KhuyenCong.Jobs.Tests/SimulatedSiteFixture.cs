using KhuyenCong.Analytics.Factors;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Jobs;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.TestSupport;

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
    public LocalInfluxd Influxd { get; private set; } = null!;
    public InfluxV1Sink Sink { get; private set; } = null!;
    public InfluxQlClient Influx { get; private set; } = null!;
    public ProductionStore Production { get; private set; } = null!;
    public HistoryResult History { get; private set; } = null!;
    public JobRunResult FirstRun { get; private set; } = null!;
    public static SiteRegistry Registry { get; } = SiteRegistry.Load(Path.Combine(RepoPaths.Root, "firmware-config", "sites", "sites.yaml"));
    public static FactorSet Factors { get; } = FactorSet.LoadDirectory(Path.Combine(RepoPaths.Root, "firmware-config", "factors"));

    public AnalyticsJob Job(ITimeSeriesSink? sink = null) => new(Registry, Factors, Influx, sink ?? Sink, Production);

    public async Task InitializeAsync()
    {
        Influxd = await LocalInfluxd.StartAsync(_dir.File("influx"));
        Sink = new InfluxV1Sink(new InfluxConfig { Url = Influxd.Url, Database = Database }, password: null);
        await Sink.PrepareAsync(default);
        Influx = new InfluxQlClient(Influxd.Url, Database, timeout: TimeSpan.FromMinutes(2));
        Production = new ProductionStore(_dir.File("production.db"));
        History = await SimulatedHistory.WriteAsync(Sink, SimulatedHistoryTests.DemoGateway, From, To, Production);
        FirstRun = await Job().RunAsync(From, To, "recompute", default);
    }

    public async Task DisposeAsync()
    {
        Influx.Dispose();
        Sink.Dispose();
        Production.Dispose();
        await Influxd.DisposeAsync();
        _dir.Dispose();
    }
}
