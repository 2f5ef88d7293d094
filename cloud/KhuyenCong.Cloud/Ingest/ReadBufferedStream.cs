using System.Net;
using System.Net.Sockets;
using MQTTnet.Channel;

namespace KhuyenCong.Cloud.Ingest;

/// <summary>
/// The ingestor's connection to the broker (under <see cref="MqttReceiver"/>): a stream whose reads come through a buffer
/// and whose writes are gathered. A write is copied to a pending buffer and
/// returns at once; the first write of a burst asks the thread pool to send, and every write made before that send runs
/// goes with it. Nothing waits for a timer: a lone write (a subscription, a ping) leaves as soon as a pool thread runs.
/// If a send fails, the connection is closed (the read loop sees it, and the ingestor reconnects) and later writes throw. An
/// acknowledgement lost that way is harmless: the broker redelivers the message, whose write is idempotent.
/// </summary>
internal sealed class ReadBufferedStream(Stream inner, int bufferBytes, EndPoint? local = null, EndPoint? remote = null) : Stream, IMqttClientStreamEndPoints
{
    private readonly byte[] _buffer = new byte[bufferBytes];
    private int _start;
    private int _end;

    private readonly Lock _gate = new();
    private byte[] _pending = new byte[4096];
    private byte[] _sending = new byte[4096];
    private int _pendingBytes;
    private bool _sendQueued;
    private Exception? _sendFailed;
    private TaskCompletionSource _sent = NewIdle(done: true);

    private static TaskCompletionSource NewIdle(bool done)
    {
        var t = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (done) t.SetResult();
        return t;
    }

    /// <summary>Sends made so far (each carries every write gathered before it).</summary>
    internal long Sends { get; private set; }

    public EndPoint? LocalEndPoint => local;

    public EndPoint? RemoteEndPoint => remote;

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Bytes read from the inner stream and not yet handed out.</summary>
    internal int Buffered => _end - _start;

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (destination.IsEmpty) return 0;
        if (_start == _end)
        {
            // A read at least as large as the buffer gains nothing from it.
            if (destination.Length >= _buffer.Length) return await inner.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
            _start = 0;
            _end = await inner.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
            if (_end == 0) return 0;
        }
        return Take(destination.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(Span<byte> destination)
    {
        if (destination.IsEmpty) return 0;
        if (_start == _end)
        {
            if (destination.Length >= _buffer.Length) return inner.Read(destination);
            _start = 0;
            _end = inner.Read(_buffer);
            if (_end == 0) return 0;
        }
        return Take(destination);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    private int Take(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(destination);
        _start += n;
        return n;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        try
        {
            Write(source.Span);
            return ValueTask.CompletedTask;
        }
        catch (IOException ex)
        {
            return ValueTask.FromException(ex);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> source)
    {
        lock (_gate)
        {
            if (_sendFailed is { } failed) throw new IOException("the connection to the broker failed: " + failed.Message, failed);
            if (_pendingBytes + source.Length > _pending.Length) Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingBytes + source.Length));
            source.CopyTo(_pending.AsSpan(_pendingBytes));
            _pendingBytes += source.Length;
            if (_sendQueued) return;
            _sendQueued = true;
            _sent = NewIdle(done: false);
        }
        ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.SendPendingAsync(), this, preferLocal: false);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <summary>Sends what is pending, and what is written meanwhile, until nothing is left.</summary>
    private async Task SendPendingAsync()
    {
        while (true)
        {
            int n;
            TaskCompletionSource? done = null;
            lock (_gate)
            {
                n = _pendingBytes;
                if (n == 0 || _sendFailed is not null)
                {
                    _sendQueued = false;
                    done = _sent;
                }
                else
                {
                    (_pending, _sending) = (_sending, _pending);
                    _pendingBytes = 0;
                }
            }
            if (done is not null)
            {
                done.TrySetResult();
                return;
            }
            try
            {
                await inner.WriteAsync(_sending.AsMemory(0, n)).ConfigureAwait(false);
                Sends++;
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
            {
                lock (_gate) _sendFailed = ex;
                // Closing makes the read loop fail now, not at the next keep-alive.
                inner.Dispose();
            }
        }
    }

    /// <summary>Completes when every write made before the call has been sent (or sending failed).</summary>
    internal Task SentAsync()
    {
        lock (_gate) return _sendQueued ? _sent.Task : Task.CompletedTask;
    }

    public override void Flush() => SentAsync().Wait(TimeSpan.FromSeconds(5));

    public override Task FlushAsync(CancellationToken cancellationToken) => SentAsync().WaitAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    // A DISCONNECT written just before the close still goes out: wait (briefly) for the pending send. The socket is
    // closed with a reset (linger 0), which would discard anything not yet sent.
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            SentAsync().Wait(TimeSpan.FromSeconds(2));
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await SentAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
