using KhuyenCong.Cloud.Broker;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Cloud.Tests.Support;
using KhuyenCong.Configuration;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Cloud.Tests;

/// <summary>The password file format, the topic rules and the security settings, without servers.</summary>
public sealed class BrokerSecurityUnitTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("sha512-pbkdf2")]
    [InlineData("sha512")]
    public void Passwords_hashed_by_mosquitto_passwd_verify_and_wrong_ones_do_not(string? hash)
    {
        using var dir = new TempDirectory("kc-passwd");
        var file = dir.File("passwd");
        Secure.MosquittoPasswd(file, "gw-a", "correct horse:battery$staple", create: true, hash: hash);
        Secure.MosquittoPasswd(file, "gw-b", "Mật khẩu-ü-✓", hash: hash);
        var text = File.ReadAllText(file);
        Assert.StartsWith(hash == "sha512" ? "gw-a:$6$" : "gw-a:$7$101$", text, StringComparison.Ordinal);

        var p = MosquittoPasswordFile.Load(file);
        Assert.Equal(["gw-a", "gw-b"], p.Users.Order());
        Assert.True(p.Verify("gw-a", "correct horse:battery$staple"));
        Assert.True(p.Verify("gw-b", "Mật khẩu-ü-✓"));
        Assert.False(p.Verify("gw-a", "correct horse:battery$stapl"));
        Assert.False(p.Verify("gw-a", "Mật khẩu-ü-✓"));
        Assert.False(p.Verify("gw-a", ""));
        Assert.False(p.Verify("gw-c", "correct horse:battery$staple"));
        Assert.False(p.Verify(null, null));
    }

    [Fact]
    public void A_line_hashed_here_is_the_same_format_and_verifies()
    {
        var line = MosquittoPasswordFile.HashLine("ingestor", "pw-1", iterations: 1000);
        Assert.Matches(@"^ingestor:\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$", line);
        var p = MosquittoPasswordFile.Parse($"# users\n\n{line}\r\n", "passwd");
        Assert.True(p.Verify("ingestor", "pw-1"));
        Assert.False(p.Verify("ingestor", "pw-2"));
    }

    [Theory]
    [InlineData("gw-a:secret\n", "passwd:1:6: password file: the password of 'gw-a' is not hashed: run mosquitto_passwd -U")]
    [InlineData("# ok\nno-colon\n", "passwd:2:1: password file: expected username:hash")]
    [InlineData("gw-a:$7$0$AAAAAAAAAAAAAAAA$AAAA\n", "passwd:1:6: password file: the password hash of 'gw-a' is not $7$")]
    [InlineData("gw-a:$argon2id$v=19$m=1,t=1,p=1$abc$def\n", "passwd:1:6: password file: the password hash of 'gw-a' is not $7$")]
    public void A_malformed_password_file_names_the_line_and_never_the_hash(string text, string expectedStart)
    {
        var ex = Assert.Throws<ConfigException>(() => MosquittoPasswordFile.Parse(text, "passwd"));
        Assert.StartsWith(expectedStart, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_user_listed_twice_is_an_error()
    {
        var line = MosquittoPasswordFile.HashLine("gw-a", "x");
        var ex = Assert.Throws<ConfigException>(() => MosquittoPasswordFile.Parse($"{line}\n{line}\n", "passwd"));
        Assert.StartsWith("passwd:2:1: password file: 'gw-a' is listed twice", ex.Message, StringComparison.Ordinal);
    }

    private static readonly TopicAccess Access = new(SiteRegistry.Parse(Secure.RegistryYaml, "sites.yaml"), ["ingestor"]);

    [Theory]
    [InlineData("gw-a", "kc/v1/site-a/gw-a/telemetry", null)]
    [InlineData("gw-a", "kc/v1/site-a/gw-a/status", null)]
    [InlineData("gw-a", "kc/v1/site-a/gw-a/health", null)]
    [InlineData("gw-a", "kc/v1/site-b/gw-a/telemetry", "gateway 'gw-a' belongs to site 'site-a', not 'site-b'")]
    [InlineData("gw-a", "kc/v1/site-b/gw-b/telemetry", "user 'gw-a' may publish only as gateway 'gw-a', not 'gw-b'")]
    [InlineData("gw-a", "kc/v1/site-a/gw-a/commands", "'kc/v1/site-a/gw-a/commands' is not a gateway topic")]
    [InlineData("gw-a", "kc/v1/site-a/gw-a/telemetry/x", "'kc/v1/site-a/gw-a/telemetry/x' is not a gateway topic")]
    [InlineData("gw-x", "kc/v1/site-a/gw-x/telemetry", "gateway 'gw-x' is not in the site registry")]
    [InlineData("ingestor", "kc/v1/site-a/gw-a/telemetry", "'ingestor' is an ingestor user, which only reads")]
    [InlineData("", "kc/v1/site-a/gw-a/telemetry", "anonymous clients may not publish")]
    public void Publish_rules(string user, string topic, string? refusal)
    {
        var why = Access.PublishRefusal(user, topic);
        if (refusal is null) Assert.Null(why);
        else Assert.StartsWith(refusal, why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ingestor", "kc/v1/+/+/telemetry", true)]
    [InlineData("ingestor", "kc/v1/#", true)]
    [InlineData("ingestor", "$share/ingestors/kc/v1/+/+/status", true)]
    [InlineData("ingestor", "#", false)]
    [InlineData("ingestor", "$SYS/#", false)]
    [InlineData("ingestor", "$share/g/#", false)]
    [InlineData("gw-a", "kc/v1/site-a/gw-a/telemetry", false)]
    [InlineData("gw-a", "kc/v1/#", false)]
    [InlineData("", "kc/v1/#", false)]
    public void Subscribe_rules(string user, string filter, bool allowed) => Assert.Equal(allowed, Access.SubscribeRefusal(user, filter) is null);

    [Fact]
    public void The_ACL_generator_refuses_an_ingestor_user_that_is_also_a_gateway()
    {
        var ex = Assert.Throws<ArgumentException>(() => MosquittoAcl.Generate(Access.Registry, ["gw-a"]));
        Assert.Equal("ingestor user 'gw-a' is also a gateway of site 'site-a'", ex.Message);
    }

    [Theory]
    [InlineData("mqtt:\n  url: mqtt://b\n  tls: { ca_file: ca.pem }\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:3:8: mqtt.tls: needs an mqtts:// url")]
    [InlineData("mqtt:\n  url: mqtts://b\n  tls:\n    ca_file: no-such-ca.pem\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:4:14: mqtt.tls.ca_file: '")]
    [InlineData("embedded_broker:\n  password_file: passwd\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:2:18: embedded_broker.password_file: needs the site registry")]
    [InlineData("embedded_broker:\n  ingestor_user: \"a b\"\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:2:18: embedded_broker.ingestor_user: 'a b' is not a plain name")]
    [InlineData("embedded_broker:\n  tls: { cert_file: no-such.crt, key_file: k }\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:2:21: embedded_broker.tls.cert_file: '")]
    [InlineData("embedded_broker:\n  tls: { cert_file: c }\ninflux: { url: \"http://x:8086\" }\n", "cloud.yaml:2:8: embedded_broker.tls.key_file: required key 'key_file' is missing")]
    public void Invalid_security_settings_name_the_file_line_and_field(string yaml, string expectedStart)
    {
        var ex = Assert.Throws<ConfigException>(() => CloudConfigLoader.Parse(yaml, "cloud.yaml"));
        Assert.StartsWith(expectedStart, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_client_certificate_needs_its_key_and_the_ingestor_user_may_not_be_a_gateway()
    {
        using var dir = new TempDirectory("kc-tls-config");
        File.WriteAllText(dir.File("client.crt"), "");
        File.WriteAllText(dir.File("cloud.yaml"), "mqtt:\n  url: mqtts://b\n  tls:\n    cert_file: client.crt\ninflux: { url: \"http://x:8086\" }\n");
        var ex = Assert.Throws<ConfigException>(() => CloudConfigLoader.Load(dir.File("cloud.yaml")));
        Assert.Equal($"{dir.File("cloud.yaml")}:4:16: mqtt.tls.cert_file: needs key_file (the client certificate's private key)", ex.Message);

        Secure.WriteFiles(dir.Path);
        File.WriteAllText(dir.File("cloud.yaml"), "embedded_broker:\n  password_file: passwd\n  ingestor_user: gw-b\ninflux: { url: \"http://x:8086\" }\nregistry: sites.yaml\n");
        ex = Assert.Throws<ConfigException>(() => CloudService.FromFile(dir.File("cloud.yaml"), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance));
        Assert.Equal($"{dir.File("cloud.yaml")}:3:18: embedded_broker.ingestor_user: 'gw-b' is a gateway of site 'site-b'; the ingestor needs a user of its own", ex.Message);
    }
}
