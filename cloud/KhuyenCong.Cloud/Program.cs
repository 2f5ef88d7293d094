using System.Globalization;
using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Configuration;
using Microsoft.Extensions.Logging;

// kc-cloud: the MQTT ingestor into InfluxDB (with an embedded broker when none is configured), and the demo.
return await CloudCli.RunAsync(args).ConfigureAwait(false);

namespace KhuyenCong.Cloud
{
    internal static class CloudCli
    {
        private const string Usage = """
            kc-cloud — KhuyenCong.Energy cloud service

              kc-cloud run --config <cloud.yaml>      ingest every gateway's telemetry into InfluxDB until stopped
              kc-cloud demo --edge <kc-edge.dll> --sim <kc-sim.dll> --gateway <gateway.yaml> --work-dir <dir>
                            [--duration 5m] [--influx-url http://host:8086] [--time-scale 600]
                                                    the whole pipeline with a simulated workshop (./kc demo)

            Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or arguments.
            """;

        public static async Task<int> RunAsync(string[] args)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                Console.WriteLine(Usage);
                return args.Length == 0 ? 2 : 0;
            }
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                stop.Cancel();
            };
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                try
                {
                    stop.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // Already shut down.
                }
            };
            try
            {
                var o = ParseOptions(args.AsSpan(1));
                return args[0] switch
                {
                    "run" => await RunServiceAsync(Require(o, "config"), stop.Token).ConfigureAwait(false),
                    "demo" => await DemoRunner.RunAsync(new DemoOptions
                    {
                        EdgeDll = Require(o, "edge"),
                        SimDll = Require(o, "sim"),
                        GatewayConfig = Require(o, "gateway"),
                        WorkDir = o.GetValueOrDefault("work-dir") ?? Path.Combine(Path.GetTempPath(), "kc-demo"),
                        Duration = o.TryGetValue("duration", out var d) ? YamlBinder.ParseDuration(d) : null,
                        InfluxUrl = o.GetValueOrDefault("influx-url"),
                        TimeScale = o.TryGetValue("time-scale", out var ts) ? double.Parse(ts, CultureInfo.InvariantCulture) : 600,
                    }, stop.Token).ConfigureAwait(false),
                    _ => throw new ArgumentException($"unknown command '{args[0]}'"),
                };
            }
            catch (ConfigException ex)
            {
                Console.Error.WriteLine($"kc-cloud: invalid configuration: {ex.Message}");
                return 2;
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException)
            {
                Console.Error.WriteLine($"kc-cloud: {ex.Message}\n\n{Usage}");
                return 2;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return 0;
            }
        }

        private static async Task<int> RunServiceAsync(string configFile, CancellationToken ct)
        {
            var cfg = CloudConfigLoader.Load(configFile);
            using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            }).SetMinimumLevel(LogLevel.Information));
            await using var service = new CloudService(cfg, logs);
            await service.StartAsync(ct).ConfigureAwait(false);
            try
            {
                await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            logs.CreateLogger("cloud").LogInformation("Stopping: {Stats}", service.Ingestor.Stats);
            return 0;
        }

        private static Dictionary<string, string> ParseOptions(ReadOnlySpan<string> args)
        {
            var o = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < args.Length; i++)
            {
                var a = args[i];
                if (!a.StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument '{a}'");
                if (i + 1 >= args.Length) throw new ArgumentException($"{a} needs a value");
                o[a[2..]] = args[++i];
            }
            return o;
        }

        private static string Require(Dictionary<string, string> o, string key) =>
            o.TryGetValue(key, out var v) ? v : throw new ArgumentException($"--{key} is required");
    }
}
