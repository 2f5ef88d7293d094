using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace KhuyenCong.Api.Tests;

/// <summary>Production entries: appended with who and when, matched to the detected firing, corrected by new entries, never edited.</summary>
[Collection(ApiCollection.Name)]
public sealed class ProductionTests(ApiServer server)
{
    [Fact]
    public async Task An_entry_and_its_correction_are_both_kept_with_who_and_when_and_the_correction_is_in_force()
    {
        using var op = server.Client("op-a");
        var firing = Seed.SiteAFirings[4]; // kiln-2, 2025-03-03
        var before = DateTimeOffset.UtcNow;
        using var r1 = await op.PostAsJsonAsync("/api/v1/sites/site-a/production", new
        {
            kiln = "kiln-2", firing_at = firing.Start.AddHours(2).ToOffset(TimeSpan.FromHours(7)), ware_kg = 111.5, pieces = 45, product_type = "vases", note = "first count",
        });
        Assert.Equal(HttpStatusCode.Created, r1.StatusCode);
        var first = await r1.Content.ReadFromJsonAsync<JsonElement>();
        var firstId = first.GetProperty("entry_id").GetString()!;
        Assert.Equal($"/api/v1/sites/site-a/production/{firstId}", r1.Headers.Location?.ToString());
        Assert.Equal("op-a", first.GetProperty("recorded_by").GetString());
        var recordedAt = first.GetProperty("recorded_at").GetDateTimeOffset();
        Assert.InRange(recordedAt, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(firing.Start, first.GetProperty("firing_start").GetDateTimeOffset());
        Assert.Equal(firing.Start.AddHours(2), first.GetProperty("firing_at").GetDateTimeOffset());
        Assert.Equal(111.5, first.GetProperty("ware_kg").GetDouble());

        using var r2 = await op.PostAsJsonAsync("/api/v1/sites/site-a/production", new
        {
            kiln = "kiln-2", firing_at = firing.Start, ware_kg = 109.0, pieces = 44, product_type = "vases", supersedes = firstId, note = "one vase cracked",
        });
        Assert.Equal(HttpStatusCode.Created, r2.StatusCode);
        var secondId = (await r2.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("entry_id").GetString()!;
        Assert.NotEqual(firstId, secondId);

        // The auditor reads the whole history.
        using var aud = server.Client("aud");
        var history = await aud.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/production?kiln=kiln-2");
        var entries = history.GetProperty("entries").EnumerateArray().ToList();
        var e1 = entries.Single(e => e.GetProperty("entry_id").GetString() == firstId);
        var e2 = entries.Single(e => e.GetProperty("entry_id").GetString() == secondId);
        Assert.Equal(111.5, e1.GetProperty("ware_kg").GetDouble());
        Assert.Equal("first count", e1.GetProperty("note").GetString());
        Assert.False(e1.GetProperty("effective").GetBoolean());
        Assert.Equal([secondId], e1.GetProperty("superseded_by").EnumerateArray().Select(x => x.GetString()!).ToArray());
        Assert.True(e2.GetProperty("effective").GetBoolean());
        Assert.Equal(firstId, e2.GetProperty("supersedes").GetString());
        Assert.Equal("op-a", e2.GetProperty("recorded_by").GetString());
        Assert.True(e2.GetProperty("recorded_at").GetDateTimeOffset() >= recordedAt);
        Assert.Equal(firing.Start, e2.GetProperty("firing_start").GetDateTimeOffset());
        Assert.All(entries, e => Assert.Equal("kiln-2", e.GetProperty("kiln").GetString()));

        var one = await aud.GetFromJsonAsync<JsonElement>($"/api/v1/sites/site-a/production/{firstId}");
        Assert.Equal(111.5, one.GetProperty("ware_kg").GetDouble());
        using var missing = await aud.GetAsync(new Uri("/api/v1/sites/site-a/production/p-none", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task An_entry_outside_every_detected_firing_is_kept_without_a_firing()
    {
        using var op = server.Client("op-a");
        using var r = await op.PostAsJsonAsync("/api/v1/sites/site-a/production", new { kiln = "kiln-1", firing_at = "2025-06-01T09:00:00+07:00", ware_kg = 0, pieces = 0, product_type = "test tiles" });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var e = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(JsonValueKind.Null, e.GetProperty("firing_start").ValueKind);
        Assert.Equal(0, e.GetProperty("ware_kg").GetDouble());
    }

    [Fact]
    public async Task A_correction_must_be_for_the_same_kiln()
    {
        using var op = server.Client("op-a");
        using var r1 = await op.PostAsJsonAsync("/api/v1/sites/site-a/production", new { kiln = "kiln-1", firing_at = Seed.SiteAFirings[0].Start, ware_kg = 10, pieces = 1, product_type = "x" });
        var id = (await r1.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("entry_id").GetString();
        using var r2 = await op.PostAsJsonAsync("/api/v1/sites/site-a/production", new { kiln = "kiln-2", firing_at = Seed.SiteAFirings[3].Start, ware_kg = 10, pieces = 1, product_type = "x", supersedes = id });
        Assert.Equal(HttpStatusCode.BadRequest, r2.StatusCode);
        var p = await r2.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("is for kiln 'kiln-1', not 'kiln-2'", p.GetProperty("errors").GetProperty("supersedes")[0].GetString(), StringComparison.Ordinal);
    }
}
