using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Jobs.Tests;

/// <summary>The jobs inside the cloud service: a background loop configured in cloud.yaml.</summary>
public sealed class JobLoopTests
{
    [Fact]
    public async Task The_service_runs_the_jobs_periodically_over_recent_data_and_records_each_run()
    {
        using var dir = new TempDirectory();
        await using var influxd = await LocalInfluxd.StartAsync(dir.File("influx"));
        var registry = Path.Combine(RepoPaths.Root, "firmware-config", "sites", "sites.yaml");
        var factors = Path.Combine(RepoPaths.Root, "firmware-config", "factors");
        var cfg = CloudConfigLoader.Parse($$"""
            embedded_broker: { bind: 127.0.0.1, port: 0 }
            influx: { url: "{{influxd.Url}}", api: v1, database: live }
            registry: {{registry}}
            factors: {{factors}}
            data_dir: {{dir.File("data")}}
            jobs: { interval: 1s, window: 1d, enabled: true }
            """, dir.File("cloud.yaml"));
        // Twelve hours of history ending now: the service's first runs find it.
        var now = DateTimeOffset.UtcNow;
        using (var sink = CloudService.CreateSink(cfg.Config.Influx, cfg.Dir))
        {
            await sink.PrepareAsync(default);
            using var production = new Cloud.Production.ProductionStore(Path.Combine(dir.File("data"), "production.db"));
            await SimulatedHistory.WriteAsync(sink, SimulatedHistoryTests.DemoGateway, now.AddHours(-12), now, production, new HistoryOptions { PollInterval = TimeSpan.FromSeconds(30) });
        }
        await using var service = new CloudService(cfg, NullLoggerFactory.Instance);
        await service.StartAsync(default);
        Assert.NotNull(service.Jobs);
        using var wait = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await service.Jobs!.WaitForRunsAsync(2, wait.Token);
        Assert.Null(service.Jobs.LastError);

        using var influx = new InfluxQlClient(influxd.Url, "live");
        var runs = (await influx.QueryAsync("SELECT points, from_ms, to_ms, error FROM job_run WHERE job = 'analytics'")).Single();
        Assert.True(runs.Values.Count >= 2);
        Assert.All(runs.Numbers("points"), p => Assert.True(p > 0));
        Assert.All(runs.Strings("error"), e => Assert.Null(e));
        var firings = await influx.QueryAsync("SELECT count(energy_mj) FROM firing WHERE site = 'bat-trang-demo' GROUP BY kiln");
        Assert.Equal(2, firings.Count);
    }
}
