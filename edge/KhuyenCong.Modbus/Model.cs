namespace KhuyenCong.Modbus;

/// <summary>The four Modbus data tables. Profiles use 0-based wire addresses within a table.</summary>
public enum RegisterTable
{
    /// <summary>0xxxx, read with FC 1, written with FC 5/15.</summary>
    Coil,
    /// <summary>1xxxx, read with FC 2.</summary>
    DiscreteInput,
    /// <summary>3xxxx, read with FC 4.</summary>
    InputRegister,
    /// <summary>4xxxx, read with FC 3, written with FC 6/16.</summary>
    HoldingRegister,
}

/// <summary>How the registers of one field are interpreted.</summary>
public enum DataType
{
    /// <summary>One coil or discrete input, or bit 0 of one register: 0 or 1.</summary>
    Bit,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Float32,
    Float64,
    /// <summary>ASCII, two characters per register, high byte first (identity registers).</summary>
    String,
}

/// <summary>
/// Byte and word order of multi-register values, named by where the bytes of the big-endian value A B C D
/// appear on the wire. ABCD: high word first (the Modbus convention); CDAB: words swapped;
/// BADC: bytes swapped within each word; DCBA: fully reversed. For 64-bit types the same rule applies
/// to the four words (ABCD = word 0 is the most significant).
/// </summary>
public enum WordOrder
{
    ABCD,
    CDAB,
    BADC,
    DCBA,
}

/// <summary>One value in a device's register map.</summary>
/// <param name="Name">What the value is called (a canonical point name in device profiles).</param>
/// <param name="Table">Which table it lives in.</param>
/// <param name="Address">0-based wire address of its first register or bit.</param>
/// <param name="Type">How its registers are decoded.</param>
/// <param name="Order">Byte/word order for multi-register types.</param>
/// <param name="Scale">Engineering value = raw × Scale + Offset.</param>
/// <param name="Offset">See <paramref name="Scale"/>.</param>
/// <param name="Length">Registers for <see cref="DataType.String"/>; ignored otherwise.</param>
public sealed record FieldSpec(
    string Name,
    RegisterTable Table,
    ushort Address,
    DataType Type,
    WordOrder Order = WordOrder.ABCD,
    double Scale = 1.0,
    double Offset = 0.0,
    int Length = 0)
{
    /// <summary>How many registers (or bits, for coil/discrete tables) this field occupies.</summary>
    public int Width => RegisterCodec.Width(Type, Table, Length);
}
