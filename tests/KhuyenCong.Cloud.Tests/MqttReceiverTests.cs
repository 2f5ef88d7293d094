using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KhuyenCong.Cloud.Ingest;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Cloud.Tests;

/// <summary>
/// The ingestor's MQTT receiver against a scripted broker on loopback TCP: the exact CONNECT it sends, refusals,
/// messages split anywhere and larger than its buffer, acknowledgements, and malformed packets, which close the
/// connection with a reason instead of reaching the ingestor. (With real brokers — mosquitto with TLS and ACLs, the
/// embedded one — it is exercised by every ingest test.)
/// </summary>
public sealed class MqttReceiverTests
{
    private static readonly byte[] ConnAckOk = [0x20, 3, 0, 0, 0];

    [Fact]
    public async Task It_sends_an_MQTT_5_CONNECT_that_keeps_the_session_and_limits_what_is_in_flight()
    {
        await using var broker = await ScriptedBroker.StartAsync();
        var connecting = MqttReceiver.ConnectAsync(Options(broker.Port, user: "ingest", password: "s3cr3t"), (_, _) => ValueTask.CompletedTask, ArrayPool<byte>.Shared, default);
        var connect = await broker.ReadPacketAsync();
        await broker.SendAsync(ConnAckOk);
        await using var r = await connecting;

        Assert.Equal(0x10, connect[0]);
        var body = Body(connect);
        var expected = new List<byte> { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 5, 0xC0, 0, 15 };
        expected.AddRange([8, 0x11, 0, 0, 0x0E, 0x10, 0x21, 0x03, 0xE8]); // session expiry 3600 s, receive maximum 1000
        expected.AddRange(Str("ingestor-t"));
        expected.AddRange(Str("ingest"));
        expected.AddRange(Str("s3cr3t"));
        Assert.Equal(expected, body);
        Assert.True(r.IsConnected);
        Assert.False(r.SessionPresent);
    }

    [Fact]
    public async Task A_refused_connection_says_why()
    {
        await using var broker = await ScriptedBroker.StartAsync();
        var connecting = MqttReceiver.ConnectAsync(Options(broker.Port), (_, _) => ValueTask.CompletedTask, ArrayPool<byte>.Shared, default);
        await broker.ReadPacketAsync();
        // CONNACK: bad user name or password, with a reason string property.
        await broker.SendAsync([0x20, 10, 0, 0x86, 7, 0x1F, 0, 4, (byte)'n', (byte)'o', (byte)'p', (byte)'e']);
        var ex = await Assert.ThrowsAsync<MqttRefusedException>(() => connecting);
        Assert.Equal("bad user name or password (nope)", ex.Message);
    }

    [Fact]
    public async Task Messages_split_anywhere_and_larger_than_the_buffer_arrive_whole_and_are_acknowledged_by_id()
    {
        await using var broker = await ScriptedBroker.StartAsync();
        var got = new List<(string Topic, byte[] Payload, ushort Id)>();
        var three = new TaskCompletionSource();
        MqttReceiver? receiver = null;
        var connecting = MqttReceiver.ConnectAsync(Options(broker.Port), (m, _) =>
        {
            got.Add((m.Topic, m.Payload.ToArray(), m.PacketId));
            Assert.True(receiver!.Acknowledge(m));
            m.Release();
            if (got.Count == 3) three.SetResult();
            return ValueTask.CompletedTask;
        }, ArrayPool<byte>.Shared, default);
        await broker.ReadPacketAsync();
        await broker.SendAsync([0x20, 3, 1, 0, 0]); // session present
        receiver = await connecting;
        Assert.True(receiver.SessionPresent);

        var big = new byte[300_000];
        new Random(3).NextBytes(big);
        var stream = new List<byte>();
        stream.AddRange(Publish("kc/v1/site-a/gw-1/telemetry", "{\"v\":1}"u8.ToArray(), id: 7, properties: [0x01, 1]));
        stream.AddRange(Publish("kc/v1/site-a/gw-1/telemetry", big, id: 8));
        stream.AddRange(Publish("kc/v1/bát-tràng/gw-2/status", "online"u8.ToArray(), id: 0)); // QoS 0
        // One byte per send for the first two packets' headers, then the rest in a few large pieces.
        var all = stream.ToArray();
        for (var i = 0; i < 40; i++) await broker.SendAsync(all.AsMemory(i, 1));
        await broker.SendAsync(all.AsMemory(40, 100_000));
        await broker.SendAsync(all.AsMemory(100_040));
        await three.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(("kc/v1/site-a/gw-1/telemetry", 7), (got[0].Topic, got[0].Id));
        Assert.Equal("{\"v\":1}"u8.ToArray(), got[0].Payload);
        Assert.Equal(big, got[1].Payload);
        Assert.Equal(("kc/v1/bát-tràng/gw-2/status", 0), (got[2].Topic, got[2].Id));
        // PUBACKs for the two QoS 1 messages, none for QoS 0.
        Assert.Equal([0x40, 2, 0, 7, 0x40, 2, 0, 8], await broker.ReadExactlyAsync(8));
        await receiver.DisposeAsync();
        Assert.Equal([0xE0, 0], await broker.ReadExactlyAsync(2)); // DISCONNECT
        Assert.False(receiver.IsConnected);
    }

    [Theory]
    [InlineData(new byte[] { 0x32, 5, 0, 40, (byte)'a', 0, 1 }, "PUBLISH topic runs past the packet")]
    [InlineData(new byte[] { 0x32, 4, 0, 0, 0, 1 }, "PUBLISH without a topic (topic aliases were not allowed)")]
    [InlineData(new byte[] { 0x34, 6, 0, 1, (byte)'a', 0, 1, 0 }, "PUBLISH with QoS 2 on a subscription granted at most QoS 1")]
    [InlineData(new byte[] { 0x32, 7, 0, 1, (byte)'a', 0, 1, 9, 1 }, "PUBLISH properties run past the packet")]
    [InlineData(new byte[] { 0x32, 6, 0, 1, 0xFF, 0, 1, 0 }, "PUBLISH topic is not UTF-8")]
    [InlineData(new byte[] { 0x32, 0xFF, 0xFF, 0xFF, 0xFF, 1 }, "a remaining length longer than four bytes")]
    [InlineData(new byte[] { 0x50, 2, 0, 1 }, "unexpected packet type 5 from the broker")]
    [InlineData(new byte[] { 0xE0, 1, 0x8B }, "the broker disconnected: server shutting down")]
    public async Task A_malformed_or_unexpected_packet_closes_the_connection_with_its_reason_and_reaches_nobody(byte[] packet, string reason)
    {
        await using var broker = await ScriptedBroker.StartAsync();
        var handed = 0;
        var connecting = MqttReceiver.ConnectAsync(Options(broker.Port), (_, _) =>
        {
            handed++;
            return ValueTask.CompletedTask;
        }, ArrayPool<byte>.Shared, default);
        await broker.ReadPacketAsync();
        await broker.SendAsync(ConnAckOk);
        await using var r = await connecting;
        await broker.SendAsync(packet);
        var until = DateTime.UtcNow.AddSeconds(10);
        while (r.IsConnected && DateTime.UtcNow < until) await Task.Delay(10);
        Assert.False(r.IsConnected);
        Assert.Equal(reason, r.Failure);
        Assert.Equal(0, handed);
        var ack = new ReceivedMessage(r, "t", [], 0, null, 1, 1);
        Assert.False(r.Acknowledge(ack)); // nothing can be acknowledged on a closed connection
    }

    [Fact]
    public async Task A_message_waiting_for_room_does_not_count_as_the_broker_falling_silent()
    {
        await using var broker = await ScriptedBroker.StartAsync();
        var room = new TaskCompletionSource();
        var connecting = MqttReceiver.ConnectAsync(Options(broker.Port, keepAlive: 2), async (_, closed) => await room.Task.WaitAsync(closed), ArrayPool<byte>.Shared, default);
        await broker.ReadPacketAsync();
        await broker.SendAsync(ConnAckOk);
        await using var r = await connecting;
        await broker.SendAsync(Publish("kc/v1/s/g/telemetry", [1], id: 1));
        // The receiver pings every second; the broker answers, but the answers wait unread behind the message.
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal([0xC0, 0], await broker.ReadExactlyAsync(2));
            await broker.SendAsync([0xD0, 0]);
        }
        Assert.True(r.IsConnected, r.Failure);
        // Closing it does not wait for the room: the waiting handler is cancelled, and the message is not acknowledged.
        await r.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        byte[] next;
        while ((next = await broker.ReadExactlyAsync(2))[0] == 0xC0) { } // a ping sent meanwhile
        Assert.Equal([0xE0, 0], next);
        Assert.False(room.Task.IsCompleted);
    }

    [Fact]
    public async Task A_broker_that_stops_answering_pings_is_taken_as_gone()
    {
        await using var broker = await ScriptedBroker.StartAsync();
        var connecting = MqttReceiver.ConnectAsync(Options(broker.Port, keepAlive: 2), (_, _) => ValueTask.CompletedTask, ArrayPool<byte>.Shared, default);
        await broker.ReadPacketAsync();
        await broker.SendAsync(ConnAckOk);
        await using var r = await connecting;
        var until = DateTime.UtcNow.AddSeconds(20);
        while (r.IsConnected && DateTime.UtcNow < until) await Task.Delay(50);
        Assert.False(r.IsConnected);
        Assert.Equal("nothing from the broker for 3 s", r.Failure);
    }

    [Theory]
    [InlineData("127.0.0.1", false, null)]
    [InlineData("127.0.0.1", true, "the broker's certificate is not from the configured authority")]
    [InlineData("127.0.0.2", false, "the broker's certificate names another host")]
    public async Task Over_TLS_only_the_configured_authority_and_the_brokers_own_name_are_accepted(string host, bool otherCa, string? refusal)
    {
        using var pki = await TestCertificates.CreateAsync();
        using var serverCert = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(pki.ServerCertFile, pki.ServerKeyFile);
        using var listener = new TcpListener(IPAddress.Parse(host), 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var firstByte = -1;
        var broker = Task.Run(async () =>
        {
            using var tcp = await listener.AcceptTcpClientAsync();
            await using var ssl = new System.Net.Security.SslStream(tcp.GetStream());
            try
            {
                await ssl.AuthenticateAsServerAsync(serverCert);
                var connect = new byte[2];
                await ssl.ReadExactlyAsync(connect);
                firstByte = connect[0];
                await ssl.ReadExactlyAsync(new byte[connect[1]]);
                await ssl.WriteAsync(ConnAckOk);
                await ssl.FlushAsync();
                await ssl.ReadExactlyAsync(new byte[2]); // DISCONNECT
            }
            catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException)
            {
                // The client gave up during the handshake.
            }
        });
        var options = Options(port) with { Host = host, Tls = new MqttReceiver.TlsSettings(otherCa ? pki.OtherCa() : pki.Ca(), null) };
        if (refusal is null)
        {
            await using (var r = await MqttReceiver.ConnectAsync(options, (_, _) => ValueTask.CompletedTask, ArrayPool<byte>.Shared, default))
                Assert.True(r.IsConnected);
            await broker.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0x10, firstByte); // CONNECT went out, over TLS
        }
        else
        {
            await Assert.ThrowsAsync<System.Security.Authentication.AuthenticationException>(() => MqttReceiver.ConnectAsync(options, (_, _) => ValueTask.CompletedTask, ArrayPool<byte>.Shared, default));
            await broker.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(-1, firstByte); // nothing reached the broker: not even the user name and password
        }
    }

    private static MqttReceiver.Options Options(int port, string? user = null, string? password = null, ushort keepAlive = 15) =>
        new("127.0.0.1", port, "ingestor-t", user, password, 3600, 1000, keepAlive, null, TimeSpan.FromSeconds(10));

    private static byte[] Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return [(byte)(b.Length >> 8), (byte)b.Length, .. b];
    }

    private static byte[] Publish(string topic, byte[] payload, ushort id, byte[]? properties = null)
    {
        var body = new List<byte>(Str(topic));
        if (id > 0) body.AddRange([(byte)(id >> 8), (byte)id]);
        properties ??= [];
        body.Add((byte)properties.Length);
        body.AddRange(properties);
        body.AddRange(payload);
        var header = new List<byte> { (byte)(id > 0 ? 0x32 : 0x30) };
        var len = body.Count;
        do
        {
            var b = (byte)(len % 128);
            len /= 128;
            header.Add(len > 0 ? (byte)(b | 128) : b);
        }
        while (len > 0);
        return [.. header, .. body];
    }

    private static byte[] Body(byte[] packet)
    {
        var at = 1;
        while ((packet[at] & 128) != 0) at++;
        return packet[(at + 1)..];
    }

    /// <summary>A TCP server that plays the broker's part byte by byte.</summary>
    private sealed class ScriptedBroker : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly Task<TcpClient> _accept;
        private NetworkStream? _stream;

        private ScriptedBroker(TcpListener listener)
        {
            _listener = listener;
            _accept = listener.AcceptTcpClientAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static Task<ScriptedBroker> StartAsync()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            return Task.FromResult(new ScriptedBroker(l));
        }

        private async Task<NetworkStream> StreamAsync() => _stream ??= (await _accept.WaitAsync(TimeSpan.FromSeconds(10))).GetStream();

        public async Task<byte[]> ReadExactlyAsync(int n)
        {
            var b = new byte[n];
            await (await StreamAsync()).ReadExactlyAsync(b).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            return b;
        }

        /// <summary>One whole packet as sent (fixed header included).</summary>
        public async Task<byte[]> ReadPacketAsync()
        {
            var p = new List<byte>(await ReadExactlyAsync(1));
            int len = 0, shift = 0;
            while (true)
            {
                var b = (await ReadExactlyAsync(1))[0];
                p.Add(b);
                len |= (b & 127) << shift;
                shift += 7;
                if ((b & 128) == 0) break;
            }
            p.AddRange(await ReadExactlyAsync(len));
            return [.. p];
        }

        public Task SendAsync(byte[] bytes) => SendAsync(bytes.AsMemory());

        public async Task SendAsync(ReadOnlyMemory<byte> bytes)
        {
            var s = await StreamAsync();
            await s.WriteAsync(bytes);
            await s.FlushAsync();
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            if (_accept.IsCompletedSuccessfully) (await _accept).Dispose();
        }
    }
}
