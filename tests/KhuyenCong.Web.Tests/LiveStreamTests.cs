using System.Net.Http.Headers;
using KhuyenCong.Cloud.Access;
using KhuyenCong.TestSupport;
using KhuyenCong.TestSupport.Pipeline;

namespace KhuyenCong.Web.Tests;

/// <summary>
/// The live page's event streams (one site, and the site list) read as a browser's EventSource reads them, against the
/// cloud service and a real influxd that is killed and brought back while the streams are open.
/// </summary>
public sealed class LiveStreamTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task While_InfluxDB_is_down_both_live_streams_send_a_problem_and_clear_it_when_InfluxDB_is_back()
    {
        await using var influxd = await RestartableInfluxd.StartAsync("kc-live-stream-influx");
        using var dir = new TempDirectory("kc-live-stream");
        var token = AccessList.NewToken();
        File.WriteAllText(dir.File("access.yaml"), $"""
            version: 1
            users:
              - {"{"} name: centre, role: centre, token_sha256: {AccessList.Hash(token)} {"}"}
            """);
        await using var cloud = await LivePipeline.StartCloudAsync(dir, influxd.Url, "live");
        using var http = new HttpClient { BaseAddress = cloud.Web!.Url, Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        using var site = await EventStream.OpenAsync(http, "live/site/bat-trang-demo/events");
        using var list = await EventStream.OpenAsync(http, "live/sites/events");
        await site.UntilAsync(e => e.Event == "status", "the site stream sends the gateways' status");
        await list.UntilAsync(e => e.Event == "sites", "the site-list stream sends the sites");

        influxd.Current.Kill();
        foreach (var stream in new[] { site, list })
        {
            var problem = await stream.UntilAsync(e => e.Event == "problem", "a problem event while InfluxDB is down");
            Assert.NotEqual("null", problem.Data);
            Assert.Contains("\"message\":", problem.Data, StringComparison.Ordinal);
        }

        await influxd.RestartAsync();
        foreach (var stream in new[] { site, list })
        {
            await stream.UntilAsync(e => e.Event == "problem" && e.Data == "null", "the problem is cleared once InfluxDB is back");
        }
    }

    /// <summary>A text/event-stream response read event by event (comments and retry lines skipped).</summary>
    private sealed class EventStream : IDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;
        private readonly List<string> _seen = [];
        private readonly string _path;

        private EventStream(string path, HttpResponseMessage response, StreamReader reader)
        {
            _path = path;
            _response = response;
            _reader = reader;
        }

        public static async Task<EventStream> OpenAsync(HttpClient http, string path)
        {
            var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
            Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode}");
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            return new EventStream(path, response, new StreamReader(await response.Content.ReadAsStreamAsync()));
        }

        /// <summary>Reads events until one matches; fails after <see cref="Patience"/> naming the events seen.</summary>
        public async Task<(string Event, string Data)> UntilAsync(Func<(string Event, string Data), bool> match, string what)
        {
            using var cts = new CancellationTokenSource(Patience);
            try
            {
                while (true)
                {
                    var e = await NextAsync(cts.Token);
                    _seen.Add($"{e.Event}: {(e.Data.Length > 80 ? e.Data[..80] + "…" : e.Data)}");
                    if (match(e)) return e;
                }
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                Assert.Fail($"{_path}: timed out waiting for {what}; events so far: {string.Join(" | ", _seen)}");
                throw;
            }
        }

        private async Task<(string Event, string Data)> NextAsync(CancellationToken ct)
        {
            string? evt = null;
            var data = "";
            while (true)
            {
                var line = await _reader.ReadLineAsync(ct) ?? throw new EndOfStreamException($"{_path}: the stream ended; events so far: {string.Join(" | ", _seen)}");
                if (line.Length == 0)
                {
                    if (evt is not null) return (evt, data);
                    continue;
                }
                if (line.StartsWith("event: ", StringComparison.Ordinal)) evt = line["event: ".Length..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line["data: ".Length..];
            }
        }

        public void Dispose()
        {
            _reader.Dispose();
            _response.Dispose();
        }
    }
}
