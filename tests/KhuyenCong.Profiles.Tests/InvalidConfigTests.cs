using KhuyenCong.Configuration;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Profiles;

namespace KhuyenCong.Profiles.Tests;

/// <summary>
/// testdata/invalid/&lt;case&gt;/{gateway.yaml or profile.yaml, expected.txt}: loading fails with an error naming the file,
/// then "line:column: field: message" as written in expected.txt (the message may go on after it).
/// </summary>
public sealed class InvalidConfigTests
{
    public static TheoryData<string> Cases => TestData.Cases("invalid");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Invalid_configs_produce_the_documented_error_naming_file_line_and_field(string name)
    {
        var dir = Path.Combine(TestData.Root, "invalid", name);
        var gateway = Path.Combine(dir, "gateway.yaml");
        var file = File.Exists(gateway) ? gateway : Path.Combine(dir, ProfileLoader.FileName);
        var expected = File.ReadAllText(Path.Combine(dir, "expected.txt")).Trim();

        var ex = Assert.Throws<ConfigException>(() =>
        {
            if (file == gateway) GatewayConfigLoader.Load(file);
            else ProfileLoader.Load(file);
        });

        var prefix = $"{Path.GetFullPath(file)}:{expected}";
        Assert.True(ex.Message.StartsWith(prefix, StringComparison.Ordinal), $"expected an error starting\n  {prefix}\ngot\n  {ex.Message}");
    }

    [Fact]
    public void Every_invalid_case_has_exactly_one_config_and_an_expected_error()
    {
        foreach (var dir in Directory.EnumerateDirectories(Path.Combine(TestData.Root, "invalid")))
        {
            var configs = new[] { "gateway.yaml", ProfileLoader.FileName }.Count(f => File.Exists(Path.Combine(dir, f)));
            Assert.True(configs == 1, $"{dir}: needs gateway.yaml or profile.yaml");
            Assert.True(File.Exists(Path.Combine(dir, "expected.txt")), $"{dir}: needs expected.txt");
        }
    }
}
