using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace KhuyenCong.Cloud.Influx;

/// <summary>
/// Runs the Debian <c>influxd</c> (1.x) on a free loopback port with its own data directory: for the demo and the tests.
/// The configuration is influxd's own default (<c>influxd config</c>) with ports, directories and reporting changed.
/// </summary>
public sealed partial class LocalInfluxd : IAsyncDisposable
{
    private readonly Process _process;
    private readonly bool _ownsDirectory;

    private LocalInfluxd(Process process, string dataDir, int port, bool ownsDirectory)
    {
        _process = process;
        DataDir = dataDir;
        Port = port;
        _ownsDirectory = ownsDirectory;
    }

    public const string Executable = "/usr/bin/influxd";

    public string DataDir { get; }
    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}";
    public int Pid => _process.Id;

    private const string Setsid = "/usr/bin/setsid";
    public bool HasExited => _process.HasExited;

    /// <summary>Starts influxd and waits until /ping answers.</summary>
    /// <param name="dataDir">Where its files go; a new temp directory (deleted on dispose) when null.</param>
    /// <param name="port">HTTP port; a free one when 0. Restarting on the same data dir and port resumes the same database.</param>
    /// <param name="cpus">When set, influxd runs only on these CPUs (a taskset list such as "1"), as on a server of its own: for benchmarks.</param>
    public static async Task<LocalInfluxd> StartAsync(string? dataDir = null, int port = 0, CancellationToken ct = default, string? cpus = null)
    {
        if (!File.Exists(Executable)) throw new FileNotFoundException($"{Executable} not found: install the Debian package 'influxdb' (./kc does it)");
        var owns = dataDir is null;
        dataDir ??= Path.Combine(Path.GetTempPath(), $"kc-influxd-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dataDir);
        var defaults = await RunAsync(Executable, "config", ct).ConfigureAwait(false);
        // A port found free may be taken by another process before influxd binds it: then influxd exits at once, and
        // it is started again on other ports (a few times).
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(dataDir, owns, port == 0 ? FreePort() : port, defaults, cpus, ct).ConfigureAwait(false);
            }
            catch (PortTakenException) when (attempt < 5)
            {
            }
        }
    }

    private static async Task<LocalInfluxd> StartOnceAsync(string dataDir, bool owns, int port, string defaults, string? cpus, CancellationToken ct)
    {
        var conf = Rewrite(defaults, dataDir, port, FreePort());
        var confPath = Path.Combine(dataDir, "influxd.conf");
        await File.WriteAllTextAsync(confPath, conf, ct).ConfigureAwait(false);

        // influxd lives as long as this object, not as long as the terminal: setsid puts it in a session of its own, so
        // a Ctrl-C meant for the demo does not stop it before the demo has printed its summary from it. (Started by
        // this process, setsid is not a process group leader and becomes influxd itself, keeping the process id.)
        // taskset sets the CPUs and then becomes influxd (same process id), so influxd's runtime sizes itself to them.
        var command = new List<string>();
        if (File.Exists(Setsid)) command.Add(Setsid);
        if (cpus is not null) command.AddRange(["/usr/bin/taskset", "-c", cpus]);
        command.Add(Executable);
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("-config");
        psi.ArgumentList.Add(confPath);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("influxd did not start");
        var log = new System.Text.StringBuilder();
        // Its own log says it bound the HTTP port: a /ping answered on that port is then this influxd's, not another's.
        var listening = $"msg=\"Listening on HTTP\" log_id=";
        var bound = false;
        void Line(string? line)
        {
            if (line is null) return;
            lock (log)
            {
                if (log.Length < 20_000) log.AppendLine(line);
                if (line.Contains(listening, StringComparison.Ordinal) && line.Contains($"addr=127.0.0.1:{port} ", StringComparison.Ordinal)) bound = true;
            }
        }
        p.OutputDataReceived += (_, e) => Line(e.Data);
        p.ErrorDataReceived += (_, e) => Line(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var server = new LocalInfluxd(p, dataDir, port, owns);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (p.HasExited)
            {
                await p.WaitForExitAsync(ct).ConfigureAwait(false); // the last lines of its output
                string text;
                lock (log) text = log.ToString();
                var message = $"influxd exited with {p.ExitCode}: {text[^Math.Min(text.Length, 2000)..]}";
                p.Dispose();
                if (text.Contains("address already in use", StringComparison.Ordinal)) throw new PortTakenException(message);
                throw new InvalidOperationException(message);
            }
            try
            {
                using var r = await http.GetAsync(new Uri($"{server.Url}/ping"), ct).ConfigureAwait(false);
                bool ours;
                lock (log) ours = bound;
                if (r.StatusCode == HttpStatusCode.NoContent && ours) return server;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                await server.DisposeAsync().ConfigureAwait(false);
                bool said;
                lock (log) said = bound;
                throw new TimeoutException($"influxd did not answer /ping on port {port} within 60 s" + (said ? "" : " (its log never said it listens there)"));
            }
            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    /// <summary>influxd could not bind a port it was given (another process took it first).</summary>
    private sealed class PortTakenException(string message) : InvalidOperationException(message);

    /// <summary>Edits influxd's default configuration for a private, quiet instance.</summary>
    internal static string Rewrite(string conf, string dataDir, int httpPort, int rpcPort)
    {
        string section = "";
        var lines = new List<string>();
        foreach (var raw in conf.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var trimmed = line.Trim();
            if (trimmed.StartsWith('[')) section = trimmed;
            var key = KeyRegex().Match(trimmed) is { Success: true } m ? m.Groups[1].Value : null;
            string? replacement = (section, key) switch
            {
                ("", "bind-address") => $"bind-address = \"127.0.0.1:{rpcPort}\"",
                ("", "reporting-disabled") => "reporting-disabled = true",
                ("", "reporting-enabled") => "reporting-enabled = false", // how Debian's 1.6.7 prints it
                ("[meta]", "dir") => $"  dir = \"{Path.Combine(dataDir, "meta")}\"",
                ("[data]", "dir") => $"  dir = \"{Path.Combine(dataDir, "data")}\"",
                ("[data]", "wal-dir") => $"  wal-dir = \"{Path.Combine(dataDir, "wal")}\"",
                ("[data]", "query-log-enabled") => "  query-log-enabled = false",
                ("[http]", "bind-address") => $"  bind-address = \"127.0.0.1:{httpPort}\"",
                ("[http]", "log-enabled") => "  log-enabled = false",
                ("[monitor]", "store-enabled") => "  store-enabled = false",
                ("[[udp]]", _) or ("[[graphite]]", _) or ("[[collectd]]", _) or ("[[opentsdb]]", _) when key == "enabled" => "  enabled = false",
                _ => null,
            };
            lines.Add(replacement ?? line);
        }
        return string.Join('\n', lines);
    }

    [GeneratedRegex(@"^([a-z0-9-]+)\s*=")]
    private static partial Regex KeyRegex();

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task<string> RunAsync(string file, string args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        _ = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        return await stdout.ConfigureAwait(false);
    }

    /// <summary>Kills influxd at once (a crash); the data directory stays.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
    }

    /// <summary>Stops influxd cleanly; the data directory stays.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        try
        {
            using var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (term is not null) await term.WaitForExitAsync().ConfigureAwait(false);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _process.Dispose();
        if (_ownsDirectory)
        {
            try
            {
                Directory.Delete(DataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
