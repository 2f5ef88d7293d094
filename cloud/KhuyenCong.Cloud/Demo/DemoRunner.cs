using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Jobs;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;
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
    /// <summary>Days of simulated history written before the live part (0: none).</summary>
    public double HistoryDays { get; init; } = 10;
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
        var firmware = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(o.GatewayConfig))!, ".."));
        var registryCopy = WriteRegistryCopy(Path.Combine(firmware, "sites", "sites.yaml"), run, o.TimeScale);
        var signIn = WriteDemoAccess(run, registryCopy);
        var scale = Math.Max(o.TimeScale, 1);
        var cloudCfg = CloudConfigLoader.Parse($"""
            embedded_broker: {"{"} bind: 127.0.0.1, port: {brokerPort} {"}"}
            influx: {"{"} url: "{influxUrl}", api: v1, database: {Database} {"}"}
            registry: {registryCopy}
            factors: {Path.Combine(firmware, "factors")}
            data_dir: {Path.Combine(run, "data")}
            http: {"{"} bind: 127.0.0.1, port: 0, access_file: "{Path.Combine(run, "access.yaml")}" {"}"}
            jobs: {"{"} interval: 5s, window: 1d, min_firing: {(long)(30 * 60_000 / scale)}ms, production_match: {(long)(3_600_000 / scale)}ms {"}"}
            """, "demo cloud config");
        var registry = SiteRegistry.Load(registryCopy);
        if (o.HistoryDays > 0) await WriteHistoryAsync(o, cloudCfg, registry, gateway, started, logs, ct).ConfigureAwait(false);

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

            children.Add(StartChild(o.SimDll, ["--config", gateway, "--time-scale", o.TimeScale.ToString(CultureInfo.InvariantCulture), "--load", string.Join(",", LiveLoads.Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.Key}={l.Value}")))], Path.Combine(run, "sim.log")));
            await WaitPortAsync(busPort, TimeSpan.FromSeconds(30), children[0], ct).ConfigureAwait(false);
            children.Add(StartChild(o.EdgeDll, ["run", "--config", gateway], Path.Combine(run, "edge.log")));
            Say($"simulated workshop on Modbus TCP 127.0.0.1:{busPort} (time ×{o.TimeScale.ToString(CultureInfo.InvariantCulture)}: a firing program of about 7 h of kiln time runs in {7 * 3600 / Math.Max(o.TimeScale, 1) / 60:0.#} min, cooling takes about twice that), edge agent polling it");
            Say(o.Duration is { } d ? $"running for {d}; Ctrl-C stops earlier" : "Ctrl-C stops");

            using var influx = new InfluxQlClient(influxUrl, Database);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (o.Duration is { } duration) stop.CancelAfter(duration);
            using var production = new ProductionStore(Path.Combine(run, "data", "production.db"));
            var operatorTask = RecordLiveProductionAsync(influx, production, SiteOf(gateway), started, stop.Token);
            await ShowAsync(influx, SiteOf(gateway), started, cloud, children, stop.Token).ConfigureAwait(false);
            await operatorTask.ConfigureAwait(false);
            if (!ct.IsCancellationRequested && children.Any(c => c.HasExited)) exit = 1;
            if (cloud.Jobs is { } jobs)
            {
                // One last run over the live part, then the firing table and the compliance line.
                try
                {
                    await jobs.Job.RunAsync(started - TimeSpan.FromDays(1), DateTimeOffset.UtcNow, "demo-final", CancellationToken.None).ConfigureAwait(false);
                    await PrintReportAsync(influx, SiteOf(gateway), started).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is HttpRequestException or InfluxQueryException or InvalidOperationException)
                {
                    Say($"the final analytics run failed: {ex.Message}");
                }
            }
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
        Say($"  measurements      meter, kiln, gas, gateway_status; derived: energy, firing, enpi, savings, baseline_model, compliance, job_run (docs/schema.md)");
        Say($"  production ledger {Path.Combine(run, "data", "production.db")}");
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

    /// <summary>The ware the live simulator puts into every firing (kc-sim --load), and the production the demo's operator records for it.</summary>
    private static readonly Dictionary<string, double> LiveLoads = new(StringComparer.Ordinal) { ["kiln-1"] = 60, ["kiln-2"] = 400 };

    /// <summary>
    /// Days of simulated history before the live part (SimulatedHistory, polled every 30 s), with a production entry per
    /// firing, then the analytics job over all of it: the demo starts with completed firings, baselines and savings.
    /// </summary>
    private static async Task WriteHistoryAsync(DemoOptions o, LoadedCloudConfig cfg, SiteRegistry registry, string gateway, DateTimeOffset started, ILoggerFactory logs, CancellationToken ct)
    {
        Say($"writing {o.HistoryDays.ToString(CultureInfo.InvariantCulture)} days of simulated history (the same workshop model, polled every 30 s) …");
        using var sink = CloudService.CreateSink(cfg.Config.Influx, cfg.Dir);
        await sink.PrepareAsync(ct).ConfigureAwait(false);
        var (job, influx, production) = JobLoop.CreateJob(cfg, registry, sink, logs);
        using (influx)
        using (production)
        {
            var h = await SimulatedHistory.WriteAsync(sink, gateway, started - TimeSpan.FromDays(o.HistoryDays), started, production,
                new HistoryOptions { PollInterval = TimeSpan.FromSeconds(30), EndAtLiveStart = true }, ct).ConfigureAwait(false);
            Say(string.Create(CultureInfo.InvariantCulture, $"  {h.Lines} lines, {h.Firings.Count} firings with production entries, in {h.Elapsed.TotalSeconds:0.0} s; computing firings, EnPIs, baselines and savings …"));
            var r = await job.RunAsync(h.From, started, "demo-history", ct).ConfigureAwait(false);
            Say(string.Create(CultureInfo.InvariantCulture, $"  {r.Points} derived points in {r.Duration.TotalSeconds:0.0} s"));
        }
    }

    /// <summary>
    /// The operator of the live part: records the production of each live firing as soon as the job has written it (the
    /// same load the simulator was given), so live firings get their SEC too.
    /// </summary>
    private static async Task RecordLiveProductionAsync(InfluxQlClient influx, ProductionStore production, string site, DateTimeOffset since, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(3), ct).ConfigureAwait(false);
                var firings = await influx.QueryAsync($"SELECT energy_mj FROM firing WHERE site = '{site}' AND time >= {since.ToUnixTimeMilliseconds()}ms GROUP BY kiln", ct).ConfigureAwait(false);
                foreach (var s in firings)
                {
                    var kiln = s.Tags["kiln"];
                    if (!LiveLoads.TryGetValue(kiln, out var kg)) continue;
                    foreach (var start in s.Times())
                    {
                        var id = string.Create(CultureInfo.InvariantCulture, $"demo-{site}-{kiln}-{start.ToUnixTimeMilliseconds()}");
                        if (production.Exists(id)) continue;
                        production.Append(new KhuyenCong.Analytics.Firings.ProductionEntry(id, site, kiln, start, DateTimeOffset.UtcNow, "demo operator", kg,
                            (int)Math.Round(kg / (kiln == "kiln-1" ? 0.6 : 2.5)), kiln == "kiln-1" ? "glazed tableware" : "stoneware vases"));
                    }
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Exception ex) when (ex is HttpRequestException or InfluxQueryException)
            {
                // InfluxDB busy: try again on the next round.
            }
        }
    }

    /// <summary>Per kiln, every firing (start, duration, energy, kgoe, cost, SEC); the baseline verdict; the site's compliance line.</summary>
    private static async Task PrintReportAsync(InfluxQlClient influx, string site, DateTimeOffset liveSince)
    {
        var inv = CultureInfo.InvariantCulture;
        var firings = await influx.QueryAsync($"SELECT * FROM firing WHERE site = '{site}' GROUP BY kiln").ConfigureAwait(false);
        var models = await influx.QueryAsync($"SELECT summary, n, r2, slope_mj_per_kg FROM baseline_model WHERE site = '{site}' GROUP BY kiln").ConfigureAwait(false);
        var savings = await influx.QueryAsync($"SELECT last(cusum_mj), last(savings_pct) FROM savings WHERE site = '{site}' GROUP BY kiln").ConfigureAwait(false);
        Say("");
        Say($"Firings of {site} (times in Vietnam local time; * = fired during the live part, in compressed time):");
        foreach (var s in firings)
        {
            var kiln = s.Tags["kiln"];
            var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(kiln));
            foreach (var col in new[] { "start", "duration", "energy", "kgoe", "cost (VND)", "ware", "SEC (MJ/kg)" }) table.AddColumn(col);
            var rows = DerivedStore.Rows([s]).ToList();
            foreach (var (_, ms, row) in rows)
            {
                double? N(string k) => row.TryGetValue(k, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number ? v.GetDouble() : null;
                var start = DateTimeOffset.FromUnixTimeMilliseconds(ms);
                var energy = N("lpg_kg") is > 0 ? $"{N("lpg_kg"):0.0} kg LPG" + (N("electricity_kwh") > 0 ? $" + {N("electricity_kwh"):0.0} kWh" : "") : $"{N("electricity_kwh"):0.0} kWh";
                table.AddRow(
                    Markup.Escape(KhuyenCong.Analytics.Time.VietnamTime.ToLocal(start).ToString("yyyy-MM-dd HH:mm", inv) + (start >= liveSince ? " *" : "")),
                    Markup.Escape(N("running") == 1 ? "still firing" : N("duration_h") < 1 ? string.Create(inv, $"{N("duration_h") * 60:0.0} min") : string.Create(inv, $"{N("duration_h"):0.0} h")),
                    Markup.Escape(string.Create(inv, $"{energy}")),
                    string.Create(inv, $"{N("kgoe"):0.0}"),
                    N("electricity_kwh") > 0 ? string.Create(inv, $"{N("cost_vnd"):#,0}") : "—",
                    N("ware_kg") is { } kg ? string.Create(inv, $"{kg:0} kg") : "—",
                    N("sec_mj_per_kg") is { } sec ? string.Create(inv, $"{sec:0.00}{(N("running") == 1 ? " so far" : "")}") : "—");
            }
            AnsiConsole.Write(table);
            if (models.FirstOrDefault(m => m.Tags["kiln"] == kiln) is { } model)
            {
                Say(string.Create(inv, $"  baseline ({model.Numbers("n").Single():0} firings): E = … + {model.Numbers("slope_mj_per_kg").Single():0.00} MJ/kg × ware, R² = {model.Numbers("r2").Single():0.000}. {model.Strings("summary").Single()}"));
                if (savings.FirstOrDefault(m => m.Tags["kiln"] == kiln) is { } sv)
                    Say(string.Create(inv, $"  savings since: CUSUM {sv.Numbers("last").Single():0} MJ, {sv.Numbers("last_1").Single():0.0} % of the adjusted baseline"));
            }
            else Say("  no baseline yet: it needs at least three complete firings with production in the baseline half");
        }
        var compliance = await influx.QueryAsync($"SELECT * FROM compliance WHERE site = '{site}' ORDER BY time DESC LIMIT 1").ConfigureAwait(false);
        if (compliance.FirstOrDefault() is { } c)
        {
            var row = DerivedStore.Rows([c]).Single();
            double? N(string k) => row.Row.TryGetValue(k, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number ? v.GetDouble() : null;
            var year = KhuyenCong.Analytics.Time.VietnamTime.LocalDate(DateTimeOffset.FromUnixTimeMilliseconds(row.TimeMs)).Year;
            Say(string.Create(inv, $"Compliance {site} {year}: {N("toe"):0.000} TOE so far (key-consumer threshold {N("threshold_toe"):#,0} TOE: {(N("key_consumer") == 1 ? "KEY CONSUMER" : "below")}), SEC {N("sec_mj_per_kg"):0.00} MJ/kg (rank {N("sec_rank")?.ToString("0", inv) ?? "—"}), data completeness {100 * N("completeness"):0.0} % of the year, savings {(N("savings_pct") is { } sp ? sp.ToString("0.0", inv) + " %" : "—")} against a {N("target_pct"):0} % target"));
        }
    }

    /// <summary>
    /// Copies the site registry for the demo: the live simulator runs <paramref name="timeScale"/> times faster than the
    /// clock its readings are stamped with, so every plausible maximum rate is multiplied by it (else the compressed
    /// firings would read as glitches), and completeness is counted in 30 s slots (the history is polled every 30 s).
    /// </summary>
    private static string WriteRegistryCopy(string source, string run, double timeScale)
    {
        var text = File.ReadAllText(source);
        text = MaxRate().Replace(text, m => string.Create(CultureInfo.InvariantCulture, $"max_rate_per_hour: {double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * Math.Max(timeScale, 1)}"));
        text = PollInterval().Replace(text, "poll_interval: 30s");
        var copy = Path.Combine(run, "sites.yaml");
        File.WriteAllText(copy, "# The demo's copy of the site registry: maximum rates × time scale, completeness in 30 s slots.\n" + text);
        return copy;
    }

    [GeneratedRegex(@"max_rate_per_hour:\s*([0-9.]+)")]
    private static partial Regex MaxRate();

    [GeneratedRegex(@"poll_interval:\s*\S+")]
    private static partial Regex PollInterval();

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
