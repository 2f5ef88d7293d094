using System.Net;
using System.Net.Http.Headers;
using System.Text;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using KhuyenCong.Cloud.Config;

namespace KhuyenCong.Cloud.Influx;

/// <summary>
/// Writes with the v1 API: <c>POST /write?db=&amp;rp=&amp;precision=ms</c>. Works with every InfluxDB 1.x and with
/// 2.x/3.x through their v1 compatibility endpoints.
/// </summary>
public sealed class InfluxV1Sink : ITimeSeriesSink
{
    private readonly HttpClient _http;
    private readonly InfluxConfig _cfg;
    private readonly string _writePath;

    public InfluxV1Sink(InfluxConfig cfg, string? password)
    {
        _cfg = cfg;
        _http = new HttpClient { BaseAddress = new Uri(cfg.Url.TrimEnd('/') + "/"), Timeout = cfg.Timeout };
        if (cfg.Username is not null)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{cfg.Username}:{password}")));
        var rp = string.IsNullOrEmpty(cfg.RetentionPolicy) ? "" : $"&rp={Uri.EscapeDataString(cfg.RetentionPolicy)}";
        _writePath = $"write?db={Uri.EscapeDataString(cfg.Database)}{rp}&precision=";
    }

    public string Describe() => $"InfluxDB v1 {_cfg.Url} db={_cfg.Database}";

    public async Task PrepareAsync(CancellationToken ct)
    {
        using var body = new FormUrlEncodedContent([new("q", $"CREATE DATABASE \"{_cfg.Database.Replace("\"", "\\\"", StringComparison.Ordinal)}\"")]);
        using var resp = await Send(() => _http.PostAsync("query", body, ct)).ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode)
        {
            var text = ErrorText(await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            throw new SinkException(SinkException.Classify((int)resp.StatusCode), $"{Describe()}: CREATE DATABASE answered {(int)resp.StatusCode}: {Clip(text)}")
            {
                Status = (int)resp.StatusCode,
                ServerMessage = text,
            };
        }
    }

    public async Task WriteAsync(IReadOnlyList<PointData> points, CancellationToken ct)
    {
        if (points.Count == 0) return;
        // One request per timestamp precision: the precision is a parameter of the request, not of the line.
        foreach (var group in points.GroupBy(p => p.Precision))
        {
            using var lines = new LineBuffer(points.Count * 120);
            foreach (var p in group) lines.AppendLine(p.ToLineProtocol());
            await WriteLinesAsync([lines.Memory], group.Key, ct).ConfigureAwait(false);
        }
    }

    public async Task WriteLinesAsync(IReadOnlyList<ReadOnlyMemory<byte>> chunks, WritePrecision precision, CancellationToken ct)
    {
        if (chunks.All(c => c.IsEmpty)) return;
        var p = precision switch { WritePrecision.Ns => "n", WritePrecision.Us => "u", WritePrecision.S => "s", _ => "ms" };
        using var content = new LinesContent(chunks);
        using var resp = await Send(() => _http.PostAsync(_writePath + p, content, ct)).ConfigureAwait(false);
        if (resp.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.OK) return;
        var text = ErrorText(await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        var retryAfter = RetryAfter(resp.Headers.RetryAfter, DateTimeOffset.UtcNow);
        throw new SinkException(SinkException.Classify((int)resp.StatusCode), $"{Describe()}: write answered {(int)resp.StatusCode}: {Clip(text)}", retryAfter)
        {
            Status = (int)resp.StatusCode,
            ServerMessage = text,
        };
    }

    /// <summary>
    /// The request body: the chunks one after another (no string in between). A batch is hundreds of small chunks (one
    /// per message); they are gathered into 64 KB pieces so that the body goes out in a few socket writes, not one each.
    /// </summary>
    private sealed class LinesContent : HttpContent
    {
        private readonly IReadOnlyList<ReadOnlyMemory<byte>> _chunks;

        public LinesContent(IReadOnlyList<ReadOnlyMemory<byte>> chunks)
        {
            _chunks = chunks;
            Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var piece = System.Buffers.ArrayPool<byte>.Shared.Rent(PieceBytes);
            try
            {
                var used = 0;
                foreach (var c in _chunks)
                {
                    if (used > 0 && used + c.Length > piece.Length)
                    {
                        await stream.WriteAsync(piece.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
                        used = 0;
                    }
                    if (c.Length >= piece.Length)
                    {
                        await stream.WriteAsync(c, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    c.CopyTo(piece.AsMemory(used));
                    used += c.Length;
                }
                if (used > 0) await stream.WriteAsync(piece.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(piece);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, default);

        private const int PieceBytes = 64 * 1024;

        protected override bool TryComputeLength(out long length)
        {
            length = _chunks.Sum(c => (long)c.Length);
            return true;
        }
    }

    private async Task<HttpResponseMessage> Send(Func<Task<HttpResponseMessage>> send)
    {
        try
        {
            return await send().ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new SinkException(SinkFailure.Retry, $"{Describe()}: {ex.Message}", inner: ex);
        }
        catch (TaskCanceledException ex) when (ex.InnerException is TimeoutException)
        {
            throw new SinkException(SinkFailure.Retry, $"{Describe()}: no answer within {_cfg.Timeout.TotalSeconds:0} s", inner: ex);
        }
    }

    /// <summary>Retry-After as seconds or as an HTTP date (RFC 9110 allows both); a date in the past means now.</summary>
    internal static TimeSpan? RetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now) => header switch
    {
        { Delta: { } d } => d,
        { Date: { } at } => at > now ? at - now : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>InfluxDB 1.x answers errors as <c>{"error":"…"}</c>; anything else is kept as it is.</summary>
    internal static string ErrorText(string body)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == System.Text.Json.JsonValueKind.String)
                return e.GetString() ?? body;
        }
        catch (System.Text.Json.JsonException)
        {
        }
        return body.Trim();
    }

    private static string Clip(string s) => s.Length <= 500 ? s.Trim() : s[..500] + "…";

    public void Dispose() => _http.Dispose();
}
