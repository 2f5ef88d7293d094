using System.Net.Sockets;
using System.Runtime.CompilerServices;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus;

/// <summary>
/// Counters of one master (one bus or connection), as a snapshot. <see cref="FrameErrors"/> includes
/// <see cref="CrcErrors"/>. Subtract two snapshots for the activity in between.
/// </summary>
public sealed record ModbusMasterStats(long Requests, long Timeouts, long FrameErrors, long ExceptionResponses, long Reconnects)
{
    /// <summary>Replies dropped for a bad CRC (RTU only); also counted in <see cref="FrameErrors"/>.</summary>
    public long CrcErrors { get; init; }

    /// <summary>Transactions that failed because the link failed (socket closed, serial port gone).</summary>
    public long LinkErrors { get; init; }

    /// <summary>Transactions abandoned because the caller cancelled them.</summary>
    public long Cancelled { get; init; }

    /// <summary>Activity between an earlier snapshot and this one.</summary>
    public static ModbusMasterStats operator -(ModbusMasterStats later, ModbusMasterStats earlier)
    {
        ArgumentNullException.ThrowIfNull(later);
        ArgumentNullException.ThrowIfNull(earlier);
        return new ModbusMasterStats(
            later.Requests - earlier.Requests, later.Timeouts - earlier.Timeouts, later.FrameErrors - earlier.FrameErrors,
            later.ExceptionResponses - earlier.ExceptionResponses, later.Reconnects - earlier.Reconnects)
        {
            CrcErrors = later.CrcErrors - earlier.CrcErrors,
            LinkErrors = later.LinkErrors - earlier.LinkErrors,
            Cancelled = later.Cancelled - earlier.Cancelled,
        };
    }

    /// <summary>Same as the <c>-</c> operator.</summary>
    public ModbusMasterStats Subtract(ModbusMasterStats earlier) => this - earlier;
}

/// <summary>
/// What every master shares: request building, reply checking, counters, the response timeout, and the rule that
/// exactly one transaction runs at a time on a bus, however many callers share it. Transports implement
/// <see cref="TransactAsync"/>; a transaction that is cancelled or times out half-way is reported to the transport
/// (<see cref="OnAbandoned"/>) so that the next one starts on a clean link.
/// </summary>
public abstract class ModbusMaster : IModbusMaster
{
    private readonly SemaphoreSlim _bus = new(1, 1);
    private readonly byte[] _request = new byte[Pdu.MaxLength];
    private CancellationTokenSource _timeout = new();
    private long _requests;
    private long _timeouts;
    private long _frameErrors;
    private long _crcErrors;
    private long _exceptions;
    private long _linkErrors;
    private long _cancelled;
    private long _reconnects;
    private int _disposed;

    /// <summary>How long to wait for a reply before <see cref="ModbusTimeoutException"/>.</summary>
    protected abstract TimeSpan ResponseTimeout { get; }

    /// <summary>The link, for messages: host:port or the serial device and its settings.</summary>
    public abstract string Describe();

    /// <summary>Counters since the master was made.</summary>
    public ModbusMasterStats Stats() => new(
        Interlocked.Read(ref _requests), Interlocked.Read(ref _timeouts), Interlocked.Read(ref _frameErrors),
        Interlocked.Read(ref _exceptions), Interlocked.Read(ref _reconnects))
    {
        CrcErrors = Interlocked.Read(ref _crcErrors),
        LinkErrors = Interlocked.Read(ref _linkErrors),
        Cancelled = Interlocked.Read(ref _cancelled),
    };

    /// <summary>Transports call this each time they (re)open the link.</summary>
    protected void CountReconnect() => Interlocked.Increment(ref _reconnects);

    /// <summary>
    /// Sends one request PDU to <paramref name="unit"/> and returns the reply PDU (empty for a broadcast), which stays
    /// valid until the next transaction. <paramref name="ct"/> fires at the response timeout or when the caller cancels.
    /// Throw <see cref="ModbusFrameException"/> with a reason only; the caller adds unit, function and address.
    /// </summary>
    protected abstract ValueTask<ReadOnlyMemory<byte>> TransactAsync(byte unit, ReadOnlyMemory<byte> request, CancellationToken ct);

    /// <summary>
    /// Runs before the response timer starts, with the caller's token: (re)connect, keep the inter-frame silence or the
    /// pause between requests. Failures here are link failures (<see cref="IOException"/>).
    /// </summary>
    protected virtual ValueTask PrepareAsync(CancellationToken ct) => ValueTask.CompletedTask;

    /// <summary>
    /// The transaction in progress was cancelled or timed out (<paramref name="timedOut"/>) or its reply was unusable:
    /// bring the link back to a clean state before the next one (skip late replies, discard input, or reconnect).
    /// </summary>
    protected abstract void OnAbandoned(bool timedOut);

    /// <summary>Closes the link; the next transaction reconnects.</summary>
    protected abstract ValueTask CloseAsync();

    public Task<bool[]> ReadCoilsAsync(byte unit, ushort address, ushort count, CancellationToken ct = default)
    {
        Pdu.ValidateRead(FunctionCodes.ReadCoils, address, count);
        return RunAsync<ReadBitsOp, bool[]>(new ReadBitsOp(unit, FunctionCodes.ReadCoils, address, count), ct);
    }

    public Task<bool[]> ReadDiscreteInputsAsync(byte unit, ushort address, ushort count, CancellationToken ct = default)
    {
        Pdu.ValidateRead(FunctionCodes.ReadDiscreteInputs, address, count);
        return RunAsync<ReadBitsOp, bool[]>(new ReadBitsOp(unit, FunctionCodes.ReadDiscreteInputs, address, count), ct);
    }

    public Task<ushort[]> ReadHoldingRegistersAsync(byte unit, ushort address, ushort count, CancellationToken ct = default)
    {
        Pdu.ValidateRead(FunctionCodes.ReadHoldingRegisters, address, count);
        return RunAsync<ReadRegistersOp, ushort[]>(new ReadRegistersOp(unit, FunctionCodes.ReadHoldingRegisters, address, count), ct);
    }

    public Task<ushort[]> ReadInputRegistersAsync(byte unit, ushort address, ushort count, CancellationToken ct = default)
    {
        Pdu.ValidateRead(FunctionCodes.ReadInputRegisters, address, count);
        return RunAsync<ReadRegistersOp, ushort[]>(new ReadRegistersOp(unit, FunctionCodes.ReadInputRegisters, address, count), ct);
    }

    /// <summary>Reads the table a planned request names (FC 3 or 4) and decodes nothing: registers as they came.</summary>
    public Task<ushort[]> ReadRegistersAsync(byte unit, RegisterTable table, ushort address, ushort count, CancellationToken ct = default) => table switch
    {
        RegisterTable.HoldingRegister => ReadHoldingRegistersAsync(unit, address, count, ct),
        RegisterTable.InputRegister => ReadInputRegistersAsync(unit, address, count, ct),
        _ => throw new ArgumentException($"{table} holds bits: use ReadBitsAsync", nameof(table)),
    };

    /// <summary>Reads coils or discrete inputs (FC 1 or 2).</summary>
    public Task<bool[]> ReadBitsAsync(byte unit, RegisterTable table, ushort address, ushort count, CancellationToken ct = default) => table switch
    {
        RegisterTable.Coil => ReadCoilsAsync(unit, address, count, ct),
        RegisterTable.DiscreteInput => ReadDiscreteInputsAsync(unit, address, count, ct),
        _ => throw new ArgumentException($"{table} holds registers: use ReadRegistersAsync", nameof(table)),
    };

    public Task WriteSingleCoilAsync(byte unit, ushort address, bool value, CancellationToken ct = default) =>
        RunAsync<WriteSingleOp, bool>(new WriteSingleOp(unit, FunctionCodes.WriteSingleCoil, address, value ? (ushort)0xFF00 : (ushort)0x0000), ct);

    public Task WriteSingleRegisterAsync(byte unit, ushort address, ushort value, CancellationToken ct = default) =>
        RunAsync<WriteSingleOp, bool>(new WriteSingleOp(unit, FunctionCodes.WriteSingleRegister, address, value), ct);

    public Task WriteMultipleCoilsAsync(byte unit, ushort address, IReadOnlyList<bool> values, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        Pdu.ValidateWrite(FunctionCodes.WriteMultipleCoils, address, values.Count);
        return RunAsync<WriteCoilsOp, bool>(new WriteCoilsOp(unit, address, values), ct);
    }

    public Task WriteMultipleRegistersAsync(byte unit, ushort address, IReadOnlyList<ushort> values, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        Pdu.ValidateWrite(FunctionCodes.WriteMultipleRegisters, address, values.Count);
        return RunAsync<WriteRegistersOp, bool>(new WriteRegistersOp(unit, address, values), ct);
    }

    /// <summary>One kind of transaction: how to build its request and read its reply. Structs, so a request allocates no closure.</summary>
    private interface IOperation<out T>
    {
        byte Unit { get; }
        byte Function { get; }
        ushort Address { get; }
        int Build(Span<byte> pdu);
        T Parse(ReadOnlySpan<byte> pdu, in Where where);
    }

    private readonly record struct ReadRegistersOp(byte Unit, byte Function, ushort Address, ushort Count) : IOperation<ushort[]>
    {
        public int Build(Span<byte> pdu) => Pdu.WriteReadRequest(pdu, Function, Address, Count);
        public ushort[] Parse(ReadOnlySpan<byte> pdu, in Where where) => Pdu.ParseRegisters(pdu, where, Count);
    }

    private readonly record struct ReadBitsOp(byte Unit, byte Function, ushort Address, ushort Count) : IOperation<bool[]>
    {
        public int Build(Span<byte> pdu) => Pdu.WriteReadRequest(pdu, Function, Address, Count);
        public bool[] Parse(ReadOnlySpan<byte> pdu, in Where where) => Pdu.ParseBits(pdu, where, Count);
    }

    private readonly record struct WriteSingleOp(byte Unit, byte Function, ushort Address, ushort Value) : IOperation<bool>
    {
        public int Build(Span<byte> pdu) => Pdu.WriteSingle(pdu, Function, Address, Value);

        public bool Parse(ReadOnlySpan<byte> pdu, in Where where)
        {
            Pdu.CheckWriteEcho(pdu, where, Address, Value);
            return true;
        }
    }

    private readonly record struct WriteRegistersOp(byte Unit, ushort Address, IReadOnlyList<ushort> Values) : IOperation<bool>
    {
        public byte Function => FunctionCodes.WriteMultipleRegisters;
        public int Build(Span<byte> pdu) => Pdu.WriteMultipleRegisters(pdu, Address, Values);

        public bool Parse(ReadOnlySpan<byte> pdu, in Where where)
        {
            Pdu.CheckWriteEcho(pdu, where, Address, (ushort)Values.Count);
            return true;
        }
    }

    private readonly record struct WriteCoilsOp(byte Unit, ushort Address, IReadOnlyList<bool> Values) : IOperation<bool>
    {
        public byte Function => FunctionCodes.WriteMultipleCoils;
        public int Build(Span<byte> pdu) => Pdu.WriteMultipleCoils(pdu, Address, Values);

        public bool Parse(ReadOnlySpan<byte> pdu, in Where where)
        {
            Pdu.CheckWriteEcho(pdu, where, Address, (ushort)Values.Count);
            return true;
        }
    }

    private async Task<T> RunAsync<TOp, T>(TOp op, CancellationToken ct) where TOp : struct, IOperation<T>
    {
        var unit = op.Unit;
        if (unit > ModbusLimits.MaxUnit) throw new ArgumentOutOfRangeException(nameof(unit), unit, "unit ids are 0 (broadcast) to 247");
        if (unit == 0 && op.Function is >= 1 and <= 4) throw new ArgumentException("a broadcast (unit 0) cannot read", nameof(unit));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _bus.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var n = op.Build(_request);
            Interlocked.Increment(ref _requests);
            var reply = await ExchangeAsync(unit, op.Function, op.Address, _request.AsMemory(0, n), ct).ConfigureAwait(false);
            if (unit == 0) return default!;
            try
            {
                return op.Parse(reply.Span, new Where(Describe(), unit, op.Function, op.Address));
            }
            catch (ModbusExceptionResponseException)
            {
                Interlocked.Increment(ref _exceptions);
                throw;
            }
            catch (ModbusFrameException)
            {
                Interlocked.Increment(ref _frameErrors);
                throw;
            }
        }
        finally
        {
            _bus.Release();
        }
    }

    /// <summary>Runs one exchange under the response timeout; turns every failure into the documented error types.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlyMemory<byte>> ExchangeAsync(byte unit, byte fc, ushort address, ReadOnlyMemory<byte> request, CancellationToken ct)
    {
        // One timeout source, reused while it never fires: no allocation per request on the happy path.
        var timeout = _timeout;
        if (!timeout.TryReset())
        {
            timeout.Dispose();
            _timeout = timeout = new CancellationTokenSource();
        }
        var link = ct.CanBeCanceled ? ct.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout) : default;
        try
        {
            await PrepareAsync(ct).ConfigureAwait(false);
            timeout.CancelAfter(ResponseTimeout);
            return await TransactAsync(unit, request, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && timeout.IsCancellationRequested)
        {
            Interlocked.Increment(ref _timeouts);
            OnAbandoned(timedOut: true);
            throw new ModbusTimeoutException($"{new Where(Describe(), unit, fc, address)}: no answer within {ResponseTimeout.TotalMilliseconds:0} ms");
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _cancelled);
            OnAbandoned(timedOut: false);
            throw;
        }
        catch (ModbusFrameException ex)
        {
            Interlocked.Increment(ref _frameErrors);
            if (ex.Error == ModbusFrameError.BadCrc) Interlocked.Increment(ref _crcErrors);
            OnAbandoned(timedOut: false);
            throw new ModbusFrameException(ex.Error, $"{new Where(Describe(), unit, fc, address)}: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or UnauthorizedAccessException or InvalidOperationException)
        {
            Interlocked.Increment(ref _linkErrors);
            await CloseAsync().ConfigureAwait(false);
            if (ex is IOException) throw;
            throw new IOException($"{Describe()}: link failed: {ex.Message}", ex);
        }
        finally
        {
            link.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _bus.WaitAsync().ConfigureAwait(false);
        try
        {
            await CloseAsync().ConfigureAwait(false);
            _timeout.Dispose();
        }
        finally
        {
            _bus.Release();
        }
        GC.SuppressFinalize(this);
    }
}
