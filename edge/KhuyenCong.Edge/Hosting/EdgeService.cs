using KhuyenCong.Edge.Config;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Edge.Hosting;

/// <summary>
/// Runs the <see cref="EdgeAgent"/> as a hosted service. Under systemd (Type=notify) it reports READY once the agent
/// runs, and pings the watchdog only while the agent shows signs of life — a poll or a publish within the last
/// <see cref="StallAfter"/> — so a silent stall gets the service restarted instead of sitting there for months.
/// </summary>
public sealed class EdgeService(LoadedGateway gateway, ILoggerFactory logs, ISystemdNotifier notifier, IHostApplicationLifetime lifetime) : BackgroundService
{
    public static readonly TimeSpan StallAfter = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var agent = new EdgeAgent(gateway, logs);
        var run = agent.RunAsync(stoppingToken);
        var watchdog = WatchdogAsync(agent, stoppingToken);
        try
        {
            await run.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logs.CreateLogger("edge").LogCritical(ex, "The edge agent stopped on an unexpected error");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        await watchdog.ConfigureAwait(false);
    }

    private async Task WatchdogAsync(EdgeAgent agent, CancellationToken ct)
    {
        if (!notifier.IsEnabled) return;
        // systemd sets WATCHDOG_USEC; ping at a third of it.
        var usec = long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var u) ? u : 0;
        var period = usec > 0 ? TimeSpan.FromMicroseconds(usec / 3.0) : TimeSpan.FromSeconds(10);
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                if (agent.LastProgress is { } last && DateTimeOffset.UtcNow - last < StallAfter)
                    notifier.Notify(new ServiceState("WATCHDOG=1"));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
