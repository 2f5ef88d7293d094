namespace KhuyenCong.Edge.Polling;

/// <summary>Counters of one device, as published on the health topic.</summary>
public sealed class DeviceHealth
{
    private long _pollsOk;
    private long _pollsFailed;
    private long _timeouts;
    private long _exceptions;
    private long _frameErrors;
    private long _linkErrors;
    private long _retries;

    public required string Device { get; init; }
    public long PollsOk => Interlocked.Read(ref _pollsOk);
    public long PollsFailed => Interlocked.Read(ref _pollsFailed);
    public long Timeouts => Interlocked.Read(ref _timeouts);
    public long ExceptionResponses => Interlocked.Read(ref _exceptions);
    public long FrameErrors => Interlocked.Read(ref _frameErrors);
    public long LinkErrors => Interlocked.Read(ref _linkErrors);
    /// <summary>Requests sent again after a timeout or a corrupt reply.</summary>
    public long Retries => Interlocked.Read(ref _retries);
    /// <summary>Failures in a row; the device is backed off while this is above zero.</summary>
    public int ConsecutiveFailures { get; internal set; }
    public DateTimeOffset? LastOk { get; internal set; }
    public string? LastError { get; internal set; }
    /// <summary>Duration of the last successful poll (all requests of one device).</summary>
    public TimeSpan LastLatency { get; internal set; }

    internal void Retried() => Interlocked.Increment(ref _retries);

    internal void Ok(DateTimeOffset at, TimeSpan latency)
    {
        Interlocked.Increment(ref _pollsOk);
        ConsecutiveFailures = 0;
        LastOk = at;
        LastLatency = latency;
    }

    internal void Failed(FailureKind kind, string message)
    {
        Interlocked.Increment(ref _pollsFailed);
        ConsecutiveFailures++;
        LastError = message;
        switch (kind)
        {
            case FailureKind.Timeout: Interlocked.Increment(ref _timeouts); break;
            case FailureKind.ExceptionResponse: Interlocked.Increment(ref _exceptions); break;
            case FailureKind.Frame: Interlocked.Increment(ref _frameErrors); break;
            case FailureKind.Link: Interlocked.Increment(ref _linkErrors); break;
        }
    }
}

public enum FailureKind
{
    Timeout,
    ExceptionResponse,
    Frame,
    Link,
}
