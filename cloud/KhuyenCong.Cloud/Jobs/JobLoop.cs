using KhuyenCong.Analytics.Factors;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Configuration;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Cloud.Jobs;

/// <summary>
/// Runs the analytics job inside the cloud service: one incremental run at start, then one every
/// <see cref="JobsConfig.Interval"/> after the previous one ended. A failed run is logged (and recorded in job_run) and
/// the next one tries again. Several instances may run it on the same data: every write is an idempotent overwrite, so
/// the worst case is the same points written twice.
/// </summary>
public sealed class JobLoop : IAsyncDisposable
{
    private readonly ILogger _log;
    private readonly TimeSpan _interval;
    private readonly IDisposable[] _owned;
    private readonly CancellationTokenSource _cts = new();
    private readonly SemaphoreSlim _runs = new(0);
    private Task? _task;
    private long _completed;

    public JobLoop(AnalyticsJob job, TimeSpan interval, ILogger log, params IDisposable[] owned)
    {
        Job = job;
        _interval = interval;
        _log = log;
        _owned = owned;
    }

    public AnalyticsJob Job { get; }

    /// <summary>The last run's result (null before the first ends, or when it failed).</summary>
    public JobRunResult? Last { get; private set; }

    /// <summary>The last failure's message, null after a run that succeeded.</summary>
    public string? LastError { get; private set; }

    public long CompletedRuns => Interlocked.Read(ref _completed);

    /// <summary>Builds the job from the service's config: registry, factor files, InfluxDB (InfluxQL) and the production ledger.</summary>
    public static JobLoop Create(LoadedCloudConfig loaded, SiteRegistry registry, ITimeSeriesSink sink, ILoggerFactory logs)
    {
        var c = loaded.Config;
        var j = c.Jobs ?? new JobsConfig();
        var (job, influx, production) = CreateJob(loaded, registry, sink, logs);
        return new JobLoop(job, j.Interval, logs.CreateLogger("jobs"), influx, production);
    }

    /// <summary>The job and what it owns (the caller disposes the client and the ledger).</summary>
    public static (AnalyticsJob Job, InfluxQlClient Influx, ProductionStore Production) CreateJob(LoadedCloudConfig loaded, SiteRegistry registry, ITimeSeriesSink sink, ILoggerFactory logs)
    {
        var c = loaded.Config;
        var dir = loaded.Dir;
        var j = c.Jobs ?? new JobsConfig();
        var factors = FactorSet.LoadDirectory(Path.GetFullPath(c.Factors, dir));
        var influx = new InfluxQlClient(c.Influx.Url, c.Influx.Api == InfluxApi.V1 ? c.Influx.Database : c.Influx.Bucket ?? c.Influx.Database,
            c.Influx.Username, Secrets.Read(c.Influx.PasswordFile, null, dir), TimeSpan.FromMinutes(2));
        var production = new ProductionStore(Path.Combine(Path.GetFullPath(c.DataDir, dir), "production.db"));
        var job = new AnalyticsJob(registry, factors, influx, sink, production, new JobOptions
        {
            Window = j.Window,
            Voltage = j.VoltageLevel,
            CounterModulus = j.CounterModulus,
            RunState = new KhuyenCong.Analytics.Firings.RunStateOptions { MinDuration = j.MinFiring },
            ProductionMatch = j.ProductionMatch,
        }, logs.CreateLogger("jobs"));
        return (job, influx, production);
    }

    public void Start(CancellationToken ct)
    {
        var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _cts.Token);
        _task = Task.Run(() => LoopAsync(linked.Token), CancellationToken.None).ContinueWith(_ => linked.Dispose(), TaskScheduler.Default);
    }

    /// <summary>Completes when <paramref name="count"/> more runs have ended (successfully or not) after the call.</summary>
    public async Task WaitForRunsAsync(int count, CancellationToken ct)
    {
        for (var i = 0; i < count; i++) await _runs.WaitAsync(ct).ConfigureAwait(false);
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                Last = await Job.RunIncrementalAsync(DateTimeOffset.UtcNow, ct).ConfigureAwait(false);
                LastError = null;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // InfluxDB down, a bad factor file …: the next run tries again; job_run holds the error when it could be written.
                LastError = ex.Message;
                _log.LogWarning("Analytics run failed: {Error}", ex.Message);
            }
            Interlocked.Increment(ref _completed);
            _runs.Release();
            try
            {
                await Task.Delay(_interval, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        if (_task is not null) await _task.ConfigureAwait(false);
        foreach (var d in _owned) d.Dispose();
        _cts.Dispose();
        _runs.Dispose();
    }
}
