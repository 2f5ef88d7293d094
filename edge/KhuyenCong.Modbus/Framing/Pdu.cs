using System.Buffers.Binary;

namespace KhuyenCong.Modbus.Framing;

/// <summary>Function codes this implementation speaks.</summary>
public static class FunctionCodes
{
    public const byte ReadCoils = 1;
    public const byte ReadDiscreteInputs = 2;
    public const byte ReadHoldingRegisters = 3;
    public const byte ReadInputRegisters = 4;
    public const byte WriteSingleCoil = 5;
    public const byte WriteSingleRegister = 6;
    public const byte WriteMultipleCoils = 15;
    public const byte WriteMultipleRegisters = 16;

    public static bool IsKnown(byte fc) => fc is >= 1 and <= 6 or 15 or 16;
}

/// <summary>
/// Builds and checks protocol data units (function code + data), shared by every transport. Every read of a reply
/// checks its length first and throws <see cref="ModbusFrameException"/> on anything short or inconsistent.
/// </summary>
public static class Pdu
{
    public const int MaxLength = 253;

    /// <summary>Writes a request PDU into <paramref name="dest"/>; returns its length. Validates the spec's quantity limits.</summary>
    public static int WriteReadRequest(Span<byte> dest, byte fc, ushort address, ushort count)
    {
        var max = fc is FunctionCodes.ReadCoils or FunctionCodes.ReadDiscreteInputs ? 2000 : 125;
        if (count < 1 || count > max) throw new ArgumentOutOfRangeException(nameof(count), count, $"function {fc} reads 1–{max} items");
        if (address + count > 65536) throw new ArgumentOutOfRangeException(nameof(address), address, "the read runs past address 65535");
        dest[0] = fc;
        BinaryPrimitives.WriteUInt16BigEndian(dest[1..], address);
        BinaryPrimitives.WriteUInt16BigEndian(dest[3..], count);
        return 5;
    }

    public static int WriteSingle(Span<byte> dest, byte fc, ushort address, ushort value)
    {
        dest[0] = fc;
        BinaryPrimitives.WriteUInt16BigEndian(dest[1..], address);
        BinaryPrimitives.WriteUInt16BigEndian(dest[3..], value);
        return 5;
    }

    public static int WriteMultipleRegisters(Span<byte> dest, ushort address, IReadOnlyList<ushort> values)
    {
        if (values.Count is < 1 or > 123) throw new ArgumentOutOfRangeException(nameof(values), values.Count, "function 16 writes 1–123 registers");
        if (address + values.Count > 65536) throw new ArgumentOutOfRangeException(nameof(address), address, "the write runs past address 65535");
        dest[0] = FunctionCodes.WriteMultipleRegisters;
        BinaryPrimitives.WriteUInt16BigEndian(dest[1..], address);
        BinaryPrimitives.WriteUInt16BigEndian(dest[3..], (ushort)values.Count);
        dest[5] = (byte)(values.Count * 2);
        for (var i = 0; i < values.Count; i++) BinaryPrimitives.WriteUInt16BigEndian(dest[(6 + 2 * i)..], values[i]);
        return 6 + values.Count * 2;
    }

    public static int WriteMultipleCoils(Span<byte> dest, ushort address, IReadOnlyList<bool> values)
    {
        if (values.Count is < 1 or > 1968) throw new ArgumentOutOfRangeException(nameof(values), values.Count, "function 15 writes 1–1968 coils");
        if (address + values.Count > 65536) throw new ArgumentOutOfRangeException(nameof(address), address, "the write runs past address 65535");
        var bytes = (values.Count + 7) / 8;
        dest[0] = FunctionCodes.WriteMultipleCoils;
        BinaryPrimitives.WriteUInt16BigEndian(dest[1..], address);
        BinaryPrimitives.WriteUInt16BigEndian(dest[3..], (ushort)values.Count);
        dest[5] = (byte)bytes;
        dest.Slice(6, bytes).Clear();
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i]) dest[6 + i / 8] |= (byte)(1 << (i % 8));
        }
        return 6 + bytes;
    }

    /// <summary>
    /// Length of a complete response PDU given its first two bytes (function code and, for reads, the byte count),
    /// for framing RTU replies by length. Returns -1 when more bytes are needed to tell.
    /// </summary>
    public static int ExpectedResponseLength(ReadOnlySpan<byte> pduStart)
    {
        if (pduStart.Length < 1) return -1;
        var fc = pduStart[0];
        if ((fc & 0x80) != 0) return 2;
        return fc switch
        {
            >= 1 and <= 4 => pduStart.Length < 2 ? -1 : 2 + pduStart[1],
            5 or 6 or 15 or 16 => 5,
            _ => throw new ModbusFrameException($"unknown function code {fc} in reply"),
        };
    }

    /// <summary>Checks a reply PDU against the request's function code and throws typed errors for exceptions and mismatches.</summary>
    public static void CheckResponse(ReadOnlySpan<byte> pdu, byte unit, byte fc)
    {
        if (pdu.Length < 2) throw new ModbusFrameException($"unit {unit}: reply of {pdu.Length} bytes is too short");
        if (pdu[0] == (fc | 0x80)) throw new ModbusExceptionResponseException(unit, fc, (ModbusExceptionCode)pdu[1]);
        if (pdu[0] != fc) throw new ModbusFrameException($"unit {unit}: asked function {fc}, reply is function {pdu[0]}");
    }

    public static ushort[] ParseRegisters(ReadOnlySpan<byte> pdu, byte unit, byte fc, ushort count)
    {
        CheckResponse(pdu, unit, fc);
        var n = pdu[1];
        if (n != count * 2 || pdu.Length != 2 + n)
            throw new ModbusFrameException($"unit {unit}: asked {count} registers, reply has byte count {n} and {pdu.Length - 2} data bytes");
        var regs = new ushort[count];
        for (var i = 0; i < count; i++) regs[i] = BinaryPrimitives.ReadUInt16BigEndian(pdu[(2 + 2 * i)..]);
        return regs;
    }

    public static bool[] ParseBits(ReadOnlySpan<byte> pdu, byte unit, byte fc, ushort count)
    {
        CheckResponse(pdu, unit, fc);
        var n = pdu[1];
        if (n != (count + 7) / 8 || pdu.Length != 2 + n)
            throw new ModbusFrameException($"unit {unit}: asked {count} bits, reply has byte count {n} and {pdu.Length - 2} data bytes");
        var bits = new bool[count];
        for (var i = 0; i < count; i++) bits[i] = (pdu[2 + i / 8] & (1 << (i % 8))) != 0;
        return bits;
    }

    /// <summary>A write reply must echo the address and the value (FC5/6) or quantity (FC15/16).</summary>
    public static void CheckWriteEcho(ReadOnlySpan<byte> pdu, byte unit, byte fc, ushort address, ushort valueOrCount)
    {
        CheckResponse(pdu, unit, fc);
        if (pdu.Length != 5) throw new ModbusFrameException($"unit {unit}: write reply of {pdu.Length} bytes, expected 5");
        var a = BinaryPrimitives.ReadUInt16BigEndian(pdu[1..]);
        var v = BinaryPrimitives.ReadUInt16BigEndian(pdu[3..]);
        if (a != address || v != valueOrCount)
            throw new ModbusFrameException($"unit {unit}: write reply echoes {a}/{v}, sent {address}/{valueOrCount}");
    }
}
