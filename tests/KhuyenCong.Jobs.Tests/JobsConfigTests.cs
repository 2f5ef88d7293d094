using KhuyenCong.Cloud.Config;
using KhuyenCong.Configuration;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Jobs.Tests;

/// <summary>The <c>jobs</c> section of cloud.yaml: defaults, and errors that name the place.</summary>
public sealed class JobsConfigTests
{
    private static string Registry => Path.Combine(RepoPaths.Root, "firmware-config", "sites", "sites.yaml");

    [Fact]
    public void Defaults_run_every_minute_over_two_days()
    {
        var c = CloudConfigLoader.Parse($"influx: {{ url: \"http://x:8086\" }}\nregistry: {Registry}\njobs: {{}}\n", "cloud.yaml").Config;
        Assert.NotNull(c.Jobs);
        Assert.True(c.Jobs.Enabled);
        Assert.Equal(TimeSpan.FromMinutes(1), c.Jobs.Interval);
        Assert.Equal(TimeSpan.FromDays(2), c.Jobs.Window);
        Assert.Equal(TimeSpan.FromMinutes(30), c.Jobs.MinFiring);
    }

    [Theory]
    [InlineData("influx: { url: \"http://x:8086\" }\njobs:\n  interval: 1m\n", "cloud.yaml:3:3: jobs: the analytics jobs need the site registry: set registry")]
    [InlineData("influx: { url: \"http://x:8086\" }\nregistry: REG\njobs:\n  interval: 10ms\n", "cloud.yaml:4:13: jobs.interval: must be at least 1s")]
    [InlineData("influx: { url: \"http://x:8086\" }\nregistry: REG\njobs:\n  window: 10m\n", "cloud.yaml:4:11: jobs.window: must be 1h–400d")]
    [InlineData("influx: { url: \"http://x:8086\" }\nregistry: REG\njobs:\n  counter_modulus: { main-meter: 65536 }\n", "jobs.counter_modulus: 'main-meter' is not 'site/device'")]
    public void Bad_values_are_refused_with_their_place(string yaml, string message)
    {
        var ex = Assert.Throws<ConfigException>(() => CloudConfigLoader.Parse(yaml.Replace("REG", Registry, StringComparison.Ordinal), "cloud.yaml"));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }
}
