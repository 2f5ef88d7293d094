using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Tests.Support;
using KhuyenCong.Contracts;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging;
using MQTTnet;

namespace KhuyenCong.Cloud.Tests;

/// <summary>
/// Real mosquitto 2.0 with passwords and the ACL generated from the registry, the ingestor, and real influxd: a gateway
/// writes only its own site, whatever it tries; what slips through anyway is refused by the ingestor.
/// </summary>
public sealed class SecureMosquittoTests
{
    private static Task<MosquittoServer> StartSecuredAsync(string extraAcl = "") => MosquittoServer.StartWithConfigAsync(m =>
    {
        Secure.WriteFiles(m.Directory, ("forger", "pw-forger-1"));
        // A line hashed by this project, not by mosquitto_passwd: mosquitto must accept it as its own.
        File.AppendAllText(Path.Combine(m.Directory, "passwd"), Broker.MosquittoPasswordFile.HashLine("hashed-here", "pw-hashed-here") + "\n");
        if (extraAcl.Length > 0) File.AppendAllText(Path.Combine(m.Directory, "acl"), extraAcl);
        return $"""
            per_listener_settings false
            allow_anonymous false
            password_file {m.Directory}/passwd
            acl_file {m.Directory}/acl
            listener {m.Port} 127.0.0.1
            persistence true
            persistence_location {m.Directory}/
            max_queued_messages 1000000
            log_dest file {m.Directory}/mosquitto.log
            log_type error
            log_type warning
            """;
    });

    private static string CloudYaml(MosquittoServer m, string influxUrl, string db, string clientId, string extraMqtt = "") => $$"""
        mqtt:
          url: {{m.Url}}
          client_id: {{clientId}}
          username: ingestor
          password_file: {{m.Directory}}/ingestor-password
        {{extraMqtt}}
        influx: { url: "{{influxUrl}}", database: {{db}} }
        registry: {{m.Directory}}/sites.yaml
        ingest: { flush_interval: 50ms }
        """;

    [Fact]
    public async Task Through_mosquitto_with_the_generated_ACL_gateway_A_cannot_write_site_B_but_writes_its_own_and_a_wrong_password_is_refused()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await StartSecuredAsync();
        await using var influxd = await influxdStart;
        var logs = new ListLogs();
        using var factory = logs.Factory();
        // Shared subscription, as several ingestors use it: the ACL's `topic read kc/v1/#` must allow $share/… too.
        await using var cloud = await Sample.StartCloudAsync(CloudYaml(mosquitto, influxd.Url, "acl", "ingestor-acl", "  shared_group: ingestors"), factory, "the ingestor logs in and subscribes", () => mosquitto.Output + string.Join('\n', logs.Entries));
        await using var spy = await Client.SpyAsync(mosquitto.Port);

        // Wrong password, unknown user, anonymous: refused.
        foreach (var (user, password) in new (string?, string?)[] { (Secure.GatewayA, Secure.PasswordB), ("gw-x", "whatever"), (null, null) })
        {
            await using var refused = await Client.ConnectAsync(mosquitto.Port, user, password, "refused-" + (user ?? "anon"), expectSuccess: false);
            Assert.NotEqual(MqttClientConnectResultCode.Success, refused.Connection!.ResultCode);
            Assert.False(refused.IsConnected);
        }

        await using (var hashedHere = await Client.ConnectAsync(mosquitto.Port, "hashed-here", "pw-hashed-here", "hashed-here"))
            Assert.True(hashedHere.IsConnected);
        await using (var wrong = await Client.ConnectAsync(mosquitto.Port, "hashed-here", "pw-hashed-her", "hashed-here-wrong", expectSuccess: false))
            Assert.NotEqual(MqttClientConnectResultCode.Success, wrong.Connection!.ResultCode);

        await using var gwA = await Client.ConnectAsync(mosquitto.Port, Secure.GatewayA, Secure.PasswordA, "kc-edge-site-a-gw-a");
        // Into site B, as itself or as gateway B, and outside the gateway topics: not delivered to anyone.
        string[] forbidden = [Topics.Telemetry(Secure.SiteB, Secure.GatewayA), Topics.Telemetry(Secure.SiteB, Secure.GatewayB), Topics.Status(Secure.SiteB, Secure.GatewayB), "kc/v1/site-a/gw-a/commands"];
        foreach (var t in forbidden)
        {
            Assert.True(gwA.IsConnected, $"denied publishes must not cost the gateway its connection (before {t}): {gwA.LastDisconnect}");
            var r = await gwA.PublishAsync(t, Secure.Telemetry(Secure.SiteB, Secure.GatewayB, 1));
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, r.ReasonCode);
        }
        // A gateway reads nothing, not even its neighbour's data. (mosquitto 2.0.11 grants the subscription and then
        // checks the ACL on every delivery, so the proof is below: gateway A receives nothing.)
        await gwA.SubscribeAsync("kc/v1/#");

        // Its own site: delivered and stored.
        var own = await gwA.PublishAsync(Topics.Telemetry(Secure.SiteA, Secure.GatewayA), Secure.Telemetry(Secure.SiteA, Secure.GatewayA, 2));
        Assert.True(own.IsSuccess, own.ReasonCode.ToString());
        await using var gwB = await Client.ConnectAsync(mosquitto.Port, Secure.GatewayB, Secure.PasswordB, "kc-edge-site-b-gw-b");
        Assert.True((await gwB.PublishAsync(Topics.Telemetry(Secure.SiteB, Secure.GatewayB), Secure.Telemetry(Secure.SiteB, Secure.GatewayB, 3))).IsSuccess);

        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(2 * Sample.LinesPerBatch, ct), "both gateways' own batches are written", () => cloud.Ingestor.Stats.ToString());
        await Wait.UntilAsync(() => spy.Received.Count >= 2, "the spy gets both allowed messages");
        Assert.Equal([Topics.Telemetry(Secure.SiteA, Secure.GatewayA), Topics.Telemetry(Secure.SiteB, Secure.GatewayB)], spy.Received.Order());
        Assert.Empty(gwA.Received);
        Assert.Equal(2, cloud.Ingestor.Stats.Messages);
        Assert.Equal(0, cloud.Ingestor.Stats.Unauthorized);

        using var influx = new InfluxQlClient(influxd.Url, "acl");
        var meters = await influx.QueryAsync("SELECT energy_import_kwh FROM meter GROUP BY site, gateway");
        Assert.Equal(["site-a/gw-a", "site-b/gw-b"], meters.Select(s => $"{s.Tags["site"]}/{s.Tags["gateway"]}").Order());
        // Gateway B's data is its own batch (seq 3) only: the forged seq 1 never arrived.
        Assert.Equal([10234.5, 10234.52 + 3], meters.Single(s => s.Tags["site"] == "site-b").Numbers("energy_import_kwh"));
        Assert.Empty(await influx.QueryAsync($"SELECT * FROM {Ingest.Ingestor.RejectedMeasurement}"));
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(Secure.IngestorPassword, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_forged_message_that_reaches_the_ingestor_anyway_is_dead_lettered_as_unauthorized_and_counted()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        // A user the ACL lets write anything: a broker misconfiguration, or a stolen broker login.
        await using var mosquitto = await StartSecuredAsync("\nuser forger\ntopic write kc/v1/#\n");
        await using var influxd = await influxdStart;
        var logs = new ListLogs();
        using var factory = logs.Factory();
        await using var cloud = await Sample.StartCloudAsync(CloudYaml(mosquitto, influxd.Url, "forged", "ingestor-forged"), factory, "the ingestor connects", () => mosquitto.Output);

        await using (var forger = await Client.ConnectAsync(mosquitto.Port, "forger", "pw-forger-1", "forger"))
        {
            // Gateway A writing site B, with a payload that agrees with the topic.
            Assert.True((await forger.PublishAsync(Topics.Telemetry(Secure.SiteB, Secure.GatewayA), Secure.Telemetry(Secure.SiteB, Secure.GatewayA, 1))).IsSuccess);
            // A gateway nobody registered.
            Assert.True((await forger.PublishAsync(Topics.Status(Secure.SiteB, "gw-x"), TelemetryCodec.Encode(new GatewayStatus { State = GatewayStatus.Online, Timestamp = Sample.T0 }))).IsSuccess);
            // The right topic for gateway A, but a payload claiming site B.
            Assert.True((await forger.PublishAsync(Topics.Telemetry(Secure.SiteA, Secure.GatewayA), Secure.Telemetry(Secure.SiteB, Secure.GatewayA, 2))).IsSuccess);
        }
        await using (var gwA = await Client.ConnectAsync(mosquitto.Port, Secure.GatewayA, Secure.PasswordA, "gw-a"))
            Assert.True((await gwA.PublishAsync(Topics.Telemetry(Secure.SiteA, Secure.GatewayA), Secure.Telemetry(Secure.SiteA, Secure.GatewayA, 3))).IsSuccess);

        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch, ct), "the valid batch is written", () => cloud.Ingestor.Stats.ToString());
        await Wait.UntilAsync(() => cloud.Ingestor.Stats.Acknowledgements == 4, "every message, refused ones too, is acknowledged", () => cloud.Ingestor.Stats.ToString());
        Assert.Equal(3, cloud.Ingestor.Stats.Unauthorized);
        Assert.Equal(0, cloud.Ingestor.Stats.Invalid);
        Assert.Equal(3, cloud.Ingestor.Stats.DeadLettersWritten);

        using var influx = new InfluxQlClient(influxd.Url, "forged");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter GROUP BY site, gateway"));
        Assert.Equal("site-a", meter.Tags["site"]);
        Assert.Equal([10234.5, 10234.52 + 3], meter.Numbers("energy_import_kwh"));
        Assert.Empty(await influx.QueryAsync("SELECT * FROM gateway_status"));
        var rejected = Assert.Single(await influx.QueryAsync($"SELECT reason, topic FROM {Ingest.Ingestor.RejectedMeasurement} WHERE kind = 'unauthorized'"));
        var rows = rejected.Values.Select(r => (Reason: r[1].GetString()!, Topic: r[2].GetString()!)).ToList();
        Assert.Equal(3, rows.Count);
        Assert.Contains(("gateway 'gw-a' may not write site 'site-b': gateway 'gw-a' belongs to site 'site-a', not 'site-b'", "kc/v1/site-b/gw-a/telemetry"), rows);
        Assert.Contains(("gateway 'gw-x' may not write site 'site-b': gateway 'gw-x' is not in the site registry", "kc/v1/site-b/gw-x/status"), rows);
        Assert.Contains(rows, r => r.Topic == "kc/v1/site-a/gw-a/telemetry" && r.Reason.StartsWith("gateway 'gw-a' may not write site 'site-b'", StringComparison.Ordinal));
        Assert.Equal(3, logs.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.StartsWith("Dead-lettered unauthorized message on kc/v1/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Health_reports_are_stored_as_gateway_health_when_subscribed_and_only_for_the_gateways_own_site()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await StartSecuredAsync("\nuser forger\ntopic write kc/v1/#\n");
        await using var influxd = await influxdStart;
        await using var cloud = await Sample.StartCloudAsync(CloudYaml(mosquitto, influxd.Url, "health", "ingestor-health",
            "  subscriptions: [\"kc/v1/+/+/telemetry\", \"kc/v1/+/+/status\", \"kc/v1/+/+/health\"]"), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, "the ingestor connects", () => mosquitto.Output);

        static byte[] Health(int failing) => TelemetryCodec.Encode(new GatewayHealth
        {
            Timestamp = Sample.T0,
            UptimeSeconds = 3600.5,
            RssBytes = 52_000_000,
            OutboxDepth = 12,
            Dropped = 3,
            Published = 1200,
            Devices = [.. Enumerable.Range(0, 3).Select(i => new DeviceHealthReport { Device = $"d{i}", Bus = "rs485", PollsOk = 100, ConsecutiveFailures = i < failing ? 4 : 0 })],
        });
        await using (var gwA = await Client.ConnectAsync(mosquitto.Port, Secure.GatewayA, Secure.PasswordA, "gw-a"))
            Assert.True((await gwA.PublishAsync(Topics.Health(Secure.SiteA, Secure.GatewayA), Health(failing: 1))).IsSuccess);
        await using (var forger = await Client.ConnectAsync(mosquitto.Port, "forger", "pw-forger-1", "forger"))
            Assert.True((await forger.PublishAsync(Topics.Health(Secure.SiteB, Secure.GatewayA), Health(failing: 2))).IsSuccess);

        await Wait.UntilAsync(() => cloud.Ingestor.Stats.Acknowledgements == 2, "both health reports are handled", () => cloud.Ingestor.Stats.ToString());
        Assert.Equal(1, cloud.Ingestor.Stats.Unauthorized);
        using var influx = new InfluxQlClient(influxd.Url, "health");
        var health = Assert.Single(await influx.QueryAsync("SELECT uptime_s, rss_bytes, outbox_depth, dropped, published, devices, devices_failing FROM gateway_health GROUP BY *"));
        Assert.Equal(new Dictionary<string, string> { ["gateway"] = "gw-a", ["site"] = "site-a" }, health.Tags);
        Assert.Equal([Sample.T0], health.Times());
        Assert.Equal([3600.5], health.Numbers("uptime_s"));
        Assert.Equal([52_000_000.0], health.Numbers("rss_bytes"));
        Assert.Equal([12.0], health.Numbers("outbox_depth"));
        Assert.Equal([3.0], health.Numbers("dropped"));
        Assert.Equal([1200.0], health.Numbers("published"));
        Assert.Equal([3.0], health.Numbers("devices"));
        Assert.Equal([1.0], health.Numbers("devices_failing"));
        var rejected = Assert.Single(await influx.QueryAsync($"SELECT topic FROM {Ingest.Ingestor.RejectedMeasurement} WHERE kind = 'unauthorized'"));
        Assert.Equal(["kc/v1/site-b/gw-a/health"], rejected.Strings("topic"));
    }
}
