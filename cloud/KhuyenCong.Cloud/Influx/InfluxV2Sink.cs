using InfluxDB.Client;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Core.Exceptions;
using InfluxDB.Client.Writes;
using KhuyenCong.Cloud.Config;

namespace KhuyenCong.Cloud.Influx;

/// <summary>
/// Writes with InfluxDB.Client's <c>WriteApiAsync</c> to <c>/api/v2/write</c>: InfluxDB 2.x, 3.x and 1.8+. Each call is
/// one HTTP request, so a returned call means the server accepted the points.
/// </summary>
public sealed class InfluxV2Sink : ITimeSeriesSink
{
    private readonly InfluxDBClient _client;
    private readonly InfluxConfig _cfg;

    public InfluxV2Sink(InfluxConfig cfg, string? token)
    {
        _cfg = cfg;
        _client = new InfluxDBClient(new InfluxDBClientOptions(cfg.Url)
        {
            Token = token ?? "",
            Org = cfg.Org,
            Bucket = cfg.Bucket,
            Timeout = cfg.Timeout,
        });
    }

    public string Describe() => $"InfluxDB v2 {_cfg.Url} org={_cfg.Org} bucket={_cfg.Bucket}";

    public Task PrepareAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task WriteAsync(IReadOnlyList<PointData> points, CancellationToken ct)
    {
        if (points.Count == 0) return;
        try
        {
            await _client.GetWriteApiAsync().WritePointsAsync([.. points], _cfg.Bucket, _cfg.Org, ct).ConfigureAwait(false);
        }
        catch (HttpException ex)
        {
            var retryAfter = ex.RetryAfter is { } s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;
            throw new SinkException(SinkException.Classify(ex.Status), $"{Describe()}: write answered {ex.Status}: {ex.Message}", retryAfter, ex)
            {
                Status = ex.Status,
                ServerMessage = ex.Message,
            };
        }
        catch (HttpRequestException ex)
        {
            throw new SinkException(SinkFailure.Retry, $"{Describe()}: {ex.Message}", inner: ex);
        }
        catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new SinkException(SinkFailure.Retry, $"{Describe()}: no answer in time", inner: ex);
        }
    }

    public void Dispose() => _client.Dispose();
}
