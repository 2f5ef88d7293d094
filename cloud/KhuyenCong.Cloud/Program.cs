using System.Globalization;
using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Demo;
using KhuyenCong.Configuration;

// kc-cloud: the MQTT ingestor into InfluxDB (with an embedded broker when none is configured), and the demo.
return await CloudCli.RunAsync(args).ConfigureAwait(false);

namespace KhuyenCong.Cloud
{
    internal static class CloudCli
    {
        private const string Usage = """
            kc-cloud — KhuyenCong.Energy cloud service

              kc-cloud run --config <cloud.yaml>      ingest every gateway's telemetry into InfluxDB until stopped
              kc-cloud token                          print a new API token and the line access.yaml keeps of it
              kc-cloud mosquitto-acl --registry <sites.yaml> [--ingestor-user ingestor[,ingestor-2]]
                                                      print the mosquitto ACL file for the registry's gateways
              kc-cloud demo --edge <kc-edge.dll> --sim <kc-sim.dll> --gateway <gateway.yaml> --work-dir <dir>
                            [--duration 5m] [--influx-url http://host:8086] [--time-scale 600] [--history-days 10]
                                                    the whole pipeline with a simulated workshop (./kc demo)
              kc-cloud history --config <cloud.yaml> --gateway <gateway.yaml> [--days 7] [--to 2026-11-29T00:00:00Z]
                            [--poll 2s] [--seed 7]
                                                    write simulated raw data of past days into InfluxDB (and a
                                                    production entry per firing into the ledger), as fast as it goes
              kc-cloud recompute --config <cloud.yaml> --from <2026-11-01> [--to <2026-11-30>]
                                                    rerun the analytics jobs over a range (local days, or instants
                                                    like 2026-11-01T08:00:00+07:00; --to defaults to now)

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
            // systemd stops a service with SIGTERM: stop as cleanly as on Ctrl+C (exit 0), not with the default 143.
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                stop.Cancel();
            });
            try
            {
                var o = ParseOptions(args.AsSpan(1));
                return args[0] switch
                {
                    "token" => PrintToken(),
                    "mosquitto-acl" => PrintMosquittoAcl(Require(o, "registry"), o.GetValueOrDefault("ingestor-user") ?? "ingestor"),
                    "history" => await Demo.HistoryCli.RunAsync(o, stop.Token).ConfigureAwait(false),
                    "recompute" => await Jobs.RecomputeCli.RunAsync(o, stop.Token).ConfigureAwait(false),
                    "run" => await CloudHost.RunAsync(Require(o, "config"), stop.Token).ConfigureAwait(false),
                    "demo" => await DemoRunner.RunAsync(new DemoOptions
                    {
                        EdgeDll = Require(o, "edge"),
                        SimDll = Require(o, "sim"),
                        GatewayConfig = Require(o, "gateway"),
                        WorkDir = o.GetValueOrDefault("work-dir") ?? Path.Combine(Path.GetTempPath(), "kc-demo"),
                        Duration = o.TryGetValue("duration", out var d) ? YamlBinder.ParseDuration(d) : null,
                        InfluxUrl = o.GetValueOrDefault("influx-url"),
                        TimeScale = o.TryGetValue("time-scale", out var ts) ? double.Parse(ts, CultureInfo.InvariantCulture) : 600,
                        HistoryDays = o.TryGetValue("history-days", out var hd) ? double.Parse(hd, CultureInfo.InvariantCulture) : 10,
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
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"kc-cloud: {ex.Message}");
                return 1;
            }
        }

        private static int PrintToken()
        {
            var token = Access.AccessList.NewToken();
            Console.WriteLine($"token (give it to the user; it is shown only now): {token}");
            Console.WriteLine($"access.yaml:  token_sha256: {Access.AccessList.Hash(token)}");
            return 0;
        }

        private static int PrintMosquittoAcl(string registry, string ingestorUsers)
        {
            Console.Write(Broker.MosquittoAcl.Generate(Sites.SiteRegistry.Load(registry), ingestorUsers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)));
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
