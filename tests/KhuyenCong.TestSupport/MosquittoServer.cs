namespace KhuyenCong.TestSupport;

/// <summary>
/// A real mosquitto broker (Debian package) on a free loopback port with persistence in a temp directory.
/// It can be stopped and started again on the same port, for outage tests.
/// </summary>
public sealed class MosquittoServer : IAsyncDisposable
{
    public const string Executable = "/usr/sbin/mosquitto";

    private readonly TempDirectory _dir = new("kc-mosquitto");
    private ExternalProcess? _process;

    private MosquittoServer(int port, int tlsPort, Func<MosquittoServer, string> config)
    {
        Port = port;
        TlsPort = tlsPort;
        // Started as root, mosquitto drops to its own user: it must be able to write its persistence file here.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_dir.Path, (UnixFileMode)0x1FF);
        ConfigPath = _dir.File("mosquitto.conf");
        File.WriteAllText(ConfigPath, config(this));
    }

    private MosquittoServer(int port, string extraConfig, string? listener = null)
    {
        Port = port;
        // Started as root, mosquitto drops to its own user: it must be able to write its persistence file here.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_dir.Path, (UnixFileMode)0x1FF);
        ConfigPath = _dir.File("mosquitto.conf");
        listener ??= $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            """;
        File.WriteAllText(ConfigPath, $"""
            {listener}
            persistence true
            persistence_location {_dir.Path}/
            autosave_interval 1
            max_queued_messages 0
            max_inflight_messages 100
            log_dest stdout
            log_type error
            log_type warning
            {extraConfig}
            """);
    }

    public int Port { get; }
    /// <summary>A second free port for a TLS listener (only with <see cref="StartWithConfigAsync"/>; 0 otherwise).</summary>
    public int TlsPort { get; }
    /// <summary>The broker's own temp directory (config, persistence): files mosquitto must read can go here too.</summary>
    public string Directory => _dir.Path;
    public string ConfigPath { get; }
    public string Url => IsTls ? $"mqtts://127.0.0.1:{Port}" : $"mqtt://127.0.0.1:{Port}";

    /// <summary>True for a broker started with <see cref="StartTlsAsync"/>.</summary>
    public bool IsTls { get; private init; }
    public string Output => _process?.Output ?? "";

    public static async Task<MosquittoServer> StartAsync(string extraConfig = "", int port = 0)
    {
        var s = new MosquittoServer(port == 0 ? FreePort.Next() : port, extraConfig);
        await s.StartAgainAsync();
        return s;
    }

    /// <summary>
    /// Starts mosquitto with a whole configuration of the caller's: <paramref name="config"/> gets the server (for
    /// <see cref="Port"/>, <see cref="TlsPort"/> and <see cref="Directory"/>) and returns the mosquitto.conf text. It must
    /// declare a listener on <see cref="Port"/>, which is waited for.
    /// </summary>
    public static async Task<MosquittoServer> StartWithConfigAsync(Func<MosquittoServer, string> config)
    {
        var s = new MosquittoServer(FreePort.Next(), FreePort.Next(), config);
        await s.StartAgainAsync();
        return s;
    }

    /// <summary>
    /// A broker with one TLS listener only, its certificate from <paramref name="pki"/>, and no anonymous clients:
    /// with <paramref name="requireCertificate"/> a client must show a certificate signed by the test CA (its common name
    /// becomes its user name); with <paramref name="users"/> a client logs in with one of these user names and passwords
    /// (a password file made with mosquitto_passwd).
    /// </summary>
    public static async Task<MosquittoServer> StartTlsAsync(TestCertificates pki, bool requireCertificate = false, IReadOnlyDictionary<string, string>? users = null)
    {
        var port = FreePort.Next();
        var listener = $"""
            listener {port} 127.0.0.1
            cafile {pki.CaFile}
            certfile {pki.ServerCertFile}
            keyfile {pki.ServerKeyFile}
            require_certificate {(requireCertificate ? "true" : "false")}
            use_identity_as_username {(requireCertificate ? "true" : "false")}
            allow_anonymous false
            """;
        var s = new MosquittoServer(port, "", listener) { IsTls = true };
        if (users is { Count: > 0 })
        {
            var file = s._dir.File("passwd");
            foreach (var (user, password) in users)
                await RunPasswdAsync(File.Exists(file) ? ["-b", file, user, password] : ["-c", "-b", file, user, password]);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, (UnixFileMode)0x1A4);
            File.AppendAllText(s.ConfigPath, $"\npassword_file {file}\n");
        }
        await s.StartAgainAsync();
        return s;
    }

    private static async Task RunPasswdAsync(string[] args)
    {
        const string passwd = "/usr/bin/mosquitto_passwd";
        var psi = new System.Diagnostics.ProcessStartInfo(passwd) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi) ?? throw new InvalidOperationException($"could not start {passwd}");
        var err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"mosquitto_passwd failed ({p.ExitCode}): {await err}");
    }

    /// <summary>Starts (again) on the same port with the same persistence directory.</summary>
    public async Task StartAgainAsync()
    {
        if (IsRunning) throw new InvalidOperationException("mosquitto is already running");
        if (!File.Exists(Executable)) throw new InvalidOperationException($"{Executable} not found: run ./kc test, which installs mosquitto");
        _process = ExternalProcess.Start(Executable, ["-c", ConfigPath]);
        await FreePort.WaitListeningAsync(Port, TimeSpan.FromSeconds(20), () => _process.Output);
    }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Kills it with SIGKILL (a crash): what it had not saved yet is lost. Start it again with <see cref="StartAgainAsync"/>.</summary>
    public async Task KillAsync()
    {
        if (_process is null) return;
        _process.Kill();
        await _process.DisposeAsync();
        _process = null;
    }

    /// <summary>Stops cleanly and starts again on the same port and persistence directory (sessions and queued messages survive).</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAgainAsync();
    }

    /// <summary>Stops cleanly (the broker saves its sessions and queued messages).</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        await _process.StopAsync();
        await _process.DisposeAsync();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        _dir.Dispose();
    }
}
