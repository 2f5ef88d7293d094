// --instance-cpu Q: horizontal scaling as instances are deployed, each with a CPU budget of its own (a pod with a CPU
// limit, a small VM). Every ingestor instance is a separate `kc-cloud run` process — the deployed executable, with its
// own runtime settings — in a cgroup (v1, cpu controller) of its own whose CFS quota is Q of one CPU. The process puts
// itself into the cgroup before the runtime starts (a shell writes its pid to cgroup.procs and then execs kc-cloud), so
// .NET sizes itself to the limit as in a container.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using MQTTnet;

/// <summary>
/// One cgroup v1 cpu group with a CFS quota, and a cpuacct group of the same name that counts the CPU time of its
/// processes to the nanosecond (threads that have ended included); both removed (rmdir) on dispose, after the processes are gone.
/// </summary>
internal sealed class CpuCgroup : IDisposable
{
    public const string Root = "/sys/fs/cgroup/cpu";
    public const string AcctRoot = "/sys/fs/cgroup/cpuacct";
    public const string Prefix = "kc-bench-ingest-";
    private const int PeriodUs = 100_000;

    private CpuCgroup(string path, string acctPath, double cores)
    {
        Path = path;
        AcctPath = acctPath;
        Cores = cores;
    }

    public string Path { get; }
    public string AcctPath { get; }
    public double Cores { get; }

    public static CpuCgroup Create(string name, double cores)
    {
        if (!Directory.Exists(Root) || !Directory.Exists(AcctRoot)) throw new InvalidOperationException($"--instance-cpu needs the cgroup v1 cpu and cpuacct controllers at {Root} and {AcctRoot} (and root)");
        var leaf = Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + name;
        var path = System.IO.Path.Combine(Root, leaf);
        var g = new CpuCgroup(path, System.IO.Path.Combine(AcctRoot, leaf), cores);
        try
        {
            Directory.CreateDirectory(g.Path);
            Directory.CreateDirectory(g.AcctPath);
            File.WriteAllText(System.IO.Path.Combine(path, "cpu.cfs_period_us"), PeriodUs.ToString(CultureInfo.InvariantCulture));
            File.WriteAllText(System.IO.Path.Combine(path, "cpu.cfs_quota_us"), ((long)Math.Round(cores * PeriodUs)).ToString(CultureInfo.InvariantCulture));
        }
        catch
        {
            g.Dispose();
            throw;
        }
        return g;
    }

    /// <summary>System (kernel) CPU seconds of the group's processes so far (cpuacct.stat, in 1/100 s).</summary>
    public double SystemSeconds() =>
        File.ReadLines(System.IO.Path.Combine(AcctPath, "cpuacct.stat")).Where(l => l.StartsWith("system ", StringComparison.Ordinal))
            .Select(l => long.Parse(l[7..], CultureInfo.InvariantCulture) / 100.0).Single();

    /// <summary>CPU seconds used by the group's processes so far (cpuacct.usage).</summary>
    public double CpuSeconds() => long.Parse(File.ReadAllText(System.IO.Path.Combine(AcctPath, "cpuacct.usage")).Trim(), CultureInfo.InvariantCulture) / 1e9;

    /// <summary>cpu.stat: CFS periods, periods in which the group ran out of quota, and the time it was held back.</summary>
    public (long Periods, long Throttled, double ThrottledSeconds) Stat()
    {
        long periods = 0, throttled = 0, ns = 0;
        foreach (var line in File.ReadLines(System.IO.Path.Combine(Path, "cpu.stat")))
        {
            var f = line.Split(' ');
            var v = long.Parse(f[1], CultureInfo.InvariantCulture);
            switch (f[0])
            {
                case "nr_periods": periods = v; break;
                case "nr_throttled": throttled = v; break;
                case "throttled_time": ns = v; break;
            }
        }
        return (periods, throttled, ns / 1e9);
    }

    public void Dispose()
    {
        foreach (var dir in new[] { Path, AcctPath })
        {
            // rmdir fails while a task is still in the group (a process that has not been reaped yet): try for a while.
            for (var i = 0; i < 100 && Directory.Exists(dir); i++)
            {
                try
                {
                    Directory.Delete(dir);
                }
                catch (IOException)
                {
                    Thread.Sleep(100);
                }
            }
            if (Directory.Exists(dir)) Console.Error.WriteLine($"could not remove the cgroup {dir}: tasks {File.ReadAllText(System.IO.Path.Combine(dir, "tasks")).Trim()}");
        }
    }

    /// <summary>Groups left by an earlier run of this benchmark that was killed (its pid is gone and the group is empty).</summary>
    public static void RemoveStale()
    {
        foreach (var d in new[] { Root, AcctRoot }.Where(Directory.Exists).SelectMany(r => Directory.GetDirectories(r, Prefix + "*")))
        {
            var pid = System.IO.Path.GetFileName(d)[Prefix.Length..].Split('-')[0];
            if (Directory.Exists($"/proc/{pid}") || File.ReadAllText(System.IO.Path.Combine(d, "tasks")).Trim().Length > 0) continue;
            try
            {
                Directory.Delete(d);
                Console.WriteLine($"removed a stale cgroup of an earlier run: {d}");
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>One `kc-cloud run` process in its own CPU cgroup, its output collected.</summary>
internal sealed class CloudProcess : IAsyncDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _out = new();

    private CloudProcess(Process p, CpuCgroup group, string id)
    {
        _p = p;
        Group = group;
        Id = id;
    }

    public CpuCgroup Group { get; }
    public string Id { get; }
    public int Pid => _p.Id;
    public bool HasExited => _p.HasExited;

    public string Output
    {
        get
        {
            lock (_out) return _out.ToString();
        }
    }

    public static CloudProcess Start(string exe, string config, CpuCgroup group, string id)
    {
        // The shell joins the group, then becomes kc-cloud (same pid): every thread the runtime creates is in the group.
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-c", "echo $$ > \"$1/cgroup.procs\" && echo $$ > \"$4/cgroup.procs\" && exec \"$2\" run --config \"$3\"", "sh", group.Path, exe, config, group.AcctPath })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("kc-cloud did not start");
        var c = new CloudProcess(p, group, id);
        p.OutputDataReceived += (_, e) => c.Append(e.Data);
        p.ErrorDataReceived += (_, e) => c.Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return c;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_out) _out.AppendLine(line);
    }

    /// <summary>CPU seconds of the whole process (every thread, ended ones included), from its cpuacct group.</summary>
    public double CpuSeconds() => Group.CpuSeconds();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    private const int SigKill = 9, SigTerm = 15, SigCont = 18, SigStop = 19;

    /// <summary>Frozen: the process keeps its connections but runs no code (the broker holds what it cannot send).</summary>
    public void Pause() => Signal(SigStop);

    public void Resume() => Signal(SigCont);

    private void Signal(int sig)
    {
        if (kill(Pid, sig) != 0) throw new InvalidOperationException($"kill({Pid}, {sig}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>The ingest statistics kc-cloud logs when it stops ("Stopping: messages …").</summary>
    public string Stopped()
    {
        var o = Output;
        var i = o.LastIndexOf("Stopping: ", StringComparison.Ordinal);
        return i < 0 ? "(no statistics logged)" : o[(i + "Stopping: ".Length)..].Split('\n')[0].Trim();
    }

    /// <summary>When InfluxDB last accepted one of this instance's writes, from the statistics it logged at stop.</summary>
    public DateTime LastWrite()
    {
        var s = Stopped();
        var i = s.LastIndexOf("last write ", StringComparison.Ordinal);
        if (i < 0 || !DateTime.TryParseExact(s[(i + "last write ".Length)..].Split(',')[0].Trim(), "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t))
            throw new InvalidOperationException($"{Id}: no last write in its statistics at stop: {s}");
        return t;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_p.HasExited)
            {
                kill(Pid, SigCont);
                kill(Pid, SigTerm); // kc-cloud stops cleanly on SIGTERM and logs its statistics
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await _p.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    kill(Pid, SigKill);
                    await _p.WaitForExitAsync();
                }
            }
            _p.WaitForExit(); // the output is read to its end
        }
        finally
        {
            _p.Dispose();
            Group.Dispose();
        }
    }
}

internal static class CappedDrain
{
    /// <summary>
    /// <paramref name="instances"/> kc-cloud processes, each in a cgroup with <see cref="Options.InstanceCpu"/> of a CPU, in one
    /// shared subscription group (when more than one) write into a fresh database. They start, connect and drain a
    /// warm-up backlog of their own (distinct timestamps; their code is compiled and optimised, as in a long-running
    /// service); then they are frozen (SIGSTOP), the whole load is published, and the clock runs from the moment they
    /// are let go (SIGCONT) until the last write InfluxDB answered (each instance logs when, at stop), as the ceiling is
    /// timed to its last answer. influxd's own counter of points written (/debug/vars) says when every line is in. Then
    /// the count of stored lines is checked: warm-up plus load.
    /// </summary>
    public static async Task<(double Seconds, string Note, double[] CpuOfQuota)> RunAsync(string url, int mqttPort, string workDir, string db, int instances,
        List<(string Topic, byte[] Payload)> warm, List<(string Topic, byte[] Payload)> payloads, Options o)
    {
        var q = o.InstanceCpu!.Value;
        var exe = Path.Combine(AppContext.BaseDirectory, "kc-cloud");
        var procs = new List<CloudProcess>();
        try
        {
            for (var k = 1; k <= instances; k++)
            {
                var id = $"{db}-{k}";
                var config = Path.Combine(workDir, id + ".yaml");
                await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
                    mqtt:
                      url: mqtt://127.0.0.1:{mqttPort}
                      client_id: {id}
                    {(instances > 1 ? $"  shared_group: {db}" : "")}
                    influx:
                      url: {url}
                      database: {db}
                    ingest:
                      batch_points: {o.Ingest.BatchPoints}
                      flush_interval: {o.Ingest.FlushInterval.TotalMilliseconds}ms
                      max_in_flight: {o.Ingest.MaxInFlight}

                    """));
                var group = CpuCgroup.Create(id, q);
                try
                {
                    procs.Add(CloudProcess.Start(exe, config, group, id));
                }
                catch
                {
                    group.Dispose();
                    throw;
                }
            }
            await Until(() => procs.All(p => p.Output.Contains("Ingestor connected", StringComparison.Ordinal)), () => procs.Any(p => p.HasExited), TimeSpan.FromSeconds(120),
                () => "the kc-cloud instances did not connect", procs);

            // Warm-up, not timed.
            var warmLines = (long)warm.Count * o.Devices;
            await Publisher.PublishAllAsync(mqttPort, warm);
            await Until(async () => await Influx.CountAsync(url, db) >= warmLines, () => procs.Any(p => p.HasExited), TimeSpan.FromMinutes(5),
                () => $"{db}: the warm-up backlog was not written", procs, poll: TimeSpan.FromMilliseconds(200));
            await Task.Delay(TimeSpan.FromSeconds(3)); // the runtime's background compiler finishes the methods the warm-up made hot

            // The backlog, published while the instances are frozen.
            foreach (var p in procs) p.Pause();
            var pub = Stopwatch.StartNew();
            await Publisher.PublishAllAsync(mqttPort, payloads);
            var publishSeconds = pub.Elapsed.TotalSeconds;
            await Task.Delay(TimeSpan.FromMilliseconds(500)); // the host settles after the publishers

            var lines = (long)payloads.Count * o.Devices;
            using var http = new HttpClient { BaseAddress = new Uri(url + "/") };
            var written0 = await InfluxdStats.PointsWrittenAsync(http);
            var cpu0 = procs.Select(p => p.CpuSeconds()).ToArray();
            // Where the time goes: kernel time and context switches of the instances, influxd and mosquitto.
            var sys0 = (Instances: procs.Sum(p => p.Group.SystemSeconds()), Influxd: Cpu.SystemOf(Cpu.Pids.Influxd), Mosquitto: Cpu.SystemOf(Cpu.Pids.Mosquitto));
            var threads0 = procs.Select(p => Cpu.ThreadsOf(p.Pid)).ToArray();
            var sw0 = (Instances: procs.Sum(p => Cpu.SwitchesOf(p.Pid)), Influxd: Cpu.SwitchesOf(Cpu.Pids.Influxd), Mosquitto: Cpu.SwitchesOf(Cpu.Pids.Mosquitto));
            var thr0 = procs.Select(p => p.Group.Stat()).ToArray();
            var faults0 = (Instances: procs.Sum(p => Cpu.MinorFaultsOf(p.Pid)), Mosquitto: Cpu.MinorFaultsOf(Cpu.Pids.Mosquitto));
            var cpu = Cpu.Now();
            var sw = Stopwatch.StartNew();
            var resumed = DateTime.UtcNow;
            foreach (var p in procs) p.Resume();
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(15);
            long written;
            // Polling only tells when the drain is over; when it ended is the last write InfluxDB answered, which each
            // instance logs when it stops (below). Each poll of /debug/vars costs influxd 1–5 ms of its core and this
            // process about as much of the client core: every 250 ms keeps that small.
            while ((written = await InfluxdStats.PointsWrittenAsync(http) - written0) < lines)
            {
                if (DateTime.UtcNow > deadline || procs.Any(p => p.HasExited))
                    throw new TimeoutException($"{db}: influxd took {written} of {lines} lines. {string.Join(" | ", procs.Select(p => p.Output))}");
                await Task.Delay(250);
            }
            var polled = sw.Elapsed.TotalSeconds;
            // For a profile of the client core taken beside the benchmark: `perf record -k CLOCK_MONOTONIC …`, then
            // `perf report --time A,B` with these (Stopwatch counts CLOCK_MONOTONIC on Linux).
            var now = Stopwatch.GetTimestamp();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{db}: drain from {(now - (long)(polled * Stopwatch.Frequency)) / (double)Stopwatch.Frequency:0.000000} to {now / (double)Stopwatch.Frequency:0.000000} s (CLOCK_MONOTONIC; the end as the poll saw it)"));
            var used = Cpu.Since(cpu);
            var kernel = string.Create(CultureInfo.InvariantCulture,
                $"system CPU s: instances {procs.Sum(p => p.Group.SystemSeconds()) - sys0.Instances:0.00}, influxd {Cpu.SystemOf(Cpu.Pids.Influxd) - sys0.Influxd:0.00}, mosquitto {Cpu.SystemOf(Cpu.Pids.Mosquitto) - sys0.Mosquitto:0.00}; " +
                $"context switches: instances {procs.Sum(p => Cpu.SwitchesOf(p.Pid)) - sw0.Instances:N0}, influxd {Cpu.SwitchesOf(Cpu.Pids.Influxd) - sw0.Influxd:N0}, mosquitto {Cpu.SwitchesOf(Cpu.Pids.Mosquitto) - sw0.Mosquitto:N0}" +
                $" (instance threads, switches/CPU s: {string.Join(" | ", procs.Select((p, i) => Cpu.ThreadsOfSince(p.Pid, threads0[i])))}); " +
                $"page faults (first touch of a page, 4 KB each): instances {procs.Sum(p => Cpu.MinorFaultsOf(p.Pid)) - faults0.Instances:N0}, mosquitto {Cpu.MinorFaultsOf(Cpu.Pids.Mosquitto) - faults0.Mosquitto:N0}");
            var cpuOf = procs.Select((p, i) => p.CpuSeconds() - cpu0[i]).ToArray();
            var thr = procs.Select((p, i) => (Stat: p.Group.Stat(), Before: thr0[i])).ToArray();
            var stored = await Influx.CountAsync(url, db);
            if (stored != warmLines + lines) throw new InvalidOperationException($"{db}: InfluxDB holds {stored} lines, expected {warmLines} (warm-up) + {lines}");
            var ofQuota = cpuOf.Select(c => c / (q * polled)).ToArray();
            var inv = CultureInfo.InvariantCulture;
            var per = string.Join("; ", procs.Select((p, i) => string.Create(inv,
                $"instance {i + 1} (CPUs {Cpu.Allowed(p.Pid)}): {cpuOf[i]:0.00} CPU s = {ofQuota[i]:0.00} of its quota, throttled in {thr[i].Stat.Throttled - thr[i].Before.Throttled} of {thr[i].Stat.Periods - thr[i].Before.Periods} periods ({thr[i].Stat.ThrottledSeconds - thr[i].Before.ThrottledSeconds:0.00} s held)")));
            // Stop them now, so their statistics (which include the warm-up) are in the note.
            foreach (var p in procs) await p.DisposeAsync();
            var stats = string.Join("; ", procs.Select((p, i) => $"instance {i + 1} at stop: {p.Stopped()}"));
            // Timed as the ceiling is: from the start to the last answer a writer received.
            var seconds = (procs.Max(p => p.LastWrite()) - resumed).TotalSeconds;
            if (seconds <= 0 || seconds > polled + 0.05)
                throw new InvalidOperationException($"{db}: the last write logged ({seconds:0.000} s after the start) does not fit influxd's counter, complete {polled:0.000} s after it: {stats}");
            // A stopped instance's persistent session would go on collecting every later message at the broker (with one
            // instance there is no shared group): end it, as an operator retiring an ingestor would.
            foreach (var p in procs)
            {
                using var c = await Publisher.ConnectAsync(mqttPort, p.Id);
                await c.DisconnectAsync(new MqttClientDisconnectOptions());
            }
            procs.Clear();
            return (seconds, string.Create(inv, $"{per}; {used} (this process only polls); {kernel}; {stats}; influxd's counter seen complete after {polled:0.00} s; backlog published in {publishSeconds:0.0} s; stored {stored:N0} = {warmLines:N0} warm-up + {lines:N0}"), ofQuota);
        }
        finally
        {
            foreach (var p in procs) await p.DisposeAsync();
        }
    }

    private static Task Until(Func<bool> done, Func<bool> failed, TimeSpan within, Func<string> what, List<CloudProcess> procs) =>
        Until(() => Task.FromResult(done()), failed, within, what, procs, TimeSpan.FromMilliseconds(20));

    private static async Task Until(Func<Task<bool>> done, Func<bool> failed, TimeSpan within, Func<string> what, List<CloudProcess> procs, TimeSpan poll)
    {
        var deadline = DateTime.UtcNow + within;
        while (!await done())
        {
            if (failed() || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"{what()}: {string.Join(" | ", procs.Select(p => $"{p.Id} (exited: {p.HasExited}): {p.Output}"))}");
            await Task.Delay(poll);
        }
    }
}

/// <summary>influxd's own count of points it wrote for HTTP /write requests (every database), from /debug/vars.</summary>
internal static class InfluxdStats
{
    public static async Task<long> PointsWrittenAsync(HttpClient http)
    {
        await using var s = await http.GetStreamAsync(new Uri("debug/vars", UriKind.Relative));
        using var doc = await JsonDocument.ParseAsync(s);
        long n = 0;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String && name.GetString() == "httpd"
                && p.Value.TryGetProperty("values", out var v) && v.TryGetProperty("pointsWrittenOK", out var ok))
                n += ok.GetInt64();
        }
        return n;
    }
}
