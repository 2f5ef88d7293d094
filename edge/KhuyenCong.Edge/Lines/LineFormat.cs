using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Profiles;

namespace KhuyenCong.Edge.Lines;

/// <summary>Why a line was rejected.</summary>
public enum LineErrorKind
{
    /// <summary>The line does not match the pattern (garbage, a partial line, another message type).</summary>
    NoMatch,
    /// <summary>The checksum is missing, malformed or wrong.</summary>
    Checksum,
    /// <summary>A value group is empty or not a number.</summary>
    Number,
    /// <summary>The device printed another unit than the profile declares.</summary>
    Unit,
    /// <summary>The line ran past max_length before its terminator; it was dropped up to the next terminator.</summary>
    TooLong,
    /// <summary>A line started but its terminator never came within the read timeout.</summary>
    Partial,
}

/// <summary>A rejected line: what went wrong and which field (group, point, "checksum" or "pattern") it concerns.</summary>
public sealed record LineError(LineErrorKind Kind, string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>One canonical point value taken from a line.</summary>
public readonly record struct LineValue(string Point, double Value);

public enum LineStatus
{
    /// <summary>The line matched and every value parsed.</summary>
    Good,
    /// <summary>The line is valid but fails a <c>when</c> condition (an unstable reading): not an error.</summary>
    Skipped,
    /// <summary>The line was rejected: see <see cref="LineResult.Error"/>.</summary>
    Bad,
    /// <summary>No complete line arrived within the read timeout.</summary>
    Timeout,
}

/// <summary>The outcome of one line (or of a read that timed out).</summary>
public sealed record LineResult(LineStatus Status, string? Line, IReadOnlyList<LineValue> Values, LineError? Error, string? SkipReason = null)
{
    public static LineResult Good(string line, IReadOnlyList<LineValue> values) => new(LineStatus.Good, line, values, null);

    public static LineResult Bad(string? line, LineError error) => new(LineStatus.Bad, line, [], error);

    public static LineResult Skipped(string line, string reason) => new(LineStatus.Skipped, line, [], null, reason);

    public static LineResult TimedOut { get; } = new(LineStatus.Timeout, null, [], null);

    /// <summary>The value of <paramref name="point"/> in a good line.</summary>
    public double Value(string point) => Values.First(v => v.Point == point).Value;
}

/// <summary>A <c>lines:</c> section that cannot be compiled. <see cref="Owner"/> and <see cref="Property"/> locate it in the YAML.</summary>
public sealed class LineFormatException(object owner, string property, string message) : Exception(message)
{
    public object Owner { get; } = owner;

    public string Property { get; } = property;
}

/// <summary>
/// A compiled <see cref="LineSpec"/>: parses one line of a plain serial ASCII device into canonical point values,
/// or into a typed error naming the field that failed. Thread-safe; compile once per profile.
/// </summary>
public sealed class LineFormat
{
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
    private readonly Regex _regex;

    private LineFormat(LineSpec spec, Regex regex)
    {
        Spec = spec;
        _regex = regex;
    }

    public LineSpec Spec { get; }

    /// <summary>The byte that ends a line on the wire ('\n' for lf and crlf, '\r' for cr).</summary>
    public byte TerminatorByte => Spec.Terminator == LineTerminator.Cr ? (byte)'\r' : (byte)'\n';

    /// <summary>Checks <paramref name="spec"/> and compiles its pattern.</summary>
    /// <exception cref="LineFormatException">The spec is invalid; the exception names the offending object and key.</exception>
    public static LineFormat Compile(LineSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Regex regex;
        try
        {
            regex = new Regex(spec.Pattern, RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture, MatchTimeout);
        }
        catch (ArgumentException ex)
        {
            throw new LineFormatException(spec, nameof(spec.Pattern), $"not a valid regular expression: {ex.Message}");
        }
        var groups = regex.GetGroupNames().Where(g => !int.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out _)).ToHashSet(StringComparer.Ordinal);
        string Known() => groups.Count == 0 ? "the pattern has no named groups" : $"named groups: {string.Join(", ", groups.Order(StringComparer.Ordinal))}";

        if (spec.MaxLength is < 8 or > 4096) throw new LineFormatException(spec, nameof(spec.MaxLength), "must be 8–4096");
        if (spec.StaleAfter < TimeSpan.FromMilliseconds(100)) throw new LineFormatException(spec, nameof(spec.StaleAfter), "must be at least 100ms");
        if (spec.Points.Count == 0) throw new LineFormatException(spec, nameof(spec.Points), "must list at least one point");
        foreach (var (group, _) in spec.When ?? [])
        {
            if (!groups.Contains(group)) throw new LineFormatException(spec, nameof(spec.When), $"no group '{group}' in the pattern ({Known()})");
        }
        if (spec.Checksum is { } cs)
        {
            if (cs.Kind == ChecksumKind.Nmea)
            {
                if (cs.Group is not null || cs.Over is not null) throw new LineFormatException(cs, cs.Group is not null ? nameof(cs.Group) : nameof(cs.Over), "an nmea checksum finds its span itself ($…*hh): leave out group and over");
            }
            else
            {
                if (cs.Group is null) throw new LineFormatException(cs, nameof(cs.Kind), $"a {YamlName(cs.Kind)} checksum needs group (the hex digits) and over (the span it covers)");
                if (!groups.Contains(cs.Group)) throw new LineFormatException(cs, nameof(cs.Group), $"no group '{cs.Group}' in the pattern ({Known()})");
                if (cs.Over is null) throw new LineFormatException(cs, nameof(cs.Kind), $"a {YamlName(cs.Kind)} checksum needs over: the group whose text it covers");
                if (!groups.Contains(cs.Over)) throw new LineFormatException(cs, nameof(cs.Over), $"no group '{cs.Over}' in the pattern ({Known()})");
            }
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in spec.Points)
        {
            if (!CanonicalPoints.TryGet(p.Name, out var def)) throw new LineFormatException(p, nameof(p.Name), $"'{p.Name}' is not a canonical point name (see docs/points.md)");
            if (!names.Add(p.Name)) throw new LineFormatException(p, nameof(p.Name), $"point '{p.Name}' is mapped twice");
            if (!groups.Contains(p.Group)) throw new LineFormatException(p, nameof(p.Group), $"no group '{p.Group}' in the pattern ({Known()})");
            if (p.Unit is not null && p.Unit != def.Unit) throw new LineFormatException(p, nameof(p.Unit), $"'{p.Unit}' is not the unit of {p.Name} ('{def.Unit}'); scale the value to it");
            if (!double.IsFinite(p.Scale) || p.Scale == 0) throw new LineFormatException(p, nameof(p.Scale), "must be a finite, non-zero number");
            if (p.UnitGroup is not null && !groups.Contains(p.UnitGroup)) throw new LineFormatException(p, nameof(p.UnitGroup), $"no group '{p.UnitGroup}' in the pattern ({Known()})");
            if ((p.UnitGroup is null) != (p.UnitText is null)) throw new LineFormatException(p, p.UnitGroup is null ? nameof(p.UnitText) : nameof(p.UnitGroup), "unit_group and unit_text go together");
        }
        return new LineFormat(spec, regex);
    }

    /// <summary>Parses one line given as bytes (terminator removed); bytes are read as Latin-1 so nothing is lost.</summary>
    public LineResult Parse(ReadOnlySpan<byte> line) => Parse(Encoding.Latin1.GetString(line));

    /// <summary>Parses one line (terminator removed).</summary>
    public LineResult Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        line = line.TrimEnd('\r', '\n');
        if (Spec.Checksum is { Kind: ChecksumKind.Nmea } && CheckNmea(line) is { } nmeaError) return LineResult.Bad(line, nmeaError);

        Match m;
        try
        {
            m = _regex.Match(line);
        }
        catch (RegexMatchTimeoutException)
        {
            return LineResult.Bad(line, new LineError(LineErrorKind.NoMatch, "pattern", "matching took too long (garbage?)"));
        }
        if (!m.Success) return LineResult.Bad(line, new LineError(LineErrorKind.NoMatch, "pattern", $"line does not match the pattern: {Printable(line)}"));

        if (Spec.Checksum is { Kind: not ChecksumKind.Nmea } cs && CheckGroups(cs, m) is { } csError) return LineResult.Bad(line, csError);

        foreach (var (group, wanted) in Spec.When ?? [])
        {
            var actual = m.Groups[group].Value;
            if (!string.Equals(actual, wanted, StringComparison.Ordinal)) return LineResult.Skipped(line, $"{group} is '{actual}', not '{wanted}'");
        }

        var values = new LineValue[Spec.Points.Count];
        for (var i = 0; i < values.Length; i++)
        {
            var p = Spec.Points[i];
            var g = m.Groups[p.Group];
            if (!g.Success || g.Length == 0) return LineResult.Bad(line, new LineError(LineErrorKind.Number, p.Group, $"group '{p.Group}' is empty ({p.Name})"));
            if (!double.TryParse(g.ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture, out var raw) || !double.IsFinite(raw))
                return LineResult.Bad(line, new LineError(LineErrorKind.Number, p.Group, $"'{Printable(g.Value)}' is not a number ({p.Name})"));
            if (p.UnitGroup is not null)
            {
                var unit = m.Groups[p.UnitGroup].Value.Trim();
                if (!string.Equals(unit, p.UnitText!.Trim(), StringComparison.OrdinalIgnoreCase))
                    return LineResult.Bad(line, new LineError(LineErrorKind.Unit, p.UnitGroup, $"the device shows '{Printable(unit)}', the profile expects '{p.UnitText}' ({p.Name})"));
            }
            values[i] = new LineValue(p.Name, raw * p.Scale + p.Offset);
        }
        return LineResult.Good(line, values);
    }

    /// <summary>XOR of the bytes of <paramref name="text"/> (Latin-1).</summary>
    public static byte Xor(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte x = 0;
        foreach (var c in text) x ^= (byte)c;
        return x;
    }

    /// <summary>Sum of the bytes of <paramref name="text"/> (Latin-1), modulo 256.</summary>
    public static byte Sum8(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = 0;
        foreach (var c in text) s += (byte)c;
        return (byte)s;
    }

    private static LineError? CheckGroups(LineChecksum cs, Match m)
    {
        var text = m.Groups[cs.Group!].Value;
        if (!byte.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var given))
            return new LineError(LineErrorKind.Checksum, cs.Group!, $"'{Printable(text)}' is not a 1–2 digit hex checksum");
        var span = m.Groups[cs.Over!].Value;
        var expected = cs.Kind == ChecksumKind.Xor ? Xor(span) : Sum8(span);
        return given == expected ? null : new LineError(LineErrorKind.Checksum, "checksum", $"{YamlName(cs.Kind)} checksum is {given:X2}, the line computes to {expected:X2}");
    }

    private static LineError? CheckNmea(string line)
    {
        var start = line.IndexOfAny(['$', '!']);
        var star = line.LastIndexOf('*');
        if (start < 0 || star < start || star + 3 > line.Length)
            return new LineError(LineErrorKind.Checksum, "checksum", "no $…*hh checksum in the line");
        if (!byte.TryParse(line.AsSpan(star + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var given))
            return new LineError(LineErrorKind.Checksum, "checksum", $"'{Printable(line.Substring(star + 1, 2))}' is not a hex checksum");
        var expected = Xor(line.Substring(start + 1, star - start - 1));
        return given == expected ? null : new LineError(LineErrorKind.Checksum, "checksum", $"nmea checksum is {given:X2}, the line computes to {expected:X2}");
    }

    private static string YamlName(ChecksumKind k) => k.ToString().ToLowerInvariant();

    /// <summary>The line with control characters shown as \xNN, cut to 80 characters, for messages.</summary>
    public static string Printable(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var sb = new StringBuilder(Math.Min(s.Length, 80) + 8);
        foreach (var c in s)
        {
            if (sb.Length >= 80)
            {
                sb.Append('…');
                break;
            }
            if (c is < ' ' or (> '~' and < '\u00a0')) sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
            else sb.Append(c);
        }
        return sb.ToString();
    }
}
