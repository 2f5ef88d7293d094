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

    public Task WriteAsync(IReadOnlyList<PointData> points, CancellationToken ct) =>
        points.Count == 0 ? Task.CompletedTask : Send(api => api.WritePointsAsync([.. points], _cfg.Bucket, _cfg.Org, ct), ct);

    public Task WriteLinesAsync(IReadOnlyList<ReadOnlyMemory<byte>> chunks, WritePrecision precision, CancellationToken ct)
    {
        var text = string.Concat(chunks.Select(c => System.Text.Encoding.UTF8.GetString(c.Span))).TrimEnd('\n');
        return text.Length == 0 ? Task.CompletedTask : Send(api => api.WriteRecordAsync(text, precision, _cfg.Bucket, _cfg.Org, ct), ct);
    }

    private async Task Send(Func<WriteApiAsync, Task> write, CancellationToken ct)
    {
        try
        {
            await write(_client.GetWriteApiAsync()).ConfigureAwait(false);
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
