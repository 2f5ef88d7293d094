using KhuyenCong.Cloud.Access;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Configuration;

namespace KhuyenCong.Api.Tests;

/// <summary>A wrong site registry or access file stops the service with the place of the mistake: file:line:col: field: message.</summary>
public sealed class RegistryAndAccessTests
{
    private const string TwoSites = """
        version: 1
        sites:
          - id: a
            name: A
            gateways: [{ id: gw-1 }]
            kilns: [{ id: kiln-1, name: K }]
          - id: b
            name: B
            gateways: [{ id: gw-2 }]
            kilns: [{ id: kiln-1, name: K }]
        """;

    [Fact]
    public void A_gateway_listed_under_two_sites_is_refused_at_its_second_place()
    {
        var yaml = TwoSites.Replace("gateways: [{ id: gw-2 }]", "gateways: [{ id: gw-1 }]", StringComparison.Ordinal);
        var ex = Assert.Throws<ConfigException>(() => SiteRegistry.Parse(yaml, "sites.yaml"));
        Assert.Equal("sites.yaml:9:22: sites[1].gateways[0].id: gateway 'gw-1' is already listed under site 'a': a gateway belongs to one site", ex.Message);
    }

    [Fact]
    public void A_meter_of_a_kiln_the_site_does_not_have_is_refused()
    {
        var yaml = TwoSites + "\n    meters:\n      - { device: m1, kiln: kiln-9, carrier: electricity, point: energy_import_kwh }\n";
        var ex = Assert.Throws<ConfigException>(() => SiteRegistry.Parse(yaml, "sites.yaml"));
        Assert.Equal("sites.yaml:12:29: sites[1].meters[0].kiln: kiln 'kiln-9' is not a kiln of site 'b' (kiln-1)", ex.Message);
    }

    [Theory]
    [InlineData("{ name: lid, implemented: 2025-13-01 }", "sites.yaml:12:35: sites[1].measures[0].implemented: '2025-13-01' is not a date (YYYY-MM-DD)")]
    [InlineData("{ name: lid, implemented: 2025-01-01, kiln: kiln-2 }", "sites.yaml:12:53: sites[1].measures[0].kiln: kiln 'kiln-2' is not a kiln of site 'b' (kiln-1)")]
    [InlineData("{ name: lid, implemented: 2025-01-01, expected_savings_percent: 0 }", "sites.yaml:12:73: sites[1].measures[0].expected_savings_percent: must be between 0 and 100 (a percentage)")]
    public void A_wrong_measure_names_its_place(string measure, string message)
    {
        var ex = Assert.Throws<ConfigException>(() => SiteRegistry.Parse(TwoSites + "\n    measures:\n      - " + measure + "\n", "sites.yaml"));
        Assert.Equal(message, ex.Message);
    }

    private static readonly SiteRegistry Sites = SiteRegistry.Parse(TwoSites, "sites.yaml");

    [Fact]
    public void An_operator_with_two_sites_is_refused()
    {
        var yaml = $"version: 1\nusers:\n  - name: op\n    role: operator\n    sites: [a, b]\n    token_sha256: {AccessList.Hash("t")}\n";
        var ex = Assert.Throws<ConfigException>(() => AccessList.Parse(yaml, "access.yaml", Sites));
        Assert.Equal("access.yaml:5:12: users[0].sites: an operator works for exactly one site", ex.Message);
    }

    [Fact]
    public void A_token_written_where_its_hash_belongs_is_refused()
    {
        var token = AccessList.NewToken();
        var yaml = $"version: 1\nusers:\n  - name: centre\n    role: centre\n    token_sha256: {token}\n";
        var ex = Assert.Throws<ConfigException>(() => AccessList.Parse(yaml, "access.yaml", Sites));
        Assert.Equal("access.yaml:5:19: users[0].token_sha256: must be the 64-hex-digit SHA-256 of the token (kc-cloud token prints one), never the token itself", ex.Message);
        Assert.DoesNotContain(token, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("  - name: x\n    role: auditor\n    sites: [z]\n", "access.yaml:5:12: users[0].sites: [0] site 'z' is not in the site registry")]
    [InlineData("  - name: x\n    role: auditor\n", "access.yaml:3:5: users[0].sites: an auditor needs the sites they are assigned to")]
    [InlineData("  - name: x\n    role: boss\n", "access.yaml:4:11: users[0].role: 'boss' is not one of operator, auditor, centre")]
    public void Other_access_mistakes_name_their_place(string user, string message)
    {
        var yaml = $"version: 1\nusers:\n{user}    token_sha256: {AccessList.Hash("t")}\n";
        var ex = Assert.Throws<ConfigException>(() => AccessList.Parse(yaml, "access.yaml", Sites));
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void A_token_authenticates_only_its_own_user()
    {
        var token = AccessList.NewToken();
        var yaml = $"version: 1\nusers:\n  - name: aud\n    role: auditor\n    sites: [a]\n    token_sha256: {AccessList.Hash(token)}\n";
        var access = AccessList.Parse(yaml, "access.yaml", Sites);
        var user = access.Authenticate(token);
        Assert.NotNull(user);
        Assert.Equal("aud", user.Name);
        Assert.True(user.CanRead("a"));
        Assert.False(user.CanRead("b"));
        Assert.False(user.CanEnterProduction("a"));
        Assert.Null(access.Authenticate(token + "x"));
        Assert.Null(access.Authenticate(AccessList.Hash(token)));
    }
}
