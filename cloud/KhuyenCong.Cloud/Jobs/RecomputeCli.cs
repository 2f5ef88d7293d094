using System.Globalization;
using KhuyenCong.Analytics.Time;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Sites;

namespace KhuyenCong.Cloud.Jobs;

/// <summary><c>kc-cloud recompute</c>: the analytics job over any range, once (idempotent: safe while the service runs).</summary>
internal static class RecomputeCli
{
    public static async Task<int> RunAsync(IReadOnlyDictionary<string, string> o, CancellationToken ct)
    {
        var loaded = CloudConfigLoader.Load(o.TryGetValue("config", out var c) ? c : throw new ArgumentException("--config is required"));
        if (loaded.Config.Registry is null) throw new ArgumentException($"{loaded.File}: the jobs need the site registry (registry: …)");
        var registry = SiteRegistry.Load(Path.GetFullPath(loaded.Config.Registry, loaded.Dir));
        var from = o.TryGetValue("from", out var f) ? Instant(f, "from", endOfDay: false) : throw new ArgumentException("--from is required");
        var to = o.TryGetValue("to", out var t) ? Instant(t, "to", endOfDay: true) : DateTimeOffset.UtcNow;
        if (to <= from) throw new ArgumentException($"--to {to:u} is not after --from {from:u}");
        using var logs = CloudHost.ConsoleLogs();
        using var sink = CloudService.CreateSink(loaded.Config.Influx, loaded.Dir);
        await sink.PrepareAsync(ct).ConfigureAwait(false);
        var (job, influx, production) = JobLoop.CreateJob(loaded, registry, sink, logs);
        using (influx)
        using (production)
        {
            var r = await job.RunAsync(from, to, "recompute", ct).ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kc-cloud recompute: {r.From:u} … {r.To:u}: {r.Points} points, {r.Firings} firings in {r.Duration.TotalSeconds:0.0} s"));
        }
        return 0;
    }

    /// <summary>A local day (YYYY-MM-DD: its start, or with <paramref name="endOfDay"/> its end) or an instant with its offset.</summary>
    private static DateTimeOffset Instant(string text, string option, bool endOfDay)
    {
        var inv = CultureInfo.InvariantCulture;
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", inv, DateTimeStyles.None, out var day)) return VietnamTime.StartOfDayUtc(endOfDay ? day.AddDays(1) : day);
        if (text.Length > 10 && (text.EndsWith('Z') || text[^6] is '+' or '-') && DateTimeOffset.TryParse(text, inv, DateTimeStyles.None, out var at)) return at.ToUniversalTime();
        throw new ArgumentException($"--{option} '{text}': not a local day (2026-11-01) or an instant with its offset (2026-11-01T08:00:00+07:00)");
    }
}
