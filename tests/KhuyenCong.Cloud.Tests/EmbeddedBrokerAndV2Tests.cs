using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Tests.Support;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Cloud.Tests;

/// <summary>The cloud process alone: its own MQTT broker, and either transport.</summary>
public sealed class EmbeddedBrokerAndV2Tests
{
    [Fact]
    public async Task The_ingestor_counts_as_connected_only_once_the_broker_has_granted_its_subscriptions()
    {
        // Between CONNACK and SUBACK a first-time session has no subscription: what gateways publish then is dropped by
        // the broker. A broker that holds the SUBSCRIBE shows that the ingestor does not claim to be ready meanwhile.
        await using var influxd = await LocalInfluxd.StartAsync();
        var port = FreePort.Next();
        var subscribing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var grant = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var server = new MQTTnet.Server.MqttServerFactory().CreateMqttServer(
            new MQTTnet.Server.MqttServerFactory().CreateServerOptionsBuilder().WithDefaultEndpoint().WithDefaultEndpointPort(port).Build());
        server.InterceptingSubscriptionAsync += _ =>
        {
            subscribing.TrySetResult();
            return grant.Task;
        };
        await server.StartAsync();
        await using var cloud = new CloudService(Sample.Config($$"""
            mqtt: { url: "mqtt://127.0.0.1:{{port}}", client_id: held-ingestor }
            influx: { url: "{{influxd.Url}}", database: held }
            """), NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Wait.UntilAsync(() => subscribing.Task.IsCompleted, "the ingestor connects and sends its SUBSCRIBE");
        Assert.False(cloud.Ingestor.IsConnected, "the ingestor claims to be connected before its subscriptions are granted");

        grant.SetResult();
        await Wait.UntilAsync(() => cloud.Ingestor.IsConnected, "the ingestor is connected once subscribed");
        await server.StopAsync(new MQTTnet.Server.MqttServerStopOptions());
    }

    [Fact]
    public async Task With_no_broker_configured_the_embedded_broker_on_a_free_port_carries_telemetry_into_influxd()
    {
        await using var influxd = await LocalInfluxd.StartAsync();
        await using var cloud = new CloudService(Sample.Config($$"""
            embedded_broker: { bind: 127.0.0.1, port: 0 }
            influx: { url: "{{influxd.Url}}", database: embedded }
            ingest: { flush_interval: 50ms }
            """), NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        var broker = Assert.IsType<Broker.EmbeddedBroker>(cloud.Broker);
        Assert.NotEqual(0, broker.Port);
        Assert.Equal($"mqtt://127.0.0.1:{broker.Port}", broker.Url);
        await Wait.UntilAsync(() => cloud.Ingestor.IsConnected, "the ingestor connects to the embedded broker");
        Assert.Null(cloud.Ingestor.Stats.LastWrite);
        Assert.EndsWith("last write none", cloud.Ingestor.Stats.ToString(), StringComparison.Ordinal);

        var before = DateTime.UtcNow;
        await using (var gw = await TestPublisher.ConnectAsync(broker.Port))
        {
            await gw.PublishAsync(Sample.Batch("site-e", "gw-9", 3, Sample.T0));
        }
        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch, ct), "the batch is written", () => cloud.Ingestor.Stats.ToString());
        await Wait.UntilAsync(() => cloud.Ingestor.Stats.Acknowledgements == 1, "the message is acknowledged");
        // When InfluxDB last accepted a write: logged with the statistics to the millisecond (the ingest benchmark times drains by it).
        var last = Assert.NotNull(cloud.Ingestor.Stats.LastWrite);
        Assert.InRange(last, before, DateTime.UtcNow);
        Assert.EndsWith($"last write {last:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}", cloud.Ingestor.Stats.ToString(), StringComparison.Ordinal);

        using var influx = new InfluxQlClient(influxd.Url, "embedded");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh, power_w FROM meter GROUP BY *"));
        Assert.Equal(new Dictionary<string, string> { ["device"] = "kiln1-meter", ["gateway"] = "gw-9", ["kiln"] = "kiln-1", ["site"] = "site-e" }, meter.Tags);
        Assert.Equal([Sample.T0, Sample.T0.AddSeconds(5)], meter.Times());
        Assert.Equal([10234.5, 10234.52 + 3], meter.Numbers("energy_import_kwh"));
    }

    [Fact]
    public async Task The_embedded_broker_listens_only_on_the_address_it_was_given()
    {
        await using var broker = new Broker.EmbeddedBroker(System.Net.IPAddress.Loopback, 0, NullLogger.Instance);
        await broker.StartAsync();
        using var v6 = new System.Net.Sockets.TcpClient(System.Net.Sockets.AddressFamily.InterNetworkV6);
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => v6.ConnectAsync(System.Net.IPAddress.IPv6Loopback, broker.Port));
        using var v4 = new System.Net.Sockets.TcpClient();
        await v4.ConnectAsync(System.Net.IPAddress.Loopback, broker.Port);
    }

    [Fact]
    public async Task The_ingestor_writes_through_the_v2_transport_and_the_points_can_be_read_back_from_VictoriaMetrics()
    {
        await using var vm = await VictoriaMetricsServer.StartAsync();
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("influx-token"), "any-token\n");
        File.WriteAllText(dir.File("cloud.yaml"), $$"""
            embedded_broker: { bind: 127.0.0.1, port: 0 }
            influx: { url: "{{vm.Url}}", api: v2, org: khuyencong, bucket: khuyencong, token_file: influx-token }
            ingest: { flush_interval: 50ms }
            """);
        await using var cloud = CloudService.FromFile(dir.File("cloud.yaml"), NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        Assert.IsType<InfluxV2Sink>(cloud.Sink);
        await Wait.UntilAsync(() => cloud.Ingestor.IsConnected, "the ingestor connects");
        await using (var gw = await TestPublisher.ConnectAsync(cloud.Broker!.Port))
        {
            await gw.PublishAsync(Sample.Batch("site-v2", "gw-1", 4, Sample.T0));
        }
        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch, ct), "the batch is written", () => cloud.Ingestor.Stats.ToString());

        var energy = Assert.Single(await vm.ExportAsync("{__name__=\"meter_energy_import_kwh\",site=\"site-v2\"}"));
        Assert.Equal(new Dictionary<string, string> { ["__name__"] = "meter_energy_import_kwh", ["device"] = "kiln1-meter", ["gateway"] = "gw-1", ["kiln"] = "kiln-1", ["site"] = "site-v2" }, energy.Labels);
        Assert.Equal([Sample.T0.ToUnixTimeMilliseconds(), Sample.T0.AddSeconds(5).ToUnixTimeMilliseconds()], energy.Timestamps);
        Assert.Equal([10234.5, 10234.52 + 4], energy.Values);
        var temp = Assert.Single(await vm.ExportAsync("{__name__=\"kiln_kiln_temp_c\"}"));
        Assert.Equal([1187.5], temp.Values);
        var gas = Assert.Single(await vm.ExportAsync("{__name__=\"gas_lpg_mass_kg\"}"));
        Assert.False(gas.Labels.ContainsKey("kiln"));
        Assert.Equal([42.25], gas.Values);
    }
}
