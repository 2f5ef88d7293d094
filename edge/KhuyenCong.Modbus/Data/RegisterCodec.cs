using System.Buffers.Binary;
using System.Text;

namespace KhuyenCong.Modbus;

/// <summary>
/// Turns registers into engineering values and back. Registers are 16-bit big-endian on the wire; how several
/// registers form one value is the <see cref="WordOrder"/>: for the value's big-endian bytes A B C D (…H),
/// ABCD sends them as they are, CDAB swaps the 16-bit words, BADC swaps the bytes inside each word, DCBA reverses all.
/// For 16-bit types BADC and DCBA swap the two bytes of the register.
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
        var width = f.Width;
        if (registers.Length < width) throw new ModbusFrameException($"{f.Name}: needs {width} registers, got {registers.Length}");
        Span<byte> b = stackalloc byte[8];
        ToBytes(registers[..width], f.Order, b);
        double raw = f.Type switch
        {
            DataType.Bit => registers[0] != 0 ? 1 : 0,
            DataType.Int16 => BinaryPrimitives.ReadInt16BigEndian(b),
            DataType.UInt16 => BinaryPrimitives.ReadUInt16BigEndian(b),
            DataType.Int32 => BinaryPrimitives.ReadInt32BigEndian(b),
            DataType.UInt32 => BinaryPrimitives.ReadUInt32BigEndian(b),
            DataType.Int64 => BinaryPrimitives.ReadInt64BigEndian(b),
            DataType.UInt64 => BinaryPrimitives.ReadUInt64BigEndian(b),
            DataType.Float32 => BinaryPrimitives.ReadSingleBigEndian(b),
            DataType.Float64 => BinaryPrimitives.ReadDoubleBigEndian(b),
            DataType.String => throw new InvalidOperationException($"{f.Name} is a string: use DecodeString"),
            _ => throw new ArgumentOutOfRangeException(nameof(f), f.Type, "unknown data type"),
        };
        return f.Type == DataType.Bit ? raw : raw * f.Scale + f.Offset;
    }

    /// <summary>A coil or discrete input as a value: 1 or 0 (scale and offset do not apply).</summary>
    public static double DecodeBit(bool bit) => bit ? 1 : 0;

    /// <summary>ASCII text, two characters per register (high byte first unless BADC/DCBA), trailing NULs and spaces trimmed.</summary>
    public static string DecodeString(FieldSpec f, ReadOnlySpan<ushort> registers)
    {
        var width = f.Width;
        if (registers.Length < width) throw new ModbusFrameException($"{f.Name}: needs {width} registers, got {registers.Length}");
        var bytes = new byte[width * 2];
        var swap = f.Order is WordOrder.BADC or WordOrder.DCBA;
        for (var i = 0; i < width; i++)
        {
            var r = registers[i];
            bytes[2 * i] = (byte)(swap ? r : r >> 8);
            bytes[2 * i + 1] = (byte)(swap ? r >> 8 : r);
        }
        return Encoding.ASCII.GetString(bytes).TrimEnd('\0', ' ');
    }

    /// <summary>
    /// Encodes an engineering value into <paramref name="destination"/> (the inverse of <see cref="Decode"/>): removes
    /// offset and scale, rounds for integer types. Throws <see cref="ArgumentOutOfRangeException"/> when the raw value
    /// does not fit the type.
    /// </summary>
    public static void Encode(FieldSpec f, double value, Span<ushort> destination)
    {
        var width = f.Width;
        if (destination.Length < width) throw new ArgumentException($"{f.Name}: needs {width} registers", nameof(destination));
        var raw = f.Type == DataType.Bit ? value : (value - f.Offset) / f.Scale;
        Span<byte> b = stackalloc byte[8];
        switch (f.Type)
        {
            case DataType.Bit: BinaryPrimitives.WriteUInt16BigEndian(b, raw >= 0.5 ? (ushort)1 : (ushort)0); break;
            case DataType.Int16: BinaryPrimitives.WriteInt16BigEndian(b, (short)Integer(f, raw, short.MinValue, short.MaxValue)); break;
            case DataType.UInt16: BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)Integer(f, raw, 0, ushort.MaxValue)); break;
            case DataType.Int32: BinaryPrimitives.WriteInt32BigEndian(b, (int)Integer(f, raw, int.MinValue, int.MaxValue)); break;
            case DataType.UInt32: BinaryPrimitives.WriteUInt32BigEndian(b, (uint)Integer(f, raw, 0, uint.MaxValue)); break;
            case DataType.Int64: BinaryPrimitives.WriteInt64BigEndian(b, (long)Integer(f, raw, long.MinValue, long.MaxValue)); break;
            case DataType.UInt64: BinaryPrimitives.WriteUInt64BigEndian(b, (ulong)Integer(f, raw, 0, ulong.MaxValue)); break;
            case DataType.Float32: BinaryPrimitives.WriteSingleBigEndian(b, (float)raw); break;
            case DataType.Float64: BinaryPrimitives.WriteDoubleBigEndian(b, raw); break;
            default: throw new InvalidOperationException($"{f.Name}: type {f.Type} cannot be encoded from a number");
        }
        FromBytes(b[..(width * 2)], f.Order, destination[..width]);
    }

    private static double Integer(FieldSpec f, double raw, double min, double max)
    {
        var r = Math.Round(raw, MidpointRounding.AwayFromZero);
        if (!double.IsFinite(r) || r < min || r > max)
            throw new ArgumentOutOfRangeException(nameof(raw), raw, $"{f.Name}: raw value {raw} does not fit {f.Type}");
        return r;
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
