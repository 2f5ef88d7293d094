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

    /// <summary>The read function code for a table (FC 1, 2, 4 or 3).</summary>
    public static byte ForRead(RegisterTable table) => table switch
    {
        RegisterTable.Coil => ReadCoils,
        RegisterTable.DiscreteInput => ReadDiscreteInputs,
        RegisterTable.InputRegister => ReadInputRegisters,
        RegisterTable.HoldingRegister => ReadHoldingRegisters,
        _ => throw new ArgumentOutOfRangeException(nameof(table), table, "unknown table"),
    };
}

/// <summary>The quantity limits of Modbus Application Protocol V1.1b3 §6.</summary>
public static class ModbusLimits
{
    /// <summary>FC 1/2: 1–2000 bits per read.</summary>
    public const int MaxReadBits = 2000;
    /// <summary>FC 3/4: 1–125 registers per read.</summary>
    public const int MaxReadRegisters = 125;
    /// <summary>FC 15: 1–1968 coils per write.</summary>
    public const int MaxWriteBits = 1968;
    /// <summary>FC 16: 1–123 registers per write.</summary>
    public const int MaxWriteRegisters = 123;
    /// <summary>Unit ids 1–247 address a device; 0 is broadcast (writes only, no reply).</summary>
    public const byte MaxUnit = 247;
}

/// <summary>Where a transaction went, for error messages; formatted only when something fails.</summary>
internal readonly record struct Where(string Link, byte Unit, byte Function, int Address)
{
    public override string ToString()
    {
        var link = Link.Length == 0 ? "" : Link + " ";
        return Address < 0 ? $"{link}unit {Unit} function {Function}" : $"{link}unit {Unit} function {Function} address {Address}";
    }
}

/// <summary>
/// Builds and checks protocol data units (function code + data), shared by every transport. Every read of a reply
/// checks its length first and throws <see cref="ModbusFrameException"/> on anything short or inconsistent.
/// </summary>
public static class Pdu
{
    /// <summary>Largest PDU: 256-byte RTU ADU less unit and CRC (the 260-byte TCP ADU less the 7-byte MBAP header).</summary>
    public const int MaxLength = 253;

    /// <summary>Checks a read's quantity and range before anything is sent (FC 1/2: 1–2000 bits; FC 3/4: 1–125 registers).</summary>
    public static void ValidateRead(byte fc, ushort address, ushort count)
    {
        var max = fc is FunctionCodes.ReadCoils or FunctionCodes.ReadDiscreteInputs ? ModbusLimits.MaxReadBits : ModbusLimits.MaxReadRegisters;
        if (count < 1 || count > max) throw new ArgumentOutOfRangeException(nameof(count), count, $"function {fc} reads 1–{max} items, asked {count} at address {address}");
        if (address + count > 65536) throw new ArgumentOutOfRangeException(nameof(address), address, $"function {fc}: {count} items from address {address} run past address 65535");
    }

    /// <summary>Checks a multiple write's quantity and range (FC 15: 1–1968 coils; FC 16: 1–123 registers).</summary>
    public static void ValidateWrite(byte fc, ushort address, int count)
    {
        var max = fc == FunctionCodes.WriteMultipleCoils ? ModbusLimits.MaxWriteBits : ModbusLimits.MaxWriteRegisters;
        if (count < 1 || count > max) throw new ArgumentOutOfRangeException(nameof(count), count, $"function {fc} writes 1–{max} items, asked {count} at address {address}");
        if (address + count > 65536) throw new ArgumentOutOfRangeException(nameof(address), address, $"function {fc}: {count} items from address {address} run past address 65535");
    }

    /// <summary>Writes a read request PDU (FC 1–4) into <paramref name="dest"/>; returns its length (5). Validates the spec's quantity limits.</summary>
    public static int WriteReadRequest(Span<byte> dest, byte fc, ushort address, ushort count)
    {
        ValidateRead(fc, address, count);
        if (dest.Length < 5) throw new ArgumentException("the buffer holds less than 5 bytes", nameof(dest));
        dest[0] = fc;
        BinaryPrimitives.WriteUInt16BigEndian(dest[1..], address);
        BinaryPrimitives.WriteUInt16BigEndian(dest[3..], count);
        return 5;
    }

    /// <summary>Writes an FC 5 or FC 6 request PDU; returns its length (5). For FC 5 the value must be 0xFF00 (on) or 0x0000 (off).</summary>
    public static int WriteSingle(Span<byte> dest, byte fc, ushort address, ushort value)
    {
        if (fc == FunctionCodes.WriteSingleCoil && value is not (0xFF00 or 0x0000))
            throw new ArgumentOutOfRangeException(nameof(value), value, "function 5 sends 0xFF00 (on) or 0x0000 (off)");
        if (dest.Length < 5) throw new ArgumentException("the buffer holds less than 5 bytes", nameof(dest));
        dest[0] = fc;
        BinaryPrimitives.WriteUInt16BigEndian(dest[1..], address);
        BinaryPrimitives.WriteUInt16BigEndian(dest[3..], value);
        return 5;
    }

    /// <summary>Writes an FC 16 request PDU (1–123 registers); returns its length.</summary>
    public static int WriteMultipleRegisters(Span<byte> dest, ushort address, IReadOnlyList<ushort> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        ValidateWrite(FunctionCodes.WriteMultipleRegisters, address, values.Count);
        var length = 6 + values.Count * 2;
        if (dest.Length < length) throw new ArgumentException($"the buffer holds less than {length} bytes", nameof(dest));
        dest[0] = FunctionCodes.WriteMultipleRegisters;
        BinaryPrimitives.WriteUInt16BigEndian(dest[1..], address);
        BinaryPrimitives.WriteUInt16BigEndian(dest[3..], (ushort)values.Count);
        dest[5] = (byte)(values.Count * 2);
        for (var i = 0; i < values.Count; i++) BinaryPrimitives.WriteUInt16BigEndian(dest[(6 + 2 * i)..], values[i]);
        return length;
    }

    /// <summary>Writes an FC 15 request PDU (1–1968 coils, first coil in the least significant bit of the first byte); returns its length.</summary>
    public static int WriteMultipleCoils(Span<byte> dest, ushort address, IReadOnlyList<bool> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        ValidateWrite(FunctionCodes.WriteMultipleCoils, address, values.Count);
        var bytes = (values.Count + 7) / 8;
        if (dest.Length < 6 + bytes) throw new ArgumentException($"the buffer holds less than {6 + bytes} bytes", nameof(dest));
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
    /// for framing RTU replies by length: exception 2; FC 1–4 2 + byte count; FC 5/6/15/16 5. Returns -1 when more
    /// bytes are needed to tell.
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
            _ => throw new ModbusFrameException(ModbusFrameError.Malformed, $"unknown function code {fc} in reply"),
        };
    }

    /// <summary>
    /// Length of a complete request PDU given its first bytes, for framing RTU requests on the slave side. Returns -1 when
    /// more bytes are needed to tell, 0 when the function code is not one this implementation frames by length.
    /// </summary>
    public static int ExpectedRequestLength(ReadOnlySpan<byte> pduStart)
    {
        if (pduStart.Length < 1) return -1;
        return pduStart[0] switch
        {
            >= 1 and <= 6 => 5,
            15 or 16 => pduStart.Length < 6 ? -1 : 6 + pduStart[5],
            _ => 0,
        };
    }

    /// <summary>Checks a reply PDU against the request's function code and throws typed errors for exceptions and mismatches.</summary>
    public static void CheckResponse(ReadOnlySpan<byte> pdu, byte unit, byte fc) => CheckResponse(pdu, new Where("", unit, fc, -1));

    /// <summary>Decodes an FC 3/4 reply of exactly <paramref name="count"/> registers.</summary>
    public static ushort[] ParseRegisters(ReadOnlySpan<byte> pdu, byte unit, byte fc, ushort count) => ParseRegisters(pdu, new Where("", unit, fc, -1), count);

    /// <summary>Decodes an FC 1/2 reply of exactly <paramref name="count"/> bits.</summary>
    public static bool[] ParseBits(ReadOnlySpan<byte> pdu, byte unit, byte fc, ushort count) => ParseBits(pdu, new Where("", unit, fc, -1), count);

    /// <summary>A write reply must echo the address and the value (FC5/6) or quantity (FC15/16).</summary>
    public static void CheckWriteEcho(ReadOnlySpan<byte> pdu, byte unit, byte fc, ushort address, ushort valueOrCount) =>
        CheckWriteEcho(pdu, new Where("", unit, fc, -1), address, valueOrCount);

    internal static void CheckResponse(ReadOnlySpan<byte> pdu, in Where where)
    {
        if (pdu.Length < 2) throw new ModbusFrameException(ModbusFrameError.Truncated, $"{where}: reply of {pdu.Length} bytes is too short");
        if (pdu[0] == (where.Function | 0x80))
        {
            if (pdu.Length != 2) throw new ModbusFrameException(ModbusFrameError.LengthMismatch, $"{where}: exception reply of {pdu.Length} bytes, expected 2");
            var prefix = where.Link.Length == 0 ? "" : where.Link + ": ";
            throw where.Address < 0
                ? new ModbusExceptionResponseException(where.Unit, where.Function, (ModbusExceptionCode)pdu[1])
                : new ModbusExceptionResponseException(where.Unit, where.Function, (ModbusExceptionCode)pdu[1], (ushort)where.Address, prefix);
        }
        if (pdu[0] != where.Function) throw new ModbusFrameException(ModbusFrameError.WrongFunction, $"{where}: reply is function {pdu[0]}");
    }

    internal static ushort[] ParseRegisters(ReadOnlySpan<byte> pdu, in Where where, ushort count)
    {
        CheckResponse(pdu, where);
        var n = pdu[1];
        if (n != count * 2 || pdu.Length != 2 + n)
            throw new ModbusFrameException(ModbusFrameError.ByteCountMismatch, $"{where}: asked {count} registers, reply has byte count {n} and {pdu.Length - 2} data bytes");
        var regs = new ushort[count];
        for (var i = 0; i < regs.Length; i++) regs[i] = BinaryPrimitives.ReadUInt16BigEndian(pdu.Slice(2 + 2 * i, 2));
        return regs;
    }

    internal static bool[] ParseBits(ReadOnlySpan<byte> pdu, in Where where, ushort count)
    {
        CheckResponse(pdu, where);
        var n = pdu[1];
        if (n != (count + 7) / 8 || pdu.Length != 2 + n)
            throw new ModbusFrameException(ModbusFrameError.ByteCountMismatch, $"{where}: asked {count} bits, reply has byte count {n} and {pdu.Length - 2} data bytes");
        var bits = new bool[count];
        var data = pdu[2..];
        for (var i = 0; i < bits.Length; i++) bits[i] = (data[i >> 3] & (1 << (i & 7))) != 0;
        return bits;
    }

    internal static void CheckWriteEcho(ReadOnlySpan<byte> pdu, in Where where, ushort address, ushort valueOrCount)
    {
        CheckResponse(pdu, where);
        if (pdu.Length != 5) throw new ModbusFrameException(ModbusFrameError.LengthMismatch, $"{where}: write reply of {pdu.Length} bytes, expected 5");
        var a = BinaryPrimitives.ReadUInt16BigEndian(pdu[1..]);
        var v = BinaryPrimitives.ReadUInt16BigEndian(pdu[3..]);
        if (a != address || v != valueOrCount)
            throw new ModbusFrameException(ModbusFrameError.EchoMismatch, $"{where}: write reply echoes {a}/{v}, sent {address}/{valueOrCount}");
    }
}
