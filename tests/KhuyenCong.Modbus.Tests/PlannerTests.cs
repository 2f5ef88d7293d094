using KhuyenCong.Modbus;

namespace KhuyenCong.Modbus.Tests;

public sealed class PlannerTests
{
    private static FieldSpec Coil(string n, ushort a) => new(n, RegisterTable.Coil, a, DataType.Bit);
    private static FieldSpec Reg(string n, ushort a, DataType t = DataType.UInt16, int length = 0) => new(n, RegisterTable.HoldingRegister, a, t, Length: length);

    [Fact]
    public void Coils_are_merged_up_to_the_bit_limit()
    {
        var coils = Enumerable.Range(0, 20).Select(i => Coil($"c{i}", (ushort)i)).ToList();
        Assert.Equal([(0, 20)], RequestPlanner.Plan(coils, new PlannerOptions()).Select(r => ((int)r.Address, (int)r.Count)));
        var small = RequestPlanner.Plan(coils, new PlannerOptions { MaxBits = 8 });
        Assert.Equal([(0, 8), (8, 8), (16, 4)], small.Select(r => ((int)r.Address, (int)r.Count)));
        Assert.All(small, r => Assert.True(r.IsBitTable));
    }

    [Fact]
    public void Coils_and_discrete_inputs_decode_from_bits()
    {
        var plan = RequestPlanner.Plan([Coil("a", 3), Coil("b", 5)], new PlannerOptions { MaxGap = 1 });
        var r = Assert.Single(plan);
        Assert.Equal((3, 3, (byte)1), ((int)r.Address, (int)r.Count, r.FunctionCode));
        Assert.Equal([("a", 1.0), ("b", 0.0)], r.Decode([true, true, false]).Select(x => (x.Field.Name, x.Value)));
    }

    [Fact]
    public void The_gap_limit_is_inclusive()
    {
        var fields = new[] { Reg("a", 0), Reg("b", 3) }; // hole of 2 registers (1, 2)
        Assert.Equal(2, RequestPlanner.Plan(fields, new PlannerOptions { MaxGap = 1 }).Count);
        Assert.Single(RequestPlanner.Plan(fields, new PlannerOptions { MaxGap = 2 }));
    }

    [Fact]
    public void A_request_is_never_longer_than_the_limit_even_with_gaps()
    {
        var fields = new[] { Reg("a", 0), Reg("b", 120, DataType.Float64) }; // 0..123 = 124 registers
        Assert.Single(RequestPlanner.Plan(fields, new PlannerOptions { MaxGap = 200 }));
        var tight = RequestPlanner.Plan(fields, new PlannerOptions { MaxGap = 200, MaxRegisters = 123 });
        Assert.Equal([(0, 1), (120, 4)], tight.Select(r => ((int)r.Address, (int)r.Count)));
    }

    [Fact]
    public void Overlapping_fields_share_one_request()
    {
        var plan = RequestPlanner.Plan([Reg("energy", 10, DataType.UInt32), Reg("energy_hi", 10), Reg("energy_lo", 11)], new PlannerOptions());
        var r = Assert.Single(plan);
        Assert.Equal((10, 2), ((int)r.Address, (int)r.Count));
        var values = r.Decode([0x0001, 0x0002]).ToDictionary(x => x.Field.Name, x => x.Value);
        Assert.Equal((65538.0, 1.0, 2.0), (values["energy"], values["energy_hi"], values["energy_lo"]));
    }

    [Fact]
    public void Strings_are_planned_by_their_length_and_decoded_apart()
    {
        var plan = RequestPlanner.Plan([Reg("model", 0, DataType.String, 3), Reg("fw", 3)], new PlannerOptions());
        var r = Assert.Single(plan);
        Assert.Equal(4, r.Count);
        ushort[] regs = [0x5344, 0x4D36, 0x3330, 0x0102];
        Assert.Equal([("fw", 258.0)], r.Decode(regs).Select(x => (x.Field.Name, x.Value)));
        Assert.Equal([("model", "SDM630")], r.DecodeStrings(regs).Select(x => (x.Field.Name, x.Text)));
    }

    [Fact]
    public void Fields_that_do_not_fit_one_request_or_run_past_65535_are_refused_by_name()
    {
        var tooWide = Assert.Throws<ArgumentException>(() => RequestPlanner.Plan([Reg("serial", 0, DataType.String, 126)], new PlannerOptions()));
        Assert.Contains("serial", tooWide.Message, StringComparison.Ordinal);
        var pastEnd = Assert.Throws<ArgumentException>(() => RequestPlanner.Plan([Reg("total", 65534, DataType.Float64)], new PlannerOptions()));
        Assert.Contains("total", pastEnd.Message, StringComparison.Ordinal);
        Assert.Single(RequestPlanner.Plan([Reg("last", 65535)], new PlannerOptions()));
    }

    [Fact]
    public void Limits_outside_the_protocol_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RequestPlanner.Plan([], new PlannerOptions { MaxRegisters = 126 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => RequestPlanner.Plan([], new PlannerOptions { MaxBits = 2001 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => RequestPlanner.Plan([], new PlannerOptions { MaxGap = -1 }));
    }

    [Fact]
    public void Requests_come_out_by_table_then_address()
    {
        var fields = new FieldSpec[]
        {
            new("h", RegisterTable.HoldingRegister, 0, DataType.UInt16),
            new("i2", RegisterTable.InputRegister, 50, DataType.UInt16),
            new("i1", RegisterTable.InputRegister, 0, DataType.UInt16),
            new("d", RegisterTable.DiscreteInput, 0, DataType.Bit),
            Coil("c", 0),
        };
        var plan = RequestPlanner.Plan(fields, new PlannerOptions());
        Assert.Equal(["c", "d", "i1", "i2", "h"], plan.Select(r => r.Fields.Single().Name));
    }
}
