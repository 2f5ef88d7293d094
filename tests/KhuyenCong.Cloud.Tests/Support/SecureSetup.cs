using System.Collections.Concurrent;
using System.Diagnostics;
using KhuyenCong.Cloud.Broker;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace KhuyenCong.Cloud.Tests.Support;

/// <summary>
/// Two workshops, each with one gateway, and the files a secured broker needs: the registry, a password file made by
/// the real <c>mosquitto_passwd</c>, and the ACL generated from the registry.
/// </summary>
public static class Secure
{
    public const string SiteA = "site-a";
    public const string GatewayA = "gw-a";
    public const string SiteB = "site-b";
    public const string GatewayB = "gw-b";
    public const string Ingestor = "ingestor";

    // Throwaway passwords made up for the tests; none is used anywhere else.
    public const string PasswordA = "pw-A-7f3c1e9d2b";
    public const string PasswordB = "pw-B-0a4e6c8d1f";
    public const string IngestorPassword = "pw-ING-5d2f8a3c9e";

    public const string RegistryYaml = """
        version: 1
        sites:
          - id: site-a
            name: Workshop A
            gateways:
              - id: gw-a
          - id: site-b
            name: Workshop B
            gateways:
              - id: gw-b
        """;

    /// <summary>Writes sites.yaml, passwd (mosquitto_passwd) and acl into <paramref name="dir"/>; returns the registry.</summary>
    public static SiteRegistry WriteFiles(string dir, params (string User, string Password)[] extraUsers)
    {
        var registryFile = Path.Combine(dir, "sites.yaml");
        File.WriteAllText(registryFile, RegistryYaml);
        var passwd = Path.Combine(dir, "passwd");
        MosquittoPasswd(passwd, GatewayA, PasswordA, create: true);
        MosquittoPasswd(passwd, GatewayB, PasswordB);
        MosquittoPasswd(passwd, Ingestor, IngestorPassword);
        foreach (var (u, p) in extraUsers) MosquittoPasswd(passwd, u, p);
        File.WriteAllText(Path.Combine(dir, "ingestor-password"), IngestorPassword + "\n");
        var registry = SiteRegistry.Load(registryFile);
        File.WriteAllText(Path.Combine(dir, "acl"), MosquittoAcl.Generate(registry, [Ingestor]));
        return registry;
    }

    /// <summary>Runs the real mosquitto_passwd -b (the password on its command line is a test's throwaway one).</summary>
    public static void MosquittoPasswd(string file, string user, string password, bool create = false, string? hash = null)
    {
        var psi = new ProcessStartInfo("/usr/bin/mosquitto_passwd") { RedirectStandardError = true, RedirectStandardOutput = true };
        if (hash is not null)
        {
            psi.ArgumentList.Add("-H");
            psi.ArgumentList.Add(hash);
        }
        if (create) psi.ArgumentList.Add("-c");
        foreach (var a in new[] { "-b", file, user, password }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"mosquitto_passwd failed: {err}");
    }

    public static byte[] Telemetry(string site, string gateway, long seq) => TelemetryCodec.Encode(Sample.Batch(site, gateway, seq, Sample.T0.AddMinutes(seq)));
}

/// <summary>An MQTT 5 client that logs in, publishes at QoS 1 and keeps what it receives.</summary>
public sealed class Client : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();

    public ConcurrentQueue<string> Received { get; } = new();

    public MqttClientConnectResult? Connection { get; private set; }

    public static async Task<Client> ConnectAsync(int port, string? user, string? password, string clientId, Action<MqttClientOptionsBuilder>? more = null, bool expectSuccess = true)
    {
        var c = new Client();
        c._client.DisconnectedAsync += e =>
        {
            c.LastDisconnect = $"{e.Reason} {e.ReasonString} {e.Exception}";
            return Task.CompletedTask;
        };
        c._client.ApplicationMessageReceivedAsync += e =>
        {
            c.Received.Enqueue(e.ApplicationMessage.Topic);
            return Task.CompletedTask;
        };
        var b = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(clientId).WithCleanStart(true).WithTimeout(TimeSpan.FromSeconds(30));
        if (user is not null) b = b.WithCredentials(user, password ?? "");
        more?.Invoke(b);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        c.Connection = await c._client.ConnectAsync(b.Build(), cts.Token);
        if (expectSuccess) Assert.Equal(MqttClientConnectResultCode.Success, c.Connection.ResultCode);
        return c;
    }

    /// <summary>Another reader with the ingestor's login, subscribed to every gateway topic: it sees everything the broker delivers.</summary>
    public static async Task<Client> SpyAsync(int port)
    {
        var spy = await ConnectAsync(port, Secure.Ingestor, Secure.IngestorPassword, "spy");
        try
        {
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await spy.SubscribeAsync("kc/v1/#"));
            return spy;
        }
        catch
        {
            await spy.DisposeAsync();
            throw;
        }
    }

    public bool IsConnected => _client.IsConnected;

    /// <summary>Why the connection last ended (for failure messages).</summary>
    public string? LastDisconnect { get; private set; }

    public async Task<MqttClientPublishResult> PublishAsync(string topic, byte[] payload)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cts.Token);
    }

    public async Task<MqttClientSubscribeResultCode> SubscribeAsync(string filter)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var r = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build(), cts.Token);
        return Assert.Single(r.Items).ResultCode;
    }

    private bool _dropped;

    /// <summary>
    /// Drops the connection without a DISCONNECT packet, like a gateway losing power, so that the broker sends the will
    /// (MQTTnet's server treats every DISCONNECT, even "with will message", as a clean one).
    /// </summary>
    public void Drop()
    {
        _dropped = true;
        _client.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (_dropped) return;
        if (_client.IsConnected) await _client.DisconnectAsync();
        _client.Dispose();
    }
}
