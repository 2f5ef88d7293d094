using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Edge;
using KhuyenCong.Edge.Config;
using KhuyenCong.Simulator;
using KhuyenCong.TestSupport;
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
        var brokerPort = FreePort.Next();
        var busPort = FreePort.Next();
        var path = dir.File("gateway.yaml");
        File.WriteAllText(path, $$"""
            site: {{site}}
            gateway: {{Gateway}}
            profiles_dir: {{RepoPaths.Devices}}
            mqtt: { url: "mqtt://127.0.0.1:{{brokerPort}}" }
            outbox: { path: outbox.db, commit_interval: 100ms }
            publish: { max_batch: 200, interval: 200ms, health_interval: 1s }
            buses:
              - { id: lan, type: tcp, host: 127.0.0.1, port: {{busPort}} }
            devices:
              - { id: main-meter, bus: lan, profile: eastron-sdm630, unit: 1, poll_interval: 500ms }
              - { id: kiln1-meter, bus: lan, profile: eastron-sdm630, unit: 2, poll_interval: 500ms, kiln: kiln-1 }
              - { id: kiln1-ctl, bus: lan, profile: autonics-tk, unit: 3, poll_interval: 500ms, kiln: kiln-1 }
              - { id: kiln2-ctl, bus: lan, profile: autonics-tk, unit: 4, poll_interval: 500ms, kiln: kiln-2 }
              - { id: kiln2-lpg, bus: lan, profile: generic-loadcell-transmitter, unit: 5, poll_interval: 500ms, kiln: kiln-2 }
            """);
        var gw = GatewayConfigLoader.Load(path);

        // Ten simulated minutes per second, started three hours in: both kilns are firing, the scale's mass falls.
        await using var sim = new SimulatorHost(gw, timeScale: 600);
        sim.Advance(TimeSpan.FromHours(3));
        await sim.StartAsync(default);

        var cloudCfg = CloudConfigLoader.Parse($$"""
            embedded_broker: { bind: 127.0.0.1, port: {{brokerPort}} }
            influx: { url: "{{influxUrl}}", api: v1, database: {{database}} }
            """, "dashboard test cloud config");
        await using var cloud = new CloudService(cloudCfg, NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects to the embedded broker");

        using var influx = new InfluxQlClient(influxUrl, database);
        await using (var agent = new EdgeAgent(gw, NullLoggerFactory.Instance))
        {
            using var stop = new CancellationTokenSource();
            var run = agent.RunAsync(stop.Token);
            var last = "";
            await Eventually.Until(async () =>
            {
                var s = await influx.QueryAsync($"SELECT count(energy_import_kwh) FROM meter WHERE gateway = '{Gateway}' GROUP BY device; SELECT count(kiln_temp_c) FROM kiln WHERE gateway = '{Gateway}' GROUP BY device; SELECT count(lpg_mass_kg) FROM gas WHERE gateway = '{Gateway}' GROUP BY device; SELECT last(online) FROM gateway_status WHERE gateway = '{Gateway}'");
                last = string.Join(", ", s.Select(x => $"{x.Name} {string.Join(" ", x.Tags.Values)}: {string.Join(" ", x.Values.Select(v => v[1]))}"));
                return s.Count(x => x.Name != "gateway_status") == gw.Config.Devices.Count
                    && s.Where(x => x.Name != "gateway_status").All(x => x.Numbers("count").Single() >= pollsPerDevice)
                    && s.Any(x => x.Name == "gateway_status");
            }, () => $"every device of the live workshop has {pollsPerDevice} readings in InfluxDB and the gateway's birth is stored (last seen: {last})");
            await stop.CancelAsync();
            await run;
        }
        var lastTime = await influx.QueryAsync($"SELECT last(kiln_temp_c) FROM kiln WHERE gateway = '{Gateway}'");
        return lastTime.Single().Times().Single();
    }
}
