using System.Buffers.Binary;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus;

/// <summary>
/// A Modbus RTU slave on a serial line (or any <see cref="IByteTransport"/>) over a <see cref="ModbusDataStore"/>.
/// Requests are framed by the length their function code implies; a frame with a bad CRC is dropped silently (as the
/// spec asks), and after garbage the slave resynchronises by sliding one byte at a time until a frame checks out.
/// A silence longer than <see cref="IdleReset"/> ends any partial frame, as the t3.5 gap does on a real line (user space
/// cannot time t3.5 itself, so the threshold is coarser).
/// </summary>
public sealed class ModbusRtuSlave(IByteTransport transport, ModbusDataStore store) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public TimeSpan IdleReset { get; init; } = TimeSpan.FromMilliseconds(50);

    public long FramesAnswered { get; private set; }
    public long CrcErrors { get; private set; }

    public async Task StartAsync(CancellationToken ct = default)
    {
        await transport.OpenAsync(ct).ConfigureAwait(false);
        _loop = RunAsync(_stop.Token);
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var buf = new byte[512];
        var tx = new byte[256];
        var have = 0;
        var lastByte = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (have == buf.Length) have = 0; // only garbage: start over
                var n = await transport.ReadAsync(buf.AsMemory(have), ct).ConfigureAwait(false);
                if (have > 0 && System.Diagnostics.Stopwatch.GetElapsedTime(lastByte) > IdleReset)
                {
                    // The line was quiet: whatever partial frame was waiting is over. Keep only the new bytes.
                    Buffer.BlockCopy(buf, have, buf, 0, n);
                    have = 0;
                }
                lastByte = System.Diagnostics.Stopwatch.GetTimestamp();
                have += n;
                while (have >= 4)
                {
                    var len = RequestLength(buf.AsSpan(0, have));
                    if (len == 0) break; // need more bytes
                    if (len < 0 || len > 256)
                    {
                        Shift(buf, ref have, 1);
                        continue;
                    }
                    if (have < len) break;
                    var crc = BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(len - 2));
                    if (crc != Crc16.Compute(buf.AsSpan(0, len - 2)))
                    {
                        CrcErrors++;
                        Shift(buf, ref have, 1);
                        continue;
                    }
                    var unit = buf[0];
                    var replyLen = store.Handle(unit, buf.AsSpan(1, len - 3), tx.AsSpan(1));
                    Shift(buf, ref have, len);
                    if (replyLen == 0) continue;
                    tx[0] = unit;
                    BinaryPrimitives.WriteUInt16LittleEndian(tx.AsSpan(1 + replyLen), Crc16.Compute(tx.AsSpan(0, 1 + replyLen)));
                    await transport.WriteAsync(tx.AsMemory(0, replyLen + 3), ct).ConfigureAwait(false);
                    FramesAnswered++;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Total length of the request frame at the start of <paramref name="b"/>; 0 = need more bytes; -1 = not a request.</summary>
    private static int RequestLength(ReadOnlySpan<byte> b)
    {
        var fc = b[1];
        switch (fc)
        {
            case >= 1 and <= 6:
                return 8;
            case 15 or 16:
                if (b.Length < 7) return 0;
                return 7 + b[6] + 2;
            default:
                return -1;
        }
    }

    private static void Shift(byte[] buf, ref int have, int by)
    {
        Buffer.BlockCopy(buf, by, buf, 0, have - by);
        have -= by;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        transport.Close();
        if (_loop is not null) await _loop.ConfigureAwait(false);
        await transport.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
