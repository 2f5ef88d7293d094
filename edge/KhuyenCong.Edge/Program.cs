using KhuyenCong.Configuration;
using KhuyenCong.Edge;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// kc-edge: the gateway agent and the technician's field tools. Thin on purpose: the work lives in EdgeAgent and Cli.
return await Cli.RunAsync(args).ConfigureAwait(false);

namespace KhuyenCong.Edge
{
    internal static class Cli
    {
        private const string Usage = """
            kc-edge — KhuyenCong.Energy gateway agent

              kc-edge run --config <gateway.yaml>        poll the devices and publish to the broker until stopped
              kc-edge validate --config <gateway.yaml>   check a gateway config and every profile it uses
              kc-edge read --profile <id|file> (--tcp H:P | --rtu-over-tcp H:P | --serial DEV [--baud B] [--parity N|E|O]
                           [--stop-bits 1|2]) [--unit N] [--json]
                                                         read every point of a profile once from a device
              kc-edge scan (--tcp H:P | --rtu-over-tcp H:P | --serial DEV …) [--units 1-247] [--register 0]
                           [--table holding|input] [--timeout-ms 300]
                                                         list the unit ids that answer on a bus
              kc-edge plan                               requests per poll for every profile: planned vs one per point

            Profiles are looked up in --profiles-dir, else $KC_PROFILES_DIR, else /etc/khuyencong/devices.

            Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or arguments.
            """;

        public static async Task<int> RunAsync(string[] args)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                Console.WriteLine(Usage);
                return args.Length == 0 ? 2 : 0;
            }
            var options = Options.Parse(args.AsSpan(1));
            try
            {
                return args[0] switch
                {
                    "run" => await RunAgentAsync(options.Require("config")).ConfigureAwait(false),
                    "validate" => Validate(options.Require("config")),
                    "read" => await FieldTools.ReadAsync(options, CancellationToken.None).ConfigureAwait(false),
                    "scan" => await FieldTools.ScanAsync(options, CancellationToken.None).ConfigureAwait(false),
                    "plan" => FieldTools.Plan(options),
                    _ => throw new UsageException($"unknown command '{args[0]}'"),
                };
            }
            catch (UsageException ex)
            {
                Console.Error.WriteLine($"kc-edge: {ex.Message}\n\n{Usage}");
                return 2;
            }
            catch (ConfigException ex)
            {
                Console.Error.WriteLine($"kc-edge: invalid configuration: {ex.Message}");
                return 2;
            }
        }

        private static int Validate(string file)
        {
            var g = GatewayConfigLoader.Load(file);
            // The password, CA and client certificate files must be there and readable, as on the gateway itself.
            var credentials = BrokerCredentials.Load(g);
            var profiles = g.ProfilesByDevice.Values.Distinct().Count();
            Console.WriteLine($"{file}: ok — site {g.Config.Site}, gateway {g.Config.Gateway}, {g.Config.Buses.Count} buses, {g.Config.Devices.Count} devices, {profiles} profiles; broker {g.Config.Mqtt.Url}: {credentials}");
            return 0;
        }

        private static async Task<int> RunAgentAsync(string file)
        {
            var gateway = GatewayConfigLoader.Load(file);
            // A missing password, CA or certificate file stops here with its file:line:col, before any connect attempt.
            _ = BrokerCredentials.Load(gateway);
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
            builder.Services.AddSystemd();
            // Outside systemd the notifier is a no-op (IsEnabled is false), so the watchdog loop stays idle.
            builder.Services.TryAddSingleton<ISystemdNotifier, SystemdNotifier>();
            builder.Services.AddSingleton(gateway);
            builder.Services.AddHostedService<EdgeService>();
            using var host = builder.Build();
            await host.RunAsync().ConfigureAwait(false);
            return Environment.ExitCode;
        }
    }

    internal sealed class UsageException(string message) : Exception(message);

    /// <summary>--key value pairs.</summary>
    internal sealed class Options
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public static Options Parse(ReadOnlySpan<string> args)
        {
            var o = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                var a = args[i];
                if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{a}'");
                var eq = a.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0) o._values[a[2..eq]] = a[(eq + 1)..];
                else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) o._values[a[2..]] = args[++i];
                else o._values[a[2..]] = "true";
            }
            return o;
        }

        public string Require(string key) => _values.TryGetValue(key, out var v) ? v : throw new UsageException($"--{key} is required");

        public string? Get(string key) => _values.GetValueOrDefault(key);
    }
}
