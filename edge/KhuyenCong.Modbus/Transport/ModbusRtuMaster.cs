using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus;

/// <summary>Settings of a Modbus RTU master (serial line or RTU over TCP).</summary>
public sealed record ModbusRtuMasterOptions
{
    /// <summary>
    /// Line speed, for the t3.5 inter-frame silence. A <see cref="SerialByteTransport"/> uses its own
    /// <see cref="SerialPortSettings.Baud"/> instead; set this for RTU over TCP (the serial server's line speed).
    /// </summary>
    public int Baud { get; init; } = 9600;

    /// <summary>How long to wait for a reply (from the end of the request to the last byte of the reply).</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Least silence kept between frames. t3.5 is 38.5 bit times (4.0 ms at 9,600 baud; 1.75 ms above 19,200 baud), but
    /// user space cannot time gaps that short reliably (scheduler, USB adapter latency timers of 1–16 ms), so the master
    /// waits at least this long after the end of the previous transaction. 5 ms is safe for every baud rate; raise it
    /// for adapters that return from a write before the last byte is on the wire.
    /// </summary>
    public TimeSpan MinimumSilence { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// After a timeout, a corrupt reply or a cancelled transaction: wait this long (from the failure) and discard input
    /// before the next request, so a late or partial reply cannot be taken for the next answer.
    /// </summary>
    public TimeSpan ResyncPause { get; init; } = TimeSpan.FromMilliseconds(80);

    /// <summary>Wait this long after opening the port or connecting to the serial server.</summary>
    public TimeSpan PauseAfterConnect { get; init; }

    /// <summary>Least quiet time between two transactions, when a device needs more than t3.5.</summary>
    public TimeSpan PauseBetweenRequests { get; init; }

    /// <summary>
    /// After a broadcast (unit 0) write, which no device answers: how long to leave the devices to carry it out before
    /// the next request (the spec's "turnaround delay", typically 100–200 ms). Capped at half the response timeout.
    /// </summary>
    public TimeSpan BroadcastTurnaround { get; init; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>
/// Modbus RTU master over any <see cref="IByteTransport"/> (a serial port, or a TCP socket to a serial server). Replies are
/// framed by the length their function code and byte count announce (not by timing gaps, which user space cannot see),
/// then checked by CRC, unit id and function code. Input is discarded before each request; after a timeout, a corrupt
/// reply or a cancellation the master pauses and discards again before the next one.
/// </summary>
public sealed class ModbusRtuMaster : ModbusMaster
{
    private readonly IByteTransport _transport;
    private readonly byte[] _adu = new byte[256];
    private readonly byte[] _rx = new byte[262];
    private readonly string _describe;
    private long _lastEnd;
    private long _resyncFrom;

    public ModbusRtuMaster(IByteTransport transport, ModbusRtuMasterOptions options)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.ResponseTimeout, TimeSpan.Zero);
        _transport = transport;
        Options = options;
        Baud = transport is SerialByteTransport serial ? serial.Settings.Baud : options.Baud;
        ArgumentOutOfRangeException.ThrowIfLessThan(Baud, 1);
        var silence = T35(Baud);
        if (silence < options.MinimumSilence) silence = options.MinimumSilence;
        if (options.PauseBetweenRequests > silence) silence = options.PauseBetweenRequests;
        Silence = silence;
        _describe = transport.Describe();
    }

    /// <summary>A master on a local serial port.</summary>
    public ModbusRtuMaster(SerialPortSettings serial, ModbusRtuMasterOptions? options = null)
        : this(new SerialByteTransport(serial), options ?? new ModbusRtuMasterOptions { Baud = serial?.Baud ?? 9600 })
    {
    }

    public ModbusRtuMasterOptions Options { get; }

    /// <summary>The line speed timing is computed from.</summary>
    public int Baud { get; }

    /// <summary>The quiet time kept before each request: t3.5, at least <see cref="ModbusRtuMasterOptions.MinimumSilence"/>.</summary>
    public TimeSpan Silence { get; }

    protected override TimeSpan ResponseTimeout => Options.ResponseTimeout;

    public override string Describe() => _describe;

    /// <summary>t3.5 for a baud rate: 3.5 characters of 11 bits, or 1.75 ms above 19,200 baud (Modbus over Serial Line §2.5.1.1).</summary>
    public static TimeSpan T35(int baud) => baud > 19200 ? TimeSpan.FromMicroseconds(1750) : TimeSpan.FromMilliseconds(38.5 * 1000 / baud);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask PrepareAsync(CancellationToken ct)
    {
        if (!_transport.IsOpen)
        {
            await _transport.OpenAsync(ct).ConfigureAwait(false);
            CountReconnect();
            if (Options.PauseAfterConnect > TimeSpan.Zero) await Task.Delay(Options.PauseAfterConnect, ct).ConfigureAwait(false);
        }
        if (_resyncFrom != 0)
        {
            // Let a late or partial reply arrive, then throw it away.
            var wait = Options.ResyncPause - Stopwatch.GetElapsedTime(_resyncFrom);
            if (wait > TimeSpan.Zero) await Task.Delay(wait, ct).ConfigureAwait(false);
            _resyncFrom = 0;
        }
        if (_lastEnd != 0)
        {
            var wait = Silence - Stopwatch.GetElapsedTime(_lastEnd);
            if (wait > TimeSpan.Zero) await Task.Delay(wait, ct).ConfigureAwait(false);
        }
        _transport.DiscardInput();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<ReadOnlyMemory<byte>> TransactAsync(byte unit, ReadOnlyMemory<byte> request, CancellationToken ct)
    {
        var n = request.Length;
        _adu[0] = unit;
        request.Span.CopyTo(_adu.AsSpan(1));
        BinaryPrimitives.WriteUInt16LittleEndian(_adu.AsSpan(1 + n), Crc16.Compute(_adu.AsSpan(0, 1 + n)));
        try
        {
            await _transport.WriteAsync(_adu.AsMemory(0, n + 3), ct).ConfigureAwait(false);
            if (unit == 0)
            {
                // Broadcast: nobody answers; give the devices the turnaround time before the next frame.
                var turnaround = Options.BroadcastTurnaround < Options.ResponseTimeout / 2 ? Options.BroadcastTurnaround : Options.ResponseTimeout / 2;
                await Task.Delay(turnaround, ct).ConfigureAwait(false);
                return ReadOnlyMemory<byte>.Empty;
            }
            return await ReceiveAsync(unit, request.Span[0], ct).ConfigureAwait(false);
        }
        finally
        {
            _lastEnd = Stopwatch.GetTimestamp();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlyMemory<byte>> ReceiveAsync(byte unit, byte fc, CancellationToken ct)
    {
        // unit + function code + (byte count, exception code or first echo byte): enough to know the length.
        var got = await FillAsync(0, 3, ct).ConfigureAwait(false);
        var pduLength = Pdu.ExpectedResponseLength(_rx.AsSpan(1, 2));
        var total = 1 + pduLength + 2;
        if (total > 256) throw new ModbusFrameException(ModbusFrameError.LengthMismatch, $"reply announces a frame of {total} bytes, more than 256");
        await FillAsync(got, total, ct).ConfigureAwait(false);
        var crc = BinaryPrimitives.ReadUInt16LittleEndian(_rx.AsSpan(total - 2));
        if (crc != Crc16.Compute(_rx.AsSpan(0, total - 2))) throw new ModbusFrameException(ModbusFrameError.BadCrc, $"CRC error in reply to function {fc}");
        if (_rx[0] != unit) throw new ModbusFrameException(ModbusFrameError.WrongUnit, $"reply from unit {_rx[0]}");
        return _rx.AsMemory(1, total - 3);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> FillAsync(int have, int want, CancellationToken ct)
    {
        while (have < want) have += await _transport.ReadAsync(_rx.AsMemory(have, want - have), ct).ConfigureAwait(false);
        return have;
    }

    protected override void OnAbandoned(bool timedOut) => _resyncFrom = Stopwatch.GetTimestamp();

    protected override ValueTask CloseAsync() => _transport.DisposeAsync();
}
