using System.Globalization;
using KhuyenCong.Configuration;
using KhuyenCong.Edge.Config;
using KhuyenCong.Simulator;

// kc-sim: a simulated workshop served as real Modbus TCP devices, from a gateway config and its device profiles.
const string usage = """
    kc-sim — simulated pottery workshop (kilns, meters, gas) as real Modbus TCP devices

      kc-sim --config <gateway.yaml> [--time-scale 600] [--seed 42] [--load kiln-1=60,kiln-2=400]

    Every device of the gateway config is served at its unit id, with its profile's register map, on the
    host:port of its TCP bus. --time-scale is simulated seconds per real second (600: a firing in about 90 s).
    --load puts that many kg of ware into each firing of a kiln (default: empty kilns).
    """;

string? config = null;
var timeScale = 600.0;
var seed = 42;
var loads = new Dictionary<string, double>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--config" when i + 1 < args.Length: config = args[++i]; break;
        case "--time-scale" when i + 1 < args.Length && double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var ts) && ts >= 0: timeScale = ts; i++; break;
        case "--seed" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var s): seed = s; i++; break;
        case "--load" when i + 1 < args.Length && ParseLoads(args[i + 1], loads): i++; break;
        case "-h" or "--help": Console.WriteLine(usage); return 0;
        default: Console.Error.WriteLine($"kc-sim: unexpected argument '{args[i]}'\n\n{usage}"); return 2;
    }
}
if (config is null)
{
    Console.Error.WriteLine($"kc-sim: --config is required\n\n{usage}");
    return 2;
}

LoadedGateway gateway;
try
{
    gateway = GatewayConfigLoader.Load(config);
}
catch (ConfigException ex)
{
    Console.Error.WriteLine($"kc-sim: invalid configuration: {ex.Message}");
    return 2;
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

await using var sim = new SimulatorHost(gateway, timeScale, seed);
foreach (var (kiln, kg) in loads)
{
    if (!sim.Workshop.Kilns.TryGetValue(kiln, out var model))
    {
        Console.Error.WriteLine($"kc-sim: --load: '{kiln}' is not a kiln of {config} ({string.Join(", ", sim.Workshop.Kilns.Keys)})");
        return 2;
    }
    model.LoadKg = kg;
}
await sim.StartAsync(stop.Token);
foreach (var (bus, ep) in sim.Endpoints)
{
    var devices = gateway.Config.Devices.Where(d => d.Bus == bus).Select(d => $"{d.Id} (unit {d.Unit ?? gateway.ProfilesByDevice[d.Id].Profile.DefaultUnit}, {gateway.ProfilesByDevice[d.Id].Profile.Id})");
    Console.WriteLine($"kc-sim: bus {bus} on {ep}: {string.Join(", ", devices)}");
}
Console.WriteLine($"kc-sim: time scale {timeScale.ToString(CultureInfo.InvariantCulture)}x; Ctrl-C stops");
try
{
    while (!stop.IsCancellationRequested)
    {
        await Task.Delay(TimeSpan.FromSeconds(5), stop.Token);
        var kilns = sim.Workshop.Kilns.Values.Select(k => string.Create(CultureInfo.InvariantCulture, $"{k.Id} {k.TemperatureC:0} °C → {k.SetpointC:0} °C {(k.Running ? "firing" : "idle")}"));
        Console.WriteLine($"kc-sim: t+{TimeSpan.FromSeconds(sim.Workshop.SimulatedSeconds):d\\.hh\\:mm}  {string.Join(" | ", kilns)}");
    }
}
catch (OperationCanceledException)
{
}
return 0;

static bool ParseLoads(string text, Dictionary<string, double> loads)
{
    foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    {
        var kv = part.Split('=');
        if (kv.Length != 2 || !double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var kg) || kg < 0) return false;
        loads[kv[0]] = kg;
    }
    return true;
}
