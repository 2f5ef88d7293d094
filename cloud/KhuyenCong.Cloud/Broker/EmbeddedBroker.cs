using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MQTTnet.Server;

namespace KhuyenCong.Cloud.Broker;

/// <summary>
/// An MQTT broker inside the cloud process (MQTTnet.Server), so a demo or a single-site install needs no separate
/// broker. Persistent sessions are kept in memory (they survive the ingestor reconnecting, not this process
/// restarting). It does not support shared subscriptions: to run several ingestors, use an external broker such as
/// mosquitto.
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttServer _server;
    private readonly MqttServerOptions _options;

    /// <param name="bind">The one address to listen on. Only its address family is served: MQTTnet would otherwise also
    /// listen on every IPv6 interface.</param>
    /// <param name="port">The port; 0 lets the OS choose one, read it from <see cref="Port"/> after <see cref="StartAsync"/>.</param>
    public EmbeddedBroker(IPAddress bind, int port, ILogger log)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        Address = bind;
        var v6 = bind.AddressFamily == AddressFamily.InterNetworkV6;
        _options = new MqttServerFactory().CreateServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(v6 ? IPAddress.None : bind)
            .WithDefaultEndpointBoundIPV6Address(v6 ? bind : IPAddress.None)
            .WithDefaultEndpointPort(port)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(100_000)
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(_options);
        _server.ClientConnectedAsync += e =>
        {
            log.LogInformation("Broker: {Client} connected", e.ClientId);
            return Task.CompletedTask;
        };
        _server.ClientDisconnectedAsync += e =>
        {
            log.LogInformation("Broker: {Client} disconnected ({Type})", e.ClientId, e.DisconnectType);
            return Task.CompletedTask;
        };
    }

    public IPAddress Address { get; }

    /// <summary>
    /// The port it listens on: once started, the bound one (MQTTnet writes it back into the options when port 0 was asked
    /// for, so a restart binds the same port again); before, the port asked for.
    /// </summary>
    public int Port => _options.DefaultEndpointOptions.Port;

    public bool IsStarted => _server.IsStarted;

    /// <summary>Where a client on this machine reaches it (a wildcard bind is reached through loopback).</summary>
    public string Url
    {
        get
        {
            var host = Address.Equals(IPAddress.Any) ? "127.0.0.1"
                : Address.Equals(IPAddress.IPv6Any) ? "[::1]"
                : Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Address}]"
                : Address.ToString();
            return $"mqtt://{host}:{Port}";
        }
    }

    /// <summary>Binds and starts listening; throws when the address or port cannot be bound.</summary>
    public Task StartAsync() => _server.StartAsync();

    public Task StopAsync() => _server.StopAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server.IsStarted) await _server.StopAsync().ConfigureAwait(false);
        _server.Dispose();
    }
}
