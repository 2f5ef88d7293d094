using System.Net;
using Microsoft.Extensions.Logging;
using MQTTnet.Server;

namespace KhuyenCong.Cloud.Broker;

/// <summary>
/// An MQTT broker inside the cloud process (MQTTnet.Server), so a demo or a single-site install needs no separate
/// broker. Persistent sessions are kept in memory. It does not support shared subscriptions: to run several ingestors,
/// use an external broker such as mosquitto.
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttServer _server;

    public EmbeddedBroker(IPAddress bind, int port, ILogger log)
    {
        Port = port;
        Address = bind;
        var options = new MqttServerFactory().CreateServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(bind)
            .WithDefaultEndpointPort(port)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(100_000)
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(options);
        _server.ClientConnectedAsync += e =>
        {
            log.LogInformation("Broker: {Client} connected", e.ClientId);
            return Task.CompletedTask;
        };
    }

    public IPAddress Address { get; }
    public int Port { get; }
    public string Url => $"mqtt://{Address}:{Port}";

    public Task StartAsync() => _server.StartAsync();

    public Task StopAsync() => _server.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync().ConfigureAwait(false);
        _server.Dispose();
    }
}
