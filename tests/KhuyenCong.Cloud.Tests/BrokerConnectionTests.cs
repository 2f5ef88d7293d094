using System.Net;
using System.Net.Sockets;
using KhuyenCong.Cloud.Ingest;

namespace KhuyenCong.Cloud.Tests;

/// <summary>The ingestor's buffered broker connection, over a real loopback TCP connection.</summary>
public sealed class BrokerConnectionTests
{
    [Fact]
    public async Task Reads_of_every_size_return_exactly_the_bytes_sent_in_order()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accept = listener.AcceptTcpClientAsync();
        await using var stream = await new BrokerConnection(1 << 20, 64 * 1024).ConnectAsync(new DnsEndPoint("localhost", port), default);
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
        await using var stream = await new BrokerConnection(1 << 20, 64 * 1024).ConnectAsync(listener.LocalEndpoint, default);
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
}
