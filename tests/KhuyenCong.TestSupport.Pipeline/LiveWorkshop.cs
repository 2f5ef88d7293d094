using KhuyenCong.Edge;
using KhuyenCong.Edge.Config;
using KhuyenCong.Simulator;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.TestSupport.Pipeline;

/// <summary>How the demo workshop of a <see cref="LiveWorkshop"/> is polled and how fast its kilns fire.</summary>
public sealed record LiveWorkshopOptions
{
    public required string Site { get; init; }
    public required string Gateway { get; init; }

    /// <summary>The MQTT broker the edge agent publishes to, on 127.0.0.1.</summary>
    public required int BrokerPort { get; init; }

    /// <summary>Poll interval of the meters and controllers (a YAML duration).</summary>
    public string PollInterval { get; init; } = "1s";

    /// <summary>Poll interval of the LPG scale (a YAML duration).</summary>
    public string GasPollInterval { get; init; } = "2s";

    /// <summary>The outbox's commit interval (a YAML duration).</summary>
    public string CommitInterval { get; init; } = "200ms";

    /// <summary>The gateway's <c>publish</c> section, as a YAML flow mapping.</summary>
    public string Publish { get; init; } = "{ max_batch: 200, interval: 500ms }";

    /// <summary>How many times faster than the clock kiln time runs.</summary>
    public required double TimeScale { get; init; }

    /// <summary>How far into the firing programme the simulator starts.</summary>
    public required TimeSpan StartAt { get; init; }
}

/// <summary>
/// The demo workshop live on loopback: the simulator serves it (site main meter, electric kiln-1 with its sub-meter and
/// controller, LPG kiln-2 with its controller and scale) as Modbus TCP devices on a free port, and the edge agent polls
/// them and publishes over MQTT to the broker of <see cref="LiveWorkshopOptions.BrokerPort"/>. The gateway file and the
/// outbox live in the directory given.
/// </summary>
public sealed class LiveWorkshop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;

    private LiveWorkshop(LoadedGateway gateway, SimulatorHost sim)
    {
        Gateway = gateway;
        Sim = sim;
        Edge = new EdgeAgent(gateway, NullLoggerFactory.Instance);
    }

    public LoadedGateway Gateway { get; }
    public SimulatorHost Sim { get; }
    public EdgeAgent Edge { get; }

    /// <summary>Writes <c>gateway.yaml</c> into <paramref name="dir"/>, starts the simulator and then the edge agent.</summary>
    public static async Task<LiveWorkshop> StartAsync(string dir, LiveWorkshopOptions o)
    {
        var busPort = FreePort.Next();
        var path = Path.Combine(dir, "gateway.yaml");
        File.WriteAllText(path, $$"""
            site: {{o.Site}}
            gateway: {{o.Gateway}}
            profiles_dir: {{RepoPaths.Devices}}
            mqtt: { url: "mqtt://127.0.0.1:{{o.BrokerPort}}" }
            outbox: { path: {{Path.Combine(dir, "outbox.db")}}, commit_interval: {{o.CommitInterval}} }
            publish: {{o.Publish}}
            buses:
              - { id: lan, type: tcp, host: 127.0.0.1, port: {{busPort}} }
            devices:
              - { id: main-meter, bus: lan, profile: eastron-sdm630, unit: 1, poll_interval: {{o.PollInterval}} }
              - { id: kiln1-meter, bus: lan, profile: eastron-sdm630, unit: 2, poll_interval: {{o.PollInterval}}, kiln: kiln-1 }
              - { id: kiln1-ctl, bus: lan, profile: autonics-tk, unit: 3, poll_interval: {{o.PollInterval}}, kiln: kiln-1 }
              - { id: kiln2-ctl, bus: lan, profile: autonics-tk, unit: 4, poll_interval: {{o.PollInterval}}, kiln: kiln-2 }
              - { id: kiln2-lpg, bus: lan, profile: generic-loadcell-transmitter, unit: 5, poll_interval: {{o.GasPollInterval}}, kiln: kiln-2 }
            """);
        var gw = GatewayConfigLoader.Load(path);
        var sim = new SimulatorHost(gw, timeScale: o.TimeScale);
        LiveWorkshop? w = null;
        try
        {
            sim.Advance(o.StartAt);
            await sim.StartAsync(default);
            w = new LiveWorkshop(gw, sim);
            w._run = w.Edge.RunAsync(w._stop.Token);
            return w;
        }
        catch
        {
            if (w is not null) await w.DisposeAsync();
            else await sim.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the edge agent (it flushes its outbox and says goodbye to the broker); an error it ends with is thrown.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_run is { } run)
        {
            _run = null;
            await run;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is { } run)
        {
            try
            {
                await run;
            }
            catch (OperationCanceledException)
            {
            }
        }
        await Edge.DisposeAsync();
        await Sim.DisposeAsync();
        _stop.Dispose();
    }
}
