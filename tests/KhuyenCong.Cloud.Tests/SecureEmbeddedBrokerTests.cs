using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Tests.Support;
using KhuyenCong.Contracts;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging;
using MQTTnet;

namespace KhuyenCong.Cloud.Tests;

/// <summary>
/// The broker inside the cloud process with a mosquitto password file (made by the real mosquitto_passwd) and the
/// registry: the same rules as mosquitto with the generated ACL, checked against real influxd.
/// </summary>
public sealed class SecureEmbeddedBrokerTests
{
    private static string Yaml(TempDirectory dir, string influxUrl, string db) => $$"""
        embedded_broker:
          bind: 127.0.0.1
          port: 0
          password_file: {{dir.Path}}/passwd
        influx: { url: "{{influxUrl}}", database: {{db}} }
        registry: {{dir.Path}}/sites.yaml
        ingest: { flush_interval: 50ms }
        """;

    [Fact]
    public async Task Through_the_embedded_broker_gateway_A_cannot_write_site_B_but_writes_its_own_and_bad_logins_are_refused()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        using var dir = new TempDirectory("kc-secure-embedded");
        Secure.WriteFiles(dir.Path);
        await using var influxd = await influxdStart;
        var logs = new ListLogs();
        using var factory = logs.Factory();
        await using var cloud = await Sample.StartCloudAsync(Yaml(dir, influxd.Url, "embedded_acl"), factory, "the ingestor logs in to its own broker", () => string.Join('\n', logs.Entries));
        var broker = cloud.Broker!;
        await using var spy = await Client.SpyAsync(broker.Port);

        // Wrong password, unknown user, anonymous: refused, and counted.
        foreach (var (user, password) in new (string?, string?)[] { (Secure.GatewayA, Secure.PasswordB), ("gw-x", "whatever"), (null, null), (Secure.Ingestor, "") })
        {
            await using var refused = await Client.ConnectAsync(broker.Port, user, password, "refused-" + (user ?? "anon"), expectSuccess: false);
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, refused.Connection!.ResultCode);
        }
        Assert.Equal(4, broker.Stats.ConnectionsRefused);

        // A gateway may not take the ingestor's client id (and with it the ingestor's session and subscriptions).
        await using (var thief = await Client.ConnectAsync(broker.Port, Secure.GatewayA, Secure.PasswordA, "kc-ingestor-1", expectSuccess: false))
            Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, thief.Connection!.ResultCode);
        Assert.True(cloud.Ingestor.IsConnected);

        await using var gwA = await Client.ConnectAsync(broker.Port, Secure.GatewayA, Secure.PasswordA, "kc-edge-site-a-gw-a");
        string[] forbidden = [Topics.Telemetry(Secure.SiteB, Secure.GatewayA), Topics.Telemetry(Secure.SiteB, Secure.GatewayB), Topics.Status(Secure.SiteB, Secure.GatewayB), "kc/v1/site-a/gw-a/commands", "elsewhere"];
        foreach (var t in forbidden)
        {
            var r = await gwA.PublishAsync(t, Secure.Telemetry(Secure.SiteB, Secure.GatewayB, 1));
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, r.ReasonCode);
            Assert.True(gwA.IsConnected, $"a refused publish must not cost the gateway its connection: {gwA.LastDisconnect}");
        }
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await gwA.SubscribeAsync("kc/v1/#"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await gwA.SubscribeAsync(Topics.Telemetry(Secure.SiteA, Secure.GatewayA)));

        // A will message into site B is a publish too: dropped when the gateway goes away.
        await using (var sly = await Client.ConnectAsync(broker.Port, Secure.GatewayB, Secure.PasswordB, "sly", b => b
            .WithWillTopic(Topics.Status(Secure.SiteA, Secure.GatewayA)).WithWillPayload(TelemetryCodec.Encode(new GatewayStatus { State = GatewayStatus.Offline, Timestamp = Sample.T0 }))))
        {
            sly.Drop();
        }
        await Wait.UntilAsync(() => broker.Stats.PublishesRefused == forbidden.Length + 1, "the will into site A is refused", () => $"{broker.Stats.PublishesRefused}");

        var own = await gwA.PublishAsync(Topics.Telemetry(Secure.SiteA, Secure.GatewayA), Secure.Telemetry(Secure.SiteA, Secure.GatewayA, 2));
        Assert.True(own.IsSuccess, own.ReasonCode.ToString());
        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch, ct), "gateway A's own batch is written", () => cloud.Ingestor.Stats.ToString());
        await Wait.UntilAsync(() => !spy.Received.IsEmpty, "the spy gets the allowed message");
        Assert.Equal([Topics.Telemetry(Secure.SiteA, Secure.GatewayA)], spy.Received);
        Assert.Empty(gwA.Received);
        Assert.Equal(1, cloud.Ingestor.Stats.Messages);
        Assert.Equal(2, broker.Stats.SubscriptionsRefused);

        using var influx = new InfluxQlClient(influxd.Url, "embedded_acl");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter GROUP BY site, gateway"));
        Assert.Equal(("site-a", "gw-a"), (meter.Tags["site"], meter.Tags["gateway"]));
        Assert.Empty(await influx.QueryAsync("SELECT * FROM gateway_status"));
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning
            && e.Message == "Broker: dropped a publish from kc-edge-site-a-gw-a (1x for this user) to kc/v1/site-b/gw-a/telemetry: gateway 'gw-a' belongs to site 'site-a', not 'site-b'");

        // Secrets never reach the log: neither passwords tried nor accepted.
        foreach (var secret in new[] { Secure.PasswordA, Secure.PasswordB, Secure.IngestorPassword, "whatever" })
            Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_password_file_the_embedded_broker_and_an_ingestor_without_registry_say_loudly_that_anyone_may_write_anything()
    {
        await using var influxd = await LocalInfluxd.StartAsync();
        var logs = new ListLogs();
        using var factory = logs.Factory();
        await using var cloud = new CloudService(Sample.Config($$"""
            embedded_broker: { bind: 127.0.0.1, port: 0 }
            influx: { url: "{{influxd.Url}}", database: open }
            """), factory);
        await cloud.StartAsync(default);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("ANY gateway may write ANY site", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("ANY client connect without a password", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_embedded_broker_serves_gateways_over_TLS_with_the_same_rules()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        using var dir = new TempDirectory("kc-secure-embedded-tls");
        Secure.WriteFiles(dir.Path);
        using var pki = await TestCertificates.CreateAsync();
        await using var influxd = await influxdStart;
        await using var cloud = new CloudService(Sample.Config($$"""
            embedded_broker:
              bind: 127.0.0.1
              port: 0
              password_file: {{dir.Path}}/passwd
              tls: { port: 0, cert_file: {{pki.ServerCertFile}}, key_file: {{pki.ServerKeyFile}} }
            influx: { url: "{{influxd.Url}}", database: embedded_tls }
            registry: {{dir.Path}}/sites.yaml
            ingest: { flush_interval: 50ms }
            """), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        var broker = cloud.Broker!;
        Assert.True(broker.HasTls);
        Assert.NotEqual(0, broker.TlsPort);
        await Wait.UntilAsync(() => cloud.Ingestor.IsConnected, "the ingestor connects");

        void Tls(MqttClientOptionsBuilder b) => b.WithTcpServer("127.0.0.1", broker.TlsPort)
            .WithTlsOptions(o => o.UseTls().WithTargetHost("127.0.0.1").WithTrustChain(pki.Ca()));
        await using (var wrong = await Client.ConnectAsync(0, Secure.GatewayA, Secure.PasswordB, "gw-a-wrong", Tls, expectSuccess: false))
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.Connection!.ResultCode);
        await using (var gwA = await Client.ConnectAsync(0, Secure.GatewayA, Secure.PasswordA, "gw-a-tls", Tls))
        {
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await gwA.PublishAsync(Topics.Telemetry(Secure.SiteB, Secure.GatewayA), Secure.Telemetry(Secure.SiteB, Secure.GatewayA, 1))).ReasonCode);
            Assert.True((await gwA.PublishAsync(Topics.Telemetry(Secure.SiteA, Secure.GatewayA), Secure.Telemetry(Secure.SiteA, Secure.GatewayA, 2))).IsSuccess);
        }
        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch, ct), "the batch sent over TLS is written", () => cloud.Ingestor.Stats.ToString());
        using var influx = new InfluxQlClient(influxd.Url, "embedded_tls");
        Assert.Equal("site-a", Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter GROUP BY site")).Tags["site"]);

        // A client that trusts another CA does not get through.
        await Assert.ThrowsAnyAsync<Exception>(async () => await Client.ConnectAsync(0, Secure.GatewayA, Secure.PasswordA, "gw-a-wrong-ca", b => b.WithTcpServer("127.0.0.1", broker.TlsPort)
            .WithTlsOptions(o => o.UseTls().WithTargetHost("127.0.0.1").WithTrustChain(pki.OtherCa()))));
    }
}
