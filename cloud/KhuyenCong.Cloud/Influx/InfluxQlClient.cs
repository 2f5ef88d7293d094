using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace KhuyenCong.Cloud.Influx;

/// <summary>One series of an InfluxQL result: name, tags, column names and rows.</summary>
public sealed record Series(string Name, IReadOnlyDictionary<string, string> Tags, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<JsonElement>> Values)
{
    public int Column(string name)
    {
        for (var i = 0; i < Columns.Count; i++)
        {
            if (Columns[i] == name) return i;
        }
        throw new KeyNotFoundException($"column '{name}' not in {string.Join(", ", Columns)}");
    }

    /// <summary>A column as numbers (null where the value is null).</summary>
    public IEnumerable<double?> Numbers(string column)
    {
        var c = Column(column);
        return Values.Select(row => row[c].ValueKind == JsonValueKind.Number ? row[c].GetDouble() : (double?)null);
    }

    /// <summary>A column as strings (null where the value is null or not a string).</summary>
    public IEnumerable<string?> Strings(string column)
    {
        var c = Column(column);
        return Values.Select(row => row[c].ValueKind == JsonValueKind.String ? row[c].GetString() : null);
    }

    /// <summary>The time column (epoch milliseconds, as <see cref="InfluxQlClient"/> asks for) as UTC timestamps.</summary>
    public IEnumerable<DateTimeOffset> Times()
    {
        var c = Column("time");
        return Values.Select(row => DateTimeOffset.FromUnixTimeMilliseconds(row[c].GetInt64()));
    }
}

/// <summary>An error InfluxDB returned for a query (syntax, unknown database …).</summary>
public sealed class InfluxQueryException(string message) : Exception(message);

/// <summary>
/// InfluxQL over <c>/query</c>, which every InfluxDB version serves (1.x natively, 2.x and 3.x through v1
/// compatibility). Used by the demo's live view, the tests, the dashboard checks and the reports.
/// </summary>
public sealed class InfluxQlClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _database;

    /// <param name="url">The server, e.g. http://127.0.0.1:8086.</param>
    /// <param name="database">The database (1.x) or DBRP-mapped bucket (2.x/3.x) queries run against.</param>
    /// <param name="username">For 1.x with auth; on 2.x/3.x any name with the token as password.</param>
    public InfluxQlClient(string url, string database, string? username = null, string? password = null, TimeSpan? timeout = null)
    {
        _http = new HttpClient { BaseAddress = new Uri(url.TrimEnd('/') + "/"), Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        _database = database;
        if (username is not null)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}")));
    }

    public string Database => _database;

    /// <summary>
    /// Runs one or more read statements (SELECT, SHOW) with <c>GET /query?db=&amp;epoch=ms</c>; returns every series of every
    /// statement, in order. Times are epoch milliseconds. Throws <see cref="InfluxQueryException"/> with InfluxDB's message.
    /// </summary>
    public async Task<IReadOnlyList<Series>> QueryAsync(string influxQl, CancellationToken ct = default)
    {
        var url = $"query?db={Uri.EscapeDataString(_database)}&epoch=ms&q={Uri.EscapeDataString(influxQl)}";
        using var resp = await _http.GetAsync(url, ct).ConfigureAwait(false);
        var body = await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        return Parse(body, (int)resp.StatusCode, influxQl);
    }

    /// <summary>
    /// Runs statements that change the server (CREATE DATABASE, CREATE RETENTION POLICY, DROP …) with
    /// <c>POST /query</c>, as InfluxDB 1.x requires for them.
    /// </summary>
    public async Task<IReadOnlyList<Series>> ExecuteAsync(string influxQl, CancellationToken ct = default)
    {
        using var form = new FormUrlEncodedContent([new("db", _database), new("epoch", "ms"), new("q", influxQl)]);
        using var resp = await _http.PostAsync("query", form, ct).ConfigureAwait(false);
        var body = await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        return Parse(body, (int)resp.StatusCode, influxQl);
    }

    /// <summary>
    /// Reads an InfluxQL JSON answer, <c>{"results":[{"statement_id":0,"series":[{"name","tags","columns","values"}]}]}</c>;
    /// throws <see cref="InfluxQueryException"/> when it carries an error (top level or per statement) or is not JSON.
    /// </summary>
    public static IReadOnlyList<Series> Parse(string body, int status, string influxQl)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            throw new InfluxQueryException($"InfluxDB answered {status} with non-JSON: {body[..Math.Min(body.Length, 300)]}");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InfluxQueryException($"InfluxDB answered {status} with unexpected JSON: {body[..Math.Min(body.Length, 300)]}");
            if (doc.RootElement.TryGetProperty("error", out var err)) throw new InfluxQueryException($"{err.GetString()} (query: {influxQl})");
            var list = new List<Series>();
            if (!doc.RootElement.TryGetProperty("results", out var results)) return list;
            foreach (var result in results.EnumerateArray())
            {
                if (result.TryGetProperty("error", out var e)) throw new InfluxQueryException($"{e.GetString()} (query: {influxQl})");
                if (!result.TryGetProperty("series", out var series)) continue;
                foreach (var s in series.EnumerateArray())
                {
                    var tags = new Dictionary<string, string>(StringComparer.Ordinal);
                    if (s.TryGetProperty("tags", out var t))
                    {
                        foreach (var p in t.EnumerateObject()) tags[p.Name] = p.Value.GetString() ?? "";
                    }
                    var cols = s.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToList();
                    var rows = s.TryGetProperty("values", out var v)
                        ? v.EnumerateArray().Select(r => (IReadOnlyList<JsonElement>)[.. r.EnumerateArray().Select(x => x.Clone())]).ToList()
                        : [];
                    list.Add(new Series(s.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "", tags, cols, rows));
                }
            }
            return list;
        }
    }

    /// <summary>True when the server answers /ping.</summary>
    public async Task<bool> PingAsync(CancellationToken ct = default)
    {
        try
        {
            using var resp = await _http.GetAsync("ping", ct).ConfigureAwait(false);
            return resp.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public void Dispose() => _http.Dispose();
}
