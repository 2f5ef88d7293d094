using KhuyenCong.Edge.Lines;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Profiles.Tests;

public sealed class LineFormatTests
{
    private static LineFormat ShippedScale() =>
        ProfileLoader.Load(Path.Combine(RepoPaths.Devices, "generic-ascii-scale", ProfileLoader.FileName)).LineFormat!;

    private static LineFormat Compile(string pattern, LineChecksum? checksum = null, params LinePoint[] points) =>
        LineFormat.Compile(new LineSpec { Pattern = pattern, Checksum = checksum, Points = [.. points] });

    [Theory]
    [InlineData("ST,GS,+0012.34kg", 12.34)]
    [InlineData("ST,GS,-0000.50kg", -0.5)]
    [InlineData("ST,GS,+0047.1 kg", 47.1)]
    [InlineData("ST,GS,0150kg", 150)]
    [InlineData("ST,GS,+0012.34KG", 12.34)]
    public void A_stable_gross_line_of_the_generic_scale_gives_its_weight_in_kg(string line, double kg)
    {
        var r = ShippedScale().Parse(line);
        Assert.Equal(LineStatus.Good, r.Status);
        Assert.Equal(kg, r.Value("lpg_mass_kg"), 6);
    }

    [Theory]
    [InlineData("US,GS,+0012.34kg", "stability is 'US', not 'ST'")]
    [InlineData("ST,NT,+0002.00kg", "mode is 'NT', not 'GS'")]
    public void Unstable_or_net_readings_are_skipped_not_errors(string line, string reason)
    {
        var r = ShippedScale().Parse(line);
        Assert.Equal(LineStatus.Skipped, r.Status);
        Assert.Equal(reason, r.SkipReason);
        Assert.Null(r.Error);
    }

    [Theory]
    [InlineData("ST,GS,+0012.34lb", LineErrorKind.Unit, "unit")]
    [InlineData("\u0000\u00ff\u0013garbage", LineErrorKind.NoMatch, "pattern")]
    [InlineData("2.34kg", LineErrorKind.NoMatch, "pattern")]
    [InlineData("ST,GS,+0012.3", LineErrorKind.NoMatch, "pattern")]
    public void A_bad_line_gives_a_typed_error_naming_the_field(string line, LineErrorKind kind, string field)
    {
        var r = ShippedScale().Parse(line);
        Assert.Equal(LineStatus.Bad, r.Status);
        Assert.Equal(kind, r.Error!.Kind);
        Assert.Equal(field, r.Error.Field);
        Assert.Empty(r.Values);
    }

    [Fact]
    public void A_group_that_matches_but_is_no_number_is_a_number_error_naming_the_group()
    {
        var f = Compile(@"^W(?<w>[0-9.]*)$", null, new LinePoint { Name = "lpg_mass_kg", Group = "w" });
        var twoDots = f.Parse("W00.12.34");
        Assert.Equal(LineErrorKind.Number, twoDots.Error!.Kind);
        Assert.Equal("w", twoDots.Error.Field);
        Assert.Equal(LineErrorKind.Number, f.Parse("W").Error!.Kind);
    }

    [Fact]
    public void Garbage_is_shown_printable_in_the_error_message()
    {
        var r = ShippedScale().Parse("\u0000\u0013ST");
        Assert.Contains("\\x00\\x13ST", r.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_xor_checksum_over_a_group_is_checked()
    {
        var f = Compile(@"^(?<body>T=(?<t>[0-9.]+)),(?<cs>[0-9A-Fa-f]{2})$", new LineChecksum { Kind = ChecksumKind.Xor, Group = "cs", Over = "body" },
            new LinePoint { Name = "kiln_temp_c", Group = "t" });
        var body = "T=1234.5";
        var good = $"{body},{LineFormat.Xor(body):X2}";
        Assert.Equal(1234.5, f.Parse(good).Value("kiln_temp_c"));
        var bad = f.Parse($"{body},{LineFormat.Xor(body) ^ 0x01:X2}");
        Assert.Equal(LineErrorKind.Checksum, bad.Error!.Kind);
        Assert.Equal("checksum", bad.Error.Field);
    }

    [Fact]
    public void A_sum8_checksum_is_the_byte_sum_modulo_256()
    {
        var f = Compile(@"^(?<body>W(?<w>[0-9]+))#(?<cs>[0-9A-F]{2})$", new LineChecksum { Kind = ChecksumKind.Sum8, Group = "cs", Over = "body" },
            new LinePoint { Name = "lpg_mass_kg", Group = "w", Scale = 0.01, Unit = "kg" });
        Assert.Equal(0x57 + 0x31 + 0x32 + 0x33 & 0xFF, LineFormat.Sum8("W123"));
        var r = f.Parse($"W001234#{LineFormat.Sum8("W001234"):X2}");
        Assert.Equal(12.34, r.Value("lpg_mass_kg"), 9);
        Assert.Equal(LineStatus.Bad, f.Parse("W001234#00").Status);
    }

    [Fact]
    public void An_nmea_checksum_covers_the_text_between_dollar_and_star()
    {
        var f = Compile(@"^\$KILN,(?<t>-?[0-9.]+),(?<sp>-?[0-9.]+)\*[0-9A-F]{2}$", new LineChecksum { Kind = ChecksumKind.Nmea },
            new LinePoint { Name = "kiln_temp_c", Group = "t", Unit = "°C" }, new LinePoint { Name = "kiln_setpoint_c", Group = "sp", Unit = "°C" });
        const string body = "KILN,1021.5,1050";
        var r = f.Parse($"${body}*{LineFormat.Xor(body):X2}");
        Assert.Equal(LineStatus.Good, r.Status);
        Assert.Equal(1021.5, r.Value("kiln_temp_c"));
        Assert.Equal(1050, r.Value("kiln_setpoint_c"));
        Assert.Equal(LineErrorKind.Checksum, f.Parse($"${body}*00").Error!.Kind);
        Assert.Equal(LineErrorKind.Checksum, f.Parse($"${body}").Error!.Kind);
    }

    [Fact]
    public void A_thermocouple_reader_printing_csv_maps_columns_with_scale_and_offset()
    {
        var f = Compile(@"^(?<ch1>-?[0-9]+),(?<ch2>-?[0-9]+)$", null,
            new LinePoint { Name = "kiln_temp_c", Group = "ch1", Scale = 0.1 }, new LinePoint { Name = "kiln_setpoint_c", Group = "ch2", Offset = -273 });
        var r = f.Parse("10215,1323");
        Assert.Equal(1021.5, r.Value("kiln_temp_c"), 9);
        Assert.Equal(1050, r.Value("kiln_setpoint_c"), 9);
    }

    [Fact]
    public void A_partial_line_does_not_match()
    {
        Assert.Equal(LineErrorKind.NoMatch, ShippedScale().Parse("ST,GS,+00").Error!.Kind);
        Assert.Equal(LineErrorKind.NoMatch, ShippedScale().Parse("12.34kg").Error!.Kind);
    }

    [Fact]
    public void Compiling_names_the_field_that_is_wrong()
    {
        var p = new LinePoint { Name = "lpg_mass_kg", Group = "mass" };
        var ex = Assert.Throws<LineFormatException>(() => Compile("^(?<weight>[0-9]+)$", null, p));
        Assert.Same(p, ex.Owner);
        Assert.Equal(nameof(LinePoint.Group), ex.Property);
        Assert.Contains("no group 'mass'", ex.Message, StringComparison.Ordinal);
    }
}
