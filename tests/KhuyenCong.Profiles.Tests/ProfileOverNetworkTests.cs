using System.Globalization;
using System.Text.Json;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Outbox;
using KhuyenCong.Edge.Polling;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.Modbus;
using KhuyenCong.Simulator;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Profiles.Tests;

/// <summary>
/// Every shipped Modbus profile read over a real socket the way the edge agent reads it (planned requests, the bus
/// poller): from the project's simulator, and from a pymodbus server loaded with the profile's register image.
/// </summary>
public sealed class ProfileOverNetworkTests
{
    public static TheoryData<string> ModbusProfiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in ProfileLoader.All(RepoPaths.Devices))
        {
            var p = ProfileLoader.Load(file);
            if (!p.IsLineDevice) data.Add(p.Profile.Id);
        }
        return data;
    }

    public static TheoryData<string> ImageCases => TestData.Cases("profiles");

    [Theory]
    [MemberData(nameof(ModbusProfiles))]
    public async Task The_simulator_serves_the_profile_and_the_edge_reads_back_exactly_what_it_serves(string profile)
    {
        using var dir = new TempDirectory("kc-profile-sim");
        var port = FreePort.Next();
        var file = dir.File("gw.yaml");
        File.WriteAllText(file, $$"""
            site: s
            gateway: g
            profiles_dir: {{RepoPaths.Devices}}
            mqtt: { url: "mqtt://127.0.0.1:1" }
            buses: [ { id: lan, type: tcp, host: 127.0.0.1, port: {{port}} } ]
            devices: [ { id: dev, bus: lan, profile: {{profile}}, unit: 7, kiln: kiln-1 } ]
            """);
        var gw = GatewayConfigLoader.Load(file);
        await using var sim = new SimulatorHost(gw, timeScale: 0);
        sim.Advance(TimeSpan.FromHours(3));
        await sim.StartAsync(default);

        var readings = await PollAsync(gw.ProfilesByDevice["dev"], port, unit: 7);
        Assert.Equal(gw.ProfilesByDevice["dev"].Profile.Points.Select(p => p.Name).Order(), readings.Keys.Order());
        foreach (var (point, value) in readings) Assert.Equal(sim.Served("dev", point), value);
    }

    [Theory]
    [MemberData(nameof(ImageCases))]
    public async Task A_pymodbus_server_loaded_with_the_register_image_reads_as_expected(string profile)
    {
        var loaded = ProfileLoader.Load(Path.Combine(RepoPaths.Devices, profile, ProfileLoader.FileName));
        var caseDir = Path.Combine(TestData.Root, "profiles", profile);
        // Every register the edge will ask for exists on the device (zero unless the image says otherwise), including
        // the unused ones a planned read spans.
        var image = new Dictionary<string, Dictionary<string, int>> { ["hr"] = [], ["ir"] = [], ["co"] = [], ["di"] = [] };
        var rq = loaded.Profile.Requests;
        foreach (var r in RequestPlanner.Plan(loaded.Fields(), new PlannerOptions { MaxRegisters = rq.MaxRegisters, MaxGap = rq.MaxGap, OneRequestPerField = rq.OnePerPoint }))
        {
            for (var a = (int)r.Address; a < r.Address + r.Count; a++) image[Key(r.Table)][a.ToString(CultureInfo.InvariantCulture)] = 0;
        }
        foreach (var line in TestData.Lines(Path.Combine(caseDir, "registers")))
        {
            var table = Enum.Parse<RegisterTable>(line[0].Replace("_", "", StringComparison.Ordinal), ignoreCase: true);
            var address = TestData.Number(line[1]);
            for (var i = 2; i < line.Length; i++) image[Key(table)][(address + i - 2).ToString(CultureInfo.InvariantCulture)] = TestData.Number(line[i]);
        }
        using var dir = new TempDirectory("kc-profile-image");
        var json = dir.File("image.json");
        await File.WriteAllTextAsync(json, JsonSerializer.Serialize(new Dictionary<string, object> { ["unit"] = 3, ["hr"] = image["hr"], ["ir"] = image["ir"], ["co"] = image["co"], ["di"] = image["di"] }));
        var (server, port) = await Peers.PyModbusImageAsync(json);
        await using (server)
        {
            var readings = await PollAsync(loaded, port, unit: 3);
            foreach (var line in TestData.Lines(Path.Combine(caseDir, "expected")))
            {
                var expected = double.Parse(line[1], CultureInfo.InvariantCulture);
                Assert.True(readings.TryGetValue(line[0], out var got), $"{profile}: no reading for {line[0]}");
                Assert.True(Math.Abs(got - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"{profile} {line[0]}: read {got}, expected {expected}");
            }
        }
    }

    private static async Task<Dictionary<string, double>> PollAsync(LoadedProfile profile, int port, byte unit)
    {
        await using var master = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = port, ResponseTimeout = TimeSpan.FromSeconds(3) });
        var device = new PolledDevice(new DeviceConfig { Id = "dev", Bus = "lan", Profile = profile.Profile.Id, Unit = unit, Timeout = TimeSpan.FromSeconds(3) }, profile);
        var outbox = new MemoryOutbox();
        var poller = new BusPoller("lan", master, [device], outbox, TimeProvider.System, NullLogger.Instance);
        Assert.True(await poller.PollOnceAsync(device, default), $"{profile.Profile.Id}: poll failed: {device.Health.LastError}");
        return (await outbox.PeekAsync(1000, default)).ToDictionary(r => r.Reading.Point, r => r.Reading.Value);
    }

    private static string Key(RegisterTable t) => t switch
    {
        RegisterTable.HoldingRegister => "hr",
        RegisterTable.InputRegister => "ir",
        RegisterTable.Coil => "co",
        _ => "di",
    };

}
