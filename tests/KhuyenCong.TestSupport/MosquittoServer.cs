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

    private MosquittoServer(int port, string extraConfig)
    {
        Port = port;
        // Started as root, mosquitto drops to its own user: it must be able to write its persistence file here.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_dir.Path, (UnixFileMode)0x1FF);
        ConfigPath = _dir.File("mosquitto.conf");
        File.WriteAllText(ConfigPath, $"""
            listener {port} 127.0.0.1
            allow_anonymous true
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
    public string Url => $"mqtt://127.0.0.1:{Port}";
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
