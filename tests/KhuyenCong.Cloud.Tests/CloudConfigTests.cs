using KhuyenCong.Cloud.Config;
using KhuyenCong.Configuration;
using KhuyenCong.TestSupport;

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
    [InlineData("influx:\n  url: http://x:8086\n  api: v2\n  org: o\n  bucket: b\n", "cloud.yaml:2:3: influx.token_file: is required for api v2")]
    [InlineData("ingest: { batch_points: 0 }\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:1:25: ingest.batch_points: must be 1–100000")]
    [InlineData("mqtt: { url: \"mqtt://b\" }\n", "cloud.yaml:1:1: influx: required key 'influx' is missing")]
    [InlineData("mqtt:\n  url: mqtt://b\n  shared_group: \"a/b\"\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:3:17: mqtt.shared_group: must be a plain name")]
    [InlineData("mqtt:\n  url: mqtt://b\n  subscriptions: [\"$share/g/kc/#\"]\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:3:18: mqtt.subscriptions: [0] '$share/g/kc/#' must not start with $share/: set shared_group instead")]
    [InlineData("mqtt:\n  url: mqtt://b\n  subscriptions: [\"kc/#/x\"]\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:3:18: mqtt.subscriptions: [0] 'kc/#/x' may have '#' only as its last level")]
    [InlineData("mqtt:\n  url: mqtt://b\n  subscriptions: []\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:3:18: mqtt.subscriptions: needs at least one topic filter")]
    [InlineData("mqtt:\n  url: mqtt://b\n  session_expiry: 0s\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:3:19: mqtt.session_expiry: must be at least 1s")]
    [InlineData("mqtt:\n  url: mqtt://b\n  username: u\n  password_file: no-such-secret\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:4:18: mqtt.password_file: '")]
    [InlineData("influx:\n  url: http://x:8086\n  token_file: t\n", "cloud.yaml:3:15: influx.token_file: is for api v2")]
    [InlineData("embedded_broker: { bind: localhost }\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:1:26: embedded_broker.bind: 'localhost' is not an IP address")]
    [InlineData("embedded_broker: { port: 70000 }\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:1:26: embedded_broker.port: must be 0–65535")]
    public void Invalid_configs_name_the_file_line_and_field(string yaml, string expectedStart)
    {
        var ex = Assert.Throws<ConfigException>(() => CloudConfigLoader.Parse(yaml, "cloud.yaml"));
        Assert.StartsWith(expectedStart, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Subscriptions_default_to_telemetry_and_status_of_every_gateway()
    {
        var c = CloudConfigLoader.Parse("mqtt: { url: \"mqtt://b:1884\" }\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml").Config;
        Assert.Equal(["kc/v1/+/+/telemetry", "kc/v1/+/+/status"], c.Mqtt!.Subscriptions);
        Assert.Null(c.Mqtt.SharedGroup);
        Assert.Equal(TimeSpan.FromDays(1), c.Mqtt.SessionExpiry);
    }

    [Fact]
    public void Errors_in_a_file_name_its_path_line_and_field_and_secret_files_are_found_beside_it()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("token"), "s3cret\n");
        File.WriteAllText(dir.File("ok.yaml"), "influx:\n  url: http://x:8086\n  api: v2\n  org: o\n  bucket: b\n  token_file: token\n");
        Assert.Equal("token", CloudConfigLoader.Load(dir.File("ok.yaml")).Config.Influx.TokenFile);

        File.WriteAllText(dir.File("bad.yaml"), "influx:\n  url: http://x:8086\n  api: v2\n  org: o\n  bucket: b\n  token_file: missing-token\n");
        var ex = Assert.Throws<ConfigException>(() => CloudConfigLoader.Load(dir.File("bad.yaml")));
        Assert.Equal($"{dir.File("bad.yaml")}:6:15: influx.token_file: '{dir.File("missing-token")}' does not exist", ex.Message);
    }

    [Fact]
    public void The_shipped_sample_config_is_valid()
    {
        var c = CloudConfigLoader.Load(Path.Combine(RepoPaths.Root, "firmware-config", "cloud", "cloud.yaml")).Config;
        Assert.Equal(InfluxApi.V1, c.Influx.Api);
        Assert.NotNull(c.Mqtt);
    }
}
