using KhuyenCong.Modbus;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus.Tests;

public sealed class RegisterCodecTests
{
    private static FieldSpec F(DataType t, WordOrder o = WordOrder.ABCD, double scale = 1, double offset = 0) =>
        new("x", RegisterTable.HoldingRegister, 0, t, o, scale, offset);

    [Theory]
    // 230.5f = 0x43668000: ABCD sends 4366 8000; CDAB swaps the words; BADC swaps bytes in each word; DCBA reverses all.
    [InlineData(WordOrder.ABCD, new ushort[] { 0x4366, 0x8000 })]
    [InlineData(WordOrder.CDAB, new ushort[] { 0x8000, 0x4366 })]
    [InlineData(WordOrder.BADC, new ushort[] { 0x6643, 0x0080 })]
    [InlineData(WordOrder.DCBA, new ushort[] { 0x0080, 0x6643 })]
    public void A_float32_decodes_in_every_word_order(WordOrder order, ushort[] regs)
    {
        Assert.Equal(230.5, RegisterCodec.Decode(F(DataType.Float32, order), regs));
        var back = new ushort[2];
        RegisterCodec.Encode(F(DataType.Float32, order), 230.5, back);
        Assert.Equal(regs, back);
    }

    [Fact]
    public void Decoding_with_the_wrong_word_order_gives_garbage_not_the_value()
    {
        Assert.NotEqual(230.5, RegisterCodec.Decode(F(DataType.Float32, WordOrder.CDAB), [0x4366, 0x8000]));
    }

    [Theory]
    [InlineData(DataType.Int16, new ushort[] { 0xFFFE }, -2.0)]
    [InlineData(DataType.UInt16, new ushort[] { 0xFFFE }, 65534.0)]
    [InlineData(DataType.Int32, new ushort[] { 0xFFFF, 0xFFFE }, -2.0)]
    [InlineData(DataType.UInt32, new ushort[] { 0x0001, 0x0000 }, 65536.0)]
    [InlineData(DataType.Int64, new ushort[] { 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFD }, -3.0)]
    [InlineData(DataType.UInt64, new ushort[] { 0x0000, 0x0000, 0x0001, 0x0000 }, 65536.0)]
    [InlineData(DataType.Float64, new ushort[] { 0x4093, 0x4A00, 0x0000, 0x0000 }, 1234.5)]
    public void Every_type_decodes_big_endian_high_word_first(DataType type, ushort[] regs, double expected)
    {
        Assert.Equal(expected, RegisterCodec.Decode(F(type), regs));
        var back = new ushort[regs.Length];
        RegisterCodec.Encode(F(type), expected, back);
        Assert.Equal(regs, back);
    }

    [Fact]
    public void Sixty_four_bit_word_swap_reverses_the_four_words()
    {
        // Schneider iEM energy (int64 Wh) 0x0000_0001_0002_0003 sent little-endian by words (CDAB = GHEFCDAB).
        var abcd = RegisterCodec.Decode(F(DataType.Int64), [0x0000, 0x0001, 0x0002, 0x0003]);
        var cdab = RegisterCodec.Decode(F(DataType.Int64, WordOrder.CDAB), [0x0003, 0x0002, 0x0001, 0x0000]);
        Assert.Equal(abcd, cdab);
        Assert.Equal(0x0000_0001_0002_0003L, (long)abcd);
    }

    [Fact]
    public void Scale_and_offset_turn_raw_counts_into_engineering_units()
    {
        // Chint DTSU666 reports voltage in 0.1 V: raw 2301 → 230.1 V.
        Assert.Equal(230.1, RegisterCodec.Decode(F(DataType.Int16, scale: 0.1), [2301]), 10);
        // Offset: a transmitter that reports °C + 50.
        Assert.Equal(1200, RegisterCodec.Decode(F(DataType.UInt16, offset: -50), [1250]));
        var back = new ushort[1];
        RegisterCodec.Encode(F(DataType.Int16, scale: 0.1), 230.1, back);
        Assert.Equal((ushort)2301, back[0]);
    }

    [Fact]
    public void Encoding_a_value_that_does_not_fit_the_type_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RegisterCodec.Encode(F(DataType.UInt16), -1, new ushort[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => RegisterCodec.Encode(F(DataType.Int16), 40000, new ushort[1]));
    }

    [Fact]
    public void Strings_are_two_characters_per_register()
    {
        var f = new FieldSpec("serial", RegisterTable.HoldingRegister, 0, DataType.String, Length: 3);
        Assert.Equal("SDM63", RegisterCodec.DecodeString(f, [0x5344, 0x4D36, 0x3300]));
    }

    [Theory]
    [InlineData(new byte[] { 0x01, 0x03, 0x00, 0x00, 0x00, 0x0A }, (ushort)0xCDC5)]
    [InlineData(new byte[] { 0x01, 0x03, 0x00, 0x00, 0x00, 0x04 }, (ushort)0x0944)]
    public void The_crc_matches_the_published_examples(byte[] frame, ushort crc)
    {
        // Sent low byte first: C5 CD and 44 09.
        Assert.Equal(crc, Crc16.Compute(frame));
    }
}

public sealed class RequestPlannerTests
{
    private static FieldSpec F(string n, ushort a, DataType t = DataType.Float32, RegisterTable table = RegisterTable.InputRegister) => new(n, table, a, t);

    [Fact]
    public void Adjacent_fields_are_read_together()
    {
        var plan = RequestPlanner.Plan([F("v1", 0), F("v2", 2), F("v3", 4)], new PlannerOptions());
        var r = Assert.Single(plan);
        Assert.Equal((RegisterTable.InputRegister, (ushort)0, (ushort)6), (r.Table, r.Address, r.Count));
    }

    [Fact]
    public void A_gap_splits_requests_unless_it_is_within_the_allowed_gap()
    {
        var fields = new[] { F("v1", 0), F("e", 72), F("f", 70) };
        var strict = RequestPlanner.Plan(fields, new PlannerOptions());
        Assert.Equal([(0, 2), (70, 4)], strict.Select(r => ((int)r.Address, (int)r.Count)));
        var loose = RequestPlanner.Plan(fields, new PlannerOptions { MaxGap = 68 });
        Assert.Equal([(0, 74)], loose.Select(r => ((int)r.Address, (int)r.Count)));
    }

    [Fact]
    public void Requests_never_exceed_the_device_maximum()
    {
        var fields = Enumerable.Range(0, 100).Select(i => F($"p{i}", (ushort)(i * 2))).ToList();
        var plan = RequestPlanner.Plan(fields, new PlannerOptions());
        Assert.All(plan, r => Assert.True(r.Count <= 125));
        Assert.Equal(2, plan.Count);
        var lower = RequestPlanner.Plan(fields, new PlannerOptions { MaxRegisters = 40 });
        Assert.All(lower, r => Assert.True(r.Count <= 40));
        Assert.Equal(5, lower.Count);
        Assert.Equal(100, lower.Sum(r => r.Fields.Count));
    }

    [Fact]
    public void One_request_per_field_for_quirky_devices()
    {
        var plan = RequestPlanner.Plan([F("a", 0), F("b", 2)], new PlannerOptions { OneRequestPerField = true });
        Assert.Equal(2, plan.Count);
    }

    [Fact]
    public void Tables_are_planned_separately_and_decoded_per_field()
    {
        var fields = new[]
        {
            F("pv", 0x3E8, DataType.Int16, RegisterTable.InputRegister),
            F("sv", 0, DataType.Int16, RegisterTable.HoldingRegister),
            F("run", 0, DataType.Bit, RegisterTable.Coil),
        };
        var plan = RequestPlanner.Plan(fields, new PlannerOptions());
        Assert.Equal(3, plan.Count);
        var coil = plan.Single(p => p.Table == RegisterTable.Coil);
        Assert.Equal(1.0, coil.Decode([true]).Single().Value);
        var pv = plan.Single(p => p.Table == RegisterTable.InputRegister);
        Assert.Equal(1187.0, pv.Decode([1187]).Single().Value);
    }
}
