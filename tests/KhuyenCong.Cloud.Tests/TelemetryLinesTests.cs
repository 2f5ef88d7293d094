using System.Globalization;
using System.Text;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Ingest;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Tests;

/// <summary>
/// The ingestor's fast path (<see cref="TelemetryLines"/> into a <see cref="LineBuffer"/>) against the reference it
/// replaces on the hot path: <see cref="TelemetryCodec.Decode"/> then <see cref="LineProtocol.FromBatch"/> and
/// InfluxDB.Client's <c>PointData.ToLineProtocol</c>. Same bytes for what it accepts; nothing accepted that the codec refuses.
/// </summary>
public sealed class TelemetryLinesTests
{
    private static readonly DateTimeOffset T = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_600_000);

    private static string Reference(ReadOnlySpan<byte> payload, DateTimeOffset now) =>
        string.Concat(LineProtocol.FromBatch(TelemetryCodec.Decode(payload, now)).Select(p => p.ToLineProtocol() + "\n"));

    private static string? Fast(byte[] payload, DateTimeOffset now, out (string Site, string Gateway, int Readings) claimed)
    {
        using var lines = new LineBuffer(16);
        lines.AppendLine("before"); // what is already in the buffer stays, and a refusal appends nothing
        var ok = TelemetryLines.TryWrite(payload, now, lines, out var site, out var gateway, out var readings);
        claimed = (site, gateway, readings);
        var text = Encoding.UTF8.GetString(lines.Span);
        Assert.StartsWith("before\n", text, StringComparison.Ordinal);
        if (!ok) Assert.Equal("before\n", text);
        return ok ? text["before\n".Length..] : null;
    }

    private static TelemetryBatch Varied()
    {
        var devices = new List<DeviceInfo>
        {
            new() { Id = "main-meter", Class = DeviceClasses.Meter },
            new() { Id = "kiln1-meter", Class = DeviceClasses.Meter, Kiln = "kiln-1", Profile = "eastron-sdm630" },
            new() { Id = "kiln1-ctl", Class = DeviceClasses.Kiln, Kiln = "kiln-1" },
            new() { Id = "lpg.scale_1", Class = DeviceClasses.Gas, Kiln = "Kiln_2" },
        };
        devices.AddRange(Enumerable.Range(0, 20).Select(i => new DeviceInfo { Id = $"m{i}", Class = DeviceClasses.Meter, Kiln = i % 3 == 0 ? null : $"k{i % 3}" }));
        var readings = new List<Reading>();
        Reading R(string d, string p, double v, DateTimeOffset t, string q = Qualities.Good) =>
            new() { Device = d, Point = p, Value = v, Unit = CanonicalPoints.All.Single(x => x.Name == p).Unit, Timestamp = t, Quality = q };
        readings.Add(R("kiln1-meter", "power_w", 12_800.5, T));
        readings.Add(R("kiln1-meter", "energy_import_kwh", 10_234.125, T));
        readings.Add(R("kiln1-ctl", "kiln_temp_c", 1187, T, Qualities.Uncertain));
        readings.Add(R("kiln1-ctl", "kiln_setpoint_c", -0.0, T));
        readings.Add(R("lpg.scale_1", "lpg_mass_kg", 0.1, T));
        readings.Add(R("lpg.scale_1", "gas_volume_m3", 1e-7, T));
        readings.Add(R("lpg.scale_1", "gas_flow_m3h", 1e21, T));
        readings.Add(R("main-meter", "power_factor", double.Epsilon, T.AddMilliseconds(1)));
        readings.Add(R("main-meter", "frequency_hz", double.MaxValue, T.AddMilliseconds(1)));
        readings.Add(R("kiln1-meter", "power_w", 12_900, T)); // the same point again at the same instant: the last one counts
        readings.Add(R("kiln1-meter", "voltage_l1_v", 230.1, T)); // back to a line begun earlier
        readings.Add(R("main-meter", "power_w", 1 / 3.0, T.AddSeconds(1)));
        // More than 16 lines, out of order, some instants revisited.
        for (var k = 0; k < 3; k++)
        {
            foreach (var i in Enumerable.Range(0, 20).Reverse())
                readings.Add(R($"m{i}", k == 1 ? "current_l1_a" : "power_l1_w", (i * 1000.0) + k + 0.001, T.AddSeconds(i % 4), k == 2 && i == 7 ? Qualities.Uncertain : Qualities.Good));
        }
        return new TelemetryBatch { Site = "bat-trang", Gateway = "gw-1", Sequence = 7, Sent = T, Devices = devices, Readings = readings };
    }

    [Fact]
    public void A_varied_batch_gives_exactly_the_lines_of_LineProtocol_FromBatch()
    {
        var payload = TelemetryCodec.Encode(Varied());
        Assert.Contains("\\u00B0C", Encoding.UTF8.GetString(payload), StringComparison.Ordinal); // units with escapes take the fast path too
        var fast = Fast(payload, DateTimeOffset.UtcNow, out var claimed);
        Assert.NotNull(fast);
        Assert.Equal(Reference(payload, DateTimeOffset.UtcNow), fast);
        Assert.Equal(("bat-trang", "gw-1", Varied().Readings.Count), claimed);
        Assert.Contains("kiln,device=kiln1-ctl,gateway=gw-1,kiln=kiln-1,site=bat-trang kiln_setpoint_c=-0,kiln_temp_c=1187,quality=\"uncertain\" ", fast, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.50")]
    [InlineData("1e3")]
    [InlineData("1E+3")]
    [InlineData("0.0001")]
    [InlineData("0.00001")]
    [InlineData("0.000123")]
    [InlineData("-0")]
    [InlineData("-0.0")]
    [InlineData("0")]
    [InlineData("-0.5")]
    [InlineData("123456789012345")]
    [InlineData("1234567890123456")]
    [InlineData("999999999999999.9")]
    [InlineData("0.1234567890123456")]
    [InlineData("0.123456789012345")]
    [InlineData("12345678901234.5")]
    [InlineData("100000000000000000000000")]
    [InlineData("1e-400")]
    [InlineData("-1e999")]
    public void Numbers_written_in_any_JSON_form_come_out_as_PointData_writes_them(string number)
    {
        var json = Encoding.UTF8.GetString(TelemetryCodec.Encode(Varied()));
        Assert.Contains("\"value\":12800.5", json, StringComparison.Ordinal);
        var payload = Encoding.UTF8.GetBytes(json.Replace("\"value\":12800.5", "\"value\":" + number, StringComparison.Ordinal));
        var fast = Fast(payload, DateTimeOffset.UtcNow, out _);
        if (fast is null)
        {
            Assert.ThrowsAny<ContractViolationException>(() => TelemetryCodec.Decode(payload)); // only what the codec refuses
            return;
        }
        Assert.Equal(Reference(payload, DateTimeOffset.UtcNow), fast);
    }

    [Fact]
    public void Numbers_are_copied_as_they_are_only_when_that_is_what_double_ToString_writes()
    {
        var random = new Random(6);
        for (var i = 0; i < 200_000; i++)
        {
            // Decimal texts of every shape: signs, leading and trailing zeros, 1–20 digits, exponents.
            var sb = new StringBuilder();
            if (random.Next(4) == 0) sb.Append('-');
            sb.Append(random.Next(5) == 0 ? "0" : random.NextInt64(0, (long)Math.Pow(10, random.Next(1, 18))).ToString(CultureInfo.InvariantCulture));
            if (random.Next(3) > 0)
            {
                sb.Append('.').Append(new string('0', random.Next(0, 6)));
                sb.Append(random.NextInt64(0, (long)Math.Pow(10, random.Next(1, 18))).ToString(CultureInfo.InvariantCulture));
            }
            if (random.Next(10) == 0) sb.Append('e').Append(random.Next(-30, 30));
            var text = sb.ToString();
            if (!TelemetryLines.IsPlainNumber(Encoding.ASCII.GetBytes(text))) continue;
            Assert.Equal(double.Parse(text, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture), text);
        }
        Assert.True(TelemetryLines.IsPlainNumber("230.1"u8));
        Assert.False(TelemetryLines.IsPlainNumber("-0"u8));
        Assert.False(TelemetryLines.IsPlainNumber("0.00001"u8));
    }

    /// <summary>
    /// Thousands of damaged payloads — every hostile one, each contract violation, bytes flipped, cut, dropped or
    /// doubled, properties reordered or repeated. Whatever the fast path accepts, the codec accepts with the same lines;
    /// whatever it refuses, the ingestor hands to the codec, so the dead letter's reason is the codec's.
    /// </summary>
    [Fact]
    public void The_fast_path_never_accepts_what_the_codec_refuses_and_agrees_on_what_both_accept()
    {
        var now = DateTimeOffset.UtcNow;
        var good = TelemetryCodec.Encode(Varied());
        var goodJson = Encoding.UTF8.GetString(good);
        var cases = new List<byte[]> { good };
        cases.AddRange(HostilePayloadTests.Hostile().Select(row => (byte[])row[1]));
        foreach (var (find, replace) in new[]
        {
            ("\"v\":1", "\"v\":2"), ("\"v\":1", "\"v\":1.0"), ("\"v\":1", "\"v\":null"), ("\"v\":1,", ""), ("\"seq\":7", "\"seq\":-1"), ("\"seq\":7", "\"seq\":7e0"),
            ("\"site\":\"bat-trang\"", "\"site\":\"bat trang\""), ("\"site\":\"bat-trang\"", "\"site\":null"), ("\"site\":\"bat-trang\",", ""),
            ("\"site\":\"bat-trang\"", "\"site\":\"bat-trang\",\"site\":\"other\""), ("\"site\":\"bat-trang\"", "\"site\":\"bat\\u002Dtrang\""),
            ("\"class\":\"meter\"", "\"class\":\"boiler\""), ("\"class\":\"meter\"", "\"class\":null"), ("\"class\":\"meter\",", ""), ("\"class\":\"meter\"", "\"class\":\"Meter\""),
            ("\"id\":\"main-meter\"", "\"id\":\"kiln1-meter\""), ("\"id\":\"main-meter\"", "\"id\":\"main meter\""), ("\"kiln\":\"kiln-1\"", "\"kiln\":\"\""),
            ("\"kiln\":\"kiln-1\"", "\"kiln\":null"), ("\"kiln\":\"kiln-1\"", "\"kiln\":1"), ("\"profile\":\"eastron-sdm630\"", "\"profile\":7"),
            ("\"profile\":\"eastron-sdm630\"", "\"profile\":\"\\uD800\""), ("\"profile\":\"eastron-sdm630\"", "\"profile\":\"e\\u0301\""),
            ("\"device\":\"kiln1-meter\"", "\"device\":\"nobody\""), ("\"device\":\"kiln1-meter\"", "\"device\":\"kiln1\\u002Dmeter\""),
            ("\"point\":\"power_w\"", "\"point\":\"power\""), ("\"point\":\"power_w\"", "\"point\":\"power\\u005Fw\""), ("\"unit\":\"W\"", "\"unit\":\"kW\""),
            ("\"unit\":\"W\"", "\"unit\":null"), ("\"unit\":\"\\u00B0C\"", "\"unit\":\"°C\""), ("\"unit\":\"\\u00B0C\"", "\"unit\":\"C\""), ("\"quality\":\"good\"", "\"quality\":\"bad\""),
            ("\"quality\":\"good\"", "\"quality\":null"), (",\"quality\":\"good\"", ""), ("\"value\":12800.5", "\"value\":\"12800.5\""), ("\"value\":12800.5,", ""),
            ("\"value\":12800.5", "\"value\":12800.5,\"value\":1"), ("\"value\":12800.5", "\"value\":12800.5,\"extra\":{\"a\":[1,2,{}]}"),
            ("\"readings\":[", "\"readings\":null,\"x\":["), ("\"devices\":[", "\"devices\":[null,"), ("\"readings\":[", "\"readings\":[null,"),
            ("\"sent\":", "\"sent\":null,\"old\":"), ("{\"v\":1", "{\"v\":1,\"readings\":[]"), ("{\"v\":1", "{\"readings\":[],\"v\":1"),
        })
        {
            Assert.Contains(find, goodJson, StringComparison.Ordinal);
            cases.Add(Encoding.UTF8.GetBytes(goodJson.Replace(find, replace, StringComparison.Ordinal)));
            var first = goodJson.IndexOf(find, StringComparison.Ordinal);
            cases.Add(Encoding.UTF8.GetBytes(goodJson[..first] + replace + goodJson[(first + find.Length)..]));
        }
        // Timestamps: other ISO forms the codec takes, impossible dates, the limits of the clock.
        var ts = $"\"ts\":\"{T.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}\"";
        Assert.Contains(ts, goodJson, StringComparison.Ordinal);
        foreach (var t in new[] { "2026-02-30T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "2026-01-01T00:60:00.000Z", "2026-01-01T00:00:60.000Z",
            "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.0000Z", "2026-01-01 00:00:00.000Z", "2026-01-01T00:00:00.000+00:00", "2026-01-01T00:00:00.000z", "2024-02-29T23:59:59.999Z",
            "2019-12-31T23:59:59.999Z", "2020-01-01T00:00:00.000Z", "0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "2026-01-01T00:00:00.00aZ", "2026-01-01T00:00:00.000Z\\u0000",
            (now + TelemetryCodec.MaxAhead).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            (now + TelemetryCodec.MaxAhead).UtcDateTime.AddMilliseconds(1).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) })
        {
            cases.Add(Encoding.UTF8.GetBytes(goodJson.Replace(ts, $"\"ts\":\"{t}\"", StringComparison.Ordinal)));
        }
        // Random damage.
        var random = new Random(6);
        for (var i = 0; i < 3000; i++)
        {
            var p = good.ToList();
            var at = random.Next(p.Count);
            switch (i % 5)
            {
                case 0: p[at] = (byte)random.Next(256); break;
                case 1: p.RemoveRange(at, p.Count - at); break;
                case 2: p.RemoveAt(at); break;
                case 3: p.Insert(at, p[at]); break;
                default: p[at] = (byte)JsonBytes[random.Next(JsonBytes.Length)]; break;
            }
            cases.Add([.. p]);
        }

        var accepted = 0;
        foreach (var payload in cases)
        {
            var fast = Fast(payload, now, out var claimed);
            if (fast is null) continue;
            accepted++;
            TelemetryBatch batch;
            try
            {
                batch = TelemetryCodec.Decode(payload, now);
            }
            catch (ContractViolationException ex)
            {
                Assert.Fail($"the fast path accepted what the codec refuses ({ex.Message}): {Encoding.UTF8.GetString(payload)}");
                throw;
            }
            Assert.Equal(Reference(payload, now), fast);
            Assert.Equal((batch.Site, batch.Gateway, batch.Readings.Count), claimed);
        }
        Assert.True(accepted > 30, $"only {accepted} of {cases.Count} accepted: the comparison would prove little");
        Assert.All(HostilePayloadTests.Hostile(), row => Assert.Null(Fast((byte[])row[1], now, out _)));
    }

    private const string JsonBytes = "{}[],:\"\\0123456789-.eE tfn";

    [Fact]
    public void The_line_buffer_escapes_and_formats_exactly_as_PointData_does()
    {
        string[] names = ["meter", "a b", "a,b", "a=b", "tab\there", "new\nline", "cr\rhere", "quote\"s", "back\\slash", "°C m³", "gấu 🐻", "=", " "];
        double[] values = [0, -0.0, 1, -1, 0.1, 1.0 / 3, 230.1, 1e-7, 1e21, 123456789012345678, double.MaxValue, double.Epsilon, -2.5e-300];
        var i = 0;
        using var buffer = new LineBuffer(8);
        var expected = new StringBuilder();
        foreach (var m in names)
        {
            foreach (var tag in names)
            {
                var p = PointData.Measurement(m).Tag("site", "bat-trang").Tag(tag, names[i % names.Length]).Tag("empty", "");
                buffer.Measurement(m);
                // Tags and fields in sorted order, as PointData keeps them.
                foreach (var (k, v) in new[] { ("site", "bat-trang"), (tag, names[i % names.Length]), ("empty", "") }.DistinctBy(x => x.Item1).OrderBy(x => x.Item1, Comparer<string>.Default))
                    buffer.Tag(k, v);
                var fields = new List<(string Key, object Value)> { (tag, values[i % values.Length]), ("value", values[(i + 3) % values.Length]), ("text", names[(i + 5) % names.Length]) };
                foreach (var (k, v) in fields.DistinctBy(f => f.Key))
                    p = v is double d ? p.Field(k, d) : p.Field(k, (string)v);
                foreach (var (k, v) in fields.DistinctBy(f => f.Key).OrderBy(f => f.Key, Comparer<string>.Default))
                {
                    if (v is double d) buffer.Field(k, d);
                    else buffer.Field(k, (string)v);
                }
                var ts = 1_764_316_800_250L + i;
                buffer.EndLine(ts);
                expected.Append(p.Timestamp(ts, WritePrecision.Ms).ToLineProtocol()).Append('\n');
                i++;
            }
        }
        Assert.Equal(expected.ToString(), Encoding.UTF8.GetString(buffer.Span));
        Assert.Equal(names.Length * names.Length, buffer.Lines);
    }

    [Fact]
    public void A_chunk_too_large_for_InfluxDB_is_cut_between_lines()
    {
        var text = "a x=1 1\nbb x=2 2\nccc x=3 3\ndddd x=4 4\neeeee x=5 5\n"u8.ToArray();
        var (first, second) = Ingestor.SplitLines(new Ingestor.Chunk(text, 5, WritePrecision.Ms));
        Assert.Equal("a x=1 1\nbb x=2 2\n", Encoding.UTF8.GetString(first.Utf8.Span));
        Assert.Equal(2, first.Lines);
        Assert.Equal("ccc x=3 3\ndddd x=4 4\neeeee x=5 5\n", Encoding.UTF8.GetString(second.Utf8.Span));
        Assert.Equal(3, second.Lines);
    }
}
