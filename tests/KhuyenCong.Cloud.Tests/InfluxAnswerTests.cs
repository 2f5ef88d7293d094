using System.Collections.Concurrent;
using System.Net;
using System.Text;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Ingest;
using KhuyenCong.Cloud.Tests.Support;
using KhuyenCong.Contracts;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Cloud.Tests;

/// <summary>
/// How the ingestor handles InfluxDB's answers it cannot provoke from a healthy influxd (busy, too large, refused,
/// unauthorised). A small HTTP server in front of the real influxd answers as scripted and passes everything else on;
/// the data is then read back from influxd itself.
/// </summary>
public sealed class InfluxAnswerTests
{
    [Fact]
    public async Task Busy_answers_503_and_429_are_retried_no_sooner_than_Retry_After_and_401_is_logged_as_an_error_nothing_acknowledged_meanwhile()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        CloudService? cloud = null;
        long ackedWhileRefused = -1;
        await using var proxy = InfluxProxy.Start(influxd.Url, w => w.Index switch
        {
            0 => new Answer(503, "{\"error\":\"busy\"}", RetryAfter: "2"),
            1 => new Answer(429, "{\"error\":\"too many requests\"}", RetryAfter: "2"),
            2 => new Answer(401, "{\"error\":\"authorization failed\"}"),
            3 => Forward(() => ackedWhileRefused = cloud!.Ingestor.Stats.Acknowledgements),
            _ => null,
        });
        var logs = new ListLogs();
        using var factory = logs.Factory();
        cloud = new CloudService(Sample.Config(Sample.IngestYaml(mosquitto, proxy.Url, "busy", "ingestor-busy", flushInterval: "200ms")), factory);
        await using var _ = cloud;
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects");

        // One message, so that every write below is the same batch tried again (messages arriving during a write go
        // into a batch of their own).
        await using (var gw = await TestPublisher.ConnectAsync(mosquitto.Port))
        {
            await gw.PublishAsync(Sample.Batch("site-b", "gw-1", 1, Sample.T0.AddMinutes(1)));
        }
        await Eventually.Until(() => cloud.Ingestor.Stats.Acknowledgements == 1, () => $"the message is acknowledged ({cloud.Ingestor.Stats}); writes seen: {proxy.Describe()}");

        var writes = proxy.Writes.ToList();
        Assert.Equal([503, 429, 401], writes.Take(3).Select(w => w.Status));
        Assert.All(writes.Skip(3), w => Assert.Equal(204, w.Status));
        // Back-off alone would wait 0.1–0.2 s after the first failure: the waits below come from Retry-After.
        Assert.True(writes[1].At - writes[0].At >= TimeSpan.FromSeconds(1.9), $"retried {(writes[1].At - writes[0].At).TotalSeconds:0.00} s after a 503 with Retry-After: 2");
        Assert.True(writes[2].At - writes[1].At >= TimeSpan.FromSeconds(1.9), $"retried {(writes[2].At - writes[1].At).TotalSeconds:0.00} s after a 429 with Retry-After: 2");
        Assert.Equal(0, ackedWhileRefused);
        Assert.Equal(3, cloud.Ingestor.Stats.WriteFailures);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("write answered 401: authorization failed", StringComparison.Ordinal));

        using var influx = new InfluxQlClient(influxd.Url, "busy");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter"));
        Assert.Equal([Sample.T0.AddMinutes(1), Sample.T0.AddMinutes(1).AddSeconds(5)], meter.Times());
    }

    [Fact]
    public async Task A_message_is_written_at_once_when_InfluxDB_is_idle_and_messages_arriving_during_a_write_go_together_in_the_next()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        // Every write is held unanswered until the test lets them pass: "a write in hand".
        await using var proxy = InfluxProxy.Start(influxd.Url, _ => null, holdFrom: 0);
        // A flush interval of a minute: nothing below may be waiting for it.
        await using var cloud = new CloudService(Sample.Config(Sample.IngestYaml(mosquitto, proxy.Url, "natural", "ingestor-natural", flushInterval: "1m")), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects");

        await using var gw = await TestPublisher.ConnectAsync(mosquitto.Port);
        await gw.PublishAsync(Sample.Batch("site-n", "gw-1", 1, Sample.T0.AddMinutes(1)));
        await Eventually.Until(() => !proxy.Writes.IsEmpty, () => $"the lone message is written without waiting for the flush interval ({cloud.Ingestor.Stats})", TimeSpan.FromSeconds(30));

        for (var i = 2; i <= 6; i++) await gw.PublishAsync(Sample.Batch("site-n", "gw-1", i, Sample.T0.AddMinutes(i)));
        await Eventually.Until(() => cloud.Ingestor.Stats.Messages == 6, () => $"the ingestor has received all six messages ({cloud.Ingestor.Stats})");
        Assert.Single(proxy.Writes); // the first write is still in hand: the others wait for it
        Assert.Equal(0, cloud.Ingestor.Stats.Acknowledgements);

        proxy.PassAll();
        await Eventually.Until(() => cloud.Ingestor.Stats.Acknowledgements == 6, () => $"all six are acknowledged ({cloud.Ingestor.Stats}); writes: {proxy.Describe()}", TimeSpan.FromSeconds(30));
        Assert.Equal([Sample.LinesPerBatch, 5 * Sample.LinesPerBatch], proxy.Writes.Select(w => w.Lines));
        Assert.All(proxy.Writes, w => Assert.Equal(204, w.Status));
        using var influx = new InfluxQlClient(influxd.Url, "natural");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter"));
        Assert.Equal(Enumerable.Range(1, 6).SelectMany(i => new[] { Sample.T0.AddMinutes(i), Sample.T0.AddMinutes(i).AddSeconds(5) }), meter.Times());
    }

    [Fact]
    public async Task A_batch_answered_413_is_split_until_InfluxDB_takes_it_and_every_point_lands_once()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        // This "InfluxDB" takes at most 3 lines per request.
        await using var proxy = InfluxProxy.Start(influxd.Url, w => w.Lines > 3 ? new Answer(413, "{\"error\":\"Request Entity Too Large\"}") : null);
        await using var cloud = new CloudService(Sample.Config(Sample.IngestYaml(mosquitto, proxy.Url, "split", "ingestor-split", flushInterval: "200ms")), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects");

        const int batches = 10;
        await using (var gw = await TestPublisher.ConnectAsync(mosquitto.Port))
        {
            for (var i = 1; i <= batches; i++) await gw.PublishAsync(Sample.Batch("site-x", "gw-1", i, Sample.T0.AddMinutes(i)));
        }
        await Eventually.Until(() => cloud.Ingestor.Stats.Acknowledgements == batches, () => $"every batch is acknowledged ({cloud.Ingestor.Stats}); writes: {proxy.Describe()}");

        var writes = proxy.Writes.ToList();
        Assert.Contains(writes, w => w.Status == 413);
        Assert.All(writes.Where(w => w.Status == 204), w => Assert.InRange(w.Lines, 1, 3));
        Assert.Equal(batches * Sample.LinesPerBatch, writes.Where(w => w.Status == 204).Sum(w => w.Lines));
        Assert.Equal(0, cloud.Ingestor.Stats.Rejected + cloud.Ingestor.Stats.Invalid);

        using var influx = new InfluxQlClient(influxd.Url, "split");
        var meter = Assert.Single(await influx.QueryAsync("SELECT energy_import_kwh FROM meter"));
        Assert.Equal(Enumerable.Range(1, batches).SelectMany(i => new[] { Sample.T0.AddMinutes(i), Sample.T0.AddMinutes(i).AddSeconds(5) }), meter.Times());
        Assert.Equal(Enumerable.Range(1, batches).SelectMany(i => new double?[] { 10234.5, 10234.52 + i }), meter.Numbers("energy_import_kwh"));
        var counts = await influx.QueryAsync("SELECT count(kiln_temp_c) FROM kiln; SELECT count(lpg_mass_kg) FROM gas");
        Assert.All(counts, c => Assert.Equal([(double)batches], c.Numbers("count")));
    }

    [Fact]
    public async Task Points_InfluxDB_refuses_are_traced_to_their_message_and_dead_lettered_with_its_reason_while_the_others_are_written()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        // Refuses any request that contains a data point of gateway gw-bad, as InfluxDB does for a field type conflict.
        await using var proxy = InfluxProxy.Start(influxd.Url, w => w.Body.Split('\n').Any(l => l.Contains(",gateway=gw-bad,", StringComparison.Ordinal) && !l.StartsWith("rejected,", StringComparison.Ordinal))
            ? new Answer(400, "{\"error\":\"partial write: field type conflict: input field \\\"power_w\\\" on measurement \\\"meter\\\" is type string, already exists as type float dropped=1\"}")
            : null);
        await using var cloud = new CloudService(Sample.Config(Sample.IngestYaml(mosquitto, proxy.Url, "refused", "ingestor-refused", flushInterval: "200ms")), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await cloud.StartAsync(default);
        await Eventually.Until(() => cloud.Ingestor.IsConnected, "the ingestor connects");

        await using (var good = await TestPublisher.ConnectAsync(mosquitto.Port, "gw-good"))
        await using (var bad = await TestPublisher.ConnectAsync(mosquitto.Port, "gw-bad"))
        {
            await good.PublishAsync(Sample.Batch("site-r", "gw-good", 1, Sample.T0.AddMinutes(1)));
            await bad.PublishAsync(Sample.Batch("site-r", "gw-bad", 1, Sample.T0.AddMinutes(1)));
            await good.PublishAsync(Sample.Batch("site-r", "gw-good", 2, Sample.T0.AddMinutes(2)));
        }
        await Eventually.Until(() => cloud.Ingestor.Stats.Acknowledgements == 3, () => $"all three messages are acknowledged ({cloud.Ingestor.Stats}); writes: {proxy.Describe()}");
        Assert.Equal(1, cloud.Ingestor.Stats.Rejected);

        using var influx = new InfluxQlClient(influxd.Url, "refused");
        var meter = await influx.QueryAsync("SELECT energy_import_kwh FROM meter GROUP BY gateway");
        Assert.Equal("gw-good", Assert.Single(meter).Tags["gateway"]);
        Assert.Equal([Sample.T0.AddMinutes(1), Sample.T0.AddMinutes(1).AddSeconds(5), Sample.T0.AddMinutes(2), Sample.T0.AddMinutes(2).AddSeconds(5)], meter[0].Times());
        var dead = Assert.Single(await influx.QueryAsync($"SELECT reason, topic, payload FROM {Ingestor.RejectedMeasurement} WHERE kind = 'rejected' GROUP BY gateway"));
        Assert.Equal("gw-bad", dead.Tags["gateway"]);
        Assert.Contains("partial write: field type conflict", Assert.Single(dead.Strings("reason")), StringComparison.Ordinal);
        Assert.Equal("kc/v1/site-r/gw-bad/telemetry", Assert.Single(dead.Strings("topic")));
        Assert.Contains("\"gateway\":\"gw-bad\"", Assert.Single(dead.Strings("payload")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_InfluxDB_refuses_the_dead_letter_too_the_payload_is_logged_as_an_error_and_the_ingestor_goes_on()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        var logs = new ListLogs();
        using var factory = logs.Factory();
        await using var cloud = await Sample.StartCloudAsync(Sample.IngestYaml(mosquitto, influxd.Url, "conflict", "ingestor-conflict"), factory, "the ingestor connects");
        // Someone wrote the rejected measurement by hand with "bytes" as text: every dead letter (bytes an integer) now
        // conflicts with it in this shard.
        using (var http = new HttpClient())
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            using var seeded = await http.PostAsync(new Uri($"{influxd.Url}/write?db=conflict&precision=ms"), new StringContent($"{Ingestor.RejectedMeasurement},site=x bytes=\"by hand\" {now}"));
            Assert.Equal(HttpStatusCode.NoContent, seeded.StatusCode);
        }

        await using (var gw = await TestPublisher.ConnectAsync(mosquitto.Port))
        {
            await gw.PublishAsync(Topics.Telemetry("site-c", "gw-1"), Encoding.UTF8.GetBytes("{\"v\":1,\"seq\":\"lost-but-logged\"}"));
            await gw.PublishAsync(Sample.Batch("site-c", "gw-1", 1, Sample.T0.AddMinutes(1)));
        }
        await Eventually.Until(() => cloud.Ingestor.Stats.Acknowledgements == 2, () => $"both messages are acknowledged ({cloud.Ingestor.Stats})");
        Assert.Equal(Sample.LinesPerBatch, cloud.Ingestor.Stats.PointsWritten);
        var error = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains("InfluxDB refused the dead letter too", error.Message, StringComparison.Ordinal);
        Assert.Contains("field type conflict", error.Message, StringComparison.Ordinal);
        Assert.Contains("kc/v1/site-c/gw-1/telemetry", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("{\"v\":1,\"seq\":\"lost-but-logged\"}", error.Message, StringComparison.Ordinal);
    }

    private static Answer? Forward(Action before)
    {
        before();
        return null;
    }
}

/// <summary>What the scripted server answers instead of InfluxDB.</summary>
public sealed record Answer(int Status, string Body, string? RetryAfter = null);

/// <summary>A write request as the scripted server saw it.</summary>
public sealed record WriteSeen(int Index, DateTime At, int Lines, string Body)
{
    public int Status { get; set; }
}

/// <summary>
/// An HTTP server on a free loopback port in front of a real influxd: each <c>/write</c> goes to the script, which either
/// answers it (status, body, Retry-After) or returns null to pass it on; every other request is passed on unchanged.
/// </summary>
public sealed class InfluxProxy : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly HttpClient _upstream;
    private readonly Func<WriteSeen, Answer?> _script;
    private readonly Task _loop;
    private int _writes;

    private volatile int _holdFrom;

    private InfluxProxy(string upstream, Func<WriteSeen, Answer?> script, int holdFrom)
    {
        _holdFrom = holdFrom;
        _upstream = new HttpClient { BaseAddress = new Uri(upstream) };
        _script = script;
        var port = FreePort.Next();
        Url = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Url + "/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; }

    /// <summary>While set, every write is answered 503 and not passed on, held ones included.</summary>
    public bool RefuseWrites { get; set; }

    /// <summary>Every write request, in arrival order, with the status it got.</summary>
    public ConcurrentQueue<WriteSeen> Writes { get; } = new();

    /// <param name="holdFrom">
    /// Writes from this one on (counted from 0) are held, unanswered, until <see cref="RefuseWrites"/> is set: an InfluxDB
    /// that stops answering, so that a crash of the writer certainly lands in the middle of writes.
    /// </param>
    public static InfluxProxy Start(string upstream, Func<WriteSeen, Answer?> script, int holdFrom = int.MaxValue) => new(upstream, script, holdFrom);

    /// <summary>From now on every write is passed on: nothing held, nothing refused.</summary>
    public void PassAll()
    {
        _holdFrom = int.MaxValue;
        RefuseWrites = false;
    }

    /// <summary>Writes held now (see holdFrom), never answered until <see cref="RefuseWrites"/> is set.</summary>
    public int Held => Writes.Count(w => w.Index >= _holdFrom && w.Status == 0);

    public string Describe() => string.Join(", ", Writes.Select(w => $"#{w.Index} {w.Lines} lines → {w.Status}"));

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => HandleAsync(ctx));
        }
    }

    private async Task HandleAsync(HttpListenerContext ctx)
    {
        using var body = new MemoryStream();
        await ctx.Request.InputStream.CopyToAsync(body);
        var bytes = body.ToArray();
        var path = ctx.Request.Url!.PathAndQuery;
        WriteSeen? seen = null;
        Answer? answer = null;
        if (ctx.Request.Url.AbsolutePath == "/write")
        {
            var text = Encoding.UTF8.GetString(bytes);
            seen = new WriteSeen(Interlocked.Increment(ref _writes) - 1, DateTime.UtcNow, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, text);
            answer = _script(seen);
            Writes.Enqueue(seen);
        }
        try
        {
            if (answer is null)
            {
                while (seen is not null && seen.Index >= _holdFrom && !RefuseWrites) await Task.Delay(20);
                if (seen is not null && RefuseWrites) answer = new Answer(503, "{\"error\":\"refused by the test\"}");
            }
            if (answer is null)
            {
                using var request = new HttpRequestMessage(new HttpMethod(ctx.Request.HttpMethod), path.TrimStart('/'));
                if (bytes.Length > 0 || ctx.Request.HttpMethod == "POST")
                {
                    request.Content = new ByteArrayContent(bytes);
                    if (ctx.Request.ContentType is { } type) request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
                }
                using var response = await _upstream.SendAsync(request);
                answer = new Answer((int)response.StatusCode, await response.Content.ReadAsStringAsync());
            }
            if (seen is not null) seen.Status = answer.Status;
            ctx.Response.StatusCode = answer.Status;
            if (answer.RetryAfter is not null) ctx.Response.AddHeader("Retry-After", answer.RetryAfter);
            var payload = Encoding.UTF8.GetBytes(answer.Body);
            if (answer.Status != 204)
            {
                ctx.Response.ContentType = "application/json";
                ctx.Response.ContentLength64 = payload.Length;
                await ctx.Response.OutputStream.WriteAsync(payload);
            }
            ctx.Response.Close();
        }
        catch (Exception ex) when (ex is HttpListenerException or HttpRequestException or ObjectDisposedException)
        {
            try
            {
                ctx.Response.Abort();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (ObjectDisposedException)
        {
        }
        _upstream.Dispose();
    }
}
