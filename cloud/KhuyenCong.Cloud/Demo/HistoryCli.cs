using System.Globalization;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Configuration;

namespace KhuyenCong.Cloud.Demo;

/// <summary><c>kc-cloud history</c>: simulated raw data of past days into the configured InfluxDB and production ledger.</summary>
internal static class HistoryCli
{
    public static async Task<int> RunAsync(IReadOnlyDictionary<string, string> o, CancellationToken ct)
    {
        var loaded = CloudConfigLoader.Load(Require(o, "config"));
        var gateway = Edge.Config.GatewayConfigLoader.Load(Require(o, "gateway"));
        var days = o.TryGetValue("days", out var d) ? double.Parse(d, CultureInfo.InvariantCulture) : 7;
        if (!(days > 0) || days > 400) throw new ArgumentException($"--days {d}: must be more than 0 and at most 400");
        var to = o.TryGetValue("to", out var t)
            ? DateTimeOffset.Parse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUniversalTime()
            : DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60 * 60);
        var options = new HistoryOptions
        {
            PollInterval = o.TryGetValue("poll", out var p) ? YamlBinder.ParseDuration(p) : null,
            Seed = o.TryGetValue("seed", out var s) ? int.Parse(s, CultureInfo.InvariantCulture) : 7,
        };
        var c = loaded.Config;
        using var sink = CloudService.CreateSink(c.Influx, loaded.Dir);
        await sink.PrepareAsync(ct).ConfigureAwait(false);
        var ledgerPath = Path.Combine(Path.GetFullPath(c.DataDir, loaded.Dir), "production.db");
        using var production = new ProductionStore(ledgerPath);
        var from = to - TimeSpan.FromDays(days);
        Console.WriteLine($"kc-cloud history: simulating {gateway.Config.Site}/{gateway.Config.Gateway} from {from:u} to {to:u} into {sink.Describe()} …");
        var r = await SimulatedHistory.WriteAsync(sink, gateway, from, to, production, options, ct).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kc-cloud history: {r.Lines} lines ({r.Readings} readings) in {r.Elapsed.TotalSeconds:0.0} s; {r.Firings.Count} firings, production entries in {ledgerPath}"));
        foreach (var f in r.Firings)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {f.Kiln}  {f.Start:yyyy-MM-dd HH:mm}Z  {f.WareKg,6:0.0} kg  {f.Pieces,4} pieces  {f.Product}"));
        return 0;
    }

    private static string Require(IReadOnlyDictionary<string, string> o, string key) =>
        o.TryGetValue(key, out var v) ? v : throw new ArgumentException($"--{key} is required");
}
