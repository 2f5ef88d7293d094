using System.Net;
using System.Text;
using System.Text.Json;

namespace KhuyenCong.Api.Tests;

/// <summary>Bad input answers 400 (415 for a body that is not JSON) as a ProblemDetails whose <c>errors</c> names the field.</summary>
[Collection(ApiCollection.Name)]
public sealed class BadRequestTests(ApiServer server)
{
    [Theory]
    [InlineData("/api/v1/sites/site-a/firings?month=2026-13", "month", "'2026-13' is not a month")]
    [InlineData("/api/v1/sites/site-a/firings?month=2026-1", "month", "is not a month")]
    [InlineData("/api/v1/sites/site-a/firings?day=2025-02-30", "day", "'2025-02-30' is not a day")]
    [InlineData("/api/v1/sites/site-a/firings?from=2025-03-01&to=2025-02-01", "from", "must be before to")]
    [InlineData("/api/v1/sites/site-a/firings?from=2025-03-01T00:00:00%2B07:00&to=2025-03-01T00:00:00%2B07:00", "from", "must be before to")]
    [InlineData("/api/v1/sites/site-a/firings?from=yesterday", "from", "'yesterday' is not a day")]
    [InlineData("/api/v1/sites/site-a/firings?from=2025-03-01T08:00:00", "from", "an instant with its offset")]
    [InlineData("/api/v1/sites/site-a/firings?month=2025-01&year=2025", "year", "give one of day, month, year")]
    [InlineData("/api/v1/sites/site-a/firings?month=2025-01&from=2025-01-01", "from", "cannot be combined with month")]
    [InlineData("/api/v1/sites/site-a/firings?kiln=kiln-9", "kiln", "'kiln-9' is not a kiln of site 'site-a' (kiln-1, kiln-2)")]
    [InlineData("/api/v1/sites/site-a/enpi?per=week", "per", "'week' is not one of day, month, year")]
    [InlineData("/api/v1/sites/site-a/enpi?year=25", "year", "is not a year")]
    [InlineData("/api/v1/sites/site-a/savings?basis=hour", "basis", "'hour' is not one of month, firing")]
    [InlineData("/api/v1/sites/site-a/baseline?kiln=", "kiln", "'' is not a kiln")]
    [InlineData("/api/v1/compliance?year=abc", "year", "'abc' is not a year")]
    [InlineData("/api/v1/sites/site-a/compliance?year=1999", "year", "'1999' is not a year")]
    [InlineData("/api/v1/sites/site-a/reports/20x5.csv", "year", "'20x5' is not a year")]
    [InlineData("/api/v1/sites/site-a/reports/99999.html", "year", "'99999' is not a year")]
    [InlineData("/api/v1/sites/site-a/production?kiln=nope", "kiln", "'nope' is not a kiln")]
    public async Task A_bad_query_names_the_parameter(string path, string field, string message)
    {
        using var c = server.Client("centre");
        using var r = await c.GetAsync(new Uri(path, UriKind.Relative));
        await AssertProblem(r, HttpStatusCode.BadRequest, field, message);
    }

    [Theory]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":-1,"pieces":3,"product_type":"bowls"}""", "ware_kg", "must be ≥ 0")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":"heavy","pieces":3,"product_type":"bowls"}""", "ware_kg", "must be a number")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":"12","pieces":3,"product_type":"bowls"}""", "ware_kg", "must be a number")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":12,"pieces":2.5,"product_type":"bowls"}""", "pieces", "must be a whole number")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":12,"pieces":-2,"product_type":"bowls"}""", "pieces", "must be ≥ 0")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":12,"pieces":2,"product_type":"  "}""", "product_type", "must not be empty")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":12,"pieces":2}""", "product_type", "must not be empty")]
    [InlineData("""{"firing_at":"2025-01-10T08:00:00+07:00","ware_kg":12,"pieces":2,"product_type":"bowls"}""", "kiln", "is required")]
    [InlineData("""{"kiln":"kiln-7","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":12,"pieces":2,"product_type":"bowls"}""", "kiln", "'kiln-7' is not a kiln of site 'site-a'")]
    [InlineData("""{"kiln":"kiln-1","ware_kg":12,"pieces":2,"product_type":"bowls"}""", "firing_at", "is required")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"last tuesday","ware_kg":12,"pieces":2,"product_type":"bowls"}""", "firing_at", "must be an instant with its offset")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2099-01-01T00:00:00Z","ware_kg":12,"pieces":2,"product_type":"bowls"}""", "firing_at", "is in the future")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":12,"pieces":2,"product_type":"bowls","supersedes":"p-nope"}""", "supersedes", "site 'site-a' has no production entry 'p-nope'")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":12,"pieces":2,"product_type":"bowls","colour":"blue"}""", "colour", "is not a known field")]
    [InlineData("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg": }""", "ware_kg", "is not valid JSON")]
    [InlineData("""{"kiln":"kiln-1", """, "body", "is not valid JSON")]
    [InlineData("""[1, 2]""", "body", "")]
    [InlineData("", "body", "")]
    public async Task A_bad_production_entry_names_the_field(string json, string field, string message)
    {
        using var c = server.Client("op-a");
        using var body = new StringContent(json, Encoding.UTF8, "application/json");
        using var r = await c.PostAsync(new Uri("/api/v1/sites/site-a/production", UriKind.Relative), body);
        await AssertProblem(r, HttpStatusCode.BadRequest, field, message);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_refused_with_415_naming_the_body()
    {
        using var c = server.Client("op-a");
        using var body = new StringContent("ware_kg=12", Encoding.UTF8, "application/x-www-form-urlencoded");
        using var r = await c.PostAsync(new Uri("/api/v1/sites/site-a/production", UriKind.Relative), body);
        await AssertProblem(r, HttpStatusCode.UnsupportedMediaType, "body", "must be JSON");
    }

    [Fact]
    public async Task Several_bad_fields_are_all_named_in_one_answer()
    {
        using var c = server.Client("op-a");
        using var body = new StringContent("""{"kiln":"kiln-1","firing_at":"2025-01-10T08:00:00+07:00","ware_kg":-5,"pieces":-1,"product_type":""}""", Encoding.UTF8, "application/json");
        using var r = await c.PostAsync(new Uri("/api/v1/sites/site-a/production", UriKind.Relative), body);
        var errors = await AssertProblem(r, HttpStatusCode.BadRequest, "ware_kg", "must be ≥ 0");
        Assert.Equal(["pieces", "product_type", "ware_kg"], errors.EnumerateObject().Select(p => p.Name).Order().ToArray());
    }

    private static async Task<JsonElement> AssertProblem(HttpResponseMessage r, HttpStatusCode status, string field, string message)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(status == r.StatusCode, $"expected {(int)status}, got {(int)r.StatusCode}: {text}");
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(text);
        var root = doc.RootElement;
        Assert.Equal((int)status, root.GetProperty("status").GetInt32());
        var errors = root.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var list), $"errors should name '{field}': {text}");
        Assert.True(list.EnumerateArray().Any(m => m.GetString()!.Contains(message, StringComparison.Ordinal)), $"errors.{field} should contain '{message}': {text}");
        Assert.Contains(field, root.GetProperty("detail").GetString(), StringComparison.Ordinal);
        return errors.Clone();
    }
}
