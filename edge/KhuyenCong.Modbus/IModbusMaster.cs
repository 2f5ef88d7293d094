namespace KhuyenCong.Modbus;

/// <summary>
/// A Modbus master (client) on one physical bus or TCP connection. Implementations run exactly one
/// transaction at a time, whatever number of callers share them, and reconnect on demand.
/// Errors: <see cref="ModbusExceptionResponseException"/> when the device answers with an exception,
/// <see cref="ModbusTimeoutException"/> when it does not answer in time, <see cref="ModbusFrameException"/>
/// for malformed, mismatched or corrupt replies, and <see cref="System.IO.IOException"/> or
/// <see cref="System.Net.Sockets.SocketException"/> when the link itself fails.
/// </summary>
public interface IModbusMaster : IAsyncDisposable
{
    Task<bool[]> ReadCoilsAsync(byte unit, ushort address, ushort count, CancellationToken ct = default);
    Task<bool[]> ReadDiscreteInputsAsync(byte unit, ushort address, ushort count, CancellationToken ct = default);
    Task<ushort[]> ReadHoldingRegistersAsync(byte unit, ushort address, ushort count, CancellationToken ct = default);
    Task<ushort[]> ReadInputRegistersAsync(byte unit, ushort address, ushort count, CancellationToken ct = default);
    Task WriteSingleCoilAsync(byte unit, ushort address, bool value, CancellationToken ct = default);
    Task WriteSingleRegisterAsync(byte unit, ushort address, ushort value, CancellationToken ct = default);
    Task WriteMultipleCoilsAsync(byte unit, ushort address, IReadOnlyList<bool> values, CancellationToken ct = default);
    Task WriteMultipleRegistersAsync(byte unit, ushort address, IReadOnlyList<ushort> values, CancellationToken ct = default);
}
