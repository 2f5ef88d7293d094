namespace KhuyenCong.Modbus;

/// <summary>How the planner may group fields into requests.</summary>
public sealed record PlannerOptions
{
    /// <summary>Most registers in one read (Modbus allows 125; some devices answer fewer).</summary>
    public int MaxRegisters { get; init; } = 125;
    /// <summary>Most bits in one coil or discrete-input read (Modbus allows 2000).</summary>
    public int MaxBits { get; init; } = 2000;
    /// <summary>Merge two fields when at most this many unused registers lie between them.</summary>
    public int MaxGap { get; init; }
    /// <summary>One request per field, for devices that refuse reads spanning several values.</summary>
    public bool OneRequestPerField { get; init; }
}

/// <summary>One read request and the fields it carries.</summary>
public sealed record ReadRequest(RegisterTable Table, ushort Address, ushort Count, IReadOnlyList<FieldSpec> Fields)
{
    /// <summary>True for coils and discrete inputs (read as bits), false for register tables.</summary>
    public bool IsBitTable => Table is RegisterTable.Coil or RegisterTable.DiscreteInput;

    /// <summary>The function code that reads this request's table (1, 2, 3 or 4).</summary>
    public byte FunctionCode => Framing.FunctionCodes.ForRead(Table);

    /// <summary>Decodes every numeric field from the registers this request returned (string fields: <see cref="DecodeStrings"/>).</summary>
    public IReadOnlyList<(FieldSpec Field, double Value)> Decode(ReadOnlySpan<ushort> registers)
    {
        if (registers.Length < Count) throw new ModbusFrameException(ModbusFrameError.Truncated, $"expected {Count} registers from {Table} {Address}, got {registers.Length}");
        var result = new List<(FieldSpec, double)>(Fields.Count);
        foreach (var f in Fields)
        {
            if (f.Type == DataType.String) continue;
            result.Add((f, RegisterCodec.Decode(f, registers.Slice(f.Address - Address, f.Width))));
        }
        return result;
    }

    /// <summary>Decodes every <see cref="DataType.String"/> field from the registers this request returned.</summary>
    public IReadOnlyList<(FieldSpec Field, string Text)> DecodeStrings(ReadOnlySpan<ushort> registers)
    {
        if (registers.Length < Count) throw new ModbusFrameException(ModbusFrameError.Truncated, $"expected {Count} registers from {Table} {Address}, got {registers.Length}");
        var result = new List<(FieldSpec, string)>();
        foreach (var f in Fields)
        {
            if (f.Type == DataType.String) result.Add((f, RegisterCodec.DecodeString(f, registers.Slice(f.Address - Address, f.Width))));
        }
        return result;
    }

    /// <summary>Decodes every field from the bits a coil or discrete-input read returned.</summary>
    public IReadOnlyList<(FieldSpec Field, double Value)> Decode(bool[] bits)
    {
        ArgumentNullException.ThrowIfNull(bits);
        if (bits.Length < Count) throw new ModbusFrameException(ModbusFrameError.Truncated, $"expected {Count} bits from {Table} {Address}, got {bits.Length}");
        var result = new List<(FieldSpec, double)>(Fields.Count);
        foreach (var f in Fields) result.Add((f, RegisterCodec.DecodeBit(bits[f.Address - Address])));
        return result;
    }
}

/// <summary>
/// Turns a device's fields into as few read requests as the device allows: fields of one table that touch, overlap or
/// lie within <see cref="PlannerOptions.MaxGap"/> of each other are read together, up to the request size limit
/// (<see cref="PlannerOptions.MaxRegisters"/>, or <see cref="PlannerOptions.MaxBits"/> for coils and discrete inputs).
/// Requests come out ordered by table (coils, discrete inputs, input registers, holding registers), then address.
/// Overlapping fields are allowed (profile validation reports them); a field wider than one request, or one that runs
/// past address 65535, is refused with <see cref="ArgumentException"/> naming it.
/// </summary>
public static class RequestPlanner
{
    public static IReadOnlyList<ReadRequest> Plan(IEnumerable<FieldSpec> fields, PlannerOptions options)
    {
        ArgumentNullException.ThrowIfNull(fields);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxRegisters, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxRegisters, 125);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxBits, 2000);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxGap);

        var requests = new List<ReadRequest>();
        foreach (var group in fields.GroupBy(f => f.Table).OrderBy(g => g.Key))
        {
            var bitTable = group.Key is RegisterTable.Coil or RegisterTable.DiscreteInput;
            var limit = bitTable ? options.MaxBits : options.MaxRegisters;
            var ordered = group.OrderBy(f => f.Address).ThenByDescending(f => f.Width).ToList();
            var current = new List<FieldSpec>();
            int start = 0, end = 0; // end is exclusive
            foreach (var f in ordered)
            {
                if (f.Width > limit) throw new ArgumentException($"{f.Name} is {f.Width} registers wide, more than one request may carry ({limit})");
                var fEnd = f.Address + f.Width;
                if (fEnd > 65536) throw new ArgumentException($"{f.Name} at {f.Table} {f.Address} is {f.Width} wide and runs past address 65535", nameof(fields));
                if (current.Count > 0 && !options.OneRequestPerField && f.Address - end <= options.MaxGap && Math.Max(end, fEnd) - start <= limit)
                {
                    current.Add(f);
                    end = Math.Max(end, fEnd);
                    continue;
                }
                if (current.Count > 0) requests.Add(new ReadRequest(group.Key, (ushort)start, (ushort)(end - start), current));
                current = [f];
                start = f.Address;
                end = fEnd;
            }
            if (current.Count > 0) requests.Add(new ReadRequest(group.Key, (ushort)start, (ushort)(end - start), current));
        }
        return requests;
    }
}
