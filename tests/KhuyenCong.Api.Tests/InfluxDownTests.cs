using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Access;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Api.Tests;

/// <summary>With InfluxDB unreachable, reads answer 503 ProblemDetails and production entries are still recorded.</summary>
public sealed class InfluxDownTests
{
    /// <summary>A cloud config (embedded broker, API, one operator of site-a) with InfluxDB at <paramref name="influxUrl"/>; returns the operator's token.</summary>
    private static string WriteConfig(TempDirectory dir, string influxUrl, string influxTimeout)
    {
        var token = AccessList.NewToken();
        File.WriteAllText(dir.File("sites.yaml"), ApiServer.Registry);
        File.WriteAllText(dir.File("access.yaml"), $"version: 1\nusers:\n  - name: op-a\n    role: operator\n    sites: [site-a]\n    token_sha256: {AccessList.Hash(token)}\n");
        File.WriteAllText(dir.File("cloud.yaml"), $$"""
            embedded_broker: { bind: 127.0.0.1, port: 0 }
            influx: { url: "{{influxUrl}}", database: api, timeout: {{influxTimeout}} }
            registry: sites.yaml
            factors: "{{Path.Combine(RepoPaths.Root, "firmware-config", "factors")}}"
            data_dir: data
            http: { bind: 127.0.0.1, port: 0, access_file: access.yaml }
            """);
        return token;
    }

    [Fact]
    public async Task Without_influxdb_reads_answer_503_and_production_is_still_recorded()
    {
        using var dir = new TempDirectory("kc-api-down");
        using var nothing = new ClosedPort();
        var token = WriteConfig(dir, nothing.HttpUrl, "2s");
        await using var cloud = CloudService.FromFile(dir.File("cloud.yaml"), NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        using var c = new HttpClient { BaseAddress = cloud.Web!.Url, Timeout = TimeSpan.FromSeconds(60) };
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync(new Uri("/api/v1/sites/site-a", UriKind.Relative))).StatusCode);
        using var firings = await c.GetAsync(new Uri("/api/v1/sites/site-a/firings?year=2025", UriKind.Relative));
        Assert.True(firings.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)firings.StatusCode}: {await firings.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", firings.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(firings.Headers.RetryAfter);
        var problem = await firings.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith("InfluxDB did not answer", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var post = await c.PostAsJsonAsync("/api/v1/sites/site-a/production", new { kiln = "kiln-1", firing_at = "2025-01-10T08:00:00+07:00", ware_kg = 300, pieces = 120, product_type = "bowls" });
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        var entry = await post.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("firing_start").ValueKind);
        var history = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/production");
        var listed = Assert.Single(history.GetProperty("entries").EnumerateArray());
        Assert.Equal(entry.GetProperty("entry_id").GetString(), listed.GetProperty("entry_id").GetString());
        Assert.True(listed.GetProperty("effective").GetBoolean());
    }

    [Fact]
    public async Task While_influxdb_does_not_answer_at_start_the_api_already_answers()
    {
        using var dir = new TempDirectory("kc-api-hang");
        // Takes connections (the kernel completes them) but never answers: creating the database hangs for the timeout.
        var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        try
        {
            var token = WriteConfig(dir, $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}", "10m");
            await using var cloud = CloudService.FromFile(dir.File("cloud.yaml"), NullLoggerFactory.Instance);
            using var stop = new CancellationTokenSource();
            var start = cloud.StartAsync(stop.Token);
            // The start waits for InfluxDB (ten minutes here); the API must not.
            await Eventually.Until(() => cloud.Web is not null || start.IsCompleted, "the API is listening", TimeSpan.FromSeconds(120));
            Assert.False(start.IsCompleted, $"the start ended before the API was up: {start.Exception?.GetBaseException().Message}");
            using var c = new HttpClient { BaseAddress = cloud.Web!.Url, Timeout = TimeSpan.FromSeconds(60) };
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            // What needs no InfluxDB answers: the site and its production ledger. (Entering production looks up the
            // firing in InfluxDB, so it waits for the configured timeout when InfluxDB hangs; the test above enters one
            // while InfluxDB refuses connections.)
            Assert.Equal(HttpStatusCode.OK, (await c.GetAsync(new Uri("/api/v1/sites/site-a", UriKind.Relative))).StatusCode);
            var history = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/production");
            Assert.Empty(history.GetProperty("entries").EnumerateArray());
            Assert.False(start.IsCompleted);
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start);
        }
        finally
        {
            silent.Stop();
        }
    }
}
