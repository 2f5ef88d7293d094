using KhuyenCong.Analytics.Factors;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Jobs;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;

namespace KhuyenCong.TestSupport.Pipeline;

/// <summary>
/// A real influxd 1.6.7 of its own (free port) with what the cloud keeps for the demo workshop (bat-trang-demo):
/// simulated raw history written as the ingestor writes it (<see cref="SimulatedHistory"/>, a production entry per
/// firing in the ledger), and the analytics jobs run over it with the shipped site registry and factor files, as
/// <c>kc-cloud recompute</c> does.
/// </summary>
public sealed class SimulatedSite : IAsyncDisposable
{
    private SimulatedSite(LocalInfluxd influxd, string database, TimeSpan queryTimeout)
    {
        Influxd = influxd;
        Database = database;
        Sink = new InfluxV1Sink(new InfluxConfig { Url = influxd.Url, Database = database }, password: null);
        Influx = new InfluxQlClient(influxd.Url, database, timeout: queryTimeout);
    }

    public static string SitesFile => Path.Combine(RepoPaths.Root, "firmware-config", "sites", "sites.yaml");
    public static string FactorsDir => Path.Combine(RepoPaths.Root, "firmware-config", "factors");
    public static string DemoGateway => Path.Combine(RepoPaths.Gateways, "demo-workshop.yaml");

    /// <summary>The shipped site registry and factor files, loaded once.</summary>
    public static SiteRegistry Registry { get; } = SiteRegistry.Load(SitesFile);
    public static FactorSet Factors { get; } = FactorSet.LoadDirectory(FactorsDir);

    public LocalInfluxd Influxd { get; }
    public string Database { get; }
    public InfluxV1Sink Sink { get; }
    public InfluxQlClient Influx { get; }
    public ProductionStore Production { get; private set; } = null!;

    /// <summary>
    /// Starts influxd (its data in <paramref name="influxDataDir"/>, or a temp directory of its own), creates
    /// <paramref name="database"/> and opens the production ledger <paramref name="ledgerFile"/>.
    /// </summary>
    public static async Task<SimulatedSite> StartAsync(string? influxDataDir, string database, string ledgerFile, TimeSpan queryTimeout)
    {
        var influxd = await LocalInfluxd.StartAsync(influxDataDir);
        var site = new SimulatedSite(influxd, database, queryTimeout);
        try
        {
            await site.Sink.PrepareAsync(default);
            site.Production = new ProductionStore(ledgerFile);
            return site;
        }
        catch
        {
            await site.DisposeAsync();
            throw;
        }
    }

    /// <summary>Writes the demo workshop's raw data of [<paramref name="from"/>, <paramref name="to"/>) and a production entry per firing.</summary>
    public Task<HistoryResult> WriteHistoryAsync(DateTimeOffset from, DateTimeOffset to, HistoryOptions? options = null) =>
        SimulatedHistory.WriteAsync(Sink, DemoGateway, from, to, Production, options);

    /// <summary>The analytics job over this influxd and ledger, writing to <paramref name="sink"/> (by default this influxd).</summary>
    public AnalyticsJob Job(ITimeSeriesSink? sink = null) => new(Registry, Factors, Influx, sink ?? Sink, Production);

    /// <summary>Recomputes the derived series of [<paramref name="from"/>, <paramref name="to"/>) from the raw data and the ledger.</summary>
    public Task<JobRunResult> RunJobsAsync(DateTimeOffset from, DateTimeOffset to) => Job().RunAsync(from, to, "recompute", default);

    public async ValueTask DisposeAsync()
    {
        Influx.Dispose();
        Sink.Dispose();
        Production?.Dispose();
        await Influxd.DisposeAsync();
    }
}
