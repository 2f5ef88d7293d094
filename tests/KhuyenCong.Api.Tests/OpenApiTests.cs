using System.Net.Http.Json;
using System.Text.Json;

namespace KhuyenCong.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class OpenApiTests(ApiServer server)
{
    [Fact]
    public async Task The_openapi_document_lists_every_endpoint_with_a_summary_and_the_snake_case_production_schema()
    {
        using var c = server.Client(null);
        var doc = await c.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = doc.GetProperty("paths");
        var expected = new (string Path, string Method)[]
        {
            ("/api/v1/sites", "get"), ("/api/v1/sites/{site}", "get"), ("/api/v1/sites/{site}/live", "get"), ("/api/v1/sites/{site}/firings", "get"),
            ("/api/v1/sites/{site}/production", "get"), ("/api/v1/sites/{site}/production", "post"), ("/api/v1/sites/{site}/production/{entryId}", "get"),
            ("/api/v1/sites/{site}/enpi", "get"), ("/api/v1/sites/{site}/baseline", "get"), ("/api/v1/sites/{site}/savings", "get"),
            ("/api/v1/compliance", "get"), ("/api/v1/sites/{site}/compliance", "get"),
            ("/api/v1/sites/{site}/reports/{year}.csv", "get"), ("/api/v1/sites/{site}/reports/{year}.html", "get"), ("/api/v1/me", "get"),
        };
        foreach (var (path, method) in expected)
        {
            Assert.True(paths.TryGetProperty(path, out var p), $"{path} is missing from the OpenAPI document");
            Assert.True(p.TryGetProperty(method, out var op), $"{method.ToUpperInvariant()} {path} is missing");
            Assert.False(string.IsNullOrWhiteSpace(op.GetProperty("summary").GetString()));
        }
        string[] Params(string path) => [.. paths.GetProperty(path).GetProperty("get").GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()!).Order()];
        Assert.Equal(["day", "from", "kiln", "month", "site", "to", "year"], Params("/api/v1/sites/{site}/firings"));
        Assert.Equal(["day", "from", "kiln", "month", "per", "site", "to", "year"], Params("/api/v1/sites/{site}/enpi"));
        Assert.Equal(["basis", "day", "from", "kiln", "month", "site", "to", "year"], Params("/api/v1/sites/{site}/savings"));
        Assert.Equal(["year"], Params("/api/v1/compliance"));
        var post = paths.GetProperty("/api/v1/sites/{site}/production").GetProperty("post");
        Assert.True(post.GetProperty("responses").TryGetProperty("201", out _));
        Assert.True(post.GetProperty("responses").TryGetProperty("400", out _));
        var schema = doc.GetProperty("components").GetProperty("schemas").GetProperty("ProductionRequest").GetProperty("properties");
        Assert.Equal(["firing_at", "kiln", "note", "pieces", "product_type", "supersedes", "ware_kg"], schema.EnumerateObject().Select(p => p.Name).Order().ToArray());
    }
}
