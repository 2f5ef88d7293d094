using KhuyenCong.Modbus;

namespace KhuyenCong.Modbus.Tests;

/// <summary>
/// Every type in every word order against registers worked out by hand from the value's big-endian bytes
/// (cross-checked with Python's struct module): ABCD as they are, CDAB words reversed, BADC bytes swapped inside each
/// word, DCBA all reversed. 16-bit types: ABCD/CDAB big-endian, BADC/DCBA byte-swapped (telegraf's semantics).
/// </summary>
public sealed class WordOrderTests
{
    private static FieldSpec F(DataType t, WordOrder o, int length = 0) => new("x", RegisterTable.HoldingRegister, 0, t, o, Length: length);

    public static TheoryData<DataType, WordOrder, ushort[], double> Cases()
    {
        var d = new TheoryData<DataType, WordOrder, ushort[], double>();
        void All(DataType t, double v, ushort[] abcd, ushort[] cdab, ushort[] badc, ushort[] dcba)
        {
            d.Add(t, WordOrder.ABCD, abcd, v);
            d.Add(t, WordOrder.CDAB, cdab, v);
            d.Add(t, WordOrder.BADC, badc, v);
            d.Add(t, WordOrder.DCBA, dcba, v);
        }
        // -12345 = 0xCFC7; 54321 = 0xD431.
        All(DataType.Int16, -12345, [0xCFC7], [0xCFC7], [0xC7CF], [0xC7CF]);
        All(DataType.UInt16, 54321, [0xD431], [0xD431], [0x31D4], [0x31D4]);
        // -123456789 = 0xF8A432EB; 3456789012 = 0xCE0A6A14.
        All(DataType.Int32, -123456789, [0xF8A4, 0x32EB], [0x32EB, 0xF8A4], [0xA4F8, 0xEB32], [0xEB32, 0xA4F8]);
        All(DataType.UInt32, 3456789012, [0xCE0A, 0x6A14], [0x6A14, 0xCE0A], [0x0ACE, 0x146A], [0x146A, 0x0ACE]);
        // 230.5f = 0x43668000; 12345.677734375f = 0x4640E6B6.
        All(DataType.Float32, 230.5, [0x4366, 0x8000], [0x8000, 0x4366], [0x6643, 0x0080], [0x0080, 0x6643]);
        All(DataType.Float32, 12345.677734375, [0x4640, 0xE6B6], [0xE6B6, 0x4640], [0x4046, 0xB6E6], [0xB6E6, 0x4046]);
        // -8776565086972537 = 0xFFE0D1C2B3A49587 (exact as a double).
        All(DataType.Int64, -8776565086972537,
            [0xFFE0, 0xD1C2, 0xB3A4, 0x9587], [0x9587, 0xB3A4, 0xD1C2, 0xFFE0], [0xE0FF, 0xC2D1, 0xA4B3, 0x8795], [0x8795, 0xA4B3, 0xC2D1, 0xE0FF]);
        // 17366446428893085696 = 0xF102030405060000 (above 2^63, exact as a double).
        All(DataType.UInt64, 17366446428893085696,
            [0xF102, 0x0304, 0x0506, 0x0000], [0x0000, 0x0506, 0x0304, 0xF102], [0x02F1, 0x0403, 0x0605, 0x0000], [0x0000, 0x0605, 0x0403, 0x02F1]);
        // -1234.5678 = 0xC0934A456D5CFAAD.
        All(DataType.Float64, -1234.5678,
            [0xC093, 0x4A45, 0x6D5C, 0xFAAD], [0xFAAD, 0x6D5C, 0x4A45, 0xC093], [0x93C0, 0x454A, 0x5C6D, 0xADFA], [0xADFA, 0x5C6D, 0x454A, 0x93C0]);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_type_decodes_in_every_word_order(DataType type, WordOrder order, ushort[] registers, double value)
    {
        Assert.Equal(value, RegisterCodec.Decode(F(type, order), registers));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_type_encodes_to_the_same_registers_in_every_word_order(DataType type, WordOrder order, ushort[] registers, double value)
    {
        var back = new ushort[registers.Length];
        RegisterCodec.Encode(F(type, order), value, back);
        Assert.Equal(registers, back);
    }

    [Theory]
    [InlineData(WordOrder.ABCD, new ushort[] { 0x4B43, 0x2D4B, 0x494C, 0x4E00 })]
    [InlineData(WordOrder.CDAB, new ushort[] { 0x4B43, 0x2D4B, 0x494C, 0x4E00 })]
    [InlineData(WordOrder.BADC, new ushort[] { 0x434B, 0x4B2D, 0x4C49, 0x004E })]
    [InlineData(WordOrder.DCBA, new ushort[] { 0x434B, 0x4B2D, 0x4C49, 0x004E })]
    public void Strings_swap_bytes_like_16_bit_values_and_round_trip(WordOrder order, ushort[] registers)
    {
        var f = F(DataType.String, order, 4);
        Assert.Equal("KC-KILN", RegisterCodec.DecodeString(f, registers));
        var back = new ushort[4];
        RegisterCodec.EncodeString(f, "KC-KILN", back);
        Assert.Equal(registers, back);
    }

    [Fact]
    public void A_string_ends_at_its_first_nul_and_loses_trailing_spaces()
    {
        var f = F(DataType.String, WordOrder.ABCD, 4);
        Assert.Equal("AB", RegisterCodec.DecodeString(f, [0x4142, 0x0043, 0x4400, 0x0000]));
        Assert.Equal("AB", RegisterCodec.DecodeString(f, [0x4142, 0x2020, 0x2020, 0x2020]));
    }

    [Fact]
    public void Text_longer_than_the_field_or_not_ascii_is_refused()
    {
        var f = F(DataType.String, WordOrder.ABCD, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => RegisterCodec.EncodeString(f, "ABCDE", new ushort[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => RegisterCodec.EncodeString(f, "lò", new ushort[2]));
    }

    [Theory]
    [InlineData((ushort)0x0000, 0.0)]
    [InlineData((ushort)0x0001, 1.0)]
    [InlineData((ushort)0x0002, 0.0)]
    [InlineData((ushort)0xFFFF, 1.0)]
    public void A_bit_in_a_register_is_bit_0_and_ignores_scale(ushort register, double expected)
    {
        var f = new FieldSpec("run", RegisterTable.HoldingRegister, 0, DataType.Bit, Scale: 10, Offset: 5);
        Assert.Equal(expected, RegisterCodec.Decode(f, [register]));
        Assert.Equal(1.0, RegisterCodec.DecodeBit(true));
        Assert.Equal(0.0, RegisterCodec.DecodeBit(false));
    }

    [Theory]
    [InlineData(DataType.Bit, RegisterTable.Coil, 0, 1)]
    [InlineData(DataType.Bit, RegisterTable.DiscreteInput, 0, 1)]
    [InlineData(DataType.Float64, RegisterTable.Coil, 0, 1)]
    [InlineData(DataType.Bit, RegisterTable.HoldingRegister, 0, 1)]
    [InlineData(DataType.Int16, RegisterTable.InputRegister, 0, 1)]
    [InlineData(DataType.UInt32, RegisterTable.InputRegister, 0, 2)]
    [InlineData(DataType.Float32, RegisterTable.HoldingRegister, 0, 2)]
    [InlineData(DataType.Int64, RegisterTable.HoldingRegister, 0, 4)]
    [InlineData(DataType.Float64, RegisterTable.HoldingRegister, 0, 4)]
    [InlineData(DataType.String, RegisterTable.HoldingRegister, 10, 10)]
    public void The_width_of_a_field_follows_its_type_and_table(DataType type, RegisterTable table, int length, int width)
    {
        Assert.Equal(width, RegisterCodec.Width(type, table, length));
    }

    [Fact]
    public void Scale_and_offset_are_removed_before_encoding_and_integers_round_half_away_from_zero()
    {
        // 0.1 V per count, offset −50: 180.05 V → (180.05 + 50) / 0.1 = 2300.5 → 2301.
        var f = new FieldSpec("v", RegisterTable.HoldingRegister, 0, DataType.Int16, Scale: 0.1, Offset: -50);
        var regs = new ushort[1];
        RegisterCodec.Encode(f, 180.05, regs);
        Assert.Equal((ushort)2301, regs[0]);
        Assert.Equal(180.1, RegisterCodec.Decode(f, regs), 9);
    }

    [Fact]
    public void Encoding_refuses_values_outside_every_integer_range_and_names_the_field()
    {
        static void Refused(DataType t, double v)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => RegisterCodec.Encode(new FieldSpec("kiln_temp", RegisterTable.HoldingRegister, 0, t), v, new ushort[4]));
            Assert.Contains("kiln_temp", ex.Message, StringComparison.Ordinal);
            Assert.Contains(t.ToString(), ex.Message, StringComparison.Ordinal);
        }
        Refused(DataType.Int16, 32768);
        Refused(DataType.Int16, -32769);
        Refused(DataType.UInt16, 65536);
        Refused(DataType.UInt16, -1);
        Refused(DataType.Int32, 2147483648.0);
        Refused(DataType.UInt32, 4294967296.0);
        Refused(DataType.Int64, 9223372036854775808.0);
        Refused(DataType.UInt64, 18446744073709551616.0);
        Refused(DataType.UInt64, -1);
        Refused(DataType.Int32, double.NaN);
        Refused(DataType.Float32, 1e39);
    }

    [Fact]
    public void Encoding_accepts_the_edges_of_every_integer_range()
    {
        var regs = new ushort[4];
        RegisterCodec.Encode(F(DataType.Int16, WordOrder.ABCD), -32768, regs);
        Assert.Equal((ushort)0x8000, regs[0]);
        RegisterCodec.Encode(F(DataType.UInt32, WordOrder.ABCD), 4294967295, regs);
        Assert.Equal([0xFFFF, 0xFFFF], regs[..2]);
        RegisterCodec.Encode(F(DataType.Int64, WordOrder.ABCD), -9223372036854775808.0, regs);
        Assert.Equal([0x8000, 0, 0, 0], regs);
    }

    [Fact]
    public void A_zero_scale_cannot_be_inverted()
    {
        var f = new FieldSpec("x", RegisterTable.HoldingRegister, 0, DataType.Int16, Scale: 0);
        Assert.Throws<ArgumentException>(() => RegisterCodec.Encode(f, 1, new ushort[1]));
    }

    [Fact]
    public void Decoding_from_too_few_registers_is_a_frame_error()
    {
        var ex = Assert.Throws<ModbusFrameException>(() => RegisterCodec.Decode(F(DataType.Float64, WordOrder.ABCD), [1, 2, 3]));
        Assert.Equal(ModbusFrameError.Truncated, ex.Error);
    }

    [Fact]
    public void Random_values_of_every_type_and_order_round_trip()
    {
        var rng = new Random(4711);
        var types = new[] { DataType.Int16, DataType.UInt16, DataType.Int32, DataType.UInt32, DataType.Int64, DataType.UInt64, DataType.Float32, DataType.Float64 };
        var regs = new ushort[4];
        for (var i = 0; i < 5000; i++)
        {
            var type = types[rng.Next(types.Length)];
            var f = F(type, (WordOrder)rng.Next(4));
            var width = f.Width;
            for (var k = 0; k < width; k++) regs[k] = (ushort)rng.Next(65536);
            var value = RegisterCodec.Decode(f, regs.AsSpan(0, width));
            if (double.IsNaN(value)) continue; // NaN payloads need not survive
            // The largest 64-bit integers round up to 2^63 / 2^64 as doubles, which no longer fit the type.
            if ((type == DataType.Int64 && value >= 9223372036854775808.0) || (type == DataType.UInt64 && value >= 18446744073709551616.0)) continue;
            var back = new ushort[width];
            // 64-bit integers above 2^53 are rounded by the double: compare the value, not the bits.
            RegisterCodec.Encode(f, value, back);
            Assert.Equal(value, RegisterCodec.Decode(f, back));
            if (type is not (DataType.Int64 or DataType.UInt64)) Assert.Equal(regs.AsSpan(0, width).ToArray(), back);
        }
    }
}
