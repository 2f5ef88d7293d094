using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using KhuyenCong.Cloud.Influx;

/// <summary>
/// When each write of a drain ran at InfluxDB (start, end, lines) and how fast messages arrived, on the drain's clock:
/// shows which side waits — InfluxDB with fewer writes in hand than the ingestor may send, or the ingestor with
/// nothing to decode.
/// </summary>
internal sealed class Timeline(Stopwatch clock)
{
    private double Now => clock.Elapsed.TotalSeconds;

    private readonly List<(double Start, double End, int Lines)> _writes = [];
    private readonly List<(double At, long Messages)> _received = [];

    public ITimeSeriesSink Wrap(ITimeSeriesSink inner) => new Timed(inner, this);

    private readonly List<(double At, string Event)> _http = [];

    /// <summary>HttpClient's own events (System.Net.Http): when each request body started and finished going out, when the answer's headers came.</summary>
    public IDisposable ListenToHttp() => new HttpEvents(this);

    private sealed class HttpEvents : EventListener
    {
        private Timeline? _t;

        public HttpEvents(Timeline t)
        {
            _t = t;
        }

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "System.Net.Http") EnableEvents(source, EventLevel.Informational, (EventKeywords)(-1));
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (_t is not { } t || e.EventName is not ("RequestContentStart" or "RequestContentStop" or "ResponseHeadersStop" or "RequestHeadersStart")) return;
            lock (t._http) t._http.Add((t.Now, e.EventName));
        }

        public override void Dispose()
        {
            _t = null;
            base.Dispose();
        }
    }

    /// <summary>Seconds with k requests in the phase between the two events (counted, not matched: requests overlap).</summary>
    private string Phase(string enter, string leave, double from, double to)
    {
        List<(double At, string Event)> h;
        lock (_http) h = [.. _http.Where(x => x.At >= from && x.At <= to)];
        var at = new double[6];
        var n = 0;
        for (var i = 0; i < h.Count - 1; i++)
        {
            if (h[i].Event == enter) n++;
            else if (h[i].Event == leave) n = Math.Max(0, n - 1);
            at[Math.Min(n, 5)] += h[i + 1].At - h[i].At;
        }
        return string.Join(" / ", at.Select(x => x.ToString("0.00", CultureInfo.InvariantCulture)));
    }

    /// <summary>Samples the messages received every 10 ms until disposed.</summary>
    public IDisposable Sample(Func<long> messages)
    {
        var stop = new Stop();
        _ = Task.Run(async () =>
        {
            while (!stop.Stopped)
            {
                lock (_received) _received.Add((Now, messages()));
                await Task.Delay(10);
            }
        });
        return stop;
    }

    private sealed class Stop : IDisposable
    {
        private volatile bool _stopped;

        public bool Stopped => _stopped;

        public void Dispose() => _stopped = true;
    }

    public string Describe(double seconds)
    {
        List<(double Start, double End, int Lines)> w;
        lock (_writes) w = [.. _writes.OrderBy(x => x.Start)];
        if (w.Count == 0) return "no writes";
        // Time with k writes at InfluxDB, from the first write's start to the last one's end.
        var edges = w.SelectMany(x => new[] { (T: x.Start, D: 1), (T: x.End, D: -1) }).OrderBy(e => e.T).ThenBy(e => e.D).ToList();
        var at = new double[8];
        var n = 0;
        for (var i = 0; i < edges.Count - 1; i++)
        {
            n += edges[i].D;
            at[Math.Min(n, 7)] += edges[i + 1].T - edges[i].T;
        }
        var inv = CultureInfo.InvariantCulture;
        var span = w[^1].End - w[0].Start;
        var durations = w.Select(x => (x.End - x.Start) * 1000).OrderBy(x => x).ToList();
        // Messages received by the time of each quarter of the drain.
        List<(double At, long Messages)> r;
        lock (_received) r = [.. _received];
        var quarters = string.Join(" ", Enumerable.Range(1, 4).Select(q => r.LastOrDefault(x => x.At <= seconds * q / 4).Messages.ToString("N0", inv)));
        var first = r.FirstOrDefault(x => x.Messages > 0).At;
        return string.Create(inv,
            $"{w.Count} writes; first message at {first:0.000} s, first write {w[0].Start:0.000} s, last answer {w[^1].End:0.000} s; " +
            $"time with 0/1/2/3/4/5+ writes at InfluxDB: {string.Join(" / ", Enumerable.Range(0, 6).Select(k => (k < 5 ? at[k] : at[5..].Sum()).ToString("0.00", inv)))} s of {span:0.00}; " +
            $"write ms p10/p50/p90/max {durations[durations.Count / 10]:0} / {durations[durations.Count / 2]:0} / {durations[durations.Count * 9 / 10]:0} / {durations[^1]:0}; " +
            $"messages received by each quarter: {quarters}; " +
            $"time with 0/1/2/3/4/5+ request bodies going out: {Phase("RequestContentStart", "RequestContentStop", w[0].Start, w[^1].End)} s; " +
            $"with 0/1/2/3/4/5+ requests sent, answer not yet read: {Phase("RequestContentStop", "ResponseHeadersStop", w[0].Start, w[^1].End)} s; " +
            $"headers to body start {Gap("RequestHeadersStart", "RequestContentStart")}; body start to stop {Gap("RequestContentStart", "RequestContentStop")}");
    }

    /// <summary>Times from each 'a' event to a 'b' event, matched first in, first out (exact while requests do not overtake each other in that phase).</summary>
    private string Gap(string a, string b)
    {
        List<(double At, string Event)> h;
        lock (_http) h = [.. _http];
        var d = new List<double>();
        var pending = new Queue<double>();
        foreach (var x in h)
        {
            if (x.Event == a) pending.Enqueue(x.At);
            else if (x.Event == b && pending.Count > 0) d.Add((x.At - pending.Dequeue()) * 1000);
        }
        if (d.Count == 0) return "none";
        d.Sort();
        return string.Create(CultureInfo.InvariantCulture, $"ms p50 {d[d.Count / 2]:0.0} p90 {d[d.Count * 9 / 10]:0.0} max {d[^1]:0.0} (n {d.Count})");
    }

    private sealed class Timed(ITimeSeriesSink inner, Timeline t) : ITimeSeriesSink
    {
        public Task PrepareAsync(CancellationToken ct) => inner.PrepareAsync(ct);

        public Task WriteAsync(IReadOnlyList<PointData> points, CancellationToken ct) => inner.WriteAsync(points, ct);

        public async Task WriteLinesAsync(IReadOnlyList<ReadOnlyMemory<byte>> chunks, WritePrecision precision, CancellationToken ct)
        {
            var start = t.Now;
            await inner.WriteLinesAsync(chunks, precision, ct);
            var end = t.Now;
            var lines = 0;
            foreach (var c in chunks) lines += c.Span.Count((byte)'\n');
            lock (t._writes) t._writes.Add((start, end, lines));
        }

        public string Describe() => inner.Describe();

        public void Dispose() => inner.Dispose();
    }
}
