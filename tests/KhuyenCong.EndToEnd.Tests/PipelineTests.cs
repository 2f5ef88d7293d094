using System.Text;
using System.Text.Json;
using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Contracts;
using KhuyenCong.Edge;
using KhuyenCong.Simulator;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;

namespace KhuyenCong.EndToEnd.Tests;

/// <summary>
/// The foundation pipeline against real servers: simulator (Modbus TCP) → edge agent → mosquitto or the embedded
/// broker → ingestor → influxd 1.6 (v1 transport), read back with InfluxQL.
/// </summary>
public sealed class PipelineTests
{

    [Fact]
    public async Task Values_served_by_the_simulator_arrive_in_InfluxDB_unchanged_with_their_tags_and_timestamps()
    {
        await using var influxd = await LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        using var dir = new TempDirectory();
        var gw = TestGateway.Write(dir, mosquitto.Url, FreePort.Next());

        // Time stands still in the simulator, so every poll sees exactly the values it serves now.
        await using var sim = new SimulatorHost(gw, timeScale: 0);
        sim.Advance(TimeSpan.FromHours(3)); // both kilns are firing by now
        await sim.StartAsync(default);

        var cloudCfg = CloudConfigLoader.Parse($$"""
            mqtt: { url: "{{mosquitto.Url}}", client_id: e2e-ingestor }
            influx: { url: "{{influxd.Url}}", api: v1, database: e2e }
            """, "test cloud config");
        await using var cloud = new CloudService(cloudCfg, NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects");
        await using var tap = await TelemetryTap.StartAsync(mosquitto.Port);

        await using (var agent = new EdgeAgent(gw, NullLoggerFactory.Instance))
        {
            using var stop = new CancellationTokenSource();
            var run = agent.RunAsync(stop.Token);
            await Eventually.Until(() => tap.Readings.GroupBy(r => (r.Device, r.Timestamp)).Count() >= 12, "at least 12 device polls are published");
            await stop.CancelAsync();
            await run;
        }

        var published = tap.Readings;
        var lines = published.Select(r => (r.Device, r.Timestamp)).Distinct().Count();
        using var influx = new InfluxQlClient(influxd.Url, "e2e");
        IReadOnlyList<Series> stored = [];
        await Eventually.Until(async () =>
        {
            stored = await influx.QueryAsync($"SELECT * FROM meter, kiln, gas WHERE site = '{TestGateway.Site}'");
            return stored.Sum(s => s.Values.Count) >= lines;
        }, $"InfluxDB holds all {lines} published lines");

        Assert.Equal(lines, stored.Sum(s => s.Values.Count));
        var rows = Index(stored);
        var devices = gw.Config.Devices.ToDictionary(d => d.Id);
        foreach (var r in published)
        {
            var key = (r.Device, r.Timestamp.ToUnixTimeMilliseconds());
            Assert.True(rows.TryGetValue(key, out var row), $"no row for {r.Device} at {r.Timestamp:O}");
            var d = devices[r.Device];
            Assert.Equal(gw.ProfilesByDevice[r.Device].Profile.Class, row.Measurement);
            Assert.Equal(TestGateway.Site, row.Tags["site"]);
            Assert.Equal(TestGateway.Gateway, row.Tags["gateway"]);
            Assert.Equal(d.Kiln, row.Tags["kiln"]);
            Assert.Equal(r.Value, row.Fields[r.Point]);
            // … and exactly what the simulator's registers hold, decoded as the profile says.
            Assert.Equal(sim.Served(r.Device, r.Point), row.Fields[r.Point]);
        }
        // Every point of every profile made the trip.
        foreach (var d in gw.Config.Devices)
        {
            var points = published.Where(r => r.Device == d.Id).Select(r => r.Point).ToHashSet();
            Assert.Equal(gw.ProfilesByDevice[d.Id].Profile.Points.Select(p => p.Name).ToHashSet(), points);
        }
        // The simulated kilns are mid-firing: hot and running.
        Assert.InRange(sim.Served("kiln1-ctl", "kiln_temp_c"), 300, 1300);
        Assert.Equal(1, sim.Served("kiln1-ctl", "kiln_running"));
        Assert.Equal(0, cloud.Ingestor.Stats.Invalid);
    }

    [Fact]
    public async Task The_embedded_broker_carries_the_pipeline_when_no_broker_is_configured()
    {
        await using var influxd = await LocalInfluxd.StartAsync();
        using var dir = new TempDirectory();
        var brokerPort = FreePort.Next();
        var gw = TestGateway.Write(dir, $"mqtt://127.0.0.1:{brokerPort}", FreePort.Next());
        await using var sim = new SimulatorHost(gw, timeScale: 600);
        sim.Advance(TimeSpan.FromHours(2)); // kiln 1 is firing: its meter counts
        await sim.StartAsync(default);

        var cloudCfg = CloudConfigLoader.Parse($$"""
            embedded_broker: { bind: 127.0.0.1, port: {{brokerPort}} }
            influx: { url: "{{influxd.Url}}", api: v1, database: embedded }
            """, "test cloud config");
        await using var cloud = new CloudService(cloudCfg, NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        Assert.NotNull(cloud.Broker);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects");

        await using var agent = new EdgeAgent(gw, NullLoggerFactory.Instance);
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(stop.Token);
        using var influx = new InfluxQlClient(influxd.Url, "embedded");
        var last = "";
        await Eventually.Until(async () =>
        {
            var s = await influx.QueryAsync("SELECT count(energy_import_kwh) FROM meter; SELECT count(kiln_temp_c) FROM kiln; SELECT count(lpg_mass_kg) FROM gas; SELECT last(online) FROM gateway_status");
            last = string.Join(" | ", s.Select(x => $"{x.Name}: {string.Join(",", x.Values.Select(v => string.Join(" ", v)))}")) + $" | ingest: {cloud.Ingestor.Stats} | edge published {agent.Publisher.Published}, outbox {agent.Outbox.Stats()}, link {agent.Link.IsConnected}";
            return s.Count == 4 && s.Take(3).All(x => x.Numbers("count").Single() >= 3);
        }, () => $"meter, kiln, gas and gateway status data arrive through the embedded broker (last seen: {last})");
        await stop.CancelAsync();
        await run;

        // Counters only grow while time runs.
        var energy = (await influx.QueryAsync("SELECT energy_import_kwh FROM meter WHERE device = 'kiln1-meter'")).Single().Numbers("energy_import_kwh").Select(v => v!.Value).ToList();
        Assert.True(energy.Zip(energy.Skip(1)).All(p => p.Second >= p.First), "the energy counter went backwards");
        Assert.True(energy[^1] > energy[0], "the energy counter did not grow while the kiln fired");
    }

    [Fact]
    public async Task Malformed_payloads_are_counted_and_dead_lettered_with_their_reason_and_do_not_stop_ingestion()
    {
        await using var influxd = await LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        var cloudCfg = CloudConfigLoader.Parse($$"""
            mqtt: { url: "{{mosquitto.Url}}", client_id: bad-input-ingestor }
            influx: { url: "{{influxd.Url}}", api: v1, database: bad }
            """, "test cloud config");
        await using var cloud = new CloudService(cloudCfg, NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects");

        var topic = Topics.Telemetry("site-a", "gw-1");
        var ts = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var good = new TelemetryBatch
        {
            Site = "site-a",
            Gateway = "gw-1",
            Sequence = 7,
            Sent = ts,
            Devices = [new DeviceInfo { Id = "m1", Class = DeviceClasses.Meter, Kiln = "k1" }],
            Readings = [new Reading { Device = "m1", Point = "energy_import_kwh", Timestamp = ts, Value = 1234.5, Unit = "kWh" }],
        };
        var goodJson = Encoding.UTF8.GetString(TelemetryCodec.Encode(good));
        var bad = new (string Payload, string Reason)[]
        {
            ("this is not json", "payload"),
            (goodJson.Replace("1234.5", "\"NaN\"", StringComparison.Ordinal), "readings[0].value"),
            (goodJson.Replace("energy_import_kwh", "energy_imported", StringComparison.Ordinal), "readings[0].point"),
            (goodJson.Replace("\"site\":\"site-a\"", "\"site\":\"site-b\"", StringComparison.Ordinal), "site/gateway"),
        };

        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", mosquitto.Port).Build());
        foreach (var (payload, _) in bad)
            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload([0xC3, 0x28, 0xFF]).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(goodJson).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());

        using var influx = new InfluxQlClient(influxd.Url, "bad");
        await Eventually.Until(async () => (await influx.QueryAsync("SELECT energy_import_kwh FROM meter")).Count == 1, "the valid batch after the bad ones is written");
        var stored = (await influx.QueryAsync("SELECT energy_import_kwh FROM meter")).Single();
        Assert.Equal([1234.5], stored.Numbers("energy_import_kwh"));
        Assert.Equal(5, cloud.Ingestor.Stats.Invalid);

        var rejected = (await influx.QueryAsync("SELECT reason, payload FROM rejected")).Single();
        var reasons = rejected.Values.Select(v => v[rejected.Column("reason")].GetString()!).ToList();
        Assert.Equal(5, reasons.Count);
        foreach (var (payload, place) in bad)
        {
            Assert.Contains(reasons, r => r.StartsWith(place, StringComparison.Ordinal));
        }
        Assert.Contains(rejected.Values, v => v[rejected.Column("payload")].GetString() == "this is not json");
        Assert.Contains(rejected.Values, v => v[rejected.Column("payload")].GetString()!.StartsWith("base64:", StringComparison.Ordinal));
    }

    private sealed record Row(string Measurement, IReadOnlyDictionary<string, string> Tags, IReadOnlyDictionary<string, double> Fields);

    private static readonly HashSet<string> TagNames = ["site", "gateway", "device", "kiln"];

    private static Dictionary<(string Device, long Ms), Row> Index(IReadOnlyList<Series> series)
    {
        var rows = new Dictionary<(string, long), Row>();
        foreach (var s in series)
        {
            foreach (var v in s.Values)
            {
                var tags = new Dictionary<string, string>();
                var fields = new Dictionary<string, double>();
                for (var i = 1; i < s.Columns.Count; i++)
                {
                    if (v[i].ValueKind == JsonValueKind.Null) continue;
                    if (TagNames.Contains(s.Columns[i])) tags[s.Columns[i]] = v[i].GetString()!;
                    else if (v[i].ValueKind == JsonValueKind.Number) fields[s.Columns[i]] = v[i].GetDouble();
                }
                rows[(tags["device"], v[0].GetInt64())] = new Row(s.Name, tags, fields);
            }
        }
        return rows;
    }
}
