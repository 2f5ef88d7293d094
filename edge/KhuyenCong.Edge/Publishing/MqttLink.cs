using System.Security.Cryptography.X509Certificates;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Config;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace KhuyenCong.Edge.Publishing;

/// <summary>
/// The gateway's MQTT connection. MQTTnet 5 has no managed client, so this owns the reconnect loop: exponential
/// back-off with jitter, a persistent session, a retained "online" birth message on every connect and a retained
/// "offline" last will that the broker publishes when the gateway vanishes.
/// </summary>
public sealed class MqttLink : IAsyncDisposable
{
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly IMqttClient _client;
    private readonly MqttClientOptions _options;
    private readonly string _statusTopic;
    private readonly TimeProvider _clock;
    private readonly ILogger _log;
    private volatile bool _stopping;
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MqttLink(GatewayConfig config, BrokerCredentials credentials, TimeProvider clock, ILogger log)
    {
        _clock = clock;
        _log = log;
        _statusTopic = Topics.Status(config.Site, config.Gateway);
        _client = new MqttClientFactory().CreateMqttClient();
        _options = BuildOptions(config, credentials, _statusTopic, clock);
        _client.DisconnectedAsync += e =>
        {
            if (_connected.Task.IsCompleted) _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
            if (e.ClientWasConnected && !_stopping) _log.LogWarning("MQTT connection to {Broker} lost: {Reason}", Describe(_options), e.Exception?.Message ?? e.Reason.ToString());
            return Task.CompletedTask;
        };
    }

    public bool IsConnected => _client.IsConnected;

    public long Reconnects { get; private set; }

    /// <summary>Completes when the link is up.</summary>
    public Task WaitConnectedAsync(CancellationToken ct) => _connected.Task.WaitAsync(ct);

    /// <summary>Keeps the connection up until cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (!_client.IsConnected)
                {
                    _lastTlsError = null;
                    var result = await _client.ConnectAsync(_options, ct).ConfigureAwait(false);
                    if (result.ResultCode != MqttClientConnectResultCode.Success)
                        throw new BrokerRefusedException(result.ResultCode, result.ReasonString);
                    await PublishStatusAsync(GatewayStatus.Online, ct).ConfigureAwait(false);
                    if (failures > 0 || Reconnects > 0) _log.LogInformation("MQTT connected to {Broker} (session present: {Session})", Describe(_options), result.IsSessionPresent);
                    else _log.LogInformation("MQTT connected to {Broker}", Describe(_options));
                    Reconnects++;
                    failures = 0;
                    _connected.TrySetResult();
                }
                await Task.Delay(TimeSpan.FromSeconds(1), _clock, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                failures++;
                var delay = Backoff(failures);
                if (failures is 1 or 5 or 20 || failures % 100 == 0)
                    _log.LogWarning("MQTT connect to {Broker} failed ({Failures}x): {Error}; next try in {Delay:0.0} s", Describe(_options), failures, Explain(ex), delay.TotalSeconds);
                await Task.Delay(delay, _clock, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Publishes at QoS 1 and returns once the broker has acknowledged (PUBACK).</summary>
    public async Task PublishAsync(string topic, byte[] payload, bool retain, CancellationToken ct)
    {
        var msg = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithContentType("application/json")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(retain)
            .Build();
        var result = await _client.PublishAsync(msg, ct).ConfigureAwait(false);
        if (!result.IsSuccess) throw new InvalidOperationException($"broker rejected the message on {topic}: {result.ReasonCode} {result.ReasonString}");
    }

    private Task PublishStatusAsync(string state, CancellationToken ct) =>
        PublishAsync(_statusTopic, TelemetryCodec.Encode(new GatewayStatus { State = state, Timestamp = _clock.GetUtcNow(), Agent = AgentVersion }), retain: true, ct);

    public static string AgentVersion => $"kc-edge/{typeof(MqttLink).Assembly.GetName().Version}";

    /// <summary>Publishes the retained "offline" status and disconnects cleanly.</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        if (!_client.IsConnected) return;
        _stopping = true;
        try
        {
            await PublishStatusAsync(GatewayStatus.Offline, ct).ConfigureAwait(false);
            await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _log.LogDebug("MQTT clean stop failed: {Error}", ex.Message);
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private static TimeSpan Backoff(int failures)
    {
        var ms = Math.Min(MaxBackoff.TotalMilliseconds, MinBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 10)));
        // Full jitter: gateways of a village that lost the same uplink must not reconnect in lockstep.
        return TimeSpan.FromMilliseconds(ms / 2 + Random.Shared.NextDouble() * ms / 2);
    }

    private static string Describe(MqttClientOptions o) => o.ChannelOptions is MqttClientTcpOptions { RemoteEndpoint: System.Net.DnsEndPoint d } ? $"{d.Host}:{d.Port}" : o.ChannelOptions?.ToString() ?? "broker";

    /// <summary>
    /// Says why a connect failed in words an installer can act on: a TLS certificate problem names the config key to
    /// check, a refused login says so. Never includes the password.
    /// </summary>
    private string Explain(Exception ex)
    {
        if (ex is BrokerRefusedException refused)
        {
            return refused.ResultCode switch
            {
                // mosquitto answers a wrong password with NotAuthorized, other brokers with BadUserNameOrPassword.
                MqttClientConnectResultCode.BadUserNameOrPassword or MqttClientConnectResultCode.NotAuthorized when _username is not null =>
                    $"the broker refused user '{_username}': wrong user name or password, or the user may not connect ({refused.ResultCode}); check mqtt.username and mqtt.password_file / password_env",
                MqttClientConnectResultCode.BadUserNameOrPassword or MqttClientConnectResultCode.NotAuthorized =>
                    $"the broker refused this gateway ({refused.ResultCode}): it needs a user name and password (mqtt.username) or a client certificate it accepts (mqtt.tls.cert_file)",
                _ => $"the broker refused the connection ({refused.ResultCode}{(string.IsNullOrEmpty(refused.Reason) ? "" : ": " + refused.Reason)})",
            };
        }
        if (_lastTlsError is { } tls) return tls;
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is System.Security.Authentication.AuthenticationException)
                return $"TLS handshake failed: {e.Message} (check mqtt.tls.ca_file, and cert_file/key_file if the broker asks for a client certificate)";
        }
        // MQTTnet wraps socket errors; the innermost message says what happened (connection refused, no route, timeout).
        var inner = ex;
        while (inner.InnerException is not null) inner = inner.InnerException;
        return inner == ex || inner.Message == ex.Message ? ex.Message : $"{ex.Message} ({inner.Message})";
    }

    private string? _lastTlsError;
    private string? _username;

    private sealed class BrokerRefusedException(MqttClientConnectResultCode code, string? reason)
        : Exception($"broker refused the connection: {code} {reason}")
    {
        public MqttClientConnectResultCode ResultCode { get; } = code;
        public string? Reason { get; } = reason;
    }

    private MqttClientOptions BuildOptions(GatewayConfig config, BrokerCredentials credentials, string statusTopic, TimeProvider clock)
    {
        var m = config.Mqtt;
        var uri = new Uri(m.Url);
        var tls = uri.Scheme is "mqtts" or "ssl";
        var port = uri.IsDefaultPort || uri.Port <= 0 ? (tls ? 8883 : 1883) : uri.Port;
        var will = TelemetryCodec.Encode(new GatewayStatus { State = GatewayStatus.Offline, Timestamp = clock.GetUtcNow(), Agent = AgentVersion });
        var b = new MqttClientOptionsBuilder()
            .WithTcpServer(uri.Host, port)
            .WithClientId(m.ClientId ?? $"kc-edge-{config.Site}-{config.Gateway}")
            .WithCleanStart(false)
            .WithSessionExpiryInterval(7 * 24 * 3600)
            .WithKeepAlivePeriod(m.KeepAlive)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .WithWillTopic(statusTopic)
            .WithWillPayload(will)
            .WithWillRetain(true)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        _username = credentials.Username;
        if (credentials.Username is not null) b = b.WithCredentials(credentials.Username, credentials.Password ?? "");
        if (tls)
        {
            b = b.WithTlsOptions(o =>
            {
                o.UseTls();
                o.WithTargetHost(uri.Host);
                if (credentials.TrustChain is { } chain) o.WithTrustChain(chain);
                if (credentials.ClientCertificate is { } cert) o.WithClientCertificates([cert]);
                o.WithCertificateValidationHandler(c => Validate(c, credentials.TrustChain, uri.Host));
            });
        }
        return b.Build();
    }

    /// <summary>
    /// Checks the broker's certificate: against the configured CA only (the system store is not consulted then), or the
    /// system store. Remembers why a certificate was refused, so the log says "not signed by the CA in ca_file" instead
    /// of a bare handshake failure.
    /// </summary>
    private bool Validate(MqttClientCertificateValidationEventArgs c, X509Certificate2Collection? trust, string host)
    {
        var errors = c.SslPolicyErrors;
        if (trust is not null && c.Certificate is not null)
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(trust);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (c.Chain is not null)
            {
                foreach (var element in c.Chain.ChainElements.Skip(1)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
            using var leaf = new X509Certificate2(c.Certificate);
            var ok = chain.Build(leaf);
            errors &= ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors;
            if (!ok)
            {
                var why = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
                _lastTlsError = $"TLS: the broker's certificate ({leaf.Subject}) is not signed by the CA in mqtt.tls.ca_file ({why})";
                return false;
            }
        }
        if (errors == System.Net.Security.SslPolicyErrors.None) return true;
        _lastTlsError = errors switch
        {
            System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch =>
                $"TLS: the broker's certificate ({c.Certificate?.Subject}) is not valid for host '{host}' in mqtt.url",
            System.Net.Security.SslPolicyErrors.RemoteCertificateNotAvailable => "TLS: the broker sent no certificate",
            _ => $"TLS: the broker's certificate ({c.Certificate?.Subject}) is not trusted ({errors}{(trust is null ? "; give its CA in mqtt.tls.ca_file" : "")})",
        };
        return false;
    }
}
