using KhuyenCong.Configuration;
using KhuyenCong.Contracts;
using KhuyenCong.Modbus;

namespace KhuyenCong.Edge.Profiles;

/// <summary>
/// A device profile: how one model of meter, kiln controller or gas instrument maps its registers to canonical points.
/// Lives in <c>firmware-config/devices/&lt;vendor&gt;-&lt;model&gt;/profile.yaml</c>; docs/profiles.md describes every key.
/// </summary>
public sealed class DeviceProfile
{
    /// <summary>Profile id, equal to its folder name (e.g. eastron-sdm630).</summary>
    public required string Id { get; set; }
    public required string Vendor { get; set; }
    public required string Model { get; set; }
    /// <summary>meter, kiln or gas: decides the InfluxDB measurement and which points are required.</summary>
    public required string Class { get; set; }
    public string? Description { get; set; }
    /// <summary>Where the register map comes from (manual or datasheet URL).</summary>
    public string? Source { get; set; }
    /// <summary>Factory serial settings, used when a serial bus does not override them.</summary>
    public SerialDefaults? Serial { get; set; }
    /// <summary>Factory unit id.</summary>
    public byte DefaultUnit { get; set; } = 1;
    /// <summary>Default byte/word order of multi-register points.</summary>
    public WordOrder WordOrder { get; set; } = WordOrder.ABCD;
    public ProfileRequests Requests { get; set; } = new();
    /// <summary>Modbus points. Required unless the profile declares <see cref="Lines"/> instead.</summary>
    [Optional]
    public required List<ProfilePoint> Points { get; set; } = [];
    /// <summary>
    /// For a plain serial ASCII device (a scale or thermocouple reader printing lines): how each line maps to
    /// canonical points. A profile has either Modbus <see cref="Points"/> or <see cref="Lines"/>, never both.
    /// </summary>
    public LineSpec? Lines { get; set; }
}

public sealed class SerialDefaults
{
    public int Baud { get; set; } = 9600;
    public Parity Parity { get; set; } = Parity.None;
    public int DataBits { get; set; } = 8;
    public int StopBits { get; set; } = 1;
}

public enum Parity
{
    None,
    Even,
    Odd,
}

/// <summary>Per-device request quirks.</summary>
public sealed class ProfileRequests
{
    /// <summary>Most registers the device answers in one request (Modbus allows 125).</summary>
    public int MaxRegisters { get; set; } = 125;
    /// <summary>Merge two reads when at most this many unused registers lie between them.</summary>
    public int MaxGap { get; set; }
    /// <summary>Some devices refuse reads that span several values: one request per point.</summary>
    public bool OnePerPoint { get; set; }
    /// <summary>Wait after (re)connecting before the first request.</summary>
    public TimeSpan PauseAfterConnect { get; set; }
    /// <summary>Wait between two requests to this device.</summary>
    public TimeSpan PauseBetween { get; set; }
    /// <summary>How long to wait for an answer.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>One register (or coil) mapped to one canonical point.</summary>
public sealed class ProfilePoint
{
    /// <summary>A canonical point name (docs/points.md).</summary>
    public required string Name { get; set; }
    public required RegisterTable Table { get; set; }
    /// <summary>0-based wire address (register 30073 in a manual is input register address 72).</summary>
    public required ushort Address { get; set; }
    public required DataType Type { get; set; }
    /// <summary>Overrides the profile's word order for this point.</summary>
    public WordOrder? Order { get; set; }
    /// <summary>Value = raw × scale + offset.</summary>
    public double Scale { get; set; } = 1.0;
    public double Offset { get; set; }
    /// <summary>For a point that is one bit of a 16-bit status register: the bit number (0 = least significant).</summary>
    public int? Bit { get; set; }
    /// <summary>For a 0/1 point whose device means the opposite (a RUN/STOP coil where 1 = STOP): value = 1 − bit.</summary>
    public bool Invert { get; set; }
    /// <summary>Registers of a string point.</summary>
    public int Length { get; set; }
    /// <summary>The unit after scaling; must equal the canonical unit of <see cref="Name"/> when given.</summary>
    public string? Unit { get; set; }

    /// <summary>The register-level description the Modbus planner and codec work on.</summary>
    public FieldSpec ToField(WordOrder profileOrder) =>
        Bit is not null
            ? new FieldSpec(Name, Table, Address, DataType.UInt16)
            : new FieldSpec(Name, Table, Address, Type, Order ?? profileOrder, Scale, Offset, Length);

    /// <summary>Turns a decoded field value into the point's value (extracts <see cref="Bit"/> when set).</summary>
    public double FromField(double fieldValue)
    {
        if (Bit is { } bit) fieldValue = ((long)fieldValue >> bit) & 1;
        if (Invert) fieldValue = fieldValue >= 0.5 ? 0 : 1;
        return Bit is not null ? fieldValue * Scale + Offset : fieldValue;
    }

    /// <summary>The inverse of <see cref="FromField"/> for a 0/1 point: the raw bit the device shows for <paramref name="value"/>.</summary>
    public bool ToRawBit(double value)
    {
        var on = (Bit is not null ? (value - Offset) / Scale : value) >= 0.5;
        return Invert ? !on : on;
    }
}
