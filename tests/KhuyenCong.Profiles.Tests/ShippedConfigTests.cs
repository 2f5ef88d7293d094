using KhuyenCong.Contracts;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Profiles.Tests;

public sealed class ShippedConfigTests
{
    public static TheoryData<string> Profiles => TestData.ShippedProfiles();

    public static TheoryData<string> Gateways => ["bat-trang-gas-workshop.yaml", "bat-trang-electric-studio.yaml"];

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Every_shipped_profile_loads_and_validates(string folder)
    {
        var loaded = ProfileLoader.Load(Path.Combine(RepoPaths.Devices, folder, ProfileLoader.FileName));
        var p = loaded.Profile;
        Assert.Equal(folder, p.Id);
        Assert.False(string.IsNullOrWhiteSpace(p.Source), "a profile names where its register map comes from");
        Assert.Equal(p.Lines is not null, loaded.LineFormat is not null);
        var names = p.Lines is null ? p.Points.Select(x => x.Name) : p.Lines.Points.Select(x => x.Name);
        Assert.All(names, n => Assert.True(CanonicalPoints.TryGet(n, out var d) && d.Class == p.Class, $"{n} belongs to class {d?.Class}, the profile is {p.Class}"));
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Every_shipped_profile_has_a_readme_and_points_editors_at_the_schema(string folder)
    {
        var dir = Path.Combine(RepoPaths.Devices, folder);
        Assert.True(File.Exists(Path.Combine(dir, "README.md")), $"{folder} has no README.md");
        var first = File.ReadLines(Path.Combine(dir, ProfileLoader.FileName)).First();
        Assert.Equal("# yaml-language-server: $schema=../../schema/profile.schema.json", first);
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Every_point_of_a_shipped_profile_declares_its_canonical_unit(string folder)
    {
        var p = ProfileLoader.Load(Path.Combine(RepoPaths.Devices, folder, ProfileLoader.FileName)).Profile;
        var units = p.Lines is null ? p.Points.Select(x => (x.Name, x.Unit)) : p.Lines.Points.Select(x => (x.Name, x.Unit));
        foreach (var (name, unit) in units)
        {
            CanonicalPoints.TryGet(name, out var def);
            Assert.Equal(def.Unit, unit ?? "");
        }
    }

    [Theory]
    [MemberData(nameof(Gateways))]
    public void The_shipped_gateway_configs_validate_with_every_profile_they_use(string file)
    {
        var path = Path.Combine(RepoPaths.Gateways, file);
        var g = GatewayConfigLoader.Load(path);
        Assert.Equal(g.Config.Devices.Count, g.ProfilesByDevice.Count);
        Assert.Equal("# yaml-language-server: $schema=../schema/gateway.schema.json", File.ReadLines(path).First());
        Assert.True(g.Config.Mqtt.PasswordFile is not null || g.Config.Mqtt.PasswordEnv is not null, "credentials by reference");
        Assert.Contains(g.ProfilesByDevice.Values, p => p.Profile.Class == DeviceClasses.Kiln);
        Assert.Contains(g.ProfilesByDevice.Values, p => p.Profile.Class == DeviceClasses.Meter);
    }

    [Fact]
    public void The_gas_workshop_has_a_kiln_controller_an_lpg_scale_and_a_main_meter_on_one_rs485_bus()
    {
        var g = GatewayConfigLoader.Load(Path.Combine(RepoPaths.Gateways, "bat-trang-gas-workshop.yaml"));
        var rs485 = Assert.Single(g.Config.Buses, b => b.Type == BusType.Rtu);
        Assert.Equal("/dev/ttyUSB0", rs485.Device);
        var onRs485 = g.Config.Devices.Where(d => d.Bus == rs485.Id).Select(d => g.ProfilesByDevice[d.Id].Profile.Id).ToList();
        Assert.Contains("chint-dtsu666", onRs485);
        Assert.Contains(onRs485, id => g.ProfilesByDevice.Values.First(p => p.Profile.Id == id).Profile.Points.Any(x => x.Name == "lpg_mass_kg"));
        Assert.Contains(onRs485, id => g.ProfilesByDevice.Values.First(p => p.Profile.Id == id).Profile.Class == DeviceClasses.Kiln);
    }

    [Theory]
    [MemberData(nameof(ValidCases))]
    public void Valid_extra_configs_load(string name)
    {
        var g = GatewayConfigLoader.Load(Path.Combine(TestData.Root, "valid", name, "gateway.yaml"));
        Assert.NotEmpty(g.Config.Devices);
    }

    public static TheoryData<string> ValidCases => TestData.Cases("valid");

    [Fact]
    public void A_line_device_on_an_ascii_bus_loads_with_its_compiled_line_format()
    {
        var g = GatewayConfigLoader.Load(Path.Combine(TestData.Root, "valid", "gateway-with-ascii-scale", "gateway.yaml"));
        var scale = g.ProfilesByDevice["kiln1-lpg-scale"];
        Assert.True(scale.IsLineDevice);
        Assert.NotNull(scale.LineFormat);
        Assert.Equal(BusType.Ascii, g.Bus("scale-port").Type);
    }
}
