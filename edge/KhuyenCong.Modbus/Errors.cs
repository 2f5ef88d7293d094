namespace KhuyenCong.Modbus;

/// <summary>Any Modbus protocol failure.</summary>
public class ModbusException : Exception
{
    public ModbusException(string message) : base(message)
    {
    }

    public ModbusException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>The exception codes a device may answer with (Modbus Application Protocol V1.1b3 §7).</summary>
public enum ModbusExceptionCode : byte
{
    IllegalFunction = 0x01,
    IllegalDataAddress = 0x02,
    IllegalDataValue = 0x03,
    ServerDeviceFailure = 0x04,
    Acknowledge = 0x05,
    ServerDeviceBusy = 0x06,
    MemoryParityError = 0x08,
    GatewayPathUnavailable = 0x0A,
    GatewayTargetFailedToRespond = 0x0B,
}

/// <summary>The device answered, with an exception response.</summary>
public sealed class ModbusExceptionResponseException(byte unit, byte functionCode, ModbusExceptionCode code)
    : ModbusException($"unit {unit} answered function {functionCode} with exception {(byte)code:X2} ({code})")
{
    public byte Unit { get; } = unit;
    public byte FunctionCode { get; } = functionCode;
    public ModbusExceptionCode Code { get; } = code;
}

/// <summary>The device did not answer in time.</summary>
public sealed class ModbusTimeoutException(string message) : ModbusException(message);

/// <summary>A reply that is malformed, corrupt (bad CRC), truncated, or does not match the request.</summary>
public sealed class ModbusFrameException(string message) : ModbusException(message);
