using System.Buffers.Binary;
using System.Text;

namespace KhuyenCong.Modbus;

/// <summary>
/// Turns registers into engineering values and back. Registers are 16-bit big-endian on the wire; how several
/// registers form one value is the <see cref="WordOrder"/>: for the value's big-endian bytes A B C D (…H),
/// ABCD sends them as they are, CDAB swaps the 16-bit words, BADC swaps the bytes inside each word, DCBA reverses all.
/// 64-bit values follow the same rule over four words (CDAB sends the least significant word first).
/// <para>
/// 16-bit values and strings follow telegraf's modbus input (type_conversions16.go): ABCD and CDAB read a register
/// big-endian (the Modbus convention), BADC and DCBA read it little-endian, i.e. swap its two bytes. The same
/// semantics as pymodbus's BinaryPayloadBuilder/Decoder with byteorder = little for BADC and DCBA.
/// </para>
/// <para>
/// <see cref="DataType.Bit"/> in a register table is bit 0 of the register (word order does not apply); a coil or
/// discrete input is the bit itself (<see cref="DecodeBit"/>). Scale and offset never apply to bits.
/// </para>
/// </summary>
public static class RegisterCodec
{
    /// <summary>Registers (or bits, in coil/discrete tables) a value of this type occupies.</summary>
    public static int Width(DataType type, RegisterTable table, int length)
    {
        if (table is RegisterTable.Coil or RegisterTable.DiscreteInput) return 1;
        return type switch
        {
            DataType.Bit or DataType.Int16 or DataType.UInt16 => 1,
            DataType.Int32 or DataType.UInt32 or DataType.Float32 => 2,
            DataType.Int64 or DataType.UInt64 or DataType.Float64 => 4,
            DataType.String => Math.Max(1, length),
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown data type"),
        };
    }

    /// <summary>Decodes <paramref name="f"/> from registers that start at its first register; applies scale and offset.</summary>
    public static double Decode(FieldSpec f, ReadOnlySpan<ushort> registers)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (f.Type == DataType.String) throw new InvalidOperationException($"{f.Name} is a string: use DecodeString");
        var width = f.Width;
        if (registers.Length < width) throw new ModbusFrameException(ModbusFrameError.Truncated, $"{f.Name}: needs {width} registers, got {registers.Length}");
        Span<byte> b = stackalloc byte[8];
        ToBytes(registers[..width], f.Order, b);
        double raw = f.Type switch
        {
            DataType.Bit => registers[0] & 1,
            DataType.Int16 => BinaryPrimitives.ReadInt16BigEndian(b),
            DataType.UInt16 => BinaryPrimitives.ReadUInt16BigEndian(b),
            DataType.Int32 => BinaryPrimitives.ReadInt32BigEndian(b),
            DataType.UInt32 => BinaryPrimitives.ReadUInt32BigEndian(b),
            DataType.Int64 => BinaryPrimitives.ReadInt64BigEndian(b),
            DataType.UInt64 => BinaryPrimitives.ReadUInt64BigEndian(b),
            DataType.Float32 => BinaryPrimitives.ReadSingleBigEndian(b),
            DataType.Float64 => BinaryPrimitives.ReadDoubleBigEndian(b),
            _ => throw new ArgumentOutOfRangeException(nameof(f), f.Type, "unknown data type"),
        };
        return f.Type == DataType.Bit ? raw : raw * f.Scale + f.Offset;
    }

    /// <summary>A coil or discrete input as a value: 1 or 0 (scale and offset do not apply).</summary>
    public static double DecodeBit(bool bit) => bit ? 1 : 0;

    /// <summary>ASCII text, two characters per register (high byte first unless BADC/DCBA), up to the first NUL, trailing spaces trimmed.</summary>
    public static string DecodeString(FieldSpec f, ReadOnlySpan<ushort> registers)
    {
        ArgumentNullException.ThrowIfNull(f);
        var width = f.Width;
        if (registers.Length < width) throw new ModbusFrameException(ModbusFrameError.Truncated, $"{f.Name}: needs {width} registers, got {registers.Length}");
        var bytes = new byte[width * 2];
        var swap = f.Order is WordOrder.BADC or WordOrder.DCBA;
        for (var i = 0; i < width; i++)
        {
            var r = registers[i];
            bytes[2 * i] = (byte)(swap ? r : r >> 8);
            bytes[2 * i + 1] = (byte)(swap ? r >> 8 : r);
        }
        // Text ends at the first NUL (C string); trailing space padding is dropped. Bytes above 0x7F become '?'.
        var end = Array.IndexOf(bytes, (byte)0);
        return Encoding.ASCII.GetString(bytes, 0, end < 0 ? bytes.Length : end).TrimEnd(' ');
    }

    /// <summary>
    /// Encodes an engineering value into <paramref name="destination"/> (the inverse of <see cref="Decode"/>): removes
    /// offset and scale, rounds half away from zero for integer types. Throws <see cref="ArgumentOutOfRangeException"/>
    /// (naming the field, the value and the type) when the raw value does not fit the type or is not a number, and
    /// <see cref="ArgumentException"/> for a zero or non-finite scale. Float types take NaN and infinities as they are;
    /// a finite value too large for Float32 is refused. Bits: 1 when the value is 0.5 or more.
    /// </summary>
    public static void Encode(FieldSpec f, double value, Span<ushort> destination)
    {
        ArgumentNullException.ThrowIfNull(f);
        var width = f.Width;
        if (destination.Length < width) throw new ArgumentException($"{f.Name}: needs {width} registers, got {destination.Length}", nameof(destination));
        if (f.Type != DataType.Bit && (f.Scale == 0 || !double.IsFinite(f.Scale) || !double.IsFinite(f.Offset)))
            throw new ArgumentException($"{f.Name}: scale {f.Scale} and offset {f.Offset} cannot be inverted", nameof(f));
        var raw = f.Type == DataType.Bit ? value : (value - f.Offset) / f.Scale;
        if (f.Type == DataType.Float32 && double.IsFinite(raw) && !float.IsFinite((float)raw))
            throw new ArgumentOutOfRangeException(nameof(value), value, $"{f.Name}: raw value {raw} does not fit Float32");
        Span<byte> b = stackalloc byte[8];
        switch (f.Type)
        {
            case DataType.Bit: BinaryPrimitives.WriteUInt16BigEndian(b, raw >= 0.5 ? (ushort)1 : (ushort)0); break;
            case DataType.Int16: BinaryPrimitives.WriteInt16BigEndian(b, (short)Integer(f, raw, short.MinValue, short.MaxValue)); break;
            case DataType.UInt16: BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)Integer(f, raw, 0, ushort.MaxValue)); break;
            case DataType.Int32: BinaryPrimitives.WriteInt32BigEndian(b, (int)Integer(f, raw, int.MinValue, int.MaxValue)); break;
            case DataType.UInt32: BinaryPrimitives.WriteUInt32BigEndian(b, (uint)Integer(f, raw, 0, uint.MaxValue)); break;
            // 2^63 and 2^64 are exclusive bounds: long.MaxValue and ulong.MaxValue round up to them as doubles.
            case DataType.Int64: BinaryPrimitives.WriteInt64BigEndian(b, (long)Integer(f, raw, long.MinValue, TwoTo63, exclusiveMax: true)); break;
            case DataType.UInt64: BinaryPrimitives.WriteUInt64BigEndian(b, (ulong)Integer(f, raw, 0, TwoTo64, exclusiveMax: true)); break;
            case DataType.Float32: BinaryPrimitives.WriteSingleBigEndian(b, (float)raw); break;
            case DataType.Float64: BinaryPrimitives.WriteDoubleBigEndian(b, raw); break;
            default: throw new InvalidOperationException($"{f.Name}: type {f.Type} cannot be encoded from a number");
        }
        FromBytes(b[..(width * 2)], f.Order, destination[..width]);
    }

    private const double TwoTo63 = 9223372036854775808.0;
    private const double TwoTo64 = 18446744073709551616.0;

    private static double Integer(FieldSpec f, double raw, double min, double max, bool exclusiveMax = false)
    {
        var r = Math.Round(raw, MidpointRounding.AwayFromZero);
        if (!double.IsFinite(r) || r < min || r > max || (exclusiveMax && r >= max))
            throw new ArgumentOutOfRangeException("value", raw, $"{f.Name}: raw value {raw} does not fit {f.Type}");
        return r;
    }

    /// <summary>
    /// Encodes ASCII text into a string field's registers (the inverse of <see cref="DecodeString"/>): two characters per
    /// register, padded with NULs. Throws when the text is longer than the field or is not ASCII.
    /// </summary>
    public static void EncodeString(FieldSpec f, string text, Span<ushort> destination)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(text);
        var width = f.Width;
        if (destination.Length < width) throw new ArgumentException($"{f.Name}: needs {width} registers, got {destination.Length}", nameof(destination));
        if (text.Length > width * 2) throw new ArgumentOutOfRangeException(nameof(text), text, $"{f.Name}: {text.Length} characters do not fit {width} registers");
        var swap = f.Order is WordOrder.BADC or WordOrder.DCBA;
        for (var i = 0; i < width; i++)
        {
            var hi = Char(f, text, 2 * i);
            var lo = Char(f, text, 2 * i + 1);
            destination[i] = swap ? (ushort)(lo << 8 | hi) : (ushort)(hi << 8 | lo);
        }
    }

    private static byte Char(FieldSpec f, string text, int i)
    {
        if (i >= text.Length) return 0;
        var c = text[i];
        if (c > 0x7F) throw new ArgumentOutOfRangeException(nameof(text), text, $"{f.Name}: '{c}' is not ASCII");
        return (byte)c;
    }

    /// <summary>Registers in wire order → the value's big-endian bytes.</summary>
    private static void ToBytes(ReadOnlySpan<ushort> regs, WordOrder order, Span<byte> dest)
    {
        var n = regs.Length;
        for (var i = 0; i < n; i++)
        {
            // Which register holds word i of the big-endian value, and are its bytes swapped?
            var src = order is WordOrder.CDAB or WordOrder.DCBA ? regs[n - 1 - i] : regs[i];
            if (order is WordOrder.BADC or WordOrder.DCBA) src = BinaryPrimitives.ReverseEndianness(src);
            dest[2 * i] = (byte)(src >> 8);
            dest[2 * i + 1] = (byte)src;
        }
    }

    /// <summary>The value's big-endian bytes → registers in wire order.</summary>
    private static void FromBytes(ReadOnlySpan<byte> bytes, WordOrder order, Span<ushort> regs)
    {
        var n = regs.Length;
        for (var i = 0; i < n; i++)
        {
            var word = (ushort)(bytes[2 * i] << 8 | bytes[2 * i + 1]);
            if (order is WordOrder.BADC or WordOrder.DCBA) word = BinaryPrimitives.ReverseEndianness(word);
            regs[order is WordOrder.CDAB or WordOrder.DCBA ? n - 1 - i : i] = word;
        }
    }
}
