using System.Text;
using System.Text.Json;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Tests;

public sealed class WireContractTests
{
    private static readonly DateTimeOffset T = new(2026, 11, 28, 8, 15, 30, 250, TimeSpan.Zero);

    private static TelemetryBatch Batch() => new()
    {
        Site = "bat-trang",
        Gateway = "gw-1",
        Sequence = 42,
        Sent = T,
        Devices = [new DeviceInfo { Id = "m1", Class = DeviceClasses.Meter, Kiln = "kiln-1", Profile = "eastron-sdm630" }],
        Readings = [new Reading { Device = "m1", Point = "energy_import_kwh", Timestamp = T, Value = 10234.5, Unit = "kWh" }],
    };

    [Fact]
    public void A_batch_survives_encoding_and_decoding_unchanged_with_utc_millisecond_timestamps()
    {
        var json = Encoding.UTF8.GetString(TelemetryCodec.Encode(Batch()));
        Assert.Contains("\"ts\":\"2026-11-28T08:15:30.250Z\"", json, StringComparison.Ordinal);
        var back = TelemetryCodec.Decode(Encoding.UTF8.GetBytes(json));
        Assert.Equal(Batch().Readings.Single(), back.Readings.Single());
        Assert.Equal(Batch().Devices.Single(), back.Devices.Single());
        Assert.Equal(42, back.Sequence);
    }

    [Theory]
    [InlineData("\"unit\":\"kWh\"", "\"unit\":\"Wh\"", "readings[0].unit: 'Wh' does not match the unit of energy_import_kwh ('kWh')")]
    [InlineData("\"class\":\"meter\"", "\"class\":\"boiler\"", "devices[0].class: 'boiler' is not one of")]
    [InlineData("\"device\":\"m1\"", "\"device\":\"m2\"", "readings[0].device: 'm2' is not listed in devices")]
    [InlineData("\"v\":1", "\"v\":2", "v: unsupported version 2")]
    [InlineData("\"site\":\"bat-trang\"", "\"site\":\"bat trang\"", "site: 'bat trang' is not a valid id")]
    [InlineData("08:15:30.250Z\",\"value\"", "08:15:30.250+07:00\",\"value\"", "readings[0].ts: ")]
    [InlineData("\"value\":10234.5", "\"value\":\"10234.5\"", "readings[0].value: ")]
    [InlineData("\"quality\":\"good\"", "\"quality\":\"bad\"", "readings[0].quality: 'bad' is not one of good, uncertain")]
    public void Every_violation_names_its_place(string find, string replace, string expectedStart)
    {
        var json = Encoding.UTF8.GetString(TelemetryCodec.Encode(Batch()));
        Assert.Contains(find, json, StringComparison.Ordinal);
        var bad = json.Replace(find, replace, StringComparison.Ordinal);
        var ex = Assert.Throws<ContractViolationException>(() => TelemetryCodec.Decode(Encoding.UTF8.GetBytes(bad)));
        Assert.StartsWith(expectedStart, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_payloads_are_refused_before_parsing()
    {
        var ex = Assert.Throws<ContractViolationException>(() => TelemetryCodec.Decode(new byte[TelemetryCodec.MaxPayloadBytes + 1]));
        Assert.StartsWith("payload: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Topics_parse_only_the_v1_tree()
    {
        Assert.True(Topics.TryParse("kc/v1/bat-trang/gw-1/telemetry", out var site, out var gw, out var kind));
        Assert.Equal(("bat-trang", "gw-1", "telemetry"), (site, gw, kind));
        Assert.False(Topics.TryParse("kc/v2/a/b/telemetry", out _, out _, out _));
        Assert.False(Topics.TryParse("kc/v1/a/b", out _, out _, out _));
        Assert.False(Topics.TryParse("kc/v1/a b/g/telemetry", out _, out _, out _));
    }

    [Fact]
    public void The_json_schema_lists_exactly_the_canonical_points()
    {
        using var schema = JsonDocument.Parse(WireSchema.TelemetryJson());
        var points = schema.RootElement.GetProperty("properties").GetProperty("readings").GetProperty("items")
            .GetProperty("properties").GetProperty("point").GetProperty("enum").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(CanonicalPoints.All.Select(p => p.Name).Order(), points.Order());
    }
}
