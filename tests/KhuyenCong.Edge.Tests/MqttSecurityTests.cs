using System.Collections.Concurrent;
using KhuyenCong.Configuration;
using KhuyenCong.Edge.Config;
using KhuyenCong.Simulator;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Edge.Tests;

/// <summary>
/// The edge agent against a real mosquitto with a TLS-only listener and no anonymous access: a throwaway CA, broker and
/// client certificates made with openssl for each test, a password file made with mosquitto_passwd. What the agent
/// published is read back with mosquitto_sub, an independent client.
/// </summary>
public sealed class MqttSecurityTests : IDisposable
{
    private const string Password = "Kiln-Secret-7431";
    private readonly TempDirectory _dir = new("kc-mqtt-tls");

    [Fact]
    public async Task With_its_CA_and_a_client_certificate_the_edge_publishes_over_mqtts_to_a_broker_that_requires_one()
    {
        await using var tls = await MutualTlsAsync();
        var (broker, gw, tap) = (tls.Broker, tls.Gateway, tls.Tap);

        var logs = new ListLogs();
        await using var run = await RunAgentAsync(gw, logs);
        var line = await tap.FirstTelemetryAsync();
        Assert.Contains("\"device\":\"kiln1-meter\"", line, StringComparison.Ordinal);
        // The tap can see the message before the broker's PUBACK reaches the edge and it counts the publish.
        await Eventually.Until(() => run.Agent.Publisher.Published > 0, () => $"the edge counts its acknowledged publish ({logs})");
        Assert.Contains(logs.Entries, e => e.Message.StartsWith($"MQTT connected to 127.0.0.1:{broker.Port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_a_user_name_and_a_password_file_the_edge_publishes_over_mqtts_and_never_logs_the_password()
    {
        using var pki = await TestCertificates.CreateAsync();
        await using var broker = await MosquittoServer.StartTlsAsync(pki, users: new Dictionary<string, string> { ["gw-test"] = Password, ["tap"] = "tap-pass" });
        File.WriteAllText(_dir.File("mqtt-password"), Password + "\n");
        var gw = Gateway(broker.Url, $"""
              username: gw-test
              password_file: mqtt-password
              tls:
                ca_file: {pki.CaFile}
            """);
        await using var tap = await StartTapAsync(broker, ["--cafile", pki.CaFile, "-u", "tap", "-P", "tap-pass"]);

        var logs = new ListLogs();
        await using var run = await RunAgentAsync(gw, logs);
        var line = await tap.FirstTelemetryAsync();
        Assert.Contains("\"device\":\"kiln1-meter\"", line, StringComparison.Ordinal);
        await run.StopAsync();
        Assert.NotEmpty(logs.Entries);
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(Password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_password_can_come_from_an_environment_variable()
    {
        using var pki = await TestCertificates.CreateAsync();
        await using var broker = await MosquittoServer.StartTlsAsync(pki, users: new Dictionary<string, string> { ["gw-test"] = Password });
        var variable = "KC_TEST_MQTT_PASSWORD_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, Password);
        try
        {
            var gw = Gateway(broker.Url, $"""
                  username: gw-test
                  password_env: {variable}
                  tls:
                    ca_file: {pki.CaFile}
                """);
            var logs = new ListLogs();
            await using var run = await RunAgentAsync(gw, logs);
            await Eventually.Until(() => run.Agent.Publisher.Published > 0, () => $"the edge publishes with the password from {variable} ({logs})");
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task A_broker_certificate_from_another_CA_is_refused_with_a_logged_reason_and_readings_wait_in_the_outbox()
    {
        using var pki = await TestCertificates.CreateAsync();
        await using var broker = await MosquittoServer.StartTlsAsync(pki, users: new Dictionary<string, string> { ["gw-test"] = Password });
        File.WriteAllText(_dir.File("mqtt-password"), Password);
        var gw = Gateway(broker.Url, $"""
              username: gw-test
              password_file: mqtt-password
              tls:
                ca_file: {pki.OtherCaFile}
            """);
        var logs = new ListLogs();
        await using var run = await RunAgentAsync(gw, logs);
        await Eventually.Until(() => logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains("not signed by the CA in mqtt.tls.ca_file", StringComparison.Ordinal)),
            () => $"the refusal is logged with its reason ({logs})");
        var warning = logs.Entries.First(e => e.Message.Contains("mqtt.tls.ca_file", StringComparison.Ordinal)).Message;
        Assert.Contains($"MQTT connect to 127.0.0.1:{broker.Port} failed (1x): TLS: the broker's certificate (CN=localhost) is not signed by the CA in mqtt.tls.ca_file", warning, StringComparison.Ordinal);
        // The agent keeps polling and keeps its readings for when the CA is fixed; it does not crash.
        await Eventually.Until(() => run.Agent.Outbox.Stats().Depth > 0, "readings wait in the outbox");
        Assert.False(run.Agent.Link.IsConnected);
        Assert.Equal(0, run.Agent.Publisher.Published);
        Assert.False(run.Task.IsCompleted);
    }

    [Fact]
    public async Task The_kc_edge_program_publishes_over_mqtts_with_a_client_certificate_and_stops_cleanly()
    {
        await using var tls = await MutualTlsAsync();
        var (broker, gw, tap) = (tls.Broker, tls.Gateway, tls.Tap);
        await using var sim = new SimulatorHost(gw, timeScale: 60);
        await sim.StartAsync(default);
        await using var edge = ExternalProcess.Start(EdgeProgram.Path, ["run", "--config", gw.File]);
        var line = await tap.FirstTelemetryAsync();
        Assert.Contains("\"device\":\"kiln1-meter\"", line, StringComparison.Ordinal);
        await edge.StopAsync();
        Assert.Equal(0, await edge.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("MQTT connected to 127.0.0.1:", edge.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_is_logged_as_such_by_the_running_service_which_keeps_retrying_without_printing_it()
    {
        using var pki = await TestCertificates.CreateAsync();
        await using var broker = await MosquittoServer.StartTlsAsync(pki, users: new Dictionary<string, string> { ["gw-test"] = Password });
        const string wrong = "Not-The-Password-99";
        File.WriteAllText(_dir.File("mqtt-password"), wrong);
        var gw = Gateway(broker.Url, $"""
              username: gw-test
              password_file: mqtt-password
              tls:
                ca_file: {pki.CaFile}
            """);
        await using var edge = ExternalProcess.Start(EdgeProgram.Path, ["run", "--config", gw.File]);
        await Eventually.Until(() => edge.Output.Contains("wrong user name or password", StringComparison.Ordinal), () => $"the edge says why the broker refused it ({edge.Output})");
        Assert.Contains("failed (1x): the broker refused user 'gw-test': wrong user name or password, or the user may not connect (NotAuthorized); check mqtt.username and mqtt.password_file / password_env", edge.Output, StringComparison.Ordinal);
        Assert.False(edge.HasExited, "the service exited instead of retrying");
        Assert.DoesNotContain(wrong, edge.Output, StringComparison.Ordinal);
        await edge.StopAsync();
    }

    [Fact]
    public async Task A_missing_CA_file_stops_the_service_at_start_with_the_file_line_and_key()
    {
        var gw = Gateway("mqtts://127.0.0.1:8883", """
              tls:
                ca_file: no-such-ca.pem
            """);
        await using var edge = ExternalProcess.Start(EdgeProgram.Path, ["run", "--config", gw.File]);
        Assert.Equal(2, await edge.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains($"kc-edge: invalid configuration: {gw.File}:7:14: mqtt.tls.ca_file: CA file {_dir.File("no-such-ca.pem")} does not exist", edge.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("  password_file: empty", ":6:18: mqtt.password_file: a password needs a username (mqtt.username)")]
    [InlineData("  username: gw-test\n  password_file: nope", ":7:18: mqtt.password_file: password file {DIR}/nope does not exist")]
    [InlineData("  username: gw-test\n  password_file: empty", ":7:18: mqtt.password_file: the password file {DIR}/empty is empty (the password is its first line)")]
    [InlineData("  username: gw-test\n  password_env: KC_TEST_NO_SUCH_VARIABLE", ":7:17: mqtt.password_env: the environment variable KC_TEST_NO_SUCH_VARIABLE is not set or empty")]
    [InlineData("  tls:\n    ca_file: not-a-cert.pem", ":7:14: mqtt.tls.ca_file: {DIR}/not-a-cert.pem holds no PEM certificate")]
    [InlineData("  tls:\n    cert_file: gw.pem", ":7:16: mqtt.tls.cert_file: client certificate {DIR}/gw.pem does not exist")]
    [InlineData("  tls:\n    cert_file: not-a-cert.pem\n    key_file: gw.key", ":8:15: mqtt.tls.key_file: client key {DIR}/gw.key does not exist")]
    [InlineData("  tls:\n    cert_file: not-a-cert.pem\n    key_file: not-a-cert.pem", ":8:15: mqtt.tls.key_file: cannot load the client certificate {DIR}/not-a-cert.pem with its key {DIR}/not-a-cert.pem: ")]
    public void Missing_or_unreadable_credential_files_are_named_with_file_line_and_key(string mqttExtra, string expected)
    {
        File.WriteAllText(_dir.File("empty"), "\n");
        File.WriteAllText(_dir.File("not-a-cert.pem"), "hello\n");
        var gw = Gateway("mqtts://127.0.0.1:8883", mqttExtra);
        var ex = Assert.Throws<ConfigException>(() => BrokerCredentials.Load(gw));
        Assert.StartsWith(gw.File + expected.Replace("{DIR}", _dir.Path, StringComparison.Ordinal), ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mqtt://127.0.0.1:1883", "  tls: {}", ":6:8: mqtt.tls: tls settings need a TLS broker URL (mqtts://127.0.0.1:8883), not mqtt://")]
    [InlineData("mqtts://127.0.0.1:8883", "  tls:\n    key_file: gw.key", ":7:15: mqtt.tls.key_file: key_file needs cert_file")]
    public void Inconsistent_broker_settings_are_refused_when_the_config_loads(string url, string mqttExtra, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => Gateway(url, mqttExtra));
        Assert.StartsWith(_dir.File("gateway.yaml") + expected, ex.Message, StringComparison.Ordinal);
    }

    private LoadedGateway Gateway(string url, string mqttExtra)
    {
        // Lines 1–5 are fixed, so errors in mqttExtra are at line 6 and below.
        var path = _dir.File("gateway.yaml");
        File.WriteAllText(path, $"""
            site: bt-test
            gateway: gw-test
            profiles_dir: {RepoPaths.Devices}
            mqtt:
              url: "{url}"
            {mqttExtra}
            outbox: {"{"} path: outbox.db, commit_interval: 100ms {"}"}
            publish: {"{"} interval: 100ms, health_interval: 1s {"}"}
            buses:
              - {"{"} id: lan, type: tcp, host: 127.0.0.1, port: {FreePort.Next()} {"}"}
            devices:
              - {"{"} id: kiln1-meter, bus: lan, profile: eastron-sdm630, unit: 1, poll_interval: 200ms, kiln: kiln-1 {"}"}
            """);
        return GatewayConfigLoader.Load(path);
    }

    /// <summary>A broker that requires a client certificate, a gateway config with its CA, certificate and key, and a tap
    /// subscribed with a certificate of its own.</summary>
    private async Task<MutualTls> MutualTlsAsync()
    {
        var pki = await TestCertificates.CreateAsync();
        var (cert, key) = await pki.IssueClientAsync("gw", "gw-test");
        var broker = await MosquittoServer.StartTlsAsync(pki, requireCertificate: true);
        var gw = Gateway(broker.Url, $"""
              tls:
                ca_file: {pki.CaFile}
                cert_file: {cert}
                key_file: {key}
            """);
        var (tapCert, tapKey) = await pki.IssueClientAsync("tap", "test-tap");
        return new MutualTls(pki, broker, gw, await StartTapAsync(broker, ["--cafile", pki.CaFile, "--cert", tapCert, "--key", tapKey]));
    }

    private sealed record MutualTls(TestCertificates Pki, MosquittoServer Broker, LoadedGateway Gateway, Tap Tap) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Tap.DisposeAsync();
            await Broker.DisposeAsync();
            Pki.Dispose();
        }
    }

    private static Task<Tap> StartTapAsync(MosquittoServer broker, string[] auth)
    {
        // The agent publishes every poll, so the tap need not be subscribed before it starts: any later batch will do.
        // stdbuf: line-buffered output, so each message shows as it arrives.
        var p = ExternalProcess.Start("/usr/bin/stdbuf", ["-oL", "/usr/bin/mosquitto_sub",
            "-h", "127.0.0.1", "-p", broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", "test-tap", "-q", "1", "-v", "-t", "kc/v1/+/+/telemetry", .. auth]);
        return Task.FromResult(new Tap(p));
    }

    private static async Task<AgentRun> RunAgentAsync(LoadedGateway gw, ListLogs logs)
    {
        var sim = new SimulatorHost(gw, timeScale: 60);
        await sim.StartAsync(default);
        var agent = new EdgeAgent(gw, logs.Factory());
        var stop = new CancellationTokenSource();
        return new AgentRun(sim, agent, stop, agent.RunAsync(stop.Token));
    }

    private sealed record AgentRun(SimulatorHost Sim, EdgeAgent Agent, CancellationTokenSource Stop, Task Task) : IAsyncDisposable
    {
        public async Task StopAsync()
        {
            await Stop.CancelAsync();
            await Task;
        }

        public async ValueTask DisposeAsync()
        {
            if (!Task.IsCompleted) await StopAsync();
            await Agent.DisposeAsync();
            await Sim.DisposeAsync();
            Stop.Dispose();
        }
    }

    /// <summary>mosquitto_sub, printing "topic payload" per message.</summary>
    private sealed class Tap(ExternalProcess process) : IAsyncDisposable
    {
        public async Task<string> FirstTelemetryAsync()
        {
            string? line = null;
            await Eventually.Until(() =>
            {
                line = process.Output.Split('\n').FirstOrDefault(l => l.StartsWith("kc/v1/bt-test/gw-test/telemetry ", StringComparison.Ordinal));
                return line is not null || process.HasExited;
            }, () => $"mosquitto_sub receives telemetry ({process.Output})");
            return line ?? throw new InvalidOperationException($"mosquitto_sub exited: {process.Output}");
        }

        public ValueTask DisposeAsync() => process.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// The kc-edge program the process-level tests start: the build beside the tests, or another build of it named by
/// KC_EDGE_EXE (absolute, or relative to the repository root; e.g. <c>.kc/publish/linux-x64/kc-edge</c> from
/// <c>./kc edge-publish</c>), so the same tests check a published binary.
/// </summary>
public static class EdgeProgram
{
    public static string Path { get; } = Environment.GetEnvironmentVariable("KC_EDGE_EXE") is { Length: > 0 } exe
        ? System.IO.Path.GetFullPath(exe, RepoPaths.Root)
        : System.IO.Path.Combine(AppContext.BaseDirectory, "kc-edge");
}

/// <summary>Log messages kept in memory, so tests can check what the agent said.</summary>
public sealed class ListLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

    public ILoggerFactory Factory() => LoggerFactory.Create(b => b.AddProvider(this).SetMinimumLevel(LogLevel.Debug));

    public IReadOnlyList<(LogLevel Level, string Message)> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public override string ToString() => string.Join("\n", _entries.Select(e => $"{e.Level}: {e.Message}"));

    public void Dispose()
    {
    }

    private sealed class Logger(ListLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue((logLevel, formatter(state, exception)));
    }
}
