using System.Buffers.Binary;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus;

/// <summary>Counters of one master (one bus or connection).</summary>
public sealed record ModbusMasterStats(long Requests, long Timeouts, long FrameErrors, long ExceptionResponses, long Reconnects);

/// <summary>
/// What every master shares: request building, reply checking, counters, and the rule that exactly one transaction
/// runs at a time on a bus, however many callers share it. Transports implement <see cref="TransactAsync"/>.
/// </summary>
public abstract class ModbusMaster : IModbusMaster
{
    private readonly SemaphoreSlim _bus = new(1, 1);
    private readonly byte[] _request = new byte[Pdu.MaxLength];
    private long _requests;
    private long _timeouts;
    private long _frameErrors;
    private long _exceptions;
    private int _disposed;

    /// <summary>Reconnections of the underlying link (counted by the transport).</summary>
    protected long Reconnects;

    public ModbusMasterStats Stats() => new(
        Interlocked.Read(ref _requests), Interlocked.Read(ref _timeouts), Interlocked.Read(ref _frameErrors),
        Interlocked.Read(ref _exceptions), Interlocked.Read(ref Reconnects));

    /// <summary>Sends one request PDU to <paramref name="unit"/> and returns the reply PDU (empty for a broadcast).</summary>
    protected abstract Task<ReadOnlyMemory<byte>> TransactAsync(byte unit, ReadOnlyMemory<byte> request, CancellationToken ct);

    /// <summary>Closes the link; the next transaction reconnects.</summary>
    protected abstract ValueTask CloseAsync();

    public Task<bool[]> ReadCoilsAsync(byte unit, ushort address, ushort count, CancellationToken ct = default) =>
        ReadBitsAsync(unit, FunctionCodes.ReadCoils, address, count, ct);

    public Task<bool[]> ReadDiscreteInputsAsync(byte unit, ushort address, ushort count, CancellationToken ct = default) =>
        ReadBitsAsync(unit, FunctionCodes.ReadDiscreteInputs, address, count, ct);

    public Task<ushort[]> ReadHoldingRegistersAsync(byte unit, ushort address, ushort count, CancellationToken ct = default) =>
        ReadRegistersAsync(unit, FunctionCodes.ReadHoldingRegisters, address, count, ct);

    public Task<ushort[]> ReadInputRegistersAsync(byte unit, ushort address, ushort count, CancellationToken ct = default) =>
        ReadRegistersAsync(unit, FunctionCodes.ReadInputRegisters, address, count, ct);

    public async Task WriteSingleCoilAsync(byte unit, ushort address, bool value, CancellationToken ct = default)
    {
        var v = value ? (ushort)0xFF00 : (ushort)0x0000;
        await RunAsync(unit, FunctionCodes.WriteSingleCoil, b => Pdu.WriteSingle(b, FunctionCodes.WriteSingleCoil, address, v),
            (pdu) => { Pdu.CheckWriteEcho(pdu, unit, FunctionCodes.WriteSingleCoil, address, v); return true; }, ct).ConfigureAwait(false);
    }

    public async Task WriteSingleRegisterAsync(byte unit, ushort address, ushort value, CancellationToken ct = default)
    {
        await RunAsync(unit, FunctionCodes.WriteSingleRegister, b => Pdu.WriteSingle(b, FunctionCodes.WriteSingleRegister, address, value),
            (pdu) => { Pdu.CheckWriteEcho(pdu, unit, FunctionCodes.WriteSingleRegister, address, value); return true; }, ct).ConfigureAwait(false);
    }

    public async Task WriteMultipleCoilsAsync(byte unit, ushort address, IReadOnlyList<bool> values, CancellationToken ct = default)
    {
        await RunAsync(unit, FunctionCodes.WriteMultipleCoils, b => Pdu.WriteMultipleCoils(b, address, values),
            (pdu) => { Pdu.CheckWriteEcho(pdu, unit, FunctionCodes.WriteMultipleCoils, address, (ushort)values.Count); return true; }, ct).ConfigureAwait(false);
    }

    public async Task WriteMultipleRegistersAsync(byte unit, ushort address, IReadOnlyList<ushort> values, CancellationToken ct = default)
    {
        await RunAsync(unit, FunctionCodes.WriteMultipleRegisters, b => Pdu.WriteMultipleRegisters(b, address, values),
            (pdu) => { Pdu.CheckWriteEcho(pdu, unit, FunctionCodes.WriteMultipleRegisters, address, (ushort)values.Count); return true; }, ct).ConfigureAwait(false);
    }

    private Task<ushort[]> ReadRegistersAsync(byte unit, byte fc, ushort address, ushort count, CancellationToken ct) =>
        RunAsync(unit, fc, b => Pdu.WriteReadRequest(b, fc, address, count), pdu => Pdu.ParseRegisters(pdu, unit, fc, count), ct);

    private Task<bool[]> ReadBitsAsync(byte unit, byte fc, ushort address, ushort count, CancellationToken ct) =>
        RunAsync(unit, fc, b => Pdu.WriteReadRequest(b, fc, address, count), pdu => Pdu.ParseBits(pdu, unit, fc, count), ct);

    private delegate int Builder(Span<byte> buffer);
    private delegate T Parser<out T>(ReadOnlySpan<byte> pdu);

    private async Task<T> RunAsync<T>(byte unit, byte fc, Builder build, Parser<T> parse, CancellationToken ct)
    {
        if (unit > 247) throw new ArgumentOutOfRangeException(nameof(unit), unit, "unit ids are 0 (broadcast) to 247");
        if (unit == 0 && fc is >= 1 and <= 4) throw new ArgumentException("a broadcast (unit 0) cannot read", nameof(unit));
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _bus.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var n = build(_request);
            Interlocked.Increment(ref _requests);
            ReadOnlyMemory<byte> reply;
            try
            {
                reply = await TransactAsync(unit, _request.AsMemory(0, n), ct).ConfigureAwait(false);
            }
            catch (ModbusTimeoutException)
            {
                Interlocked.Increment(ref _timeouts);
                throw;
            }
            catch (ModbusFrameException)
            {
                Interlocked.Increment(ref _frameErrors);
                throw;
            }
            if (unit == 0) return default!;
            try
            {
                return parse(reply.Span);
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

    /// <summary>Runs <paramref name="io"/> with a response timeout; a timeout becomes <see cref="ModbusTimeoutException"/>.</summary>
    protected static async Task<TResult> WithTimeoutAsync<TResult>(TimeSpan timeout, CancellationToken ct, Func<CancellationToken, Task<TResult>> io, Func<string> what)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            return await io(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ModbusTimeoutException($"{what()}: no answer within {timeout.TotalMilliseconds:0} ms");
        }
    }

    protected static ushort ReadU16(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadUInt16BigEndian(b);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _bus.WaitAsync().ConfigureAwait(false);
        try
        {
            await CloseAsync().ConfigureAwait(false);
        }
        finally
        {
            _bus.Release();
        }
        GC.SuppressFinalize(this);
    }
}
