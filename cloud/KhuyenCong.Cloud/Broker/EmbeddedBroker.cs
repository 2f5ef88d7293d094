using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace KhuyenCong.Cloud.Broker;

/// <summary>
/// An MQTT broker inside the cloud process (MQTTnet.Server), so a demo or a single-site install needs no separate
/// broker. Persistent sessions are kept in memory (they survive the ingestor reconnecting, not this process
/// restarting). It does not support shared subscriptions: to run several ingestors, use an external broker such as
/// mosquitto.
/// With <see cref="BrokerSecurity"/> it authenticates every client against a mosquitto password file and applies the
/// registry's rules (<see cref="TopicAccess"/>) to every publish (wills included) and subscription: a refused publish is
/// dropped, counted and logged, and never delivered. Without it, any client may connect and publish anything.
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttServer _server;
    private readonly MqttServerOptions _options;
    private readonly BrokerSecurity? _security;
    private readonly ILogger _log;
    // Which user a client id belongs to: a client id names a session (its subscriptions and queued messages), so a
    // client of another user must not take it over.
    private readonly ConcurrentDictionary<string, string> _clientIdOwners = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _refusalsByUser = new(StringComparer.Ordinal);

    /// <param name="bind">The one address to listen on. Only its address family is served: MQTTnet would otherwise also
    /// listen on every IPv6 interface.</param>
    /// <param name="port">The port; 0 lets the OS choose one, read it from <see cref="Port"/> after <see cref="StartAsync"/>.</param>
    /// <param name="security">Authentication and authorisation; null lets any client connect and publish anything.</param>
    /// <param name="tls">A TLS listener on the same address as well (port 0: a free one), with this certificate.</param>
    public EmbeddedBroker(IPAddress bind, int port, ILogger log, BrokerSecurity? security = null, (int Port, System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate)? tls = null)
    {
        _log = log;
        _security = security;
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        Address = bind;
        var v6 = bind.AddressFamily == AddressFamily.InterNetworkV6;
        var builder = new MqttServerFactory().CreateServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(v6 ? IPAddress.None : bind)
            .WithDefaultEndpointBoundIPV6Address(v6 ? bind : IPAddress.None)
            .WithDefaultEndpointPort(port)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(100_000);
        if (tls is { } t)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(t.Port);
            builder = builder.WithEncryptedEndpoint()
                .WithEncryptedEndpointBoundIPAddress(v6 ? IPAddress.None : bind)
                .WithEncryptedEndpointBoundIPV6Address(v6 ? bind : IPAddress.None)
                .WithEncryptedEndpointPort(t.Port)
                .WithEncryptionCertificate(t.Certificate)
                .WithEncryptionSslProtocol(System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13);
        }
        _options = builder.Build();
        HasTls = tls is not null;
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
        if (security is not null)
        {
            foreach (var id in security.IngestorClientIds) _clientIdOwners[id] = security.IngestorUser;
            foreach (var g in security.Access.Registry.Sites.SelectMany(s => s.Gateways.Select(g => (Site: s.Id, Gateway: g.Id))))
                _clientIdOwners[$"kc-edge-{g.Site}-{g.Gateway}"] = g.Gateway; // the edge agent's default client id
            _server.ValidatingConnectionAsync += ValidateConnection;
            _server.InterceptingPublishAsync += InterceptPublish;
            _server.InterceptingSubscriptionAsync += InterceptSubscription;
        }
    }

    /// <summary>Refused connections, publishes and subscriptions since start.</summary>
    public BrokerStats Stats { get; } = new();

    private Task ValidateConnection(ValidatingConnectionEventArgs e)
    {
        var s = _security!;
        var user = e.UserName;
        // Passwords are compared, never logged.
        var ok = !string.IsNullOrEmpty(user) && (s.Passwords.Verify(user, e.Password)
            || (user == s.IngestorUser && s.IngestorSecret is { } secret && e.Password == secret));
        if (!ok)
        {
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            Stats.ConnectionRefused();
            _log.LogWarning("Broker: refused client {Client} from {Endpoint}: {Why}", Clip(e.ClientId), e.RemoteEndPoint,
                string.IsNullOrEmpty(user) ? "no username (anonymous clients are not allowed)" : $"bad username or password for user '{Clip(user)}'");
            return Task.CompletedTask;
        }
        // An empty client id gets a fresh one from the broker: there is no session to take over.
        if (!string.IsNullOrEmpty(e.ClientId) && _clientIdOwners.GetOrAdd(e.ClientId, user!) is var owner && !string.Equals(owner, user, StringComparison.Ordinal))
        {
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            Stats.ConnectionRefused();
            _log.LogWarning("Broker: refused client {Client} of user '{User}': that client id belongs to user '{Owner}'", Clip(e.ClientId), user, owner);
        }
        return Task.CompletedTask;
    }

    private Task InterceptPublish(InterceptingPublishEventArgs e)
    {
        if (_security!.Access.PublishRefusal(e.UserName, e.ApplicationMessage.Topic) is not { } why) return Task.CompletedTask;
        e.ProcessPublish = false;
        e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
        Stats.PublishRefused();
        var n = _refusalsByUser.AddOrUpdate(e.UserName ?? "", 1, (_, c) => c + 1);
        if (n is 1 or 10 || n % 1000 == 0)
            _log.LogWarning("Broker: dropped a publish from {Client} ({Count}x for this user) to {Topic}: {Why}", Clip(e.ClientId), n, Clip(e.ApplicationMessage.Topic), why);
        return Task.CompletedTask;
    }

    private Task InterceptSubscription(InterceptingSubscriptionEventArgs e)
    {
        if (_security!.Access.SubscribeRefusal(e.UserName, e.TopicFilter.Topic) is not { } why) return Task.CompletedTask;
        e.ProcessSubscription = false;
        e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        Stats.SubscriptionRefused();
        _log.LogWarning("Broker: refused the subscription of {Client} to {Filter}: {Why}", Clip(e.ClientId), Clip(e.TopicFilter.Topic), why);
        return Task.CompletedTask;
    }

    private static string Clip(string? s) => s is null ? "" : s.Length <= 200 ? s : s[..200] + "…";

    public IPAddress Address { get; }

    public bool HasTls { get; }

    /// <summary>The TLS listener's port (the bound one once started), when there is one.</summary>
    public int TlsPort => _options.TlsEndpointOptions.Port;

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

/// <summary>What the embedded broker checks. <see cref="IngestorSecret"/> lets the ingestor inside the same process log in
/// as <see cref="IngestorUser"/> without a password file entry; it is made at start and never leaves the process.</summary>
public sealed class BrokerSecurity
{
    public required MosquittoPasswordFile Passwords { get; init; }
    public required TopicAccess Access { get; init; }
    public required string IngestorUser { get; init; }
    public string? IngestorSecret { get; init; }
    /// <summary>Client ids only <see cref="IngestorUser"/> may use (the ingestor's persistent session).</summary>
    public IReadOnlyList<string> IngestorClientIds { get; init; } = [];
}

/// <summary>What the embedded broker refused since it started.</summary>
public sealed class BrokerStats
{
    private long _connections;
    private long _publishes;
    private long _subscriptions;

    public long ConnectionsRefused => Interlocked.Read(ref _connections);
    /// <summary>Publishes (wills included) dropped because the user may not write that topic.</summary>
    public long PublishesRefused => Interlocked.Read(ref _publishes);
    public long SubscriptionsRefused => Interlocked.Read(ref _subscriptions);

    internal void ConnectionRefused() => Interlocked.Increment(ref _connections);
    internal void PublishRefused() => Interlocked.Increment(ref _publishes);
    internal void SubscriptionRefused() => Interlocked.Increment(ref _subscriptions);
}
