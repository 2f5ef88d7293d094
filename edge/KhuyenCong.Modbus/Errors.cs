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
public sealed class ModbusExceptionResponseException : ModbusException
{
    public ModbusExceptionResponseException(byte unit, byte functionCode, ModbusExceptionCode code)
        : base($"unit {unit} answered function {functionCode} with exception {(byte)code:X2} ({code})")
    {
        Unit = unit;
        FunctionCode = functionCode;
        Code = code;
    }

    /// <summary>An exception response to a request for <paramref name="address"/> (the message names it).</summary>
    public ModbusExceptionResponseException(byte unit, byte functionCode, ModbusExceptionCode code, ushort address, string where)
        : base($"{where}unit {unit} answered function {functionCode} at address {address} with exception {(byte)code:X2} ({code})")
    {
        Unit = unit;
        FunctionCode = functionCode;
        Code = code;
        Address = address;
    }

    public byte Unit { get; }
    public byte FunctionCode { get; }
    public ModbusExceptionCode Code { get; }

    /// <summary>First address of the request that was refused, when known.</summary>
    public ushort? Address { get; }
}

/// <summary>The device did not answer in time.</summary>
public sealed class ModbusTimeoutException : ModbusException
{
    public ModbusTimeoutException(string message) : base(message)
    {
    }

    public ModbusTimeoutException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>What was wrong with a reply that could not be used.</summary>
public enum ModbusFrameError
{
    /// <summary>Not classified (messages built by callers).</summary>
    Other,
    /// <summary>RTU CRC-16 does not match.</summary>
    BadCrc,
    /// <summary>Fewer bytes than the frame needs.</summary>
    Truncated,
    /// <summary>Reply from another unit id than the one asked.</summary>
    WrongUnit,
    /// <summary>Reply to another function code than the one asked.</summary>
    WrongFunction,
    /// <summary>Modbus TCP reply with a transaction id that matches no request in flight.</summary>
    WrongTransaction,
    /// <summary>A length field (MBAP length, frame length) disagrees with the data, or exceeds the protocol maximum.</summary>
    LengthMismatch,
    /// <summary>The byte count of a read reply does not match the quantity asked.</summary>
    ByteCountMismatch,
    /// <summary>A write reply does not echo the address and value or quantity that were sent.</summary>
    EchoMismatch,
    /// <summary>Anything else that is not Modbus: unknown function code, MBAP protocol id other than 0.</summary>
    Malformed,
}

/// <summary>A reply that is malformed, corrupt (bad CRC), truncated, or does not match the request.</summary>
public sealed class ModbusFrameException : ModbusException
{
    public ModbusFrameException(string message) : base(message)
    {
    }

    public ModbusFrameException(ModbusFrameError error, string message) : base(message)
    {
        Error = error;
    }

    public ModbusFrameException(ModbusFrameError error, string message, Exception inner) : base(message, inner)
    {
        Error = error;
    }

    /// <summary>The kind of fault, for counters (a rising <see cref="ModbusFrameError.BadCrc"/> count points at wiring).</summary>
    public ModbusFrameError Error { get; }
}
