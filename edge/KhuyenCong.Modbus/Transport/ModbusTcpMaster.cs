using System.Buffers.Binary;
using System.Net.Sockets;

namespace KhuyenCong.Modbus;

public sealed record ModbusTcpMasterOptions
{
    public required string Host { get; init; }
    public int Port { get; init; } = 502;
    /// <summary>How long to wait for a reply.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);
    /// <summary>Some gateways drop the first request that arrives right after a connect.</summary>
    public TimeSpan PauseAfterConnect { get; init; }
    /// <summary>Quiet time between two transactions, for slow devices behind a gateway.</summary>
    public TimeSpan PauseBetweenRequests { get; init; }
}

/// <summary>
/// Modbus TCP master: MBAP framing, transaction ids matched (a late reply to an earlier, timed-out request is read and
/// thrown away), one connection reconnected on demand.
/// </summary>
public sealed class ModbusTcpMaster(ModbusTcpMasterOptions options) : ModbusMaster
{
    private readonly byte[] _adu = new byte[260];
    private readonly byte[] _rx = new byte[260];
    private Socket? _socket;
    private ushort _tid;
    private long _lastEnd;

    public ModbusTcpMasterOptions Options { get; } = options;

    protected override async Task<ReadOnlyMemory<byte>> TransactAsync(byte unit, ReadOnlyMemory<byte> request, CancellationToken ct)
    {
        if (Options.PauseBetweenRequests > TimeSpan.Zero && _lastEnd != 0)
        {
            var wait = Options.PauseBetweenRequests - System.Diagnostics.Stopwatch.GetElapsedTime(_lastEnd);
            if (wait > TimeSpan.Zero) await Task.Delay(wait, ct).ConfigureAwait(false);
        }
        var socket = _socket ?? await ConnectAsync(ct).ConfigureAwait(false);
        var tid = ++_tid;
        BinaryPrimitives.WriteUInt16BigEndian(_adu, tid);
        BinaryPrimitives.WriteUInt16BigEndian(_adu.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(_adu.AsSpan(4), (ushort)(request.Length + 1));
        _adu[6] = unit;
        request.Span.CopyTo(_adu.AsSpan(7));
        try
        {
            await socket.SendAsync(_adu.AsMemory(0, 7 + request.Length), SocketFlags.None, ct).ConfigureAwait(false);
            if (unit == 0) return ReadOnlyMemory<byte>.Empty; // broadcast: no reply over TCP either
            return await WithTimeoutAsync(Options.ResponseTimeout, ct, t => ReceiveAsync(socket, tid, unit, t), () => $"{Options.Host}:{Options.Port} unit {unit} function {request.Span[0]}").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException)
        {
            await CloseAsync().ConfigureAwait(false);
            throw new IOException($"Modbus TCP link to {Options.Host}:{Options.Port} failed: {ex.Message}", ex);
        }
        catch (ModbusFrameException)
        {
            // The stream may be out of step: start clean.
            await CloseAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            _lastEnd = System.Diagnostics.Stopwatch.GetTimestamp();
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReceiveAsync(Socket socket, ushort tid, byte unit, CancellationToken ct)
    {
        while (true)
        {
            await ReadExactlyAsync(socket, _rx.AsMemory(0, 7), ct).ConfigureAwait(false);
            var rtid = BinaryPrimitives.ReadUInt16BigEndian(_rx);
            var proto = BinaryPrimitives.ReadUInt16BigEndian(_rx.AsSpan(2));
            var len = BinaryPrimitives.ReadUInt16BigEndian(_rx.AsSpan(4));
            if (proto != 0) throw new ModbusFrameException($"{Options.Host}:{Options.Port}: MBAP protocol id {proto}, expected 0");
            if (len is < 2 or > 254) throw new ModbusFrameException($"{Options.Host}:{Options.Port}: MBAP length {len} out of range");
            await ReadExactlyAsync(socket, _rx.AsMemory(7, len - 1), ct).ConfigureAwait(false);
            if (rtid != tid)
            {
                // A late reply to a request that already timed out: skip it. Anything else is out of step.
                if ((ushort)(tid - rtid) < 0x8000) continue;
                throw new ModbusFrameException($"{Options.Host}:{Options.Port}: reply carries transaction {rtid}, expected {tid}");
            }
            if (_rx[6] != unit) throw new ModbusFrameException($"{Options.Host}:{Options.Port}: asked unit {unit}, reply from unit {_rx[6]}");
            return _rx.AsMemory(7, len - 1);
        }
    }

    private static async Task<int> ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken ct)
    {
        var got = 0;
        while (got < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer[got..], SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) throw new IOException("the device closed the connection");
            got += n;
        }
        return got;
    }

    private async Task<Socket> ConnectAsync(CancellationToken ct)
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
                throw new IOException($"connect to {Options.Host}:{Options.Port} timed out after {Options.ConnectTimeout.TotalSeconds:0.#} s");
            }
            catch (SocketException ex)
            {
                throw new IOException($"connect to {Options.Host}:{Options.Port} failed: {ex.Message}", ex);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        Interlocked.Increment(ref Reconnects);
        _socket = socket;
        if (Options.PauseAfterConnect > TimeSpan.Zero) await Task.Delay(Options.PauseAfterConnect, ct).ConfigureAwait(false);
        return socket;
    }

    protected override ValueTask CloseAsync()
    {
        var s = Interlocked.Exchange(ref _socket, null);
        s?.Dispose();
        return ValueTask.CompletedTask;
    }
}
