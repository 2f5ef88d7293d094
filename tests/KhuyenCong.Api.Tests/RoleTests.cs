using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace KhuyenCong.Api.Tests;

/// <summary>Every role against every key endpoint: what each may read, who may write production, and the 401/403/404 answers.</summary>
[Collection(ApiCollection.Name)]
public sealed class RoleTests(ApiServer server)
{
    private static readonly string[] SiteEndpoints =
    [
        "", "/live", "/firings?year=2025", "/production", "/enpi?year=2025", "/baseline", "/savings?year=2025", "/compliance?year=2025",
        "/reports/2025.csv", "/reports/2025.html",
    ];

    public static TheoryData<string, string, int> Matrix()
    {
        var data = new TheoryData<string, string, int>();
        var expect = new Dictionary<string, Dictionary<string, int>>
        {
            ["op-a"] = new() { ["site-a"] = 200, ["site-b"] = 403, ["site-c"] = 403 },
            ["op-b"] = new() { ["site-a"] = 403, ["site-b"] = 200, ["site-c"] = 403 },
            ["aud"] = new() { ["site-a"] = 200, ["site-b"] = 200, ["site-c"] = 403 },
            ["centre"] = new() { ["site-a"] = 200, ["site-b"] = 200, ["site-c"] = 200 },
        };
        foreach (var (user, sites) in expect)
        {
            foreach (var (site, status) in sites)
            {
                foreach (var e in SiteEndpoints) data.Add(user, $"/api/v1/sites/{site}{e}", status);
            }
            foreach (var e in SiteEndpoints) data.Add(user, $"/api/v1/sites/no-such-site{e}", 404);
        }
        foreach (var e in SiteEndpoints)
        {
            data.Add("none", $"/api/v1/sites/site-a{e}", 401);
            data.Add("bad", $"/api/v1/sites/site-a{e}", 401);
        }
        data.Add("none", "/api/v1/sites", 401);
        data.Add("bad", "/api/v1/compliance", 401);
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Each_role_reads_exactly_its_own_sites(string user, string path, int status)
    {
        using var c = server.Client(user == "none" ? null : user);
        using var r = await c.GetAsync(new Uri(path, UriKind.Relative));
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(status == (int)r.StatusCode, $"{user} GET {path}: expected {status}, got {(int)r.StatusCode}: {body}");
        if (status != 200)
        {
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            using var doc = JsonDocument.Parse(body);
            Assert.Equal(status, doc.RootElement.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("title").GetString()));
        }
        if (status == 401) Assert.Equal("Bearer", r.Headers.WwwAuthenticate.ToString());
    }

    [Theory]
    [InlineData("op-a", "site-a", 201)]
    [InlineData("op-b", "site-a", 403)]
    [InlineData("aud", "site-a", 403)]
    [InlineData("centre", "site-a", 403)]
    [InlineData("none", "site-a", 401)]
    [InlineData("bad", "site-a", 401)]
    [InlineData("op-a", "no-such-site", 404)]
    [InlineData("aud", "no-such-site", 404)]
    public async Task Only_the_operator_of_the_site_may_enter_production(string user, string site, int status)
    {
        using var c = server.Client(user == "none" ? null : user);
        var entry = new { kiln = "kiln-1", firing_at = "2025-01-10T08:00:00+07:00", ware_kg = 1.5, pieces = 1, product_type = "role test" };
        using var r = await c.PostAsJsonAsync($"/api/v1/sites/{site}/production", entry);
        Assert.True(status == (int)r.StatusCode, $"{user} POST {site}: expected {status}, got {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
        if (status != 201) Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_read_only_user_is_refused_before_the_body_is_read()
    {
        using var c = server.Client("aud");
        using var body = new StringContent("{ this is not json", System.Text.Encoding.UTF8, "application/json");
        using var r = await c.PostAsync(new Uri("/api/v1/sites/site-a/production", UriKind.Relative), body);
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
    }

    [Theory]
    [InlineData("op-a", new[] { "site-a" })]
    [InlineData("aud", new[] { "site-a", "site-b" })]
    [InlineData("centre", new[] { "site-a", "site-b", "site-c" })]
    public async Task The_site_list_and_the_compliance_ranking_hold_only_the_readable_sites(string user, string[] sites)
    {
        using var c = server.Client(user);
        var list = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites");
        Assert.Equal(sites, list.EnumerateArray().Select(s => s.GetProperty("id").GetString()!).Order().ToArray());
        var compliance = await c.GetFromJsonAsync<JsonElement>("/api/v1/compliance?year=2025");
        Assert.Equal(sites, compliance.GetProperty("sites").EnumerateArray().Select(s => s.GetProperty("site").GetString()!).Order().ToArray());
    }

    [Fact]
    public async Task The_api_key_header_works_like_the_bearer_token()
    {
        using var c = server.Client(null);
        c.DefaultRequestHeaders.Add("X-Api-Key", server.Tokens["aud"]);
        var me = await c.GetFromJsonAsync<JsonElement>("/api/v1/me");
        Assert.Equal("aud", me.GetProperty("name").GetString());
        Assert.Equal("auditor", me.GetProperty("role").GetString());
    }
}
