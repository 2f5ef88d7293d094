using System.Text.Json;

namespace KhuyenCong.TestSupport;

/// <summary>
/// A real VictoriaMetrics (Debian package) on a free loopback port: it accepts InfluxDB's /api/v2/write, so it proves
/// the v2 transport end to end over a real socket. Line-protocol fields become metrics named measurement_field.
/// </summary>
public sealed class VictoriaMetricsServer : IAsyncDisposable
{
    public const string Executable = "/usr/bin/victoria-metrics";

    private readonly TempDirectory _dir;
    private readonly ExternalProcess _process;
    private readonly HttpClient _http;

    private VictoriaMetricsServer(int port, ExternalProcess process, TempDirectory dir)
    {
        Port = port;
        _dir = dir;
        _process = process;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}";

    public static async Task<VictoriaMetricsServer> StartAsync()
    {
        if (!File.Exists(Executable)) throw new InvalidOperationException($"{Executable} not found: run ./kc test, which installs victoria-metrics");
        var port = FreePort.Next();
        var dir = new TempDirectory("kc-vm");
        var p = ExternalProcess.Start(Executable, [$"-httpListenAddr=127.0.0.1:{port}", $"-storageDataPath={dir.Path}", "-search.latencyOffset=0s", "-retentionPeriod=100y", "-loggerLevel=ERROR"]);
        await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(30), () => p.Output);
        return new VictoriaMetricsServer(port, p, dir);
    }

    /// <summary>
    /// Every stored sample of metrics matching <paramref name="selector"/> (e.g. <c>{__name__="meter_power_w"}</c>), via
    /// /api/v1/export, after /internal/force_flush so that what was just written is searchable. Timestamps are epoch ms.
    /// (It runs with -search.latencyOffset=0s and -retentionPeriod=100y: recent and old samples are both kept and visible.)
    /// </summary>
    public async Task<IReadOnlyList<ExportedSeries>> ExportAsync(string selector)
    {
        using (var flush = await _http.GetAsync("internal/force_flush")) flush.EnsureSuccessStatusCode();
        var body = await _http.GetStringAsync($"api/v1/export?match[]={Uri.EscapeDataString(selector)}");
        var list = new List<ExportedSeries>();
        foreach (var line in body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            var labels = doc.RootElement.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
            var values = doc.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToList();
            var times = doc.RootElement.GetProperty("timestamps").EnumerateArray().Select(v => v.GetInt64()).ToList();
            list.Add(new ExportedSeries(labels, times, values));
        }
        return list;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync();
        _dir.Dispose();
    }
}

public sealed record ExportedSeries(IReadOnlyDictionary<string, string> Labels, IReadOnlyList<long> Timestamps, IReadOnlyList<double> Values);
