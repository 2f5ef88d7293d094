using System.Buffers;
using System.Globalization;
using System.Text;

namespace KhuyenCong.Cloud.Influx;

/// <summary>
/// Line protocol written straight into a UTF-8 buffer rented from the shared pool, with the same text InfluxDB.Client's
/// <c>PointData.ToLineProtocol</c> gives (its escaping, its round-trip doubles, tags and fields in the order the caller writes
/// them — callers write them sorted, as <c>PointData</c> does). Every line ends with '\n'. Not thread-safe; give the
/// buffer back with <see cref="Dispose"/> once the lines are written.
/// </summary>
public sealed class LineBuffer : IDisposable
{
    private byte[] _buf;
    private int _len;
    private bool _firstField;

    public LineBuffer(int capacity = 4096) => _buf = ArrayPool<byte>.Shared.Rent(capacity);

    /// <summary>Complete lines written so far.</summary>
    public int Lines { get; private set; }

    /// <summary>Bytes written so far.</summary>
    public int Length => _len;

    public ReadOnlyMemory<byte> Memory => _buf.AsMemory(0, _len);

    public ReadOnlySpan<byte> Span => _buf.AsSpan(0, _len);

    /// <summary>Where the buffer stands now, to go back to with <see cref="Truncate"/>.</summary>
    public (int Length, int Lines) Mark => (_len, Lines);

    /// <summary>Forgets everything written after <paramref name="mark"/> (a line begun and abandoned).</summary>
    public void Truncate((int Length, int Lines) mark) => (_len, Lines) = mark;

    /// <summary>Starts a line: the measurement, with ',' and ' ' escaped.</summary>
    public void Measurement(string name)
    {
        Escaped(name, escapeEqual: false);
        _firstField = true;
    }

    /// <summary>A tag; like <c>PointData</c>, a tag with an empty value is left out.</summary>
    public void Tag(string key, string? value)
    {
        if (string.IsNullOrEmpty(key) || string.IsNullOrEmpty(value)) return;
        Byte((byte)',');
        Escaped(key, escapeEqual: true);
        Byte((byte)'=');
        Escaped(value, escapeEqual: true);
    }

    /// <summary>A float field (never NaN or infinite: those are left out, as <c>PointData</c> does).</summary>
    public void Field(string key, double value)
    {
        if (!double.IsFinite(value)) return;
        FieldKey(key);
        Ensure(32);
        if (!value.TryFormat(_buf.AsSpan(_len), out var n, default, CultureInfo.InvariantCulture)) throw new InvalidOperationException("a double did not fit 32 bytes");
        _len += n;
    }

    /// <summary>A float field whose key is already UTF-8 and needs no escaping (a canonical point name).</summary>
    public void Field(ReadOnlySpan<byte> plainKey, double value)
    {
        if (!double.IsFinite(value)) return;
        Ensure(plainKey.Length + 34);
        _buf[_len++] = _firstField ? (byte)' ' : (byte)',';
        _firstField = false;
        plainKey.CopyTo(_buf.AsSpan(_len));
        _len += plainKey.Length;
        _buf[_len++] = (byte)'=';
        if (!value.TryFormat(_buf.AsSpan(_len), out var n, default, CultureInfo.InvariantCulture)) throw new InvalidOperationException("a double did not fit 32 bytes");
        _len += n;
    }

    /// <summary>
    /// A float field whose key is already UTF-8 and needs no escaping, and whose value is given as the exact text
    /// <see cref="double.ToString()"/> would write for it (a JSON number in that form, copied as it is).
    /// </summary>
    public void Field(ReadOnlySpan<byte> plainKey, ReadOnlySpan<byte> formattedValue)
    {
        Ensure(plainKey.Length + formattedValue.Length + 2);
        _buf[_len++] = _firstField ? (byte)' ' : (byte)',';
        _firstField = false;
        plainKey.CopyTo(_buf.AsSpan(_len));
        _len += plainKey.Length;
        _buf[_len++] = (byte)'=';
        formattedValue.CopyTo(_buf.AsSpan(_len));
        _len += formattedValue.Length;
    }

    /// <summary>A string field: '"' and '\' escaped inside the quotes.</summary>
    public void Field(string key, string value)
    {
        FieldKey(key);
        Byte((byte)'"');
        foreach (var rune in value.EnumerateRunes())
        {
            if (rune.Value is '"' or '\\') Byte((byte)'\\');
            Rune(rune);
        }
        Byte((byte)'"');
    }

    /// <summary>Ends the line with its timestamp (in the precision of the request it goes into).</summary>
    public void EndLine(long timestamp)
    {
        if (_firstField) throw new InvalidOperationException("a line needs at least one field");
        Ensure(22);
        _buf[_len++] = (byte)' ';
        timestamp.TryFormat(_buf.AsSpan(_len), out var n, default, CultureInfo.InvariantCulture);
        _len += n;
        _buf[_len++] = (byte)'\n';
        Lines++;
    }

    /// <summary>Appends a whole line given as text (for example <c>PointData.ToLineProtocol()</c>); empty text adds nothing.</summary>
    public void AppendLine(string line)
    {
        if (line.Length == 0) return;
        Ensure(Encoding.UTF8.GetMaxByteCount(line.Length) + 1);
        _len += Encoding.UTF8.GetBytes(line, _buf.AsSpan(_len));
        _buf[_len++] = (byte)'\n';
        Lines++;
    }

    private void FieldKey(string key)
    {
        Byte(_firstField ? (byte)' ' : (byte)',');
        _firstField = false;
        Escaped(key, escapeEqual: true);
        Byte((byte)'=');
    }

    /// <summary>
    /// <c>PointData</c>'s key escaping: '\n', '\r', '\t' become \n, \r, \t; ' ' and ',' (and '=' where it asks) get a backslash.
    /// </summary>
    private void Escaped(string s, bool escapeEqual)
    {
        Ensure(s.Length);
        var plain = true;
        foreach (var c in s)
        {
            if (c >= 0x80 || c is '\n' or '\r' or '\t' or ' ' or ',' || (escapeEqual && c == '='))
            {
                plain = false;
                break;
            }
        }
        if (plain)
        {
            _len += Encoding.ASCII.GetBytes(s, _buf.AsSpan(_len));
            return;
        }
        foreach (var rune in s.EnumerateRunes())
        {
            switch (rune.Value)
            {
                case '\n': Byte((byte)'\\'); Byte((byte)'n'); continue;
                case '\r': Byte((byte)'\\'); Byte((byte)'r'); continue;
                case '\t': Byte((byte)'\\'); Byte((byte)'t'); continue;
                case ' ' or ',': Byte((byte)'\\'); break;
                case '=' when escapeEqual: Byte((byte)'\\'); break;
            }
            Rune(rune);
        }
    }

    private void Rune(Rune r)
    {
        Ensure(4);
        _len += r.EncodeToUtf8(_buf.AsSpan(_len));
    }

    private void Byte(byte b)
    {
        Ensure(1);
        _buf[_len++] = b;
    }

    private void Ensure(int more)
    {
        if (_len + more <= _buf.Length) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buf.Length * 2, _len + more));
        _buf.AsSpan(0, _len).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buf);
        _buf = bigger;
    }

    public void Dispose()
    {
        var b = _buf;
        _buf = [];
        _len = 0;
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
