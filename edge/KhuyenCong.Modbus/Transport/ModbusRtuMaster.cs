using System.Buffers.Binary;
using System.Diagnostics;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus;

public sealed record ModbusRtuMasterOptions
{
    /// <summary>Line speed, for the t3.5 inter-frame silence (38.5 bit times; fixed 1.75 ms above 19,200 baud).</summary>
    public int Baud { get; init; } = 9600;
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// Least silence kept between frames. User space cannot time 1.75–4 ms gaps reliably (scheduler, USB latency), so
    /// the master waits at least this long; 5 ms is safe for every baud rate the project has met.
    /// </summary>
    public TimeSpan MinimumSilence { get; init; } = TimeSpan.FromMilliseconds(5);
    /// <summary>After a timeout or a corrupt frame: wait this long and discard input, so the next exchange starts clean.</summary>
    public TimeSpan ResyncPause { get; init; } = TimeSpan.FromMilliseconds(80);
    public TimeSpan PauseAfterConnect { get; init; }
    public TimeSpan PauseBetweenRequests { get; init; }
}

/// <summary>
/// Modbus RTU master over any <see cref="IByteTransport"/>. Replies are framed by the length their function code and
/// byte count announce (not by timing gaps, which user space cannot see), then checked by CRC and unit id.
/// </summary>
public sealed class ModbusRtuMaster(IByteTransport transport, ModbusRtuMasterOptions options) : ModbusMaster
{
    private readonly byte[] _adu = new byte[256];
    private readonly byte[] _rx = new byte[256];
    private long _lastEnd;

    public ModbusRtuMasterOptions Options { get; } = options;

    /// <summary>t3.5 for a baud rate: 3.5 characters of 11 bits, or 1.75 ms above 19,200 baud (Modbus over Serial Line §2.5.1.1).</summary>
    public static TimeSpan T35(int baud) => baud > 19200 ? TimeSpan.FromMicroseconds(1750) : TimeSpan.FromMilliseconds(38.5 * 1000 / baud);

    protected override async Task<ReadOnlyMemory<byte>> TransactAsync(byte unit, ReadOnlyMemory<byte> request, CancellationToken ct)
    {
        if (!transport.IsOpen)
        {
            await transport.OpenAsync(ct).ConfigureAwait(false);
            Interlocked.Increment(ref Reconnects);
            if (Options.PauseAfterConnect > TimeSpan.Zero) await Task.Delay(Options.PauseAfterConnect, ct).ConfigureAwait(false);
        }
        await KeepSilenceAsync(ct).ConfigureAwait(false);

        var n = request.Length;
        _adu[0] = unit;
        request.Span.CopyTo(_adu.AsSpan(1));
        BinaryPrimitives.WriteUInt16LittleEndian(_adu.AsSpan(1 + n), Crc16.Compute(_adu.AsSpan(0, 1 + n)));
        try
        {
            transport.DiscardInput();
            await transport.WriteAsync(_adu.AsMemory(0, n + 3), ct).ConfigureAwait(false);
            if (unit == 0)
            {
                // Broadcast: nobody answers; give the slaves the turnaround time before the next frame.
                await Task.Delay(Options.ResponseTimeout / 4, ct).ConfigureAwait(false);
                return ReadOnlyMemory<byte>.Empty;
            }
            return await WithTimeoutAsync(Options.ResponseTimeout, ct, t => ReceiveAsync(unit, request.Span[0], t),
                () => $"{transport.Describe()} unit {unit} function {request.Span[0]}").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ModbusTimeoutException or ModbusFrameException)
        {
            await ResyncAsync(ct).ConfigureAwait(false);
            throw;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            transport.Close();
            throw new IOException($"{transport.Describe()}: {ex.Message}", ex);
        }
        finally
        {
            _lastEnd = Stopwatch.GetTimestamp();
        }
    }

    private async Task KeepSilenceAsync(CancellationToken ct)
    {
        var silence = T35(Options.Baud);
        if (silence < Options.MinimumSilence) silence = Options.MinimumSilence;
        if (Options.PauseBetweenRequests > silence) silence = Options.PauseBetweenRequests;
        if (_lastEnd == 0) return;
        var wait = silence - Stopwatch.GetElapsedTime(_lastEnd);
        if (wait > TimeSpan.Zero) await Task.Delay(wait, ct).ConfigureAwait(false);
    }

    private async Task ResyncAsync(CancellationToken ct)
    {
        try
        {
            await Task.Delay(Options.ResyncPause, ct).ConfigureAwait(false);
            transport.DiscardInput();
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
            transport.Close();
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReceiveAsync(byte unit, byte fc, CancellationToken ct)
    {
        var got = 0;
        // unit + function code + (byte count or first data byte)
        got = await FillAsync(got, 3, ct).ConfigureAwait(false);
        int total;
        try
        {
            var pduLength = Pdu.ExpectedResponseLength(_rx.AsSpan(1, 2));
            total = 1 + pduLength + 2;
        }
        catch (ModbusFrameException ex)
        {
            throw new ModbusFrameException($"{transport.Describe()} unit {unit}: {ex.Message}");
        }
        if (total > _rx.Length) throw new ModbusFrameException($"{transport.Describe()} unit {unit}: announced frame of {total} bytes exceeds 256");
        await FillAsync(got, total, ct).ConfigureAwait(false);
        var crc = BinaryPrimitives.ReadUInt16LittleEndian(_rx.AsSpan(total - 2));
        if (crc != Crc16.Compute(_rx.AsSpan(0, total - 2)))
            throw new ModbusFrameException($"{transport.Describe()} unit {unit}: CRC error in reply to function {fc}");
        if (_rx[0] != unit) throw new ModbusFrameException($"{transport.Describe()}: asked unit {unit}, reply from unit {_rx[0]}");
        return _rx.AsMemory(1, total - 3);
    }

    private async Task<int> FillAsync(int have, int want, CancellationToken ct)
    {
        while (have < want) have += await transport.ReadAsync(_rx.AsMemory(have, want - have), ct).ConfigureAwait(false);
        return have;
    }

    protected override ValueTask CloseAsync() => transport.DisposeAsync();
}
