using System.Net;
using System.Net.Sockets;
using KhuyenCong.Cloud.Ingest;

namespace KhuyenCong.Cloud.Tests;

/// <summary>The ingestor's buffered broker connection, over a real loopback TCP connection.</summary>
public sealed class ReadBufferedStreamTests
{
    /// <summary>As <see cref="MqttReceiver"/> opens it (without TLS).</summary>
    private static async Task<Stream> ConnectAsync(EndPoint at)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(at);
        return new ReadBufferedStream(new NetworkStream(socket, ownsSocket: true), 64 * 1024);
    }

    [Fact]
    public async Task Reads_of_every_size_return_exactly_the_bytes_sent_in_order()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accept = listener.AcceptTcpClientAsync();
        await using var stream = await ConnectAsync(new DnsEndPoint("localhost", port));
        using var peer = await accept;
        var buffered = Assert.IsType<ReadBufferedStream>(stream);

        // 1 MiB of varied bytes, sent in pieces of varied sizes while the reader reads.
        var sent = new byte[1 << 20];
        new Random(7).NextBytes(sent);
        var send = Task.Run(async () =>
        {
            var rnd = new Random(11);
            for (var at = 0; at < sent.Length;)
            {
                var n = Math.Min(sent.Length - at, rnd.Next(1, 40_000));
                await peer.GetStream().WriteAsync(sent.AsMemory(at, n));
                at += n;
            }
        });

        // Reads as MQTTnet makes them (2 bytes, 1 byte, 4 KB) and larger than the buffer (taken straight from the socket).
        var received = new MemoryStream();
        var sizes = new[] { 2, 1, 1, 4096, 4096, 4096, 1000, 100_000, 3, 65_536 };
        for (var k = 0; received.Length < sent.Length; k++)
        {
            var chunk = new byte[sizes[k % sizes.Length]];
            var n = k % 2 == 0 ? await buffered.ReadAsync(chunk.AsMemory(), default) : buffered.Read(chunk, 0, chunk.Length);
            Assert.True(n > 0, "the stream ended early");
            Assert.True(n <= chunk.Length);
            received.Write(chunk, 0, n);
        }
        await send;
        Assert.Equal(sent, received.ToArray());
        Assert.Equal(0, buffered.Buffered);
    }

    [Fact]
    public async Task Writes_reach_the_peer_at_once_and_the_end_of_the_connection_reads_as_zero()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accept = listener.AcceptTcpClientAsync();
        await using var stream = await ConnectAsync(listener.LocalEndpoint);
        using var peer = await accept;

        // An acknowledgement is 4 bytes and nothing follows it: it must not wait in a buffer.
        await stream.WriteAsync(new byte[] { 0x40, 0x02, 0x00, 0x01 });
        var got = new byte[4];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await peer.GetStream().ReadExactlyAsync(got, timeout.Token);
        Assert.Equal(new byte[] { 0x40, 0x02, 0x00, 0x01 }, got);

        await peer.GetStream().WriteAsync(new byte[] { 1, 2, 3 });
        peer.Client.Shutdown(SocketShutdown.Send);
        var all = new MemoryStream();
        var buffer = new byte[2];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0) all.Write(buffer, 0, n);
        Assert.Equal(new byte[] { 1, 2, 3 }, all.ToArray());
        Assert.Equal(0, await stream.ReadAsync(buffer));
    }

    [Fact]
    public async Task Writes_made_while_a_send_is_under_way_leave_together_in_one_send_in_order()
    {
        var socket = new GatedStream();
        await using var stream = new ReadBufferedStream(socket, 1024);

        // The first acknowledgement starts a send, which the "socket" holds until the test lets it go.
        await stream.WriteAsync(Ack(0));
        await socket.FirstWriteStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The rest of a batch's acknowledgements, written meanwhile, wait for it and go together.
        for (var i = 1; i < 250; i++) await stream.WriteAsync(Ack(i));
        socket.Open();
        await stream.FlushAsync();

        Assert.Equal([4, 249 * 4], socket.Writes.Select(w => w.Length));
        Assert.Equal(Enumerable.Range(0, 250).SelectMany(Ack), socket.Writes.SelectMany(w => w));
        Assert.Equal(2, stream.Sends);
    }

    [Fact]
    public async Task Closing_sends_what_is_pending_first_and_after_a_failed_send_writes_fail_and_the_socket_is_closed()
    {
        var socket = new GatedStream();
        socket.Open();
        var stream = new ReadBufferedStream(socket, 1024);
        await stream.WriteAsync(Ack(1)); // e.g. a DISCONNECT just before the close
        await stream.DisposeAsync();
        Assert.True(socket.Disposed);
        Assert.Equal(Ack(1), Assert.Single(socket.WrittenBeforeDispose));

        var failing = new GatedStream { Fail = true };
        failing.Open();
        await using var broken = new ReadBufferedStream(failing, 1024);
        await broken.WriteAsync(Ack(2)); // accepted: the send fails afterwards
        await broken.FlushAsync();
        Assert.True(failing.Disposed, "a failed send closes the socket, so the reader notices at once");
        var ex = await Assert.ThrowsAsync<IOException>(async () => await broken.WriteAsync(Ack(3)));
        Assert.Contains("connection to the broker failed", ex.Message, StringComparison.Ordinal);
    }

    private static byte[] Ack(int id) => [0x40, 0x02, (byte)(id >> 8), (byte)id];

    /// <summary>A stand-in socket that records each write and can hold writes until opened, or fail them.</summary>
    private sealed class GatedStream : Stream
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource FirstWriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public System.Collections.Concurrent.ConcurrentQueue<byte[]> Writes { get; } = new();
        public List<byte[]> WrittenBeforeDispose { get; private set; } = [];
        public bool Disposed { get; private set; }
        public bool Fail { get; init; }

        public void Open() => _open.TrySetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            FirstWriteStarted.TrySetResult();
            await _open.Task;
            if (Fail) throw new IOException("Connection reset by peer");
            Writes.Enqueue(source.ToArray());
        }

        protected override void Dispose(bool disposing)
        {
            WrittenBeforeDispose = [.. Writes];
            Disposed = true;
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => 0;
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("the stream under test writes asynchronously");
    }
}
