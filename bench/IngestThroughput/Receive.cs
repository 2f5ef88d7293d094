// --receive N: what receiving the backlog alone costs, N rounds. mosquitto queues the 20,000 telemetry messages for a
// persistent session, then one client drains them, acknowledging each at once (no decoding, no InfluxDB):
//   mqttnet  MQTTnet 5 as the ingestor used it until the seventh session (MQTT 5, receive maximum 1,000, the buffered
//            broker connection), the message acknowledged by MQTTnet when the handler returns
//   receiver the ingestor's own MqttReceiver (payloads in pooled arrays, released once acknowledged)
//   minimal  a receive loop of its own: one 64 KB read buffer, PUBLISH parsed where it lies, PUBACKs of one read sent
//            together; nothing else of the protocol (no TLS, keep-alive or reconnect): the floor for any client
// Same broker, same CPU (run.sh --pin puts this process and mosquitto on CPU 0). Reported per drain: wall time, CPU of
// this process and of mosquitto, collections, and page faults (pages this process touched for the first time).
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KhuyenCong.Cloud.Ingest;
using MQTTnet;
using MQTTnet.Protocol;

internal static class Receive
{
    private const string Filter = "kc/v1/+/+/telemetry";

    public static async Task RunAsync(int port, List<(string Topic, byte[] Payload)> payloads, int rounds)
    {
        var inv = CultureInfo.InvariantCulture;
        // Warm-up of both (JIT), not reported.
        var warm = payloads.Take(Math.Min(2_500, payloads.Count)).ToList();
        await DrainAsync(port, "warm-mqttnet", warm, Mqttnet);
        await DrainAsync(port, "warm-minimal", warm, Minimal);
        await DrainAsync(port, "warm-receiver", warm, Receiver);
        for (var r = 1; r <= rounds; r++)
        {
            foreach (var (name, client) in new (string, Func<int, string, int, Task<long>>)[] { ("mqttnet", Mqttnet), ("receiver", Receiver), ("minimal", Minimal) })
            {
                var m = await DrainAsync(port, $"{name}-{r}", payloads, client);
                Console.WriteLine(string.Create(inv,
                    $"receive round {r} {name,-8} {m.Seconds:0.00} s  {payloads.Count / m.Seconds:N0} messages/s  CPU s: this process {m.Cpu:0.00} ({m.Cpu / payloads.Count * 1e6:0.0} µs per message), mosquitto {m.Mosquitto:0.00}; collections {m.Gcs}; page faults {m.Faults:N0}; payload bytes {m.Bytes:N0}"));
            }
        }
    }

    private static async Task<(double Seconds, double Cpu, double Mosquitto, int Gcs, long Faults, long Bytes)> DrainAsync(int port, string id,
        List<(string Topic, byte[] Payload)> payloads, Func<int, string, int, Task<long>> client)
    {
        // The session first (subscribed, then left with its expiry), then the backlog for it.
        using (var c = new MqttClientFactory().CreateMqttClient())
        {
            await c.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(id).WithCleanStart(true)
                .WithSessionExpiryInterval(3600).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build());
            await c.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(Filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
            await c.DisconnectAsync();
        }
        await Publisher.PublishAllAsync(port, payloads);
        await Task.Delay(500);
        GC.Collect();
        var me = Process.GetCurrentProcess();
        me.Refresh();
        var cpu0 = me.TotalProcessorTime;
        var mosq0 = Cpu.CpuOf(Cpu.Pids.Mosquitto);
        var gc0 = GC.CollectionCount(0);
        var pf0 = Cpu.MinorFaultsOf(Environment.ProcessId);
        var sw = Stopwatch.StartNew();
        var bytes = await client(port, id, payloads.Count);
        var seconds = sw.Elapsed.TotalSeconds;
        me.Refresh();
        var result = (seconds, (me.TotalProcessorTime - cpu0).TotalSeconds, Cpu.CpuOf(Cpu.Pids.Mosquitto) - mosq0, GC.CollectionCount(0) - gc0,
            Cpu.MinorFaultsOf(Environment.ProcessId) - pf0, bytes);
        // End the session so that it collects nothing more.
        using (var c = new MqttClientFactory().CreateMqttClient())
        {
            await c.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(id).WithCleanStart(true)
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build());
            await c.DisconnectAsync();
        }
        return result;
    }

    /// <summary>MQTTnet, set up as the ingestor sets it up; returns the payload bytes received.</summary>
    private static async Task<long> Mqttnet(int port, string id, int expected)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long received = 0, bytes = 0;
        using var c = new MqttClientFactory().CreateMqttClient();
        c.ApplicationMessageReceivedAsync += e =>
        {
            bytes += e.ApplicationMessage.Payload.Length;
            if (++received == expected) done.TrySetResult();
            return Task.CompletedTask;
        };
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(id).WithCleanStart(false)
            .WithSessionExpiryInterval(3600).WithReceiveMaximum(1000).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build();
        ((MqttClientTcpOptions)options.ChannelOptions).StreamProvider = new BrokerConnection(Ingestor.SocketBufferBytes, Ingestor.ReadBufferBytes);
        await c.ConnectAsync(options);
        await done.Task.WaitAsync(TimeSpan.FromMinutes(2));
        await c.DisconnectAsync();
        return bytes;
    }

    /// <summary>The ingestor's receiver, as the ingestor sets it up; returns the payload bytes received.</summary>
    private static async Task<long> Receiver(int port, string id, int expected)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long received = 0, bytes = 0;
        var pool = System.Buffers.ArrayPool<byte>.Create(MqttReceiver.MaxPooledPayload, 1000 + 16);
        await using var r = await MqttReceiver.ConnectAsync(new MqttReceiver.Options("127.0.0.1", port, id, null, null, 3600, 1000, Ingestor.KeepAliveSeconds, null, TimeSpan.FromSeconds(10)),
            (m, _) =>
            {
                bytes += m.Payload.Length;
                m.From.Acknowledge(m);
                m.Release();
                if (++received == expected) done.TrySetResult();
                return ValueTask.CompletedTask;
            }, pool, default);
        await done.Task.WaitAsync(TimeSpan.FromMinutes(2));
        return bytes;
    }

    /// <summary>The minimal receive loop: CONNECT, then PUBLISH after PUBLISH from one buffer, PUBACKs gathered per read.</summary>
    private static async Task<long> Minimal(int port, string id, int expected)
    {
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = Ingestor.SocketBufferBytes, SendBufferSize = Ingestor.SocketBufferBytes };
        await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        var idBytes = Encoding.UTF8.GetBytes(id);
        // CONNECT, MQTT 5: clean start off, keep alive 60 s, session expiry 3600 s (0x11), receive maximum 1000 (0x21).
        var body = new List<byte> { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 5, 0, 0, 60, 8, 0x11, 0, 0, 0x0E, 0x10, 0x21, 0x03, 0xE8 };
        body.AddRange([(byte)(idBytes.Length >> 8), (byte)idBytes.Length]);
        body.AddRange(idBytes);
        await s.SendAsync(Packet(0x10, body));
        var buf = new byte[64 * 1024];
        int start = 0, end = 0;
        var acks = new byte[4 * 2048];
        long received = 0, bytes = 0;
        var connected = false;
        while (received < expected)
        {
            if (start > 0 && start == end) start = end = 0;
            if (end == buf.Length)
            {
                if (start > 0)
                {
                    Buffer.BlockCopy(buf, start, buf, 0, end - start);
                    end -= start;
                    start = 0;
                }
                else Array.Resize(ref buf, buf.Length * 2);
            }
            var n = await s.ReceiveAsync(buf.AsMemory(end));
            if (n == 0) throw new InvalidOperationException("the broker closed the connection");
            end += n;
            var ackBytes = 0;
            // The same framing as the receiver's; everything around it is left out.
            while (MqttReceiver.TryPacket(buf.AsSpan(start, end - start), out var type, out var flags, out var header, out var bodyLength))
            {
                var bodyStart = start + header;
                var p = buf.AsSpan(bodyStart, bodyLength);
                switch (type)
                {
                    case 2: // CONNACK
                        if (p[1] != 0) throw new InvalidOperationException($"CONNACK reason {p[1]}");
                        connected = true;
                        break;
                    case 3: // PUBLISH
                        var qos = (flags >> 1) & 3;
                        var at = 2 + BinaryPrimitives.ReadUInt16BigEndian(p);
                        ushort pid = 0;
                        if (qos > 0)
                        {
                            pid = BinaryPrimitives.ReadUInt16BigEndian(p[at..]);
                            at += 2;
                        }
                        at += MqttReceiver.VarInt(p, at, out var props);
                        at += props;
                        bytes += p.Length - at;
                        received++;
                        if (qos == 1)
                        {
                            if (ackBytes + 4 > acks.Length) Array.Resize(ref acks, acks.Length * 2);
                            acks[ackBytes] = 0x40;
                            acks[ackBytes + 1] = 2;
                            BinaryPrimitives.WriteUInt16BigEndian(acks.AsSpan(ackBytes + 2), pid);
                            ackBytes += 4;
                        }
                        break;
                    default:
                        throw new InvalidOperationException($"unexpected packet type {type}");
                }
                start = bodyStart + bodyLength;
            }
            if (ackBytes > 0) await s.SendAsync(acks.AsMemory(0, ackBytes));
        }
        if (!connected) throw new InvalidOperationException("no CONNACK");
        await s.SendAsync(new byte[] { 0xE0, 0 }); // DISCONNECT
        return bytes;
    }

    private static byte[] Packet(byte first, List<byte> body)
    {
        var p = new List<byte> { first };
        var len = body.Count;
        do
        {
            var b = (byte)(len % 128);
            len /= 128;
            p.Add(len > 0 ? (byte)(b | 128) : b);
        }
        while (len > 0);
        p.AddRange(body);
        return [.. p];
    }
}
