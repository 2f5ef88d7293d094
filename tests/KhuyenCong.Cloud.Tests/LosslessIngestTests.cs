using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Tests.Support;
using KhuyenCong.TestSupport;
using KhuyenCong.TestSupport.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Cloud.Tests;

/// <summary>
/// Nothing is lost when InfluxDB or the ingestor goes away in the middle of a stream, and several ingestors in one shared
/// group write every reading once. Real mosquitto (persistence in a temp dir) and real influxd on free ports; each test
/// sends a known set of batches with distinct timestamps and checks the stored set exactly (<see cref="Fleet"/>).
/// </summary>
public sealed class LosslessIngestTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    /// <summary>Each gateway publishes its batches from its own MQTT client, gateways in parallel, at QoS 1.</summary>
    private static async Task PublishAsync(MosquittoServer broker, Fleet fleet, int from, int to, TimeSpan? pause = null)
    {
        await Task.WhenAll(Enumerable.Range(0, fleet.Gateways).Select(async g =>
        {
            await using var gw = await TestPublisher.ConnectAsync(broker.Port, $"{fleet.Site}-{Fleet.GatewayId(g)}");
            for (var i = from; i < to; i++)
            {
                await gw.PublishAsync(fleet.Batch(g, i));
                if (pause is { } p) await Task.Delay(p);
            }
        }));
    }

    [Fact]
    public async Task InfluxDB_killed_for_30_seconds_while_gateways_publish_loses_nothing_and_the_backlog_drains_when_it_returns()
    {
        await using var influxd = await RestartableInfluxd.StartAsync("kc-influx-30s");
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var cloud = new CloudService(Sample.Config(Sample.IngestYaml(mosquitto, influxd.Url, "outage30", "ingestor-outage30")), NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects");
        var fleet = new Fleet("site-outage", gateways: 4, batchesPerGateway: 120);

        // Before the outage: the first 20 batches of each gateway are written and acknowledged.
        await PublishAsync(mosquitto, fleet, 0, 20);
        await Eventually.Until(() => cloud.Ingestor.Stats.Acknowledgements == 4 * 20, () => $"the first 80 batches are acknowledged ({cloud.Ingestor.Stats})", Patience);
        var ackedBefore = cloud.Ingestor.Stats.Acknowledgements;

        // InfluxDB crashes. The gateways keep publishing for at least 30 s of outage.
        influxd.Current.Kill();
        var down = DateTime.UtcNow;
        await PublishAsync(mosquitto, fleet, 20, 100, pause: TimeSpan.FromMilliseconds(300));
        var outage = TimeSpan.FromSeconds(30) - (DateTime.UtcNow - down);
        if (outage > TimeSpan.Zero) await Task.Delay(outage); // the issue asks for an outage of 30 s: this is its length, not a speed check
        Assert.True(cloud.Ingestor.Stats.WriteFailures >= 2, $"writes to the dead influxd failed and were retried: {cloud.Ingestor.Stats}");
        Assert.Equal(ackedBefore, cloud.Ingestor.Stats.Acknowledgements); // nothing acknowledged while InfluxDB was down

        await influxd.RestartAsync();
        await PublishAsync(mosquitto, fleet, 100, 120);

        using var influx = new InfluxQlClient(influxd.Url, "outage30");
        await Eventually.Until(async () => await fleet.StoredAsync(influx) == fleet.Total, () => $"all {fleet.Total} batches are stored ({cloud.Ingestor.Stats})", Patience);
        await fleet.AssertEveryReadingStoredOnceAsync(influx);
        await Eventually.Until(() => cloud.Ingestor.Stats.Acknowledgements >= fleet.Total, () => $"every batch is acknowledged ({cloud.Ingestor.Stats})", Patience);
        Assert.Equal(0, cloud.Ingestor.Stats.Invalid + cloud.Ingestor.Stats.Rejected);
    }

    [Fact]
    public async Task The_ingestor_process_killed_with_SIGKILL_mid_stream_and_restarted_with_the_same_client_id_loses_nothing()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        using var dir = new TempDirectory("kc-cloud-kill");
        var config = dir.File("cloud.yaml");
        // Small writes; after the first 4, influxd (behind a server that holds writes) stops answering, so the kill
        // certainly lands while writes are under way: messages received, not yet in InfluxDB, not acknowledged.
        await using var slow = InfluxProxy.Start(influxd.Url, _ => null, holdFrom: 4);
        await File.WriteAllTextAsync(config, Sample.IngestYaml(mosquitto, slow.Url, "killed", "ingestor-killed", extraIngest: "  batch_points: 20"));
        var exe = Path.Combine(AppContext.BaseDirectory, "kc-cloud");
        var fleet = new Fleet("site-kill", gateways: 4, batchesPerGateway: 150);
        using var influx = new InfluxQlClient(influxd.Url, "killed");

        long storedAtKill;
        await using (var first = ExternalProcess.Start(exe, ["run", "--config", config]))
        {
            await Eventually.Until(() => first.Output.Contains("Ingestor connected", StringComparison.Ordinal) || first.HasExited, "kc-cloud connects");
            Assert.False(first.HasExited, first.Output);
            var publishing = PublishAsync(mosquitto, fleet, 0, 75);
            await Eventually.Until(async () => await fleet.StoredAsync(influx) > 0 && slow.Held > 0, () => $"kc-cloud has written and has writes under way. {slow.Describe()} {first.Output}", Patience);
            // The held writes never reach influxd: what the ingestor had under way at the kill is lost on the InfluxDB
            // side too, and only the broker's redelivery can bring it back.
            slow.RefuseWrites = true;
            first.Kill(); // SIGKILL: no clean disconnect, nothing flushed, in-flight messages unacknowledged
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
            storedAtKill = await fleet.StoredAsync(influx);
            await publishing;
        }
        // The gateways go on while no ingestor runs: the broker queues for the ingestor's session.
        await PublishAsync(mosquitto, fleet, 75, 150);
        Assert.InRange(storedAtKill, 1, fleet.Total / 2); // the kill happened in the middle of the stream
        var lostAtKill = slow.Writes.Where(w => w.Status == 503).Sum(w => w.Lines);
        Assert.True(lostAtKill > 0, slow.Describe());

        slow.PassAll();
        await using var second = ExternalProcess.Start(exe, ["run", "--config", config]);
        await Eventually.Until(async () => await fleet.StoredAsync(influx) == fleet.Total, () => $"all {fleet.Total} batches are stored after the restart (had {storedAtKill} at the kill, {lostAtKill} lines under way then never reached influxd). {second.Output}", Patience);
        await fleet.AssertEveryReadingStoredOnceAsync(influx);
        Assert.Contains("session present: True", second.Output, StringComparison.Ordinal);
        await second.StopAsync();
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("invalid 0, ", second.Output, StringComparison.Ordinal);
        Assert.Contains("rejected 0, ", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_ingestors_in_one_shared_group_each_take_part_of_a_large_load_and_together_store_every_reading_once()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        const string shared = "  shared_group: kc-ingest";
        await using var a = new CloudService(Sample.Config(Sample.IngestYaml(mosquitto, influxd.Url, "sharedload", "ingestor-la", shared)), NullLoggerFactory.Instance);
        await using var b = new CloudService(Sample.Config(Sample.IngestYaml(mosquitto, influxd.Url, "sharedload", "ingestor-lb", shared)), NullLoggerFactory.Instance);
        await a.StartAsync(default);
        await b.StartAsync(default);
        await Eventually.Until(() => a.Ingestor.IsConnected && b.Ingestor.IsConnected, "both ingestors connect");

        var fleet = new Fleet("site-shared", gateways: 8, batchesPerGateway: 150);
        await PublishAsync(mosquitto, fleet, 0, fleet.BatchesPerGateway);

        using var influx = new InfluxQlClient(influxd.Url, "sharedload");
        string Stats() => $"a: {a.Ingestor.Stats}; b: {b.Ingestor.Stats}";
        await Eventually.Until(async () => await fleet.StoredAsync(influx) == fleet.Total, () => $"all {fleet.Total} batches are stored ({Stats()})", Patience);
        await Eventually.Until(() => a.Ingestor.Stats.Acknowledgements + b.Ingestor.Stats.Acknowledgements == fleet.Total, () => $"every batch is acknowledged once ({Stats()})", Patience);
        await fleet.AssertEveryReadingStoredOnceAsync(influx);
        // The group shares the load: each instance received a part of it, and no message went to both.
        Assert.True(a.Ingestor.Stats.Messages > 0 && b.Ingestor.Stats.Messages > 0, Stats());
        Assert.Equal(fleet.Total, a.Ingestor.Stats.Messages + b.Ingestor.Stats.Messages);
        Assert.Equal(2L * fleet.Total, a.Ingestor.Stats.Readings + b.Ingestor.Stats.Readings);
    }
}
