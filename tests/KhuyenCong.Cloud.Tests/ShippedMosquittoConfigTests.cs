using KhuyenCong.Cloud.Broker;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Cloud.Tests.Support;
using KhuyenCong.Contracts;
using KhuyenCong.TestSupport;
using MQTTnet;

namespace KhuyenCong.Cloud.Tests;

/// <summary>
/// firmware-config/mosquitto/ as shipped: the config runs in real mosquitto (only paths and ports changed) with TLS
/// from throwaway openssl certificates, and the committed ACL is exactly what the generator writes.
/// </summary>
public sealed class ShippedMosquittoConfigTests
{
    private static string MosquittoDir => Path.Combine(RepoPaths.Root, "firmware-config", "mosquitto");

    /// <summary>The shipped mosquitto.conf with its paths and ports pointed at a temp directory; fails if one is missing.</summary>
    private static string Localise(MosquittoServer m, TestCertificates pki, bool requireCertificate)
    {
        var text = File.ReadAllText(Path.Combine(MosquittoDir, "mosquitto.conf"));
        (string From, string To)[] edits =
        [
            ("/etc/mosquitto/kc-passwd", $"{m.Directory}/passwd"),
            ("/etc/mosquitto/kc-acl", $"{m.Directory}/acl"),
            ("/etc/mosquitto/certs/ca.crt", pki.CaFile),
            ("/etc/mosquitto/certs/server.crt", pki.ServerCertFile),
            ("/etc/mosquitto/certs/server.key", pki.ServerKeyFile),
            ("persistence_location /var/lib/mosquitto/", $"persistence_location {m.Directory}/"),
            ("pid_file /run/mosquitto/mosquitto.pid\n", ""),
            ("log_dest file /var/log/mosquitto/mosquitto.log", $"log_dest file {m.Directory}/mosquitto.log"),
            ("listener 1883 127.0.0.1", $"listener {m.Port} 127.0.0.1"),
            ("listener 8883\n", $"listener {m.TlsPort} 127.0.0.1\n"),
            ("# require_certificate true", requireCertificate ? "require_certificate true" : "# require_certificate true"),
        ];
        foreach (var (from, to) in edits)
        {
            Assert.True(text.Contains(from, StringComparison.Ordinal), $"the shipped mosquitto.conf no longer has '{from.Trim()}'");
            text = text.Replace(from, to, StringComparison.Ordinal);
        }
        return text;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_shipped_config_serves_gateways_over_TLS_and_the_ingestor_reads_over_mqtts_with_the_CA_and_its_client_certificate(bool requireCertificate)
    {
        var influxdStart = LocalInfluxd.StartAsync();
        using var pki = await TestCertificates.CreateAsync();
        var ingestor = await pki.IssueClientAsync("ingestor", "ingestor");
        await using var mosquitto = await MosquittoServer.StartWithConfigAsync(m =>
        {
            Secure.WriteFiles(m.Directory);
            return Localise(m, pki, requireCertificate);
        });
        await using var influxd = await influxdStart;
        var logs = new ListLogs();
        using var factory = logs.Factory();
        await using var cloud = new CloudService(Sample.Config($$"""
            mqtt:
              url: mqtts://127.0.0.1:{{mosquitto.TlsPort}}
              client_id: ingestor-tls
              username: ingestor
              password_file: {{mosquitto.Directory}}/ingestor-password
              tls:
                ca_file: {{pki.CaFile}}
                cert_file: {{ingestor.Cert}}
                key_file: {{ingestor.Key}}
            influx: { url: "{{influxd.Url}}", database: tls }
            registry: {{mosquitto.Directory}}/sites.yaml
            ingest: { flush_interval: 50ms }
            """), factory);
        await cloud.StartAsync(default);
        await Wait.UntilAsync(() => cloud.Ingestor.IsConnected, "the ingestor connects over TLS", () => string.Join('\n', logs.Entries) + File.ReadAllText(Path.Combine(mosquitto.Directory, "mosquitto.log")));

        // A gateway over TLS, trusting only the test CA (and with a client certificate when the broker asks for one).
        void Tls(MqttClientOptionsBuilder b) => b.WithTcpServer("127.0.0.1", mosquitto.TlsPort).WithTlsOptions(o =>
        {
            o.UseTls().WithTargetHost("127.0.0.1").WithTrustChain(pki.Ca());
            if (requireCertificate) o.WithClientCertificates([System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(ingestor.Cert, ingestor.Key)]);
        });
        // Gateway A sends the ingestor's client id: with the shipped config its session is its own (named by its
        // username), so the ingestor is neither disconnected nor robbed of its session.
        await using (var gwA = await Client.ConnectAsync(0, Secure.GatewayA, Secure.PasswordA, "ingestor-tls", Tls))
        {
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await gwA.PublishAsync(Topics.Telemetry(Secure.SiteB, Secure.GatewayA), Secure.Telemetry(Secure.SiteB, Secure.GatewayA, 1))).ReasonCode);
            Assert.True((await gwA.PublishAsync(Topics.Telemetry(Secure.SiteA, Secure.GatewayA), Secure.Telemetry(Secure.SiteA, Secure.GatewayA, 2))).IsSuccess);
        }
        await Wait.ForAsync(ct => cloud.WaitForPointsAsync(Sample.LinesPerBatch, ct), "the batch sent over TLS is written", () => cloud.Ingestor.Stats.ToString());
        Assert.Single(logs.Entries, e => e.Message.StartsWith("Ingestor connected to", StringComparison.Ordinal));
        using var influx = new InfluxQlClient(influxd.Url, "tls");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter GROUP BY site"));
        Assert.Equal("site-a", meter.Tags["site"]);

        // The plain listener answers on loopback only, and refuses anonymous clients there too.
        await using (var anon = await Client.ConnectAsync(mosquitto.Port, null, null, "anon", expectSuccess: false))
            Assert.NotEqual(MqttClientConnectResultCode.Success, anon.Connection!.ResultCode);
        // A client that trusts another CA does not get through the TLS listener.
        await Assert.ThrowsAnyAsync<Exception>(async () => await Client.ConnectAsync(0, Secure.GatewayA, Secure.PasswordA, "gw-a-wrong-ca", b => b.WithTcpServer("127.0.0.1", mosquitto.TlsPort)
            .WithTlsOptions(o => o.UseTls().WithTargetHost("127.0.0.1").WithTrustChain(pki.OtherCa()))));
        if (requireCertificate)
        {
            // Without a client certificate the TLS handshake (or the first read after it) fails.
            await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await using var noCert = await Client.ConnectAsync(0, Secure.GatewayA, Secure.PasswordA, "gw-a-no-cert", b => b.WithTcpServer("127.0.0.1", mosquitto.TlsPort)
                    .WithTlsOptions(o => o.UseTls().WithTargetHost("127.0.0.1").WithTrustChain(pki.Ca())));
            });
        }
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(Secure.IngestorPassword, StringComparison.Ordinal));
    }

    [Fact]
    public void The_committed_ACL_is_exactly_what_kc_cloud_mosquitto_acl_generates_from_the_shipped_registry()
    {
        var registry = SiteRegistry.Load(Path.Combine(RepoPaths.Root, "firmware-config", "sites", "sites.yaml"));
        var expected = MosquittoAcl.Generate(registry, ["ingestor"]);
        Assert.Equal(expected, File.ReadAllText(Path.Combine(MosquittoDir, "acl")));
        // Every gateway of every site, and nothing but its own topics.
        foreach (var g in registry.Sites.SelectMany(s => s.Gateways.Select(g => (s.Id, g.Id))))
            Assert.Contains($"user {g.Item2}\ntopic write kc/v1/{g.Item1}/{g.Item2}/telemetry\ntopic write kc/v1/{g.Item1}/{g.Item2}/status\ntopic write kc/v1/{g.Item1}/{g.Item2}/health\n", expected, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_kc_cloud_mosquitto_acl_command_prints_the_committed_file_and_refuses_a_clashing_user()
    {
        static async Task<(int Code, string Out, string Err)> Run(params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "kc-cloud.dll"));
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = System.Diagnostics.Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            return (p.ExitCode, await stdout, await stderr);
        }
        var registry = Path.Combine(RepoPaths.Root, "firmware-config", "sites", "sites.yaml");
        var ok = await Run("mosquitto-acl", "--registry", registry, "--ingestor-user", "ingestor");
        Assert.Equal(0, ok.Code);
        Assert.Equal(File.ReadAllText(Path.Combine(MosquittoDir, "acl")), ok.Out);
        var clash = await Run("mosquitto-acl", "--registry", registry, "--ingestor-user", "ingestor,gw-gas-01");
        Assert.Equal(2, clash.Code);
        Assert.StartsWith("kc-cloud: ingestor user 'gw-gas-01' is also a gateway of site 'bat-trang-gas-01'", clash.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void No_key_certificate_or_password_hash_is_shipped()
    {
        foreach (var f in Directory.GetFiles(MosquittoDir))
        {
            var text = File.ReadAllText(f);
            Assert.DoesNotContain("PRIVATE KEY", text, StringComparison.Ordinal);
            Assert.DoesNotContain("BEGIN CERTIFICATE", text, StringComparison.Ordinal);
            Assert.DoesNotMatch(@":\$[67]\$(\d+\$)?[A-Za-z0-9+/]{16}\$", text);
        }
    }
}
