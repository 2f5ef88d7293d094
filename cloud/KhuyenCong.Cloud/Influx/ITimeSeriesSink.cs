using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;

namespace KhuyenCong.Cloud.Influx;

/// <summary>Where validated points go. Both implementations write the same line protocol.</summary>
public interface ITimeSeriesSink : IDisposable
{
    /// <summary>Creates what the sink needs (the v1 database) and checks the server answers.</summary>
    Task PrepareAsync(CancellationToken ct);

    /// <summary>Writes points; returns when the server has accepted them. Throws <see cref="SinkException"/> otherwise.</summary>
    Task WriteAsync(IReadOnlyList<PointData> points, CancellationToken ct);

    /// <summary>
    /// Writes lines already in line protocol (UTF-8; each chunk holds whole lines, each ending in '\n') in one request,
    /// with timestamps in <paramref name="precision"/>; returns when the server has accepted them. Throws
    /// <see cref="SinkException"/> otherwise. The ingestor's path: no <see cref="PointData"/> per line.
    /// </summary>
    Task WriteLinesAsync(IReadOnlyList<ReadOnlyMemory<byte>> chunks, WritePrecision precision, CancellationToken ct);

    string Describe();
}

/// <summary>How a failed write should be handled.</summary>
public enum SinkFailure
{
    /// <summary>The server or network is down, or asked us to slow down (5xx, 429, connection refused): retry later.</summary>
    Retry,
    /// <summary>The points themselves were refused (400/422: bad data, type conflict): dead-letter them, never retry.</summary>
    Rejected,
    /// <summary>The batch is too large (413): split it.</summary>
    TooLarge,
    /// <summary>Credentials are wrong (401/403): nothing will work until an operator fixes the config.</summary>
    Unauthorized,
    /// <summary>The database or bucket does not exist (404).</summary>
    NotFound,
}

public sealed class SinkException(SinkFailure kind, string message, TimeSpan? retryAfter = null, Exception? inner = null) : Exception(message, inner)
{
    public SinkFailure Kind { get; } = kind;
    /// <summary>How long the server asked us to wait (429/503 Retry-After).</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
    /// <summary>The HTTP status, when the server answered.</summary>
    public int? Status { get; init; }
    /// <summary>The server's own error text (e.g. InfluxDB's "field type conflict: …"), when it answered.</summary>
    public string? ServerMessage { get; init; }

    public static SinkFailure Classify(int status) => status switch
    {
        400 or 422 => SinkFailure.Rejected,
        401 or 403 => SinkFailure.Unauthorized,
        404 => SinkFailure.NotFound,
        413 => SinkFailure.TooLarge,
        _ => SinkFailure.Retry,
    };
}
