using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Net.Sockets;

namespace KhuyenCong.Modbus;

/// <summary>Settings of a Modbus TCP master.</summary>
public sealed record ModbusTcpMasterOptions
{
    /// <summary>Device or gateway host name or IP address.</summary>
    public required string Host { get; init; }

    /// <summary>TCP port; 502 is the Modbus default.</summary>
    public int Port { get; init; } = 502;

    /// <summary>How long to wait for a reply. Raise it for slow devices behind an RS-485 gateway.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a (re)connect may take before the transaction fails with <see cref="IOException"/>.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Some gateways drop the first request that arrives right after a connect: wait this long after connecting.</summary>
    public TimeSpan PauseAfterConnect { get; init; }

    /// <summary>Least quiet time between two transactions, for slow devices behind a gateway.</summary>
    public TimeSpan PauseBetweenRequests { get; init; }
}

/// <summary>
/// Modbus TCP master: MBAP framing, transaction ids matched (a late reply to an earlier, timed-out request is read and
/// thrown away), one connection, opened on first use and reopened on demand after a link failure. A transaction
/// abandoned half-way through a frame (cancelled, timed out) closes the connection so the next one starts in step.
/// </summary>
public sealed class ModbusTcpMaster : ModbusMaster
{
    private const int MbapLength = 7;
    private readonly byte[] _adu = new byte[260];
    // Receive buffer: one read usually brings a whole reply; bytes past it (a later frame) stay for the next read.
    private readonly byte[] _rx = new byte[1024];
    private readonly string _describe;
    private int _rxStart;
    private int _rxEnd;
    private Socket? _socket;
    private ushort _tid;
    private long _lastEnd;
    private bool _outOfStep;

    public ModbusTcpMaster(ModbusTcpMasterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Host);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Port, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.ResponseTimeout, TimeSpan.Zero);
        Options = options;
        _describe = $"{options.Host}:{options.Port}";
    }

    public ModbusTcpMasterOptions Options { get; }

    /// <summary>True while a connection is open.</summary>
    public bool IsConnected => _socket is not null;

    protected override TimeSpan ResponseTimeout => Options.ResponseTimeout;

    public override string Describe() => _describe;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask PrepareAsync(CancellationToken ct)
    {
        if (Options.PauseBetweenRequests > TimeSpan.Zero && _lastEnd != 0)
        {
            var wait = Options.PauseBetweenRequests - Stopwatch.GetElapsedTime(_lastEnd);
            if (wait > TimeSpan.Zero) await Task.Delay(wait, ct).ConfigureAwait(false);
        }
        if (_socket is null) await ConnectAsync(ct).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<ReadOnlyMemory<byte>> TransactAsync(byte unit, ReadOnlyMemory<byte> request, CancellationToken ct)
    {
        var socket = _socket ?? throw new IOException($"{_describe}: not connected");
        var tid = ++_tid;
        BinaryPrimitives.WriteUInt16BigEndian(_adu, tid);
        BinaryPrimitives.WriteUInt16BigEndian(_adu.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(_adu.AsSpan(4), (ushort)(request.Length + 1));
        _adu[6] = unit;
        request.Span.CopyTo(_adu.AsSpan(MbapLength));
        try
        {
            // Until the whole request is out, an interruption could leave half a frame in the device's stream.
            _outOfStep = true;
            var length = MbapLength + request.Length;
            for (var sent = 0; sent < length;)
            {
                var n = await socket.SendAsync(_adu.AsMemory(sent, length - sent), SocketFlags.None, ct).ConfigureAwait(false);
                if (n <= 0) throw new IOException($"{_describe}: the connection closed while sending");
                sent += n;
            }
            _outOfStep = false;
            if (unit == 0) return ReadOnlyMemory<byte>.Empty; // broadcast: no reply over TCP either
            return await ReceiveAsync(socket, tid, unit, ct).ConfigureAwait(false);
        }
        finally
        {
            _lastEnd = Stopwatch.GetTimestamp();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlyMemory<byte>> ReceiveAsync(Socket socket, ushort tid, byte unit, CancellationToken ct)
    {
        while (true)
        {
            await FillAsync(socket, MbapLength, ct).ConfigureAwait(false);
            var head = _rx.AsSpan(_rxStart, MbapLength);
            var rtid = BinaryPrimitives.ReadUInt16BigEndian(head);
            var proto = BinaryPrimitives.ReadUInt16BigEndian(head[2..]);
            var len = BinaryPrimitives.ReadUInt16BigEndian(head[4..]);
            if (proto != 0)
            {
                _outOfStep = true;
                throw new ModbusFrameException(ModbusFrameError.Malformed, $"MBAP protocol id {proto}, expected 0");
            }
            if (len is < 3 or > 254)
            {
                _outOfStep = true;
                throw new ModbusFrameException(ModbusFrameError.LengthMismatch, $"MBAP length {len} out of range 3–254");
            }
            await FillAsync(socket, MbapLength - 1 + len, ct).ConfigureAwait(false);
            var frame = _rx.AsMemory(_rxStart, MbapLength - 1 + len);
            _rxStart += frame.Length;
            if (rtid != tid)
            {
                // A late reply to a request that already timed out: skip it. A newer id means the stream is out of step.
                if ((ushort)(tid - rtid) < 0x8000) continue;
                _outOfStep = true;
                throw new ModbusFrameException(ModbusFrameError.WrongTransaction, $"reply carries transaction {rtid}, expected {tid}");
            }
            if (frame.Span[6] != unit) throw new ModbusFrameException(ModbusFrameError.WrongUnit, $"reply from unit {frame.Span[6]}");
            return frame[MbapLength..];
        }
    }

    /// <summary>Makes at least <paramref name="count"/> unread bytes available at <c>_rxStart</c>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FillAsync(Socket socket, int count, CancellationToken ct)
    {
        if (_rxEnd - _rxStart >= count) return;
        if (_rxStart > 0)
        {
            // Move what is left to the front: room for a whole frame behind it.
            Buffer.BlockCopy(_rx, _rxStart, _rx, 0, _rxEnd - _rxStart);
            _rxEnd -= _rxStart;
            _rxStart = 0;
        }
        while (_rxEnd < count)
        {
            if (_rxEnd > 0) _outOfStep = true; // part of a frame is consumed: abandoning now would leave the rest behind
            var n = await socket.ReceiveAsync(_rx.AsMemory(_rxEnd), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) throw new IOException($"{_describe}: the device closed the connection");
            _rxEnd += n;
        }
        _outOfStep = false;
    }

    protected override void OnAbandoned(bool timedOut)
    {
        // Abandoned with no frame half-read: the connection stays; a late reply is skipped by its transaction id.
        if (_outOfStep || _rxEnd > _rxStart) Close();
    }

    private async Task ConnectAsync(CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(Options.ConnectTimeout);
            try
            {
                await socket.ConnectAsync(Options.Host, Options.Port, cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new IOException($"connect to {_describe} timed out after {Options.ConnectTimeout.TotalSeconds:0.#} s");
            }
            catch (SocketException ex)
            {
                throw new IOException($"connect to {_describe} failed: {ex.Message}", ex);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        CountReconnect();
        _socket = socket;
        _rxStart = _rxEnd = 0;
        _outOfStep = false;
        if (Options.PauseAfterConnect > TimeSpan.Zero) await Task.Delay(Options.PauseAfterConnect, ct).ConfigureAwait(false);
    }

    private void Close()
    {
        var s = Interlocked.Exchange(ref _socket, null);
        s?.Dispose();
        _rxStart = _rxEnd = 0;
        _outOfStep = false;
    }

    protected override ValueTask CloseAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }
}
