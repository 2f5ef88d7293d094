namespace KhuyenCong.Edge.Profiles;

/// <summary>
/// The <c>lines:</c> section of a profile: a plain serial device that prints one reading per line (a platform scale
/// printing <c>ST,GS,+0012.34kg</c>, a thermocouple reader printing CSV). A regular expression with named groups picks
/// the values out of each line; docs/profiles.md ("ASCII line devices") describes every key.
/// </summary>
public sealed class LineSpec
{
    /// <summary>.NET regular expression matched against the whole line (terminator removed); named groups carry values.</summary>
    public required string Pattern { get; set; }
    /// <summary>What ends a line on the wire.</summary>
    public LineTerminator Terminator { get; set; } = LineTerminator.CrLf;
    /// <summary>Longest line accepted, in bytes without the terminator; longer ones are dropped up to the next terminator.</summary>
    public int MaxLength { get; set; } = 256;
    /// <summary>With no good line for this long the device counts as silent and its last values as stale.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Group → exact text a line must show to be used, e.g. <c>{ stability: ST }</c> so that unstable readings are
    /// skipped (counted, not errors).
    /// </summary>
    public Dictionary<string, string>? When { get; set; }
    /// <summary>Optional checksum carried in the line.</summary>
    public LineChecksum? Checksum { get; set; }
    /// <summary>The values a line carries.</summary>
    public required List<LinePoint> Points { get; set; }
}

/// <summary>The byte sequence that ends a line.</summary>
public enum LineTerminator
{
    /// <summary>"\n" (a trailing "\r" is removed too).</summary>
    Lf,
    /// <summary>"\r" (a leading "\n" is ignored).</summary>
    Cr,
    /// <summary>"\r\n" (a bare "\n" is accepted too).</summary>
    CrLf,
}

public enum ChecksumKind
{
    /// <summary>XOR of the bytes of the <see cref="LineChecksum.Over"/> group, compared with the hex digits of <see cref="LineChecksum.Group"/>.</summary>
    Xor,
    /// <summary>Sum modulo 256 of the bytes of the <see cref="LineChecksum.Over"/> group, compared with the hex digits of <see cref="LineChecksum.Group"/>.</summary>
    Sum8,
    /// <summary>NMEA 0183 style: <c>$body*hh</c>, XOR of the bytes between '$' (or '!') and '*'. Needs no groups.</summary>
    Nmea,
}

/// <summary>A checksum carried in the line.</summary>
public sealed class LineChecksum
{
    public required ChecksumKind Kind { get; set; }
    /// <summary>Named group holding the checksum as hex digits (xor, sum8).</summary>
    public string? Group { get; set; }
    /// <summary>Named group whose text the checksum covers (xor, sum8).</summary>
    public string? Over { get; set; }
}

/// <summary>One named group of the pattern mapped to one canonical point.</summary>
public sealed class LinePoint
{
    /// <summary>A canonical point name (docs/points.md).</summary>
    public required string Name { get; set; }
    /// <summary>The named group of <see cref="LineSpec.Pattern"/> holding the number (e.g. "+0012.34").</summary>
    public required string Group { get; set; }
    /// <summary>Value = number × scale + offset.</summary>
    public double Scale { get; set; } = 1.0;
    public double Offset { get; set; }
    /// <summary>The unit after scaling; must equal the canonical unit of <see cref="Name"/> when given.</summary>
    public string? Unit { get; set; }
    /// <summary>Named group holding the unit the device printed (e.g. "kg"); a line showing another unit is rejected.</summary>
    public string? UnitGroup { get; set; }
    /// <summary>The text <see cref="UnitGroup"/> must show (compared ignoring case and surrounding spaces).</summary>
    public string? UnitText { get; set; }
}
