using System.Globalization;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.Modbus;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Profiles.Tests;

/// <summary>
/// testdata/profiles/&lt;profile&gt;/{registers, expected}: register values as a device sends them (from the sources in the
/// profile's README, e.g. the DTSU666's raw 4999 for 49.99 Hz) decode through the profile to the expected canonical values.
/// </summary>
public sealed class ProfileDecodingTests
{
    public static TheoryData<string> Cases => TestData.Cases("profiles");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Registers_as_the_device_sends_them_decode_to_the_expected_canonical_values(string profile)
    {
        var dir = Path.Combine(TestData.Root, "profiles", profile);
        var loaded = ProfileLoader.Load(Path.Combine(RepoPaths.Devices, profile, ProfileLoader.FileName));
        var image = new Dictionary<(RegisterTable, int), ushort>();
        foreach (var line in TestData.Lines(Path.Combine(dir, "registers")))
        {
            var table = Enum.Parse<RegisterTable>(line[0].Replace("_", "", StringComparison.Ordinal), ignoreCase: true);
            var address = TestData.Number(line[1]);
            for (var i = 2; i < line.Length; i++) image[(table, address + i - 2)] = (ushort)TestData.Number(line[i]);
        }

        foreach (var line in TestData.Lines(Path.Combine(dir, "expected")))
        {
            var point = loaded.Point(line[0]);
            var field = point.ToField(loaded.Profile.WordOrder);
            double raw;
            if (field.Table is RegisterTable.Coil or RegisterTable.DiscreteInput)
            {
                raw = RegisterCodec.DecodeBit(image.GetValueOrDefault((field.Table, field.Address)) != 0);
            }
            else
            {
                var regs = Enumerable.Range(field.Address, field.Width).Select(a => image.GetValueOrDefault((field.Table, a))).ToArray();
                raw = RegisterCodec.Decode(field, regs);
            }
            var expected = double.Parse(line[1], CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(point.FromField(raw) - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"{profile} {line[0]}: {point.FromField(raw)} ≠ {expected}");
        }
    }

}
