using KhuyenCong.Configuration;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Edge.Tests;

public sealed class GatewayConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new("kc-config");

    private const string Valid = """
        site: bat-trang-1
        gateway: gw-01
        profiles_dir: {DEVICES}
        mqtt:
          url: mqtt://broker.example:1883
          username: gw-01
          password_file: mqtt-password
        buses:
          - id: rs485
            type: rtu
            device: /dev/ttyUSB0
            baud: 9600
          - id: lan
            type: tcp
            host: 192.0.2.10
            port: 502
        devices:
          - id: kiln1-meter
            bus: rs485
            profile: eastron-sdm630
            unit: 1
            poll_interval: 5s
            kiln: kiln-1
          - id: kiln1-ctl
            bus: rs485
            profile: autonics-tk
            unit: 2
            kiln: kiln-1
        """;

    private string Write(string yaml, string name = "gateway.yaml")
    {
        var path = _dir.File(name);
        File.WriteAllText(path, yaml.Replace("{DEVICES}", RepoPaths.Devices, StringComparison.Ordinal));
        return path;
    }

    [Fact]
    public void The_shipped_demo_gateway_and_every_shipped_profile_load()
    {
        var demo = GatewayConfigLoader.Load(Path.Combine(RepoPaths.Gateways, "demo-workshop.yaml"));
        Assert.Equal("bat-trang-demo", demo.Config.Site);
        var all = ProfileLoader.All(RepoPaths.Devices).Select(ProfileLoader.Load).ToList();
        Assert.Contains(all, p => p.Profile.Id == "eastron-sdm630");
        Assert.All(all, p => Assert.Equal(Path.GetFileName(Path.GetDirectoryName(p.File)), p.Profile.Id));
    }

    [Fact]
    public void A_valid_config_loads_with_defaults_filled_in()
    {
        var g = GatewayConfigLoader.Load(Write(Valid));
        Assert.Equal(2, g.Config.Devices.Count);
        Assert.Equal(TimeSpan.FromSeconds(5), g.Config.Devices[1].PollInterval);
        Assert.Equal("autonics-tk", g.ProfilesByDevice["kiln1-ctl"].Profile.Id);
        Assert.Equal(Path.Combine(_dir.Path, "outbox.db"), g.OutboxPath);
    }

    [Theory]
    [InlineData("poll_interval: 5s", "poll_interval: often", ":22:20: devices[0].poll_interval: 'often' is not a valid duration")]
    [InlineData("    baud: 9600", "    baud: 9600\n    speed: 9600", ":13:5: buses[0].speed: unknown key 'speed'")]
    [InlineData("    unit: 2", "    unit: 1", ":27:11: devices[1].unit: unit id 1 is already used by device 'kiln1-meter' on bus 'rs485'")]
    [InlineData("profile: autonics-tk", "profile: no-such-meter", ":26:14: devices[1].profile: profile 'no-such-meter' not found")]
    [InlineData("bus: rs485\n    profile: autonics-tk", "bus: rs486\n    profile: autonics-tk", ":25:10: devices[1].bus: no bus 'rs486' is defined")]
    [InlineData("url: mqtt://broker.example:1883", "url: broker.example", ":5:8: mqtt.url: 'broker.example' is not a broker URL")]
    [InlineData("site: bat-trang-1", "site: bat trang/1", ":1:7: site: 'bat trang/1' is not a valid id")]
    [InlineData("    unit: 2", "    unit: 300", ":27:11: devices[1].unit: '300' is not a valid integer 0–255")]
    public void Invalid_configs_name_the_file_line_and_field(string find, string replace, string expected)
    {
        var yaml = Valid.Replace(find, replace, StringComparison.Ordinal);
        Assert.NotEqual(Valid, yaml);
        var path = Write(yaml);
        var ex = Assert.Throws<ConfigException>(() => GatewayConfigLoader.Load(path));
        Assert.Equal(path + expected, ex.Message[..Math.Min(ex.Message.Length, (path + expected).Length)]);
    }

    [Fact]
    public void A_profile_without_the_points_its_class_needs_is_refused_with_its_place()
    {
        var profile = Write("""
            id: bad-meter
            vendor: Test
            model: No energy
            class: meter
            points:
              - { name: power_w, table: input_register, address: 0, type: float32, unit: W }
            """, "bad-meter.yaml");
        var ex = Assert.Throws<ConfigException>(() => ProfileLoader.Load(profile));
        Assert.Equal($"{profile}:6:3: points: a meter profile must map 'energy_import_kwh'", ex.Message);
    }

    [Fact]
    public void Overlapping_registers_in_a_profile_are_refused()
    {
        var profile = Write("""
            id: overlap
            vendor: Test
            model: Overlap
            class: meter
            points:
              - { name: energy_import_kwh, table: input_register, address: 72, type: float32, unit: kWh }
              - { name: power_w, table: input_register, address: 73, type: float32, unit: W }
            """, "overlap.yaml");
        var ex = Assert.Throws<ConfigException>(() => ProfileLoader.Load(profile));
        Assert.Equal($"{profile}:7:54: points[1].address: input register 73 overlaps 'energy_import_kwh' at 72 (2 registers)", ex.Message);
    }

    [Fact]
    public void A_unit_that_is_not_the_canonical_one_is_refused()
    {
        var profile = Write("""
            id: kw-meter
            vendor: Test
            model: kW
            class: meter
            points:
              - { name: energy_import_kwh, table: input_register, address: 0, type: float32, unit: kWh }
              - { name: power_w, table: input_register, address: 2, type: float32, unit: kW }
            """, "kw.yaml");
        var ex = Assert.Throws<ConfigException>(() => ProfileLoader.Load(profile));
        Assert.Contains("points[1].unit: 'kW' is not the unit of power_w ('W'); scale the register to it", ex.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();
}

public sealed class YamlKeyNamingTests
{
    [Theory]
    [InlineData("PollInterval", "poll_interval")]
    [InlineData("UInt16", "uint16")]
    [InlineData("Float32", "float32")]
    [InlineData("HoldingRegister", "holding_register")]
    [InlineData("ABCD", "abcd")]
    [InlineData("CaFile", "ca_file")]
    [InlineData("Id", "id")]
    public void Property_and_enum_names_become_snake_case_keys(string name, string key) =>
        Assert.Equal(key, KhuyenCong.Configuration.YamlBinder.ToSnake(name));

    [Fact]
    public void An_invalid_type_lists_the_choices_as_they_are_written_in_yaml()
    {
        using var dir = new KhuyenCong.TestSupport.TempDirectory("kc-naming");
        var file = dir.File("p.yaml");
        File.WriteAllText(file, """
            id: x
            vendor: T
            model: T
            class: meter
            points:
              - { name: energy_import_kwh, table: input_register, address: 0, type: float16 }
            """);
        var ex = Assert.Throws<KhuyenCong.Configuration.ConfigException>(() => KhuyenCong.Edge.Profiles.ProfileLoader.Load(file));
        Assert.Contains("'float16' is not one of bit, int16, uint16, int32, uint32, int64, uint64, float32, float64, string", ex.Message, StringComparison.Ordinal);
    }
}
