using KhuyenCong.Cloud.Config;
using KhuyenCong.Configuration;

namespace KhuyenCong.Cloud.Tests;

public sealed class CloudConfigTests
{
    [Fact]
    public void A_minimal_config_uses_the_embedded_broker_and_the_v1_api()
    {
        var c = CloudConfigLoader.Parse("influx: { url: \"http://127.0.0.1:8086\" }", "cloud.yaml").Config;
        Assert.Null(c.Mqtt);
        Assert.Equal(1883, c.EmbeddedBroker.Port);
        Assert.Equal(InfluxApi.V1, c.Influx.Api);
        Assert.Equal("khuyencong", c.Influx.Database);
    }

    [Theory]
    [InlineData("influx:\n  url: http://x:8086\n  api: v3\n", "cloud.yaml:3:8: influx.api: 'v3' is not one of v1, v2")]
    [InlineData("influx:\n  url: http://x:8086\n  batch: 5\n", "cloud.yaml:3:3: influx.batch: unknown key 'batch'")]
    [InlineData("mqtt:\n  url: http://broker\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:2:8: mqtt.url: 'http://broker' is not a broker URL")]
    [InlineData("influx:\n  url: http://x:8086\n  api: v2\n", "cloud.yaml:2:3: influx.org: is required for api v2")]
    [InlineData("ingest: { batch_points: 0 }\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:1:25: ingest.batch_points: must be 1–100000")]
    [InlineData("mqtt: { url: \"mqtt://b\" }\n", "cloud.yaml:1:1: influx: required key 'influx' is missing")]
    public void Invalid_configs_name_the_file_line_and_field(string yaml, string expectedStart)
    {
        var ex = Assert.Throws<ConfigException>(() => CloudConfigLoader.Parse(yaml, "cloud.yaml"));
        Assert.StartsWith(expectedStart, ex.Message, StringComparison.Ordinal);
    }
}
