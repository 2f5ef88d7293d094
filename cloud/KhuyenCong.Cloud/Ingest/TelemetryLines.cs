using System.Text;
using System.Text.Json;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Ingest;

/// <summary>
/// The ingestor's hot path: a telemetry payload read once with a <see cref="Utf8JsonReader"/>, checked against every rule
/// of the wire contract, and written as line protocol straight into a <see cref="LineBuffer"/> — the same lines
/// <see cref="LineProtocol.FromBatch"/> gives, without a <see cref="Reading"/> object, a string or a <c>PointData</c>
/// per reading.
/// <para>
/// It takes only the plain shape every gateway sends (devices listed before readings, timestamps as
/// <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, no repeated properties). Anything else — and every payload that breaks the contract —
/// makes <see cref="TryWrite"/> answer false with nothing written, and the caller decodes it with
/// <see cref="TelemetryCodec.Decode"/>, which either accepts it or throws the exact error naming the place. So the
/// contract and its messages live in one place; this class only has to never accept what the codec refuses, and to
/// write what <see cref="LineProtocol.FromBatch"/> writes (both checked by tests that compare the two on many payloads).
/// </para>
/// </summary>
public static class TelemetryLines
{
    /// <summary>Canonical points, indexed as in <see cref="CanonicalPoints.All"/>.</summary>
    private static readonly byte[][] PointNames = [.. CanonicalPoints.All.Select(p => Encoding.UTF8.GetBytes(p.Name))];
    private static readonly byte[][] Units = [.. CanonicalPoints.All.Select(p => p.Unit).Distinct().Select(Encoding.UTF8.GetBytes)];
    private static readonly int[] PointUnit = [.. CanonicalPoints.All.Select(p => Units.Select(Encoding.UTF8.GetString).ToList().IndexOf(p.Unit))];
    private static readonly int PointCount = CanonicalPoints.All.Count;

    /// <summary>
    /// The order fields come out in: <c>PointData</c> keeps fields in a sorted dictionary with the default string
    /// comparer, so the canonical names and the "quality" field are sorted the same way. Index <see cref="PointCount"/>
    /// stands for quality.
    /// </summary>
    private static readonly int[] FieldOrder = [.. Enumerable.Range(0, PointCount + 1)
        .OrderBy(i => i == PointCount ? "quality" : CanonicalPoints.All[i].Name, Comparer<string>.Default)];

    private static readonly string[] Classes = [DeviceClasses.Meter, DeviceClasses.Kiln, DeviceClasses.Gas];

    [ThreadStatic] private static Scratch? t_scratch;

    private sealed class Scratch
    {
        public readonly List<Device> Devices = [];
        public int[] LineDevice = new int[64];
        public long[] LineMs = new long[64];
        public ulong[] LineMask = new ulong[64];
        public bool[] LineUncertain = new bool[64];
        public double[] Values = new double[64 * PointCount];
        /// <summary>Where a value's JSON text can be copied as it is: (offset in the payload &lt;&lt; 8) | length; 0 when it must be formatted.</summary>
        public long[] Raw = new long[64 * PointCount];
        /// <summary>The last timestamp read, as text and as Unix ms: a batch's readings mostly share a few instants.</summary>
        public readonly byte[] LastTs = new byte[24];
        public long LastMs = long.MinValue;
        public int LastPoint = -1;
        public int LastDevice = -1;
        public readonly Dictionary<(int, long), int> Index = [];
        public int Lines;

        public int Line(int device, long ms)
        {
            if (Lines > 0 && LineDevice[Lines - 1] == device && LineMs[Lines - 1] == ms) return Lines - 1;
            if (Lines <= 16)
            {
                for (var i = 0; i < Lines; i++)
                {
                    if (LineDevice[i] == device && LineMs[i] == ms) return i;
                }
                if (Lines == 16)
                {
                    Index.Clear();
                    for (var i = 0; i < Lines; i++) Index[(LineDevice[i], LineMs[i])] = i;
                }
            }
            else if (Index.TryGetValue((device, ms), out var found))
            {
                return found;
            }
            if (Lines == LineDevice.Length)
            {
                Array.Resize(ref LineDevice, Lines * 2);
                Array.Resize(ref LineMs, Lines * 2);
                Array.Resize(ref LineMask, Lines * 2);
                Array.Resize(ref LineUncertain, Lines * 2);
                Array.Resize(ref Values, Lines * 2 * PointCount);
                Array.Resize(ref Raw, Lines * 2 * PointCount);
            }
            var n = Lines++;
            LineDevice[n] = device;
            LineMs[n] = ms;
            LineMask[n] = 0;
            LineUncertain[n] = false;
            if (Lines > 16) Index[(device, ms)] = n;
            return n;
        }
    }

    private sealed record Device(string Id, byte[] IdUtf8, string Class, string? Kiln);

    /// <summary>
    /// Appends the lines of a valid telemetry payload to <paramref name="into"/> and answers true; answers false, with
    /// nothing appended, for a payload it does not take (then <see cref="TelemetryCodec.Decode"/> has the last word).
    /// </summary>
    /// <param name="now">The receiver's clock, for the timestamp limits of the contract.</param>
    public static bool TryWrite(ReadOnlySpan<byte> utf8, DateTimeOffset now, LineBuffer into, out string site, out string gateway, out int readings)
    {
        site = gateway = "";
        readings = 0;
        if (utf8.Length > TelemetryCodec.MaxPayloadBytes) return false;
        var s = t_scratch ??= new Scratch();
        s.Devices.Clear();
        s.Lines = 0;
        s.LastMs = long.MinValue;
        try
        {
            if (!Read(utf8, now, s, out site, out gateway, out readings)) return false;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException or FormatException)
        {
            return false; // malformed JSON, invalid UTF-8 in a string: the codec names it
        }
        Write(s, utf8, site, gateway, into);
        return true;
    }

    private static bool Read(ReadOnlySpan<byte> utf8, DateTimeOffset now, Scratch s, out string site, out string gateway, out int readings)
    {
        site = gateway = "";
        readings = 0;
        var maxTicks = (now + TelemetryCodec.MaxAhead).UtcTicks;
        var minTicks = TelemetryCodec.MinTimestamp.UtcTicks;
        var r = new Utf8JsonReader(utf8);
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject) return false;
        bool seenV = false, seenSite = false, seenGateway = false, seenSeq = false, seenSent = false, seenDevices = false, seenReadings = false;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("readings"u8))
            {
                // Devices first: each reading is checked against them as it is read.
                if (seenReadings || !seenDevices || !r.Read() || r.TokenType != JsonTokenType.StartArray) return false;
                seenReadings = true;
                while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                {
                    if (!ReadReading(ref r, s, minTicks, maxTicks)) return false;
                    readings++;
                }
            }
            else if (r.ValueTextEquals("devices"u8))
            {
                if (seenDevices || !r.Read() || r.TokenType != JsonTokenType.StartArray) return false;
                seenDevices = true;
                while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                {
                    if (!ReadDevice(ref r, s)) return false;
                }
            }
            else if (r.ValueTextEquals("v"u8))
            {
                if (seenV || !r.Read() || r.TokenType != JsonTokenType.Number || !r.TryGetInt32(out var v) || v != 1) return false;
                seenV = true;
            }
            else if (r.ValueTextEquals("site"u8))
            {
                if (seenSite || !r.Read() || r.TokenType != JsonTokenType.String) return false;
                site = r.GetString()!;
                if (!Identifiers.IsValid(site)) return false;
                seenSite = true;
            }
            else if (r.ValueTextEquals("gateway"u8))
            {
                if (seenGateway || !r.Read() || r.TokenType != JsonTokenType.String) return false;
                gateway = r.GetString()!;
                if (!Identifiers.IsValid(gateway)) return false;
                seenGateway = true;
            }
            else if (r.ValueTextEquals("seq"u8))
            {
                if (seenSeq || !r.Read() || r.TokenType != JsonTokenType.Number || !r.TryGetInt64(out var seq) || seq < 0) return false;
                seenSeq = true;
            }
            else if (r.ValueTextEquals("sent"u8))
            {
                if (seenSent || !r.Read() || r.TokenType != JsonTokenType.String || r.ValueIsEscaped || !TryParseUtcMs(r.ValueSpan, out _)) return false;
                seenSent = true;
            }
            else
            {
                r.Skip(); // unknown properties are ignored, as the codec ignores them
            }
        }
        if (r.TokenType != JsonTokenType.EndObject || r.Read()) return false; // (Read throws on anything but whitespace after the object)
        // "v" too: the codec's generated deserializer leaves a missing version 0 (not the record's default 1) and refuses it.
        return seenV && seenSite && seenGateway && seenDevices && seenReadings;
    }

    private static bool ReadDevice(ref Utf8JsonReader r, Scratch s)
    {
        if (r.TokenType != JsonTokenType.StartObject) return false;
        string? id = null, cls = null, kiln = null;
        bool seenKiln = false, seenProfile = false;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("id"u8))
            {
                if (id is not null || !r.Read() || r.TokenType != JsonTokenType.String) return false;
                id = r.GetString()!;
                if (!Identifiers.IsValid(id)) return false;
            }
            else if (r.ValueTextEquals("class"u8))
            {
                if (cls is not null || !r.Read() || r.TokenType != JsonTokenType.String) return false;
                foreach (var c in Classes)
                {
                    if (r.ValueTextEquals(c)) cls = c;
                }
                if (cls is null) return false;
            }
            else if (r.ValueTextEquals("kiln"u8))
            {
                if (seenKiln || !r.Read()) return false;
                seenKiln = true;
                if (r.TokenType == JsonTokenType.Null) continue;
                if (r.TokenType != JsonTokenType.String) return false;
                kiln = r.GetString()!;
                if (!Identifiers.IsValid(kiln)) return false;
            }
            else if (r.ValueTextEquals("profile"u8))
            {
                if (seenProfile || !r.Read()) return false;
                seenProfile = true;
                if (r.TokenType == JsonTokenType.Null) continue;
                if (r.TokenType != JsonTokenType.String) return false;
                // Not used, but the codec reads it as a string: invalid UTF-8 or a broken escape must not pass here.
                if (r.ValueIsEscaped ? r.GetString() is null : !System.Text.Unicode.Utf8.IsValid(r.ValueSpan)) return false;
            }
            else
            {
                r.Skip();
            }
        }
        if (r.TokenType != JsonTokenType.EndObject || id is null || cls is null) return false;
        foreach (var d in s.Devices)
        {
            if (d.Id == id) return false; // listed twice
        }
        s.Devices.Add(new Device(id, Encoding.UTF8.GetBytes(id), cls, kiln));
        return true;
    }

    private static bool ReadReading(ref Utf8JsonReader r, Scratch s, long minTicks, long maxTicks)
    {
        if (r.TokenType != JsonTokenType.StartObject) return false;
        int device = -1, point = -1;
        long ms = long.MinValue;
        double value = 0;
        long rawValue = 0;
        var uncertain = false;
        bool seenValue = false, seenQuality = false, seenUnit = false;
        var unit = -1;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("device"u8))
            {
                if (device >= 0 || !r.Read() || r.TokenType != JsonTokenType.String) return false;
                device = FindDevice(ref r, s);
                if (device < 0) return false;
            }
            else if (r.ValueTextEquals("point"u8))
            {
                if (point >= 0 || !r.Read() || r.TokenType != JsonTokenType.String) return false;
                point = FindPoint(ref r, s);
                if (point < 0) return false;
            }
            else if (r.ValueTextEquals("ts"u8))
            {
                if (ms != long.MinValue || !r.Read() || r.TokenType != JsonTokenType.String || r.ValueIsEscaped) return false;
                if (s.LastMs != long.MinValue && r.ValueSpan.SequenceEqual(s.LastTs))
                {
                    ms = s.LastMs;
                }
                else
                {
                    if (!TryParseUtcMs(r.ValueSpan, out ms)) return false;
                    r.ValueSpan.CopyTo(s.LastTs);
                    s.LastMs = ms;
                }
                var ticks = DateTimeOffset.UnixEpoch.UtcTicks + (ms * TimeSpan.TicksPerMillisecond);
                if (ticks > maxTicks || ticks < minTicks) return false;
            }
            else if (r.ValueTextEquals("value"u8))
            {
                if (seenValue || !r.Read() || r.TokenType != JsonTokenType.Number) return false;
                seenValue = true;
                if (IsPlainNumber(r.ValueSpan))
                {
                    rawValue = (r.TokenStartIndex << 8) | (long)r.ValueSpan.Length;
                }
                else
                {
                    if (!r.TryGetDouble(out value) || !double.IsFinite(value)) return false;
                    rawValue = 0;
                }
            }
            else if (r.ValueTextEquals("unit"u8))
            {
                if (seenUnit || !r.Read() || r.TokenType != JsonTokenType.String) return false;
                seenUnit = true;
                // The point's own unit first (the usual case, and the point usually comes before its unit).
                unit = point >= 0 && !r.ValueIsEscaped && r.ValueSpan.SequenceEqual(Units[PointUnit[point]]) ? PointUnit[point] : Find(ref r, null, Units);
            }
            else if (r.ValueTextEquals("quality"u8))
            {
                if (seenQuality || !r.Read() || r.TokenType != JsonTokenType.String) return false;
                seenQuality = true;
                if (r.ValueTextEquals(Qualities.Uncertain)) uncertain = true;
                else if (!r.ValueTextEquals(Qualities.Good)) return false;
            }
            else
            {
                r.Skip();
            }
        }
        // Quality too: like "v", a missing one is not the record's default to the codec; it decides.
        if (r.TokenType != JsonTokenType.EndObject || device < 0 || point < 0 || ms == long.MinValue || !seenUnit || !seenQuality) return false;
        if (unit != PointUnit[point]) return false;
        var line = s.Line(device, ms);
        s.Values[(line * PointCount) + point] = value; // the same point twice at one instant: the last one counts
        s.Raw[(line * PointCount) + point] = rawValue;
        s.LineMask[line] |= 1UL << point;
        s.LineUncertain[line] |= uncertain;
        return true;
    }

    /// <summary>
    /// Which device id (or, without devices, which of <paramref name="names"/>) the current string is, escapes resolved;
    /// -1 for none. A string that is not valid UTF-8 matches nothing (every name is valid UTF-8).
    /// </summary>
    private static int Find(ref Utf8JsonReader r, List<Device>? devices, byte[][]? names)
    {
        Span<byte> buf = stackalloc byte[128];
        scoped ReadOnlySpan<byte> v;
        if (!r.ValueIsEscaped) v = r.ValueSpan;
        else if (r.ValueSpan.Length <= buf.Length)
        {
            scoped var local = r; // so that the compiler sees buf cannot leak into the caller's reader
            v = buf[..local.CopyString(buf)];
        }
        else return -1;
        var n = devices?.Count ?? names!.Length;
        for (var i = 0; i < n; i++)
        {
            if (v.SequenceEqual(devices is null ? names![i] : devices[i].IdUtf8)) return i;
        }
        return -1;
    }

    /// <summary>The device the current string names, trying the last one found first (a device's readings come together).</summary>
    private static int FindDevice(ref Utf8JsonReader r, Scratch s)
    {
        var last = s.LastDevice;
        if (!r.ValueIsEscaped && last >= 0 && last < s.Devices.Count && r.ValueSpan.SequenceEqual(s.Devices[last].IdUtf8)) return last;
        return s.LastDevice = Find(ref r, s.Devices, null);
    }

    /// <summary>The canonical point the current string names, trying the one after the last first (a device's points come in order).</summary>
    private static int FindPoint(ref Utf8JsonReader r, Scratch s)
    {
        var next = s.LastPoint + 1;
        if (!r.ValueIsEscaped && next < PointNames.Length && r.ValueSpan.SequenceEqual(PointNames[next])) return s.LastPoint = next;
        return s.LastPoint = Find(ref r, null, PointNames);
    }

    /// <summary>
    /// A JSON number whose text is exactly what <see cref="double.ToString()"/> gives for its value, so it can be copied
    /// into the line as it is: no exponent, no leading zero before other digits, no trailing zero after the point, at
    /// most 15 significant digits (every such decimal survives the trip through a double, and is its shortest form), at
    /// most 15 digits before the point and at most 3 zeros right after "0." (where .NET switches to E notation), not "-0".
    /// </summary>
    internal static bool IsPlainNumber(ReadOnlySpan<byte> n)
    {
        var i = 0;
        if (n.Length > 0 && n[0] == '-') i = 1;
        var intStart = i;
        while (i < n.Length && (uint)(n[i] - '0') <= 9) i++;
        var intDigits = i - intStart;
        if (intDigits == 0 || intDigits > 15 || (intDigits > 1 && n[intStart] == '0')) return false;
        var zeroInt = intDigits == 1 && n[intStart] == '0';
        if (i == n.Length) return !(zeroInt && intStart == 1); // not "-0"
        if (n[i] != '.') return false;
        i++;
        var fracStart = i;
        while (i < n.Length && (uint)(n[i] - '0') <= 9) i++;
        var fracDigits = i - fracStart;
        if (i != n.Length || fracDigits == 0 || n[^1] == '0') return false;
        if (!zeroInt) return intDigits + fracDigits <= 15;
        var zeros = 0;
        while (n[fracStart + zeros] == '0') zeros++;
        return zeros <= 3 && fracDigits - zeros <= 15;
    }

    /// <summary><c>yyyy-MM-ddTHH:mm:ss.fffZ</c> exactly (what every gateway sends) as Unix milliseconds; anything else is left to the codec.</summary>
    internal static bool TryParseUtcMs(ReadOnlySpan<byte> s, out long ms)
    {
        ms = 0;
        if (s.Length != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z') return false;
        if (!D(s, 0, 4, out var year) || !D(s, 5, 2, out var month) || !D(s, 8, 2, out var day) || !D(s, 11, 2, out var hour)
            || !D(s, 14, 2, out var minute) || !D(s, 17, 2, out var second) || !D(s, 20, 3, out var milli)) return false;
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return false;
        ms = (new DateTime(year, month, day, hour, minute, second, milli, DateTimeKind.Utc).Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;
        return true;

        static bool D(ReadOnlySpan<byte> s, int at, int n, out int v)
        {
            v = 0;
            for (var i = at; i < at + n; i++)
            {
                var d = s[i] - '0';
                if ((uint)d > 9) return false;
                v = (v * 10) + d;
            }
            return true;
        }
    }

    private static void Write(Scratch s, ReadOnlySpan<byte> payload, string site, string gateway, LineBuffer into)
    {
        for (var line = 0; line < s.Lines; line++)
        {
            var d = s.Devices[s.LineDevice[line]];
            into.Measurement(d.Class);
            // Tags in PointData's (sorted) order.
            into.Tag("device", d.Id);
            into.Tag("gateway", gateway);
            into.Tag("kiln", d.Kiln);
            into.Tag("site", site);
            var mask = s.LineMask[line];
            var values = s.Values.AsSpan(line * PointCount, PointCount);
            var raw = s.Raw.AsSpan(line * PointCount, PointCount);
            foreach (var f in FieldOrder)
            {
                if (f == PointCount)
                {
                    if (s.LineUncertain[line]) into.Field("quality", Qualities.Uncertain);
                }
                else if ((mask & (1UL << f)) != 0)
                {
                    if (raw[f] != 0) into.Field(PointNames[f], payload.Slice((int)(raw[f] >> 8), (int)(raw[f] & 0xFF)));
                    else into.Field(PointNames[f], values[f]);
                }
            }
            into.EndLine(s.LineMs[line]);
        }
    }
}
