using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.TestSupport;
using KhuyenCong.TestSupport.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Dashboards.Tests.Seeding;

/// <summary>
/// A short run of the real pipeline into influxd: the simulator serves a workshop (site main meter, an electric kiln with
/// its sub-meter and controller, an LPG kiln with its controller and scale) as Modbus TCP devices, the edge agent polls them
/// and publishes over MQTT to the cloud service's embedded broker, and the ingestor writes InfluxDB — including the
/// gateway's birth message (gateway_status). This is the "live" data the operator's panels show.
/// </summary>
public static class LivePipeline
{
    public const string Gateway = "gw-live-01";

    /// <summary>Runs until every device has at least <paramref name="pollsPerDevice"/> readings stored; returns the time of the last one.</summary>
    public static async Task<DateTimeOffset> RunAsync(string influxUrl, string database, string site, int pollsPerDevice = 8)
    {
        using var dir = new TempDirectory("kc-dash-live");
        var cloudCfg = CloudConfigLoader.Parse($$"""
            embedded_broker: { bind: 127.0.0.1, port: 0 }
            influx: { url: "{{influxUrl}}", api: v1, database: {{database}} }
            """, "dashboard test cloud config");
        await using var cloud = new CloudService(cloudCfg, NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects to the embedded broker");

        using var influx = new InfluxQlClient(influxUrl, database);
        // Ten simulated minutes per second, started three hours in: both kilns are firing, the scale's mass falls.
        await using (var workshop = await LiveWorkshop.StartAsync(dir.Path, new()
        {
            Site = site,
            Gateway = Gateway,
            BrokerPort = cloud.Broker!.Port,
            PollInterval = "500ms",
            GasPollInterval = "500ms",
            CommitInterval = "100ms",
            Publish = "{ max_batch: 200, interval: 200ms, health_interval: 1s }",
            TimeScale = 600,
            StartAt = TimeSpan.FromHours(3),
        }))
        {
            var last = "";
            await Eventually.Until(async () =>
            {
                var s = await influx.QueryAsync($"SELECT count(energy_import_kwh) FROM meter WHERE gateway = '{Gateway}' GROUP BY device; SELECT count(kiln_temp_c) FROM kiln WHERE gateway = '{Gateway}' GROUP BY device; SELECT count(lpg_mass_kg) FROM gas WHERE gateway = '{Gateway}' GROUP BY device; SELECT last(online) FROM gateway_status WHERE gateway = '{Gateway}'");
                last = string.Join(", ", s.Select(x => $"{x.Name} {string.Join(" ", x.Tags.Values)}: {string.Join(" ", x.Values.Select(v => v[1]))}"));
                return s.Count(x => x.Name != "gateway_status") == workshop.Gateway.Config.Devices.Count
                    && s.Where(x => x.Name != "gateway_status").All(x => x.Numbers("count").Single() >= pollsPerDevice)
                    && s.Any(x => x.Name == "gateway_status");
            }, () => $"every device of the live workshop has {pollsPerDevice} readings in InfluxDB and the gateway's birth is stored (last seen: {last})");
            await workshop.StopAsync();
        }
        var lastTime = await influx.QueryAsync($"SELECT last(kiln_temp_c) FROM kiln WHERE gateway = '{Gateway}'");
        return lastTime.Single().Times().Single();
    }
}
