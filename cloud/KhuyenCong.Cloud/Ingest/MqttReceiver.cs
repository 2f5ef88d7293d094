using System.Buffers;
using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace KhuyenCong.Cloud.Ingest;

/// <summary>
/// The ingestor's side of one MQTT 5 connection: it connects, subscribes, receives PUBLISH packets and acknowledges them
/// when told to — nothing else of MQTT (it never publishes). Each message's payload is copied from the read buffer into
/// an array from a pool and given back once the message is done (<see cref="ReceivedMessage.Release"/>), so a backlog is
/// received without an allocation per message. Written for the ingest path instead of MQTTnet's client, which allocates
/// two arrays per message (the packet body, then a copy of the payload); in a drain of the ingest benchmark those fresh
/// arrays alone cost about 0.3 s of the client core zeroing pages (docs/benchmarks.md). Acknowledgements and pings go
/// out through <see cref="ReadBufferedStream"/>, which gathers the writes made while a send is running into the next one.
/// </summary>
internal sealed class MqttReceiver : IAsyncDisposable
{
    /// <summary>How to connect.</summary>
    /// <param name="Tls">Set for mqtts: trust (null: the system's), client certificate (or null).</param>
    internal sealed record Options(string Host, int Port, string ClientId, string? Username, string? Password, uint SessionExpirySeconds,
        ushort ReceiveMaximum, ushort KeepAliveSeconds, TlsSettings? Tls, TimeSpan Timeout);

    internal sealed record TlsSettings(X509Certificate2Collection? Trust, X509Certificate2? ClientCertificate);

    /// <summary>The largest payload copied into a pooled array; a larger one gets an array of its own.</summary>
    internal const int MaxPooledPayload = 64 * 1024;

    private const int ReadSize = Ingestor.ReadBufferBytes;

    private readonly ReadBufferedStream _stream;
    private readonly Func<ReceivedMessage, CancellationToken, ValueTask> _onMessage;
    private readonly ArrayPool<byte> _payloads;
    private readonly CancellationTokenSource _stop = new();
    private byte[] _buf = new byte[ReadSize];
    private int _start;
    private int _end;
    private long _lastReceived = Environment.TickCount64;
    private TaskCompletionSource<byte[]>? _suback;
    private Task _reading = Task.CompletedTask;
    private Task _pinging = Task.CompletedTask;
    private volatile bool _closed;
    private int _closing;
    // While a message waits for room in the ingestor (InfluxDB slow or down), nothing is read, PINGRESPs included.
    private volatile bool _handing;

    private MqttReceiver(ReadBufferedStream stream, Func<ReceivedMessage, CancellationToken, ValueTask> onMessage, ArrayPool<byte> payloads)
    {
        _stream = stream;
        _onMessage = onMessage;
        _payloads = payloads;
    }

    /// <summary>Whether the broker gave back the session this client id had (CONNACK).</summary>
    public bool SessionPresent { get; private set; }

    /// <summary>Until the connection is closed, by either side or by a failure.</summary>
    public bool IsConnected => !_closed;

    /// <summary>Why the connection ended (null while it is open, or after a clean close of ours).</summary>
    public string? Failure { get; private set; }

    /// <summary>The keep-alive in force: ours, or the broker's when it names one.</summary>
    public ushort KeepAliveSeconds { get; private set; }

    /// <summary>
    /// Connects, sends CONNECT and waits for CONNACK; then messages are handed to <paramref name="onMessage"/> one at a
    /// time: the next packet is read only when the handler's task completes (that is the back-pressure). The token given
    /// to the handler is cancelled when the connection closes: a message still waiting then is dropped unacknowledged,
    /// and the broker sends it again.
    /// </summary>
    /// <exception cref="MqttRefusedException">The broker answered CONNACK with a failure reason.</exception>
    public static async Task<MqttReceiver> ConnectAsync(Options o, Func<ReceivedMessage, CancellationToken, ValueTask> onMessage, ArrayPool<byte> payloads, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(o.Timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp)
        {
            ReceiveBufferSize = Ingestor.SocketBufferBytes,
            SendBufferSize = Ingestor.SocketBufferBytes,
            NoDelay = true,
            LingerState = new System.Net.Sockets.LingerOption(true, 0),
        };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(o.Host, o.Port, timeout.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (o.Tls is { } tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(TlsOptions(o.Host, tls), timeout.Token).ConfigureAwait(false);
            }
            var r = new MqttReceiver(new ReadBufferedStream(stream, ReadSize, socket.LocalEndPoint, socket.RemoteEndPoint), onMessage, payloads);
            stream = null;
            try
            {
                r.KeepAliveSeconds = o.KeepAliveSeconds;
                r.Send(Connect(o));
                var (type, _, start, length) = await r.NextPacketAsync(timeout.Token).ConfigureAwait(false);
                if (type != 2) throw new MqttProtocolException($"the broker answered CONNECT with packet type {type}, not CONNACK");
                r.ReadConnAck(r._buf.AsSpan(start, length));
                r._start = start + length;
                r._reading = r.ReadLoopAsync();
                if (r.KeepAliveSeconds > 0) r._pinging = r.PingLoopAsync();
                return r;
            }
            catch
            {
                await r.CloseAsync(null).ConfigureAwait(false);
                throw;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"{o.Host}:{o.Port}: no connection{(o.Tls is null ? "" : ", TLS handshake")} and CONNACK within {o.Timeout.TotalSeconds:0} s");
        }
        finally
        {
            if (stream is not null) await stream.DisposeAsync().ConfigureAwait(false);
            else if (!socket.Connected) socket.Dispose();
        }
    }

    private static SslClientAuthenticationOptions TlsOptions(string host, TlsSettings tls)
    {
        var o = new SslClientAuthenticationOptions { TargetHost = host };
        if (tls.ClientCertificate is { } cert) o.ClientCertificates = [cert];
        if (tls.Trust is { Count: > 0 } trust)
        {
            // Only the configured authority is trusted (the broker's own CA), and the name must still match.
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(trust);
            o.CertificateChainPolicy = policy;
        }
        return o;
    }

    /// <summary>Subscribes at QoS 1; returns the broker's reason code for each filter, in order (0–2 granted).</summary>
    public async Task<byte[]> SubscribeAsync(IReadOnlyList<string> filters, TimeSpan timeout, CancellationToken ct)
    {
        var suback = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _suback, suback);
        if (_closed) throw new IOException($"the connection closed before SUBSCRIBE: {Failure}");
        var body = new PacketWriter();
        body.UInt16(1); // packet identifier
        body.VarInt(0); // no properties
        foreach (var f in filters)
        {
            body.String(f);
            body.Byte(1); // maximum QoS 1; retained messages as the broker keeps them
        }
        Send(body.Packet(0x82));
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
        wait.CancelAfter(timeout);
        try
        {
            var codes = await suback.Task.WaitAsync(wait.Token).ConfigureAwait(false);
            if (codes.Length != filters.Count) throw new MqttProtocolException($"SUBACK has {codes.Length} reason codes for {filters.Count} filters");
            return codes;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new IOException(_closed ? $"the connection closed before SUBACK: {Failure}" : $"no SUBACK within {timeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Sends the PUBACK of a QoS 1 message received on this connection; false when it cannot (another connection, closed).</summary>
    public bool Acknowledge(ReceivedMessage m)
    {
        if (!ReferenceEquals(m.From, this) || _closed) return false;
        if (m.QoS == 0) return true;
        Span<byte> ack = [0x40, 2, (byte)(m.PacketId >> 8), (byte)m.PacketId];
        try
        {
            _stream.Write(ack);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private void Send(ReadOnlySpan<byte> packet) => _stream.Write(packet);

    private static byte[] Connect(Options o)
    {
        var b = new PacketWriter();
        b.String("MQTT");
        b.Byte(5);
        byte flags = 0; // clean start off: the session (and what it holds) is kept across connections
        if (o.Username is not null) flags |= 0x80;
        if (o.Username is not null && o.Password is not null) flags |= 0x40;
        b.Byte(flags);
        b.UInt16(o.KeepAliveSeconds);
        var props = new PacketWriter();
        props.Byte(0x11);
        props.UInt32(o.SessionExpirySeconds);
        props.Byte(0x21);
        props.UInt16(o.ReceiveMaximum);
        b.VarInt(props.Length);
        b.Bytes(props.Span);
        b.String(o.ClientId);
        if (o.Username is not null) b.String(o.Username);
        if (o.Username is not null && o.Password is not null) b.Binary(Encoding.UTF8.GetBytes(o.Password));
        return b.Packet(0x10);
    }

    private void ReadConnAck(ReadOnlySpan<byte> p)
    {
        if (p.Length < 2) throw new MqttProtocolException("CONNACK is too short");
        SessionPresent = (p[0] & 1) != 0;
        var reason = p[1];
        string? reasonString = null;
        if (p.Length > 2)
        {
            foreach (var (id, value) in Properties(p[2..]))
            {
                if (id == 0x13) KeepAliveSeconds = BinaryPrimitives.ReadUInt16BigEndian(value);
                else if (id == 0x1F) reasonString = Encoding.UTF8.GetString(value[2..]);
            }
        }
        if (reason >= 0x80) throw new MqttRefusedException(reason, reasonString);
    }

    /// <summary>The properties of a packet: identifier and raw value (strings and binary data keep their length prefix).</summary>
    internal static List<(byte Id, byte[] Value)> Properties(ReadOnlySpan<byte> p)
    {
        var at = VarInt(p, 0, out var length);
        if (at + length > p.Length) throw new MqttProtocolException("properties run past the packet");
        var end = at + length;
        var list = new List<(byte, byte[])>();
        while (at < end)
        {
            var id = p[at++];
            int size;
            switch (id)
            {
                case 0x01 or 0x17 or 0x19 or 0x24 or 0x25 or 0x28 or 0x29 or 0x2A: size = 1; break;
                case 0x13 or 0x21 or 0x22 or 0x23: size = 2; break;
                case 0x02 or 0x11 or 0x18 or 0x27: size = 4; break;
                case 0x0B:
                    size = VarInt(p, at, out _);
                    break;
                case 0x03 or 0x08 or 0x09 or 0x12 or 0x15 or 0x16 or 0x1A or 0x1C or 0x1F:
                    if (at + 2 > end) throw new MqttProtocolException($"property 0x{id:X2} runs past the packet");
                    size = 2 + BinaryPrimitives.ReadUInt16BigEndian(p[at..]);
                    break;
                case 0x26:
                    if (at + 2 > end) throw new MqttProtocolException("a user property runs past the packet");
                    var key = 2 + BinaryPrimitives.ReadUInt16BigEndian(p[at..]);
                    if (at + key + 2 > end) throw new MqttProtocolException("a user property runs past the packet");
                    size = key + 2 + BinaryPrimitives.ReadUInt16BigEndian(p[(at + key)..]);
                    break;
                default:
                    throw new MqttProtocolException($"unknown property 0x{id:X2}");
            }
            if (at + size > end) throw new MqttProtocolException($"property 0x{id:X2} runs past the packet");
            list.Add((id, p.Slice(at, size).ToArray()));
            at += size;
        }
        return list;
    }

    private async Task ReadLoopAsync()
    {
        var ct = _stop.Token;
        try
        {
            while (true)
            {
                var (type, flags, start, length) = await NextPacketAsync(ct).ConfigureAwait(false);
                _start = start + length;
                switch (type)
                {
                    case 3:
                        var m = ReadPublish(flags, start, length);
                        _handing = true;
                        await _onMessage(m, ct).ConfigureAwait(false);
                        _handing = false;
                        Volatile.Write(ref _lastReceived, Environment.TickCount64);
                        break;
                    case 9:
                        ReadSubAck(start, length);
                        break;
                    case 13: // PINGRESP
                        break;
                    case 14:
                        var reason = length > 0 ? _buf[start] : (byte)0;
                        throw new IOException($"the broker disconnected: {MqttRefusedException.Describe(reason)}");
                    default:
                        throw new MqttProtocolException($"unexpected packet type {type} from the broker");
                }
                if (_start == _end && _buf.Length > ReadSize)
                {
                    _buf = new byte[ReadSize]; // a large packet has passed: back to the usual buffer
                    _start = _end = 0;
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            await CloseAsync(ct.IsCancellationRequested ? null : ex.Message).ConfigureAwait(false);
        }
    }

    private ReceivedMessage ReadPublish(int flags, int start, int length)
    {
        var p = _buf.AsSpan(start, length);
        var qos = (flags >> 1) & 3;
        if (qos == 3) throw new MqttProtocolException("PUBLISH with QoS 3");
        if (qos == 2) throw new MqttProtocolException("PUBLISH with QoS 2 on a subscription granted at most QoS 1");
        if (p.Length < 2) throw new MqttProtocolException("PUBLISH is too short");
        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(p);
        if (topicLength == 0) throw new MqttProtocolException("PUBLISH without a topic (topic aliases were not allowed)");
        var at = 2 + topicLength;
        if (at > p.Length) throw new MqttProtocolException("PUBLISH topic runs past the packet");
        string topic;
        try
        {
            topic = Strict.GetString(p[2..at]);
        }
        catch (DecoderFallbackException)
        {
            throw new MqttProtocolException("PUBLISH topic is not UTF-8");
        }
        ushort packetId = 0;
        if (qos > 0)
        {
            if (at + 2 > p.Length) throw new MqttProtocolException("PUBLISH packet identifier runs past the packet");
            packetId = BinaryPrimitives.ReadUInt16BigEndian(p[at..]);
            at += 2;
        }
        if (at >= p.Length) throw new MqttProtocolException("PUBLISH without properties");
        at += VarInt(p, at, out var props);
        at += props;
        if (at > p.Length) throw new MqttProtocolException("PUBLISH properties run past the packet");
        var payload = p[at..];
        var pooled = payload.Length <= MaxPooledPayload;
        var copy = pooled ? _payloads.Rent(payload.Length) : new byte[payload.Length];
        payload.CopyTo(copy);
        return new ReceivedMessage(this, topic, copy, payload.Length, pooled ? _payloads : null, packetId, qos);
    }

    private void ReadSubAck(int start, int length)
    {
        var p = _buf.AsSpan(start, length);
        if (p.Length < 3) throw new MqttProtocolException("SUBACK is too short");
        var at = 2 + VarInt(p, 2, out var props);
        at += props;
        if (at > p.Length) throw new MqttProtocolException("SUBACK properties run past the packet");
        Interlocked.Exchange(ref _suback, null)?.TrySetResult(p[at..].ToArray());
    }

    /// <summary>Reads until a whole packet is in the buffer; returns its type, flags and where its body lies.</summary>
    private async Task<(int Type, int Flags, int Start, int Length)> NextPacketAsync(CancellationToken ct)
    {
        while (true)
        {
            if (TryPacket(_buf.AsSpan(_start, _end - _start), out var type, out var flags, out var header, out var length))
                return (type, flags, _start + header, length);
            var need = header > 0 ? header + length : 5; // a whole packet, or enough for any fixed header
            if (_start > 0 && (_start == _end || _buf.Length - _start < need))
            {
                Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_buf.Length < need) Array.Resize(ref _buf, need);
            var n = await _stream.ReadAsync(_buf.AsMemory(_end), ct).ConfigureAwait(false);
            if (n == 0) throw new IOException("the broker closed the connection");
            _end += n;
            Volatile.Write(ref _lastReceived, Environment.TickCount64);
        }
    }

    /// <summary>
    /// A whole packet at the start of <paramref name="data"/>: false when more bytes are needed (then
    /// <paramref name="header"/> and <paramref name="length"/> say how many, once the fixed header is complete).
    /// </summary>
    internal static bool TryPacket(ReadOnlySpan<byte> data, out int type, out int flags, out int header, out int length)
    {
        type = flags = header = length = 0;
        if (data.Length < 2) return false;
        var value = 0;
        for (var i = 1; ; i++)
        {
            if (i == 5) throw new MqttProtocolException("a remaining length longer than four bytes");
            if (i >= data.Length) return false;
            value |= (data[i] & 127) << (7 * (i - 1));
            if ((data[i] & 128) == 0)
            {
                header = i + 1;
                break;
            }
        }
        length = value;
        type = data[0] >> 4;
        flags = data[0] & 15;
        return data.Length >= header + length;
    }

    /// <summary>A variable byte integer at <paramref name="at"/>; returns how many bytes it took.</summary>
    internal static int VarInt(ReadOnlySpan<byte> p, int at, out int value)
    {
        value = 0;
        for (var i = 0; i < 4; i++)
        {
            if (at + i >= p.Length) throw new MqttProtocolException("a variable byte integer runs past the packet");
            var b = p[at + i];
            value |= (b & 127) << (7 * i);
            if ((b & 128) == 0) return i + 1;
        }
        throw new MqttProtocolException("a variable byte integer longer than four bytes");
    }

    private async Task PingLoopAsync()
    {
        var every = TimeSpan.FromSeconds(Math.Max(1, KeepAliveSeconds / 2.0));
        try
        {
            while (!_closed)
            {
                await Task.Delay(every, _stop.Token).ConfigureAwait(false);
                // The broker answers every PINGREQ: silence for one and a half keep-alives means the connection is gone.
                // (Not while a message is being handed on: then the answers wait unread.)
                if (!_handing && Environment.TickCount64 - Volatile.Read(ref _lastReceived) > KeepAliveSeconds * 1500L)
                {
                    await CloseAsync($"nothing from the broker for {KeepAliveSeconds * 1.5:0} s").ConfigureAwait(false);
                    return;
                }
                Send([0xC0, 0]);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    private async Task CloseAsync(string? failure)
    {
        // The read loop, the ping loop and DisposeAsync may all get here: the first one closes, with its reason.
        if (Interlocked.Exchange(ref _closing, 1) != 0) return;
        Failure = failure;
        _closed = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        Interlocked.Exchange(ref _suback, null)?.TrySetException(new IOException($"the connection closed: {failure}"));
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Sends DISCONNECT (the session stays with the broker for its expiry) and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_closed)
        {
            try
            {
                Send([0xE0, 0]);
            }
            catch (IOException)
            {
            }
            await CloseAsync(null).ConfigureAwait(false);
        }
        try
        {
            await Task.WhenAll(_reading, _pinging).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
        _stop.Dispose();
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Builds a packet body; <see cref="Packet"/> puts the fixed header in front.</summary>
    private sealed class PacketWriter
    {
        private readonly List<byte> _b = [];

        public int Length => _b.Count;

        public ReadOnlySpan<byte> Span => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_b);

        public void Byte(byte v) => _b.Add(v);

        public void Bytes(ReadOnlySpan<byte> v)
        {
            foreach (var x in v) _b.Add(x);
        }

        public void UInt16(int v)
        {
            _b.Add((byte)(v >> 8));
            _b.Add((byte)v);
        }

        public void UInt32(uint v)
        {
            UInt16((int)(v >> 16));
            UInt16((int)(v & 0xFFFF));
        }

        public void VarInt(int v)
        {
            do
            {
                var b = (byte)(v % 128);
                v /= 128;
                _b.Add(v > 0 ? (byte)(b | 128) : b);
            }
            while (v > 0);
        }

        public void String(string s) => Binary(Encoding.UTF8.GetBytes(s));

        public void Binary(byte[] data)
        {
            if (data.Length > ushort.MaxValue) throw new ArgumentException($"{data.Length} bytes do not fit an MQTT string");
            UInt16(data.Length);
            Bytes(data);
        }

        public byte[] Packet(byte first)
        {
            var p = new PacketWriter();
            p.Byte(first);
            p.VarInt(_b.Count);
            p.Bytes(Span);
            return [.. p._b];
        }
    }
}

/// <summary>A PUBLISH received by <see cref="MqttReceiver"/>: its payload stays in its pooled array until <see cref="Release"/>.</summary>
internal sealed class ReceivedMessage(MqttReceiver from, string topic, byte[] buffer, int length, ArrayPool<byte>? pool, ushort packetId, int qos)
{
    private byte[]? _buffer = buffer;

    public MqttReceiver From { get; } = from;
    public string Topic { get; } = topic;
    public ushort PacketId { get; } = packetId;
    public int QoS { get; } = qos;

    /// <summary>The payload (empty once released).</summary>
    public ReadOnlySequence<byte> Payload => _buffer is { } b ? new(b, 0, length) : ReadOnlySequence<byte>.Empty;

    /// <summary>Gives the payload's array back to the pool; call once the message is written and acknowledged.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } b) pool?.Return(b);
    }
}

/// <summary>The broker broke MQTT 5 (a malformed or unexpected packet); the connection is closed.</summary>
internal sealed class MqttProtocolException(string message) : IOException(message);

/// <summary>The broker refused the connection (CONNACK) — credentials, client id, authorisation.</summary>
internal sealed class MqttRefusedException(byte reason, string? reasonString)
    : Exception(Describe(reason) + (string.IsNullOrEmpty(reasonString) ? "" : $" ({reasonString})"))
{
    public byte Reason { get; } = reason;

    internal static string Describe(byte reason) => reason switch
    {
        0x00 => "normal",
        0x80 => "unspecified error",
        0x81 => "malformed packet",
        0x82 => "protocol error",
        0x83 => "implementation specific error",
        0x84 => "unsupported protocol version",
        0x85 => "client identifier not valid",
        0x86 => "bad user name or password",
        0x87 => "not authorized",
        0x88 => "server unavailable",
        0x89 => "server busy",
        0x8A => "banned",
        0x8B => "server shutting down",
        0x8C => "bad authentication method",
        0x8E => "session taken over",
        0x8F => "topic filter invalid",
        0x97 => "quota exceeded",
        0x9C => "use another server",
        0x9D => "server moved",
        0x9E => "shared subscriptions not supported",
        0x9F => "connection rate exceeded",
        _ => $"reason 0x{reason:X2}",
    };
}
