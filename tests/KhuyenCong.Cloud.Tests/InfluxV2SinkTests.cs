using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Contracts;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Cloud.Tests;

/// <summary>The v2 transport (InfluxDB.Client, /api/v2/write) against a real server that speaks it: VictoriaMetrics.</summary>
public sealed class InfluxV2SinkTests
{
    [Fact]
    public async Task The_v2_transport_writes_through_InfluxDB_Client_and_the_points_can_be_read_back()
    {
        await using var vm = await VictoriaMetricsServer.StartAsync();
        var t0 = new DateTimeOffset(2026, 11, 28, 8, 0, 0, 250, TimeSpan.Zero);
        var batch = new TelemetryBatch
        {
            Site = "site-v2",
            Gateway = "gw-1",
            Sequence = 1,
            Sent = t0,
            Devices = [new DeviceInfo { Id = "kiln1-meter", Class = DeviceClasses.Meter, Kiln = "kiln-1" }],
            Readings =
            [
                new Reading { Device = "kiln1-meter", Point = "energy_import_kwh", Timestamp = t0, Value = 10234.5, Unit = "kWh" },
                new Reading { Device = "kiln1-meter", Point = "power_w", Timestamp = t0, Value = 12750, Unit = "W" },
                new Reading { Device = "kiln1-meter", Point = "energy_import_kwh", Timestamp = t0.AddSeconds(5), Value = 10234.52, Unit = "kWh" },
            ],
        };
        var cfg = new InfluxConfig { Url = vm.Url, Api = InfluxApi.V2, Org = "kc", Bucket = "khuyencong" };
        using var sink = new InfluxV2Sink(cfg, token: "unused");
        await sink.WriteAsync(LineProtocol.FromBatch(batch), default);

        var energy = Assert.Single(await vm.ExportAsync("{__name__=\"meter_energy_import_kwh\"}"));
        Assert.Equal("site-v2", energy.Labels["site"]);
        Assert.Equal("gw-1", energy.Labels["gateway"]);
        Assert.Equal("kiln1-meter", energy.Labels["device"]);
        Assert.Equal("kiln-1", energy.Labels["kiln"]);
        Assert.Equal([t0.ToUnixTimeMilliseconds(), t0.AddSeconds(5).ToUnixTimeMilliseconds()], energy.Timestamps);
        Assert.Equal([10234.5, 10234.52], energy.Values);
        var power = Assert.Single(await vm.ExportAsync("{__name__=\"meter_power_w\"}"));
        Assert.Equal([12750.0], power.Values);
    }

    [Fact]
    public async Task A_server_that_is_not_there_is_a_retryable_failure()
    {
        using var nothing = new ClosedPort();
        var cfg = new InfluxConfig { Url = nothing.HttpUrl, Api = InfluxApi.V2, Org = "kc", Bucket = "b", Timeout = TimeSpan.FromSeconds(5) };
        using var sink = new InfluxV2Sink(cfg, token: "t");
        var point = LineProtocol.FromStatus("s", "g", new GatewayStatus { State = GatewayStatus.Online, Timestamp = DateTimeOffset.UtcNow });
        var ex = await Assert.ThrowsAsync<SinkException>(() => sink.WriteAsync([point], default));
        Assert.Equal(SinkFailure.Retry, ex.Kind);
    }
}
