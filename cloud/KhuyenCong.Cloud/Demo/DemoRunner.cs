using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace KhuyenCong.Cloud.Demo;

public sealed record DemoOptions
{
    public required string EdgeDll { get; init; }
    public required string SimDll { get; init; }
    public required string GatewayConfig { get; init; }
    public required string WorkDir { get; init; }
    public TimeSpan? Duration { get; init; }
    public string? InfluxUrl { get; init; }
    public double TimeScale { get; init; } = 600;
}

/// <summary>
/// The whole pipeline on one machine: influxd (temp data dir, free port) unless an InfluxDB URL is given, this process's
/// embedded broker and ingestor, the simulator and the edge agent as child processes, and a live per-kiln view read
/// back from InfluxDB.
/// </summary>
public static partial class DemoRunner
{
    public const string Database = "khuyencong";

    public static async Task<int> RunAsync(DemoOptions o, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var run = Path.Combine(o.WorkDir, started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(run);
        var logPath = Path.Combine(run, "cloud.log");
        using var logs = LoggerFactory.Create(b => b.AddProvider(new FileLoggerProvider(logPath)).SetMinimumLevel(LogLevel.Information));

        Say($"KhuyenCong.Energy demo — files in {run}");
        LocalInfluxd? influxd = null;
        var influxUrl = o.InfluxUrl;
        if (influxUrl is null)
        {
            Say("starting InfluxDB (influxd) …");
            influxd = await LocalInfluxd.StartAsync(Path.Combine(run, "influxdb"), 0, ct).ConfigureAwait(false);
            influxUrl = influxd.Url;
        }
        var brokerPort = FreePort();
        var busPort = FreePort();
        var gateway = WriteGatewayCopy(o.GatewayConfig, run, brokerPort, busPort);
        var configDir = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(o.GatewayConfig))!, ".."));
        var signIn = WriteDemoAccess(run, Path.Combine(configDir, "sites", "sites.yaml"));
        var cloudCfg = CloudConfigLoader.Parse($"""
            embedded_broker: {"{"} bind: 127.0.0.1, port: {brokerPort} {"}"}
            influx: {"{"} url: "{influxUrl}", api: v1, database: {Database} {"}"}
            registry: "{Path.Combine(configDir, "sites", "sites.yaml")}"
            factors: "{Path.Combine(configDir, "factors")}"
            data_dir: "{Path.Combine(run, "data")}"
            http: {"{"} bind: 127.0.0.1, port: 0, access_file: "{Path.Combine(run, "access.yaml")}" {"}"}
            """, "demo cloud config");

        var children = new List<Process>();
        var exit = 0;
        try
        {
            await using var cloud = new CloudService(cloudCfg, logs);
            await cloud.StartAsync(ct).ConfigureAwait(false);
            Say($"MQTT broker on 127.0.0.1:{brokerPort}, InfluxDB at {influxUrl} (database {Database})");
            if (cloud.Web is { } web)
            {
                Say($"Live page: {web.Url}  (sign in with token {signIn.Operator} — operator of bat-trang-demo)");
                Say($"  auditor token {signIn.Auditor}   centre token {signIn.Centre}   (users in {Path.Combine(run, "access.yaml")})");
            }

            children.Add(StartChild(o.SimDll, ["--config", gateway, "--time-scale", o.TimeScale.ToString(CultureInfo.InvariantCulture)], Path.Combine(run, "sim.log")));
            await WaitPortAsync(busPort, TimeSpan.FromSeconds(30), children[0], ct).ConfigureAwait(false);
            children.Add(StartChild(o.EdgeDll, ["run", "--config", gateway], Path.Combine(run, "edge.log")));
            Say($"simulated workshop on Modbus TCP 127.0.0.1:{busPort} (time ×{o.TimeScale.ToString(CultureInfo.InvariantCulture)}: a firing program of about 7 h of kiln time runs in {7 * 3600 / Math.Max(o.TimeScale, 1) / 60:0.#} min, cooling takes about twice that), edge agent polling it");
            Say(o.Duration is { } d ? $"running for {d}; Ctrl-C stops earlier" : "Ctrl-C stops");

            using var influx = new InfluxQlClient(influxUrl, Database);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (o.Duration is { } duration) stop.CancelAfter(duration);
            await ShowAsync(influx, SiteOf(gateway), started, cloud, children, stop.Token).ConfigureAwait(false);
            if (!ct.IsCancellationRequested && children.Any(c => c.HasExited)) exit = 1;
        }
        finally
        {
            foreach (var c in children) await StopChildAsync(c).ConfigureAwait(false);
            if (influxd is not null) await influxd.StopAsync().ConfigureAwait(false);
        }

        Say("");
        Say("stopped. The data stays on disk:");
        if (influxd is not null)
        {
            Say($"  InfluxDB data     {influxd.DataDir}");
            Say($"  start it again    influxd -config {Path.Combine(influxd.DataDir, "influxd.conf")}");
            Say($"  query it          influx -port {influxd.Port} -database {Database} -execute \"SELECT last(kiln_temp_c) FROM kiln GROUP BY kiln\"");
        }
        else
        {
            Say($"  InfluxDB          {influxUrl} database {Database}");
        }
        Say($"  logs              {run}/{{cloud,edge,sim}}.log");
        Say($"  measurements      meter, kiln, gas, gateway_status (docs/schema.md)");
        return exit;
    }

    private static async Task ShowAsync(InfluxQlClient influx, string site, DateTimeOffset since, CloudService cloud, List<Process> children, CancellationToken ct)
    {
        var interactive = AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        var lastPrint = DateTime.MinValue;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            if (children.FirstOrDefault(c => c.HasExited) is { } dead)
            {
                Say($"a child process exited with code {dead.ExitCode}; see its log");
                break;
            }
            IReadOnlyList<KilnSnapshot> kilns;
            try
            {
                kilns = await LiveView.QueryAsync(influx, site, since, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or InfluxQueryException)
            {
                Say($"InfluxDB query failed: {ex.Message}");
                continue;
            }
            catch (OperationCanceledException)
            {
                break;
            }
            if (!interactive && DateTime.UtcNow - lastPrint < TimeSpan.FromSeconds(5)) continue;
            lastPrint = DateTime.UtcNow;
            var header = $"{DateTime.Now:HH:mm:ss}  site {site}  —  {cloud.Ingestor.Stats}";
            if (interactive)
            {
                var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(header));
                foreach (var col in new[] { "kiln", "temperature", "setpoint", "state", "power", "energy since start", "LPG on scale" }) table.AddColumn(col);
                var inv = CultureInfo.InvariantCulture;
                foreach (var k in kilns)
                {
                    table.AddRow(k.Kiln,
                        k.TemperatureC is { } t ? t.ToString("0", inv) + " °C" : "—",
                        k.SetpointC is { } sp ? sp.ToString("0", inv) + " °C" : "—",
                        k.Running switch { true => "[red]firing[/]", false => "idle", null => "—" },
                        k.PowerW is { } p ? (p / 1000).ToString("0.0", inv) + " kW" : "—",
                        k.EnergyKwh is { } e ? e.ToString("0.00", inv) + " kWh" : "—",
                        k.LpgKg is { } l ? l.ToString("0.0", inv) + " kg" : "—");
                }
                AnsiConsole.Clear();
                AnsiConsole.Write(table);
            }
            else
            {
                Console.WriteLine(header);
                foreach (var k in kilns) Console.WriteLine("  " + LiveView.Format(k));
            }
        }
    }

    /// <summary>
    /// Fresh tokens for the demo's live page and API: an operator of the demo site, an auditor of every site in the
    /// registry and the centre. The access file keeps only their SHA-256; the tokens are printed once.
    /// </summary>
    private static (string Operator, string Auditor, string Centre) WriteDemoAccess(string run, string registry)
    {
        var sites = Sites.SiteRegistry.Load(registry).Sites.Select(s => s.Id).ToList();
        var (op, auditor, centre) = (Access.AccessList.NewToken(), Access.AccessList.NewToken(), Access.AccessList.NewToken());
        File.WriteAllText(Path.Combine(run, "access.yaml"), $"""
            # Users of this demo run (tokens printed by ./kc demo; only their SHA-256 is kept here).
            version: 1
            users:
              - {"{"} name: demo-operator, role: operator, sites: [bat-trang-demo], token_sha256: {Access.AccessList.Hash(op)} {"}"}
              - {"{"} name: demo-auditor, role: auditor, sites: [{string.Join(", ", sites)}], token_sha256: {Access.AccessList.Hash(auditor)} {"}"}
              - {"{"} name: demo-centre, role: centre, token_sha256: {Access.AccessList.Hash(centre)} {"}"}
            """);
        return (op, auditor, centre);
    }

    /// <summary>Copies the gateway config into the run directory with free ports and absolute paths.</summary>
    private static string WriteGatewayCopy(string source, string run, int brokerPort, int busPort)
    {
        var text = File.ReadAllText(source);
        var profiles = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(source))!, "../devices"));
        var replaced = MqttUrl().Replace(text, $"url: mqtt://127.0.0.1:{brokerPort}", 1);
        replaced = BusPort().Replace(replaced, $"${{indent}}port: {busPort}");
        replaced = GatewayLine().Replace(replaced, m => $"{m.Value}\nprofiles_dir: {profiles}", 1);
        if (replaced == text) throw new InvalidOperationException($"{source}: found no broker url or bus port to replace");
        var copy = Path.Combine(run, "gateway.yaml");
        File.WriteAllText(copy, replaced);
        return copy;
    }

    private static string SiteOf(string gatewayFile) =>
        SiteLine().Match(File.ReadAllText(gatewayFile)) is { Success: true } m ? m.Groups[1].Value.Trim() : "";

    [GeneratedRegex(@"url:\s*mqtts?://\S+")]
    private static partial Regex MqttUrl();

    [GeneratedRegex(@"(?<indent>^[ \t]+)port:\s*\d+", RegexOptions.Multiline)]
    private static partial Regex BusPort();

    [GeneratedRegex(@"^gateway:.*$", RegexOptions.Multiline)]
    private static partial Regex GatewayLine();

    [GeneratedRegex(@"^site:\s*(\S+)", RegexOptions.Multiline)]
    private static partial Regex SiteLine();

    private static Process StartChild(string dll, string[] args, string log)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {dll}");
        var writer = new StreamWriter(log) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (writer) writer.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (writer) writer.WriteLine(e.Data); };
        p.Exited += (_, _) => { lock (writer) writer.Flush(); };
        p.EnableRaisingEvents = true;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static async Task StopChildAsync(Process p)
    {
        if (!p.HasExited)
        {
            using (var kill = Process.Start("kill", ["-INT", p.Id.ToString(CultureInfo.InvariantCulture)])) await kill!.WaitForExitAsync().ConfigureAwait(false);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
            }
        }
        p.Dispose();
    }

    private static async Task WaitPortAsync(int port, TimeSpan timeout, Process owner, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port, ct).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !owner.HasExited)
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static void Say(string line) => Console.WriteLine(line);
}

/// <summary>Writes log lines to a file, so the live view keeps the terminal.</summary>
internal sealed class FileLoggerProvider(string path) : ILoggerProvider
{
    private readonly StreamWriter _writer = new(path, append: true) { AutoFlush = true };

    public ILogger CreateLogger(string categoryName) => new FileLogger(categoryName, _writer);

    public void Dispose() => _writer.Dispose();

    private sealed class FileLogger(string category, StreamWriter writer) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (writer) writer.WriteLine($"{DateTime.Now:HH:mm:ss} {logLevel,-11} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
        }
    }
}
