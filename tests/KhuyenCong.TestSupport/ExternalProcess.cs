using System.Diagnostics;
using System.Text;

namespace KhuyenCong.TestSupport;

/// <summary>
/// A real server started by a test (mosquitto, influxd, pymodbus, socat …). Its output is kept for diagnostics;
/// dispose kills it and its children.
/// </summary>
public sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _all = new();

    private ExternalProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The last 4,000 characters of its stdout and stderr.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                var s = _output.ToString();
                return s.Length <= 4000 ? s : s[^4000..];
            }
        }
    }

    /// <summary>Everything it printed (the first 4 MB), for a test that reads a whole report.</summary>
    public string FullOutput
    {
        get
        {
            lock (_output) return _all.ToString();
        }
    }

    /// <summary>Starts <paramref name="fileName"/>; throws with an install hint when it is not on this machine.</summary>
    public static ExternalProcess Start(string fileName, IEnumerable<string> args, string? workingDirectory = null, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (environment is not null)
        {
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        }
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"could not start {fileName} ({ex.Message}); run ./kc test, which installs the test servers", ex);
        }
        var ep = new ExternalProcess(p, Path.GetFileName(fileName));
        p.OutputDataReceived += (_, e) => ep.Append(e.Data);
        p.ErrorDataReceived += (_, e) => ep.Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return ep;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.AppendLine(line);
            if (_all.Length < 4_000_000) _all.AppendLine(line);
            if (_output.Length > 64_000) _output.Remove(0, _output.Length - 32_000);
        }
    }

    /// <summary>Sends SIGKILL to the process (a crash, a power cut).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>Sends SIGTERM and waits for a clean exit, then kills it if it has not gone.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        if (_process.HasExited) return;
        try
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (kill is not null) await kill.WaitForExitAsync();
            using var cts = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    /// <summary>Waits for the process to exit and its output to be read to the end; throws naming what it saw when not.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            var state = File.Exists($"/proc/{Pid}/stat") ? File.ReadAllText($"/proc/{Pid}/stat") : "no /proc entry";
            throw new TimeoutException($"{Name} (pid {Pid}) did not finish within {timeout.TotalSeconds:0} s: exited {_process.HasExited}, /proc: {state.Trim()}; output: {Output}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
        _process.Dispose();
    }
}
