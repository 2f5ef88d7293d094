using System.Buffers.Binary;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus;

/// <summary>
/// A Modbus RTU slave on a serial line (or any <see cref="IByteTransport"/>) over a <see cref="ModbusDataStore"/>.
/// Requests of the function codes it knows are framed by the length the function code implies and answered as soon as
/// they are complete. A frame with a bad CRC is dropped silently, as the spec asks; the slave then slides one byte at a
/// time until a frame checks out. A silence longer than <see cref="IdleReset"/> ends the frame in progress, as t3.5 does
/// on a real line (user space cannot time t3.5 itself, so the threshold is coarser): what is left is answered if its
/// CRC is right (an unknown function code gets exception 01), and otherwise dropped.
/// </summary>
public sealed class ModbusRtuSlave : IAsyncDisposable
{
    private readonly IByteTransport _transport;
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _buf = new byte[512];
    private readonly byte[] _tx = new byte[256];
    private int _have;
    private Task? _loop;
    private long _framesAnswered;
    private long _crcErrors;
    private long _dropped;
    private int _disposed;

    public ModbusRtuSlave(IByteTransport transport, ModbusDataStore store)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(store);
        _transport = transport;
        Store = store;
    }

    public ModbusDataStore Store { get; }

    /// <summary>Line silence that ends a frame (t3.5 in spirit). 50 ms suits serial ports and ptys alike.</summary>
    public TimeSpan IdleReset { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Requests answered (broadcasts and unknown units are not answered).</summary>
    public long FramesAnswered => Interlocked.Read(ref _framesAnswered);

    /// <summary>Candidate frames whose CRC did not match (noise, or a frame that began in the middle).</summary>
    public long CrcErrors => Interlocked.Read(ref _crcErrors);

    /// <summary>Bytes thrown away at a silence because they formed no valid frame.</summary>
    public long BytesDropped => Interlocked.Read(ref _dropped);

    /// <summary>Opens the transport and starts answering.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_loop is not null) throw new InvalidOperationException("the slave is already running");
        await _transport.OpenAsync(ct).ConfigureAwait(false);
        _loop = RunAsync(_stop.Token);
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var idle = new CancellationTokenSource();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (_have == _buf.Length)
                {
                    // Only garbage: start over.
                    Interlocked.Add(ref _dropped, _have);
                    _have = 0;
                }
                int n;
                if (_have == 0)
                {
                    n = await _transport.ReadAsync(_buf.AsMemory(), ct).ConfigureAwait(false);
                }
                else
                {
                    // A frame is in progress: wait for more bytes, but only as long as the line may stay quiet inside a frame.
                    if (!idle.TryReset())
                    {
                        idle.Dispose();
                        idle = new CancellationTokenSource();
                    }
                    var registration = ct.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), idle);
                    idle.CancelAfter(IdleReset);
                    try
                    {
                        n = await _transport.ReadAsync(_buf.AsMemory(_have), idle.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        await EndOfFrameAsync(ct).ConfigureAwait(false);
                        continue;
                    }
                    finally
                    {
                        await registration.DisposeAsync().ConfigureAwait(false);
                    }
                }
                _have += n;
                await ParseAsync(ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Stopped, or the port went away.
        }
        finally
        {
            idle.Dispose();
        }
    }

    /// <summary>Answers every complete request at the front of the buffer; slides past bytes that cannot start one.</summary>
    private async Task ParseAsync(CancellationToken ct)
    {
        while (_have >= 4)
        {
            var pduLength = Pdu.ExpectedRequestLength(_buf.AsSpan(1, _have - 1));
            if (pduLength < 0) return; // need more bytes
            if (pduLength == 0)
            {
                // A function code this slave does not frame by length: complete only if some prefix checks out.
                var len = ValidPrefix(_buf.AsSpan(0, _have));
                if (len == 0) return; // wait for more bytes, or for the silence that ends it
                await AnswerAsync(len, ct).ConfigureAwait(false);
                continue;
            }
            var total = 1 + pduLength + 2;
            if (total > 256)
            {
                Shift(1);
                continue;
            }
            if (_have < total) return;
            if (!CrcOk(_buf.AsSpan(0, total)))
            {
                Interlocked.Increment(ref _crcErrors);
                Shift(1);
                continue;
            }
            await AnswerAsync(total, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The line went quiet with bytes waiting: answer the first valid frame among them, drop the rest.</summary>
    private async Task EndOfFrameAsync(CancellationToken ct)
    {
        for (var start = 0; start + 4 <= _have; start++)
        {
            var rest = _buf.AsSpan(start, _have - start);
            var pduLength = Pdu.ExpectedRequestLength(rest[1..]);
            var len = pduLength > 0 && 3 + pduLength <= rest.Length && CrcOk(rest[..(3 + pduLength)]) ? 3 + pduLength
                : CrcOk(rest) ? rest.Length
                : 0;
            if (len == 0) continue;
            Interlocked.Add(ref _dropped, start);
            Shift(start);
            await AnswerAsync(len, ct).ConfigureAwait(false);
            await ParseAsync(ct).ConfigureAwait(false);
            return;
        }
        Interlocked.Add(ref _dropped, _have);
        _have = 0;
    }

    private static int ValidPrefix(ReadOnlySpan<byte> b)
    {
        for (var len = 4; len <= Math.Min(b.Length, 256); len++)
        {
            if (CrcOk(b[..len])) return len;
        }
        return 0;
    }

    private static bool CrcOk(ReadOnlySpan<byte> frame) =>
        frame.Length >= 4 && BinaryPrimitives.ReadUInt16LittleEndian(frame[^2..]) == Crc16.Compute(frame[..^2]);

    private async Task AnswerAsync(int frameLength, CancellationToken ct)
    {
        var unit = _buf[0];
        var replyLength = Store.Handle(unit, _buf.AsSpan(1, frameLength - 3), _tx.AsSpan(1, Pdu.MaxLength));
        Shift(frameLength);
        if (replyLength == 0) return;
        _tx[0] = unit;
        BinaryPrimitives.WriteUInt16LittleEndian(_tx.AsSpan(1 + replyLength), Crc16.Compute(_tx.AsSpan(0, 1 + replyLength)));
        await _transport.WriteAsync(_tx.AsMemory(0, replyLength + 3), ct).ConfigureAwait(false);
        Interlocked.Increment(ref _framesAnswered);
    }

    private void Shift(int by)
    {
        Buffer.BlockCopy(_buf, by, _buf, 0, _have - by);
        _have -= by;
    }

    /// <summary>Stops answering and closes the transport. The slave cannot be started again.</summary>
    public async Task StopAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        _transport.Close();
        if (_loop is not null) await _loop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await StopAsync().ConfigureAwait(false);
        await _transport.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
