using KhuyenCong.Cloud.Config;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Cloud;

/// <summary>The wiring behind <c>kc-cloud run</c>: console logging, the service, and its exit code.</summary>
public static class CloudHost
{
    /// <summary>A console logger factory with one line per message, as the CLI and the demo print them.</summary>
    public static ILoggerFactory ConsoleLogs(LogLevel minimum = LogLevel.Information) => LoggerFactory.Create(b => b.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss ";
    }).SetMinimumLevel(minimum));

    /// <summary>
    /// Runs the service from <paramref name="configFile"/> until <paramref name="ct"/> is cancelled (0) or ingestion fails
    /// (1). An invalid configuration throws <see cref="KhuyenCong.Configuration.ConfigException"/> before anything starts.
    /// </summary>
    public static async Task<int> RunAsync(string configFile, CancellationToken ct)
    {
        var cfg = CloudConfigLoader.Load(configFile);
        using var logs = ConsoleLogs();
        var log = logs.CreateLogger("cloud");
        await using var service = new CloudService(cfg, logs);
        try
        {
            await service.StartAsync(ct).ConfigureAwait(false);
            // Completion ends only by cancellation, or by a failure that stops ingestion.
            await service.Completion.WaitAsync(ct).ConfigureAwait(false);
            log.LogCritical("Ingestion stopped unexpectedly: {Stats}", service.Ingestor.Stats);
            return 1;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            log.LogInformation("Stopping: {Stats}", service.Ingestor.Stats);
            return 0;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            log.LogCritical("{Error}", ex.Message);
            return 1;
        }
    }
}
