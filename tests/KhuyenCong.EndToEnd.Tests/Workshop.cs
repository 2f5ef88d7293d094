using System.Buffers;
using System.Collections.Concurrent;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Config;
using KhuyenCong.TestSupport;
using MQTTnet;
using MQTTnet.Exceptions;

namespace KhuyenCong.EndToEnd.Tests;

/// <summary>A small test workshop: a gateway config in a temp directory using the shipped device profiles.</summary>
public static class TestGateway
{
    public const string Site = "bt-test";
    public const string Gateway = "gw-test";

    public static LoadedGateway Write(TempDirectory dir, string brokerUrl, int busPort, long outboxBytes = 256L * 1024 * 1024, string pollInterval = "500ms")
    {
        var path = dir.File("gateway.yaml");
        File.WriteAllText(path, $"""
            site: {Site}
            gateway: {Gateway}
            profiles_dir: {RepoPaths.Devices}
            mqtt: {"{"} url: "{brokerUrl}" {"}"}
            outbox: {"{"} path: outbox.db, commit_interval: 100ms, max_bytes: {outboxBytes} {"}"}
            publish: {"{"} max_batch: 200, interval: 100ms, health_interval: 1s {"}"}
            buses:
              - {"{"} id: lan, type: tcp, host: 127.0.0.1, port: {busPort} {"}"}
            devices:
              - {"{"} id: kiln1-meter, bus: lan, profile: eastron-sdm630, unit: 1, poll_interval: {pollInterval}, kiln: kiln-1 {"}"}
              - {"{"} id: kiln1-ctl, bus: lan, profile: autonics-tk, unit: 3, poll_interval: {pollInterval}, kiln: kiln-1 {"}"}
              - {"{"} id: kiln2-ctl, bus: lan, profile: autonics-tk, unit: 4, poll_interval: {pollInterval}, kiln: kiln-2 {"}"}
              - {"{"} id: kiln2-lpg, bus: lan, profile: generic-loadcell-transmitter, unit: 5, poll_interval: {pollInterval}, kiln: kiln-2 {"}"}
            """);
        return GatewayConfigLoader.Load(path);
    }
}

/// <summary>Listens to every telemetry batch on a broker, to compare what was published with what was stored.</summary>
public sealed class TelemetryTap : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();

    public ConcurrentQueue<TelemetryBatch> Batches { get; } = new();

    private MqttClientOptions _options = null!;

    /// <summary>Subscribes with a persistent session, so messages published while the tap is away wait for it.</summary>
    public static async Task<TelemetryTap> StartAsync(int port)
    {
        var tap = new TelemetryTap();
        tap._options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("test-tap-" + Guid.NewGuid().ToString("N"))
            .WithCleanStart(false).WithSessionExpiryInterval(600).Build();
        tap._client.ApplicationMessageReceivedAsync += e =>
        {
            if (e.ApplicationMessage.Topic.EndsWith("/telemetry", StringComparison.Ordinal))
                tap.Batches.Enqueue(TelemetryCodec.Decode(e.ApplicationMessage.Payload.ToArray()));
            return Task.CompletedTask;
        };
        await tap._client.ConnectAsync(tap._options);
        await tap._client.SubscribeAsync(Topics.AllOf("telemetry"), MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
        return tap;
    }

    /// <summary>Connects again (after the broker restarted), retrying until it answers.</summary>
    public async Task ReconnectAsync(TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            try
            {
                if (_client.IsConnected) return;
                await _client.ConnectAsync(_options);
                return;
            }
            catch (MqttCommunicationException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    public IReadOnlyList<Reading> Readings => [.. Batches.SelectMany(b => b.Readings)];

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected) await _client.DisconnectAsync();
        _client.Dispose();
    }
}
