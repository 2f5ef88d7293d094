using KhuyenCong.Cloud.Influx;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Tests;

public sealed class LineProtocolTests
{
    private static readonly DateTimeOffset T = DateTimeOffset.FromUnixTimeMilliseconds(1_764_316_800_250);

    private static TelemetryBatch Batch(params Reading[] readings) => new()
    {
        Site = "bat-trang",
        Gateway = "gw-1",
        Sequence = 3,
        Sent = T,
        Devices =
        [
            new DeviceInfo { Id = "kiln1-meter", Class = DeviceClasses.Meter, Kiln = "kiln-1" },
            new DeviceInfo { Id = "main-meter", Class = DeviceClasses.Meter },
            new DeviceInfo { Id = "kiln1-ctl", Class = DeviceClasses.Kiln, Kiln = "kiln-1" },
        ],
        Readings = readings,
    };

    private static Reading R(string device, string point, double value, string unit, DateTimeOffset? ts = null, string quality = Qualities.Good) =>
        new() { Device = device, Point = point, Value = value, Unit = unit, Timestamp = ts ?? T, Quality = quality };

    [Fact]
    public void Readings_of_one_device_at_one_instant_become_one_line_in_the_measurement_of_its_class()
    {
        var lines = LineProtocol.FromBatch(Batch(
            R("kiln1-meter", "energy_import_kwh", 10234.5, "kWh"),
            R("kiln1-meter", "power_w", 12750, "W"),
            R("kiln1-ctl", "kiln_temp_c", 1187, "°C"))).Select(p => p.ToLineProtocol()).ToList();
        Assert.Equal(
        [
            "meter,device=kiln1-meter,gateway=gw-1,kiln=kiln-1,site=bat-trang energy_import_kwh=10234.5,power_w=12750 1764316800250",
            "kiln,device=kiln1-ctl,gateway=gw-1,kiln=kiln-1,site=bat-trang kiln_temp_c=1187 1764316800250",
        ], lines);
    }

    [Fact]
    public void A_device_without_a_kiln_has_no_kiln_tag_and_different_instants_are_different_lines()
    {
        var lines = LineProtocol.FromBatch(Batch(
            R("main-meter", "power_w", 600, "W"),
            R("main-meter", "power_w", 650, "W", T.AddSeconds(2)))).Select(p => p.ToLineProtocol()).ToList();
        Assert.Equal(
        [
            "meter,device=main-meter,gateway=gw-1,site=bat-trang power_w=600 1764316800250",
            "meter,device=main-meter,gateway=gw-1,site=bat-trang power_w=650 1764316802250",
        ], lines);
    }

    [Fact]
    public void Uncertain_readings_are_written_and_marked_on_their_line()
    {
        var line = Assert.Single(LineProtocol.FromBatch(Batch(R("kiln1-ctl", "kiln_temp_c", 20, "°C", quality: Qualities.Uncertain))));
        Assert.Equal("kiln,device=kiln1-ctl,gateway=gw-1,kiln=kiln-1,site=bat-trang kiln_temp_c=20,quality=\"uncertain\" 1764316800250", line.ToLineProtocol());
    }

    [Fact]
    public void Counter_values_are_floats_never_unsigned_integers()
    {
        // InfluxDB 1.x rejects the 'u' suffix; a whole number must still be written as a float field.
        var line = Assert.Single(LineProtocol.FromBatch(Batch(R("kiln1-meter", "energy_import_kwh", 12000, "kWh")))).ToLineProtocol();
        Assert.Contains("energy_import_kwh=12000 ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("12000u", line, StringComparison.Ordinal);
        Assert.DoesNotContain("12000i", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_status_becomes_an_online_flag()
    {
        var p = LineProtocol.FromStatus("bat-trang", "gw-1", new GatewayStatus { State = GatewayStatus.Offline, Timestamp = T });
        Assert.Equal("gateway_status,gateway=gw-1,site=bat-trang online=0 1764316800250", p.ToLineProtocol());
    }

    [Fact]
    public void Tag_values_and_string_fields_are_escaped_as_line_protocol_requires()
    {
        // Ids on the wire cannot hold these characters (Identifiers.IsValid), but the builder must still be safe.
        var p = LineProtocol.FromStatus("bat trang,a=b", "gw\\1", new GatewayStatus { State = GatewayStatus.Online, Timestamp = T });
        Assert.Equal("gateway_status,gateway=gw\\1,site=bat\\ trang\\,a\\=b online=1 1764316800250", p.ToLineProtocol());
    }

    [Fact]
    public void One_uncertain_reading_marks_its_whole_line_and_no_other()
    {
        var lines = LineProtocol.FromBatch(Batch(
            R("kiln1-meter", "power_w", 12750, "W", quality: Qualities.Uncertain),
            R("kiln1-meter", "energy_import_kwh", 10234.5, "kWh"),
            R("kiln1-meter", "power_w", 12800, "W", T.AddSeconds(1)))).Select(p => p.ToLineProtocol()).ToList();
        Assert.Equal(
        [
            "meter,device=kiln1-meter,gateway=gw-1,kiln=kiln-1,site=bat-trang energy_import_kwh=10234.5,power_w=12750,quality=\"uncertain\" 1764316800250",
            "meter,device=kiln1-meter,gateway=gw-1,kiln=kiln-1,site=bat-trang power_w=12800 1764316801250",
        ], lines);
    }

    [Fact]
    public void Fractions_and_large_counters_keep_their_exact_value()
    {
        var line = Assert.Single(LineProtocol.FromBatch(Batch(
            R("kiln1-meter", "energy_import_kwh", 123456789.125, "kWh"),
            R("kiln1-meter", "power_factor", 0.1, "")))).ToLineProtocol();
        Assert.Equal("meter,device=kiln1-meter,gateway=gw-1,kiln=kiln-1,site=bat-trang energy_import_kwh=123456789.125,power_factor=0.1 1764316800250", line);
    }

    [Fact]
    public void Timestamps_keep_their_milliseconds_and_the_precision_is_milliseconds()
    {
        var p = Assert.Single(LineProtocol.FromBatch(Batch(R("main-meter", "power_w", 1, "W", DateTimeOffset.FromUnixTimeMilliseconds(1_764_316_800_001)))));
        Assert.Equal(InfluxDB.Client.Api.Domain.WritePrecision.Ms, p.Precision);
        Assert.EndsWith(" 1764316800001", p.ToLineProtocol(), StringComparison.Ordinal);
    }
}
