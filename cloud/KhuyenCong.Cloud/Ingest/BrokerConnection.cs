using System.Net;
using System.Net.Sockets;
using MQTTnet.Channel;

namespace KhuyenCong.Cloud.Ingest;

/// <summary>
/// Opens the ingestor's TCP connection to the broker (MQTTnet layers TLS on top when configured) and reads it through a
/// buffer. MQTTnet reads each message in several small pieces (2 bytes of header, its length byte by byte, then the body
/// in 4 KB reads): unbuffered, each piece is a system call. Through the buffer a backlog of 13 KB telemetry messages is
/// read in few large reads. Writes (acknowledgements, subscriptions) go straight to the socket, unbuffered.
/// </summary>
internal sealed class BrokerConnection(int socketBufferBytes, int readBufferBytes) : IMqttClientStreamProvider
{
    public async Task<Stream> ConnectAsync(EndPoint brokerEndPoint, CancellationToken cancellationToken)
    {
        // As MQTTnet's own TCP channel does it: a dual-mode socket, no Nagle delay, reset on close.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp)
        {
            ReceiveBufferSize = socketBufferBytes,
            SendBufferSize = socketBufferBytes,
            NoDelay = true,
            LingerState = new LingerOption(true, 0),
        };
        try
        {
            await socket.ConnectAsync(brokerEndPoint, cancellationToken).ConfigureAwait(false);
            return new ReadBufferedStream(new NetworkStream(socket, ownsSocket: true), readBufferBytes, socket.LocalEndPoint, socket.RemoteEndPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>A stream whose reads come through a buffer and whose writes go straight to the inner stream.</summary>
internal sealed class ReadBufferedStream(Stream inner, int bufferBytes, EndPoint? local = null, EndPoint? remote = null) : Stream, IMqttClientStreamEndPoints
{
    private readonly byte[] _buffer = new byte[bufferBytes];
    private int _start;
    private int _end;

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

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) => inner.WriteAsync(source, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(ReadOnlySpan<byte> source) => inner.Write(source);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
