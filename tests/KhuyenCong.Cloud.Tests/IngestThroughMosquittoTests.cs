using System.Text;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Tests.Support;
using KhuyenCong.Contracts;
using KhuyenCong.TestSupport;
using KhuyenCong.TestSupport.Pipeline;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Cloud.Tests;

/// <summary>Real mosquitto 2.0.11 → the ingestor → real influxd 1.6.7 over the v1 transport, read back with InfluxQL.</summary>
public sealed class IngestThroughMosquittoTests
{
    [Fact]
    public async Task A_batch_published_through_mosquitto_lands_in_influxd_with_its_exact_values_tags_and_timestamps()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        await using var cloud = await Sample.StartCloudAsync(Sample.IngestYaml(mosquitto, influxd.Url, "exact", "ingestor-exact"), NullLoggerFactory.Instance, "the ingestor connects", () => mosquitto.Output);

        var t = Sample.T0;
        await using (var gw = await TestPublisher.ConnectAsync(mosquitto.Port))
        {
            await gw.PublishAsync(Sample.Batch("bat-trang", "gw-1", 7, t));
            await gw.PublishAsync(Topics.Status("bat-trang", "gw-1"), TelemetryCodec.Encode(new GatewayStatus { State = GatewayStatus.Online, Timestamp = t.AddSeconds(-1) }), retain: true);
        }
        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch + 1, ct), "5 points are written", () => cloud.Ingestor.Stats.ToString());
        await Wait.UntilAsync(() => cloud.Ingestor.Stats.Acknowledgements == 2, "both messages are acknowledged", () => cloud.Ingestor.Stats.ToString());

        using var influx = new InfluxQlClient(influxd.Url, "exact");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh, power_w FROM meter GROUP BY *"));
        Assert.Equal(new Dictionary<string, string> { ["device"] = "kiln1-meter", ["gateway"] = "gw-1", ["kiln"] = "kiln-1", ["site"] = "bat-trang" }, meter.Tags);
        Assert.Equal([t, t.AddSeconds(5)], meter.Times());
        Assert.Equal([10234.5, 10234.52 + 7], meter.Numbers("energy_import_kwh"));
        Assert.Equal([12750.0, null], meter.Numbers("power_w"));

        var kiln = Assert.Single(await influx.QueryAsync("SELECT kiln_temp_c, kiln_running, quality FROM kiln GROUP BY *"));
        Assert.Equal("kiln1-ctl", kiln.Tags["device"]);
        Assert.Equal([t], kiln.Times());
        Assert.Equal([1187.5], kiln.Numbers("kiln_temp_c"));
        Assert.Equal([1.0], kiln.Numbers("kiln_running"));
        Assert.Equal(["uncertain"], kiln.Strings("quality"));

        var gas = Assert.Single(await influx.QueryAsync("SELECT lpg_mass_kg FROM gas GROUP BY *"));
        Assert.Equal(new Dictionary<string, string> { ["device"] = "lpg-scale", ["gateway"] = "gw-1", ["site"] = "bat-trang" }, gas.Tags);
        Assert.Equal([42.25], gas.Numbers("lpg_mass_kg"));

        var status = Assert.Single(await influx.QueryAsync("SELECT online FROM gateway_status GROUP BY *"));
        Assert.Equal(new Dictionary<string, string> { ["gateway"] = "gw-1", ["site"] = "bat-trang" }, status.Tags);
        Assert.Equal([t.AddSeconds(-1)], status.Times());
        Assert.Equal([1.0], status.Numbers("online"));

        // Every field is a float, never an integer or unsigned (InfluxDB 1.x refuses 'u', and one type per field avoids conflicts).
        var types = await influx.QueryAsync("SHOW FIELD KEYS FROM meter");
        Assert.All(Assert.Single(types).Strings("fieldType"), ft => Assert.Equal("float", ft));
        Assert.Equal(0, cloud.Ingestor.Stats.Invalid);
    }

    [Fact]
    public async Task Malformed_messages_are_counted_logged_with_their_reason_and_acknowledged_and_a_valid_message_after_them_still_lands()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        var logs = new ListLogs();
        using var factory = logs.Factory();
        await using var cloud = await Sample.StartCloudAsync(Sample.IngestYaml(mosquitto, influxd.Url, "bad", "ingestor-bad"), factory, "the ingestor connects");

        var good = Encoding.UTF8.GetString(TelemetryCodec.Encode(Sample.Batch("site-a", "gw-1", 1, Sample.T0)));
        var topic = Topics.Telemetry("site-a", "gw-1");
        (string Topic, byte[] Payload, string Reason)[] bad =
        [
            (topic, "not JSON at all"u8.ToArray(), "payload: "),
            (topic, Encoding.UTF8.GetBytes(good.Replace("\"value\":12750", "\"value\":\"12750\"", StringComparison.Ordinal)), "readings[1].value: "),
            (topic, Encoding.UTF8.GetBytes(good.Replace("\"value\":42.25", "\"value\":\"NaN\"", StringComparison.Ordinal)), "readings[4].value: "),
            (topic, Encoding.UTF8.GetBytes(good.Replace("\"power_w\"", "\"power_kw\"", StringComparison.Ordinal)), "readings[1].point: 'power_kw' is not a canonical point name"),
            (Topics.Telemetry("site-b", "gw-1"), Encoding.UTF8.GetBytes(good), "site/gateway: payload says site-a/gw-1 but was published on site-b/gw-1"),
            (topic, [0x7B, 0xFF, 0xFE, 0x7D], "payload: "),
        ];
        await using (var gw = await TestPublisher.ConnectAsync(mosquitto.Port))
        {
            foreach (var (t, p, _) in bad) await gw.PublishAsync(t, p);
            await gw.PublishAsync(topic, Encoding.UTF8.GetBytes(good));
        }

        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch, ct), "the valid message is written", () => cloud.Ingestor.Stats.ToString());
        await Wait.UntilAsync(() => cloud.Ingestor.Stats.Acknowledgements == 7, "every message, bad ones too, is acknowledged", () => cloud.Ingestor.Stats.ToString());
        Assert.Equal(6, cloud.Ingestor.Stats.Invalid);
        Assert.Equal(7, cloud.Ingestor.Stats.Messages);

        var warnings = logs.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.StartsWith("Dead-lettered", StringComparison.Ordinal)).Select(e => e.Message).ToList();
        Assert.Equal(6, warnings.Count);
        foreach (var (t, _, reason) in bad) Assert.Contains(warnings, w => w.StartsWith($"Dead-lettered message on {t}: {reason}", StringComparison.Ordinal));

        using var influx = new InfluxQlClient(influxd.Url, "bad");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter GROUP BY *"));
        Assert.Equal("site-a", meter.Tags["site"]);
        Assert.Equal([10234.5, 10234.52 + 1], meter.Numbers("energy_import_kwh"));
        var rejected = Assert.Single(await influx.QueryAsync($"SELECT reason, topic FROM {Ingest.Ingestor.RejectedMeasurement}"));
        Assert.Equal(6, rejected.Values.Count);
        foreach (var (t, _, reason) in bad) Assert.Contains(rejected.Values, row => row[1].GetString()!.StartsWith(reason, StringComparison.Ordinal) && row[2].GetString() == t);
    }

    [Fact]
    public async Task While_influxd_is_down_nothing_is_acknowledged_and_the_message_lands_when_it_comes_back()
    {
        await using var influxd = await RestartableInfluxd.StartAsync("kc-influx-outage");
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var cloud = await Sample.StartCloudAsync(Sample.IngestYaml(mosquitto, influxd.Url, "outage", "ingestor-outage"), NullLoggerFactory.Instance, "the ingestor connects");
        await using var gw = await TestPublisher.ConnectAsync(mosquitto.Port);
        await gw.PublishAsync(Sample.Batch("site-o", "gw-1", 1, Sample.T0));
        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch, ct), "the first batch is written");
        await Wait.UntilAsync(() => cloud.Ingestor.Stats.Acknowledgements == 1, "the first batch is acknowledged");

        await influxd.Current.StopAsync();
        await gw.PublishAsync(Sample.Batch("site-o", "gw-1", 2, Sample.T0.AddMinutes(1)));
        await Wait.UntilAsync(() => cloud.Ingestor.Stats.WriteFailures >= 2, "writes to the stopped influxd fail and are retried", () => cloud.Ingestor.Stats.ToString());
        Assert.Equal(1, cloud.Ingestor.Stats.Acknowledgements);
        Assert.Equal(Sample.LinesPerBatch, cloud.Ingestor.Stats.PointsWritten);

        await influxd.RestartAsync();
        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(2 * Sample.LinesPerBatch, ct), "the second batch is written after influxd returns", () => cloud.Ingestor.Stats.ToString());
        await Wait.UntilAsync(() => cloud.Ingestor.Stats.Acknowledgements == 2, "the second batch is acknowledged");

        using var influx = new InfluxQlClient(influxd.Url, "outage");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter WHERE site = 'site-o'"));
        Assert.Equal([Sample.T0, Sample.T0.AddSeconds(5), Sample.T0.AddMinutes(1), Sample.T0.AddMinutes(1).AddSeconds(5)], meter.Times());
        Assert.Equal([10234.5, 10234.52 + 1, 10234.5, 10234.52 + 2], meter.Numbers("energy_import_kwh"));
    }

    [Fact]
    public async Task A_message_left_unacknowledged_when_the_ingestor_stops_during_an_outage_is_redelivered_to_its_successor()
    {
        await using var influxd = await RestartableInfluxd.StartAsync("kc-influx-redeliver");
        await using var mosquitto = await MosquittoServer.StartAsync();
        var yaml = Sample.IngestYaml(mosquitto, influxd.Url, "redeliver", "ingestor-redeliver");
        await using (var first = new CloudService(Sample.Config(yaml), NullLoggerFactory.Instance))
        {
            await first.StartAsync(default);
            await Wait.UntilAsync(() => first.Ingestor.IsConnected, "the first ingestor connects");
            await influxd.Current.StopAsync();
            await using var gw = await TestPublisher.ConnectAsync(mosquitto.Port);
            await gw.PublishAsync(Sample.Batch("site-r", "gw-1", 1, Sample.T0));
            await Wait.UntilAsync(() => first.Ingestor.Stats.WriteFailures >= 1, "the first ingestor fails to write", () => first.Ingestor.Stats.ToString());
            Assert.Equal(0, first.Ingestor.Stats.Acknowledgements);
        }

        await influxd.RestartAsync();
        // Same client id: the broker kept the session and the unacknowledged message in it.
        await using var second = new CloudService(Sample.Config(yaml), NullLoggerFactory.Instance);
        await second.StartAsync(default);
        await Wait.ForAsync(ct => second.WaitForPointsAsync(Sample.LinesPerBatch, ct), "the redelivered batch is written", () => second.Ingestor.Stats.ToString());
        await Wait.UntilAsync(() => second.Ingestor.Stats.Acknowledgements == 1, "the redelivered batch is acknowledged");

        using var influx = new InfluxQlClient(influxd.Url, "redeliver");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter"));
        Assert.Equal([10234.5, 10234.52 + 1], meter.Numbers("energy_import_kwh"));
    }

    [Fact]
    public async Task Two_ingestors_in_one_shared_group_split_the_messages_and_every_message_is_written_once()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        const string shared = "  shared_group: ingestors";
        await using var a = new CloudService(Sample.Config(Sample.IngestYaml(mosquitto, influxd.Url, "shared", "ingestor-a", shared)), NullLoggerFactory.Instance);
        await using var b = new CloudService(Sample.Config(Sample.IngestYaml(mosquitto, influxd.Url, "shared", "ingestor-b", shared)), NullLoggerFactory.Instance);
        await a.StartAsync(default);
        await b.StartAsync(default);
        Assert.Equal(["$share/ingestors/kc/v1/+/+/telemetry", "$share/ingestors/kc/v1/+/+/status"], a.Ingestor.Subscriptions);
        await Wait.UntilAsync(() => a.Ingestor.IsConnected && b.Ingestor.IsConnected, "both ingestors connect");

        const int batches = 20;
        await using (var gw = await TestPublisher.ConnectAsync(mosquitto.Port))
        {
            for (var i = 1; i <= batches; i++) await gw.PublishAsync(Sample.Batch("site-s", "gw-1", i, Sample.T0.AddMinutes(i)));
        }
        await Wait.UntilAsync(() => a.Ingestor.Stats.Acknowledgements + b.Ingestor.Stats.Acknowledgements == batches, "every batch is acknowledged by one of them",
            () => $"a: {a.Ingestor.Stats}; b: {b.Ingestor.Stats}");
        Assert.Equal(batches, a.Ingestor.Stats.Messages + b.Ingestor.Stats.Messages);

        using var influx = new InfluxQlClient(influxd.Url, "shared");
        var count = Assert.Single(await influx.QueryAsync("SELECT count(energy_import_kwh) FROM meter"));
        Assert.Equal([2.0 * batches], count.Numbers("count"));
    }

    [Fact]
    public async Task The_ingestor_reconnects_by_itself_after_the_broker_is_killed_and_restarted_on_the_same_port()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        await using var cloud = await Sample.StartCloudAsync(Sample.IngestYaml(mosquitto, influxd.Url, "reconnect", "ingestor-reconnect"), NullLoggerFactory.Instance, "the ingestor connects");

        await mosquitto.KillAsync();
        await Wait.UntilAsync(() => !cloud.Ingestor.IsConnected, "the ingestor notices the broker is gone");
        await mosquitto.StartAgainAsync();
        await Wait.UntilAsync(() => cloud.Ingestor.IsConnected, "the ingestor reconnects", () => mosquitto.Output);

        await using (var gw = await TestPublisher.ConnectAsync(mosquitto.Port))
        {
            await gw.PublishAsync(Sample.Batch("site-k", "gw-1", 1, Sample.T0));
        }
        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch, ct), "the batch sent after the restart is written", () => cloud.Ingestor.Stats.ToString());
        await Wait.UntilAsync(() => cloud.Ingestor.Stats.Acknowledgements == 1, "it is acknowledged");
    }
}
