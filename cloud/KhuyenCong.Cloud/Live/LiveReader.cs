using System.Text.Json;
using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Cloud.Web;
using KhuyenCong.Configuration;

namespace KhuyenCong.Cloud.Live;

/// <summary>
/// Reads what the live page shows from InfluxDB with InfluxQL. The latest values are read whole on every poll (a few
/// small "last row" queries); a firing's energy and temperature curve are read once and then only the points that
/// arrived since the previous poll (<see cref="SiteWatch"/> keeps the running sums), so a long firing costs the same
/// per poll as a short one.
/// </summary>
public sealed class LiveReader(CloudWebContext ctx)
{
    /// <summary>How far back the page looks for the latest values and for the start of a firing.</summary>
    public static readonly TimeSpan Lookback = TimeSpan.FromDays(7);
    /// <summary>Points the first load of a curve asks for at most (then it grows by the raw points that arrive).</summary>
    public const int CurveBuckets = 240;
    private static readonly TimeSpan RecentRefresh = TimeSpan.FromSeconds(60);

    /// <summary>The site's kilns and status now. <paramref name="watch"/> carries what earlier polls of the same page read.</summary>
    public async Task<(IReadOnlyList<KilnCard> Kilns, SiteStatus Status)> ReadSiteAsync(SiteEntry site, SiteWatch watch, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var latest = await ReadLatestAsync(site, ct).ConfigureAwait(false);
        if (now - watch.RecentReadAt > RecentRefresh)
        {
            watch.Recent = await ReadRecentFiringsAsync(site, ct).ConfigureAwait(false);
            watch.RecentReadAt = now;
        }

        var cards = new List<KilnCard>();
        foreach (var kiln in site.Kilns)
        {
            latest.Controllers.TryGetValue(kiln.Id, out var ctl);
            var card = new KilnCard
            {
                Kiln = kiln.Id,
                Name = kiln.Name,
                Type = YamlBinder.ToSnake(kiln.Type.ToString()),
                TempC = ctl?.Temp,
                SetpointC = ctl?.Setpoint,
                Running = ctl?.Running,
                Segment = ctl?.Segment,
                PowerKw = PowerKw(site.MetersOf(kiln.Id).Where(m => m.Carrier == Carrier.Electricity), latest),
                Recent = watch.Recent.GetValueOrDefault(kiln.Id) ?? [],
            };
            card = WithGasRate(card, site.MetersOf(kiln.Id).Where(m => m.Carrier != Carrier.Electricity), latest);

            // The firing is looked up again only when the run state changes (a firing starts or ends).
            var state = watch.Kiln(kiln.Id);
            if (!state.Checked || state.CheckedFor != card.Running)
            {
                var window = card.Running is { } running ? await FindFiringAsync(site.Id, kiln.Id, running, ct).ConfigureAwait(false) : null;
                if (!state.Checked || window != state.Window) state.Reset(window);
                state.Checked = true;
                state.CheckedFor = card.Running;
            }
            if (state.Window is { } w)
            {
                await AccumulateAsync(site, kiln.Id, state, w, ct).ConfigureAwait(false);
                await ExtendCurveAsync(site.Id, kiln.Id, state, w, now, ct).ConfigureAwait(false);
                card = Totals(card, site, kiln.Id, state, w, now);
            }
            cards.Add(card);
        }

        var gateways = site.Gateways.Select(g =>
        {
            latest.Status.TryGetValue(g.Id, out var st);
            var seen = latest.Devices.Where(d => d.Gateway == g.Id).Select(d => (long?)d.LastMs).Max();
            return new GatewayState(g.Id, st.Online, st.AtMs, seen);
        }).ToList();
        var status = new SiteStatus(site.Id, site.Name, PowerKw(site.SiteTotalMeters(Carrier.Electricity), latest), cards.Count(c => c.Running == true), gateways,
            [.. latest.Devices.OrderBy(d => d.Gateway, StringComparer.Ordinal).ThenBy(d => d.Device, StringComparer.Ordinal)]);
        return (cards, status);
    }

    /// <summary>The centre's view: one row per site (one InfluxDB request per site).</summary>
    public async Task<IReadOnlyList<SiteRow>> ReadSitesAsync(IReadOnlyList<SiteEntry> sites, CancellationToken ct)
    {
        var rows = new List<SiteRow>();
        foreach (var site in sites)
        {
            var latest = await ReadLatestAsync(site, ct).ConfigureAwait(false);
            var firing = site.Kilns.Count(k => latest.Controllers.TryGetValue(k.Id, out var c) && c.Running == true);
            var online = site.Gateways.Count(g => latest.Status.TryGetValue(g.Id, out var s) && s.Online == true);
            rows.Add(new SiteRow(site.Id, site.Name, site.Address, PowerKw(site.SiteTotalMeters(Carrier.Electricity), latest), firing, site.Kilns.Count, online, site.Gateways.Count,
                latest.Devices.Select(d => (long?)d.LastMs).Max()));
        }
        return rows;
    }

    // ---- latest values -------------------------------------------------------------------------------------------

    private sealed record Controller(double? Temp, double? Setpoint, bool? Running, int? Segment, long AtMs);

    private sealed record Row(long T, double? A, double? B, double? C);

    private sealed class Latest
    {
        public Dictionary<string, Controller> Controllers { get; } = new(StringComparer.Ordinal);
        /// <summary>Device → newest rows first (meter: power_w, energy_import_kwh; gas: lpg_mass_kg, gas_volume_m3, gas_flow_m3h).</summary>
        public Dictionary<string, List<Row>> Meter { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, List<Row>> Gas { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, (bool? Online, long? AtMs)> Status { get; } = new(StringComparer.Ordinal);
        public List<DeviceSeen> Devices { get; } = [];
    }

    private async Task<Latest> ReadLatestAsync(SiteEntry site, CancellationToken ct)
    {
        var s = Q(site.Id);
        var since = $"time > now() - {(long)Lookback.TotalHours}h";
        var q = string.Join(';',
            $"SELECT kiln_temp_c, kiln_setpoint_c, kiln_running, kiln_segment FROM kiln WHERE site = '{s}' AND {since} GROUP BY kiln, device, gateway ORDER BY time DESC LIMIT 1",
            $"SELECT power_w, energy_import_kwh FROM meter WHERE site = '{s}' AND {since} GROUP BY device, gateway, kiln ORDER BY time DESC LIMIT 2",
            $"SELECT lpg_mass_kg, gas_volume_m3, gas_flow_m3h FROM gas WHERE site = '{s}' AND {since} GROUP BY device, gateway, kiln ORDER BY time DESC LIMIT 12",
            $"SELECT online FROM gateway_status WHERE site = '{s}' GROUP BY gateway ORDER BY time DESC LIMIT 1");
        var result = await ctx.Influx.QueryAsync(q, ct).ConfigureAwait(false);
        var latest = new Latest();
        foreach (var x in result)
        {
            if (x.Values.Count == 0) continue;
            var tag = (string name) => x.Tags.GetValueOrDefault(name) is { Length: > 0 } v ? v : null;
            var times = x.Times().Select(t => t.ToUnixTimeMilliseconds()).ToList();
            switch (x.Name)
            {
                case "kiln":
                    {
                        var kiln = tag("kiln");
                        var c = new Controller(Num(x, 0, "kiln_temp_c"), Num(x, 0, "kiln_setpoint_c"), Num(x, 0, "kiln_running") is { } r ? r >= 0.5 : null,
                            Num(x, 0, "kiln_segment") is { } sg ? (int)Math.Round(sg) : null, times[0]);
                        // A kiln with two controllers: the one heard from last.
                        if (kiln is not null && (!latest.Controllers.TryGetValue(kiln, out var old) || old.AtMs < c.AtMs)) latest.Controllers[kiln] = c;
                        AddDevice(latest, x, times[0], kiln);
                        break;
                    }
                case "meter":
                    latest.Meter[tag("device") ?? ""] = [.. x.Values.Select((_, i) => new Row(times[i], Num(x, i, "power_w"), Num(x, i, "energy_import_kwh"), null))];
                    AddDevice(latest, x, times[0], tag("kiln"));
                    break;
                case "gas":
                    latest.Gas[tag("device") ?? ""] = [.. x.Values.Select((_, i) => new Row(times[i], Num(x, i, "lpg_mass_kg"), Num(x, i, "gas_volume_m3"), Num(x, i, "gas_flow_m3h")))];
                    AddDevice(latest, x, times[0], tag("kiln"));
                    break;
                case "gateway_status":
                    if (tag("gateway") is { } gw) latest.Status[gw] = (Num(x, 0, "online") is { } o ? o >= 0.5 : null, times[0]);
                    break;
            }
        }
        return latest;
    }

    private static void AddDevice(Latest latest, Series x, long at, string? kiln)
    {
        if (x.Tags.GetValueOrDefault("device") is { Length: > 0 } d)
            latest.Devices.Add(new DeviceSeen(d, x.Tags.GetValueOrDefault("gateway") ?? "", x.Name, kiln, at));
    }

    /// <summary>Sum of the meters' power now, kW: their power_w reading, or the energy counter's last step when they send no power.</summary>
    private static double? PowerKw(IEnumerable<MeterEntry> meters, Latest latest)
    {
        double? sum = null;
        foreach (var m in meters)
        {
            if (!latest.Meter.TryGetValue(m.Device, out var rows) || rows.Count == 0) continue;
            double? kw = rows[0].A is { } w ? w / 1000 : null;
            if (kw is null && rows.Count == 2 && rows[0].B is { } e1 && rows[1].B is { } e0 && rows[0].T > rows[1].T && e1 >= e0)
                kw = (e1 - e0) / ((rows[0].T - rows[1].T) / 3_600_000.0);
            if (kw is { } k) sum = (sum ?? 0) + k;
        }
        return sum;
    }

    /// <summary>Gas use now from the last readings of the kiln's gas meters: the flow reading, or the change of the scale/counter over its last 12 readings.</summary>
    private static KilnCard WithGasRate(KilnCard card, IEnumerable<MeterEntry> meters, Latest latest)
    {
        double? rate = null;
        string? unit = null;
        foreach (var m in meters)
        {
            if (!latest.Gas.TryGetValue(m.Device, out var rows) || rows.Count == 0) continue;
            double? r = null;
            if (m.Point == "lpg_mass_kg")
            {
                r = StockRate(rows.Select(x => (x.T, x.A)), falling: true);
                unit = "kg/h";
            }
            else if (rows[0].C is { } flow)
            {
                r = flow;
                unit = "m3/h";
            }
            else
            {
                r = StockRate(rows.Select(x => (x.T, x.B)), falling: false);
                unit = "m3/h";
            }
            if (r is { } v) rate = (rate ?? 0) + v;
        }
        return card with { GasRate = rate, GasRateUnit = unit };
    }

    /// <summary>Use per hour from readings newest first: the sum of the steps in the using direction (a refill or a reset is skipped) over the time they span.</summary>
    private static double? StockRate(IEnumerable<(long T, double? V)> newestFirst, bool falling)
    {
        var pts = newestFirst.Where(p => p.V is not null).Select(p => (p.T, V: p.V!.Value)).Reverse().ToList();
        if (pts.Count < 2 || pts[^1].T <= pts[0].T) return null;
        double used = 0;
        for (var i = 1; i < pts.Count; i++)
        {
            var d = falling ? pts[i - 1].V - pts[i].V : pts[i].V - pts[i - 1].V;
            if (d > 0) used += d;
        }
        return used / ((pts[^1].T - pts[0].T) / 3_600_000.0);
    }

    // ---- the firing: when it started, its energy, its curve ---------------------------------------------------------

    /// <summary>
    /// The current firing (running) or the last one (idle) from the controller's run state: it starts at the first
    /// "running" reading after the last "not running" one, and ends at the first "not running" reading after it.
    /// </summary>
    private async Task<FiringWindow?> FindFiringAsync(string site, string kiln, bool running, CancellationToken ct)
    {
        var w = $"site = '{Q(site)}' AND kiln = '{Q(kiln)}'";
        var lookback = DateTimeOffset.UtcNow - Lookback;
        var lb = $"time > {lookback.ToUnixTimeMilliseconds()}ms";
        if (running)
        {
            var idle = await TimeOfAsync($"SELECT last(kiln_running) FROM kiln WHERE {w} AND kiln_running < 0.5 AND {lb}", ct).ConfigureAwait(false);
            var start = await TimeOfAsync($"SELECT first(kiln_running) FROM kiln WHERE {w} AND kiln_running > 0.5 AND time > {(idle ?? lookback.ToUnixTimeMilliseconds())}ms", ct).ConfigureAwait(false);
            return start is { } s ? new FiringWindow(s, null) : null;
        }
        var lastRun = await TimeOfAsync($"SELECT last(kiln_running) FROM kiln WHERE {w} AND kiln_running > 0.5 AND {lb}", ct).ConfigureAwait(false);
        if (lastRun is null) return null;
        var idleBefore = await TimeOfAsync($"SELECT last(kiln_running) FROM kiln WHERE {w} AND kiln_running < 0.5 AND {lb} AND time < {lastRun}ms", ct).ConfigureAwait(false);
        var end = await TimeOfAsync($"SELECT first(kiln_running) FROM kiln WHERE {w} AND kiln_running < 0.5 AND time > {lastRun}ms", ct).ConfigureAwait(false) ?? lastRun;
        var begin = await TimeOfAsync($"SELECT first(kiln_running) FROM kiln WHERE {w} AND kiln_running > 0.5 AND time > {(idleBefore ?? lookback.ToUnixTimeMilliseconds())}ms", ct).ConfigureAwait(false);
        return begin is { } b ? new FiringWindow(b, end) : null;
    }

    private async Task<long?> TimeOfAsync(string q, CancellationToken ct)
    {
        var r = await ctx.Influx.QueryAsync(q, ct).ConfigureAwait(false);
        return r.Count > 0 && r[0].Values.Count > 0 ? r[0].Times().First().ToUnixTimeMilliseconds() : null;
    }

    /// <summary>Adds the energy of the readings that arrived since the last poll to the firing's running sums.</summary>
    private async Task AccumulateAsync(SiteEntry site, string kiln, KilnWatch state, FiringWindow w, CancellationToken ct)
    {
        var meters = site.MetersOf(kiln).ToList();
        if (meters.Count == 0) return;
        var until = w.End is { } e ? $" AND time <= {e}ms" : "";
        var statements = meters.Select(m =>
        {
            var acc = state.Meter(m.Device);
            var from = acc.LastT is { } lt ? $"time > {lt}ms" : $"time >= {w.Start}ms";
            return $"SELECT {m.Point} FROM {MeasurementOf(m)} WHERE site = '{Q(site.Id)}' AND device = '{Q(m.Device)}' AND {from}{until} GROUP BY device";
        });
        var result = await ctx.Influx.QueryAsync(string.Join(';', statements), ct).ConfigureAwait(false);
        var tariff = ctx.Factors.Tariff;
        foreach (var m in meters)
        {
            var acc = state.Meter(m.Device);
            foreach (var x in result.Where(x => x.Name == MeasurementOf(m) && x.Tags.GetValueOrDefault("device") == m.Device && x.Columns.Contains(m.Point)))
            {
                var times = x.Times().Select(t => t.ToUnixTimeMilliseconds()).ToList();
                var values = x.Numbers(m.Point).ToList();
                for (var i = 0; i < times.Count; i++)
                {
                    if (values[i] is { } v) acc.Add(m, times[i], v, tariff);
                }
            }
        }
    }

    private static string MeasurementOf(MeterEntry m) => m.Carrier == Carrier.Electricity ? "meter" : "gas";

    private async Task ExtendCurveAsync(string site, string kiln, KilnWatch state, FiringWindow w, DateTimeOffset now, CancellationToken ct)
    {
        // The curve runs from the firing's start to now: after a firing it shows the kiln cooling down.
        var where = $"site = '{Q(site)}' AND kiln = '{Q(kiln)}'";
        string q;
        var coveredUntil = now.ToUnixTimeMilliseconds();
        if (state.CurveLastT is { } last)
        {
            q = $"SELECT kiln_temp_c, kiln_setpoint_c FROM kiln WHERE {where} AND time > {last}ms";
        }
        else
        {
            var endMs = coveredUntil;
            var bucket = Math.Max(1000, (endMs - w.Start) / CurveBuckets);
            q = $"SELECT mean(kiln_temp_c) AS kiln_temp_c, mean(kiln_setpoint_c) AS kiln_setpoint_c FROM kiln WHERE {where} AND time >= {w.Start}ms AND time <= {endMs}ms GROUP BY time({bucket}ms) fill(none)";
        }
        var r = await ctx.Influx.QueryAsync(q, ct).ConfigureAwait(false);
        if (r.Count == 0 || r[0].Values.Count == 0) return;
        var times = r[0].Times().Select(t => t.ToUnixTimeMilliseconds()).ToList();
        var temps = r[0].Numbers("kiln_temp_c").ToList();
        var sps = r[0].Numbers("kiln_setpoint_c").ToList();
        var fresh = new List<CurvePoint>();
        for (var i = 0; i < times.Count; i++)
        {
            if (temps[i] is null && sps[i] is null) continue;
            fresh.Add(new CurvePoint(times[i], temps[i] is { } t ? Math.Round(t, 1) : null, sps[i] is { } s ? Math.Round(s, 1) : null));
        }
        if (fresh.Count == 0) return;
        state.Curve.AddRange(fresh);
        state.Pending.AddRange(fresh);
        // Bucket times are bucket starts: after the first read, the next one continues from the end of what it covered.
        state.CurveLastT = state.CurveLastT is null ? coveredUntil : times[^1];
        if (state.Curve.Count > 4 * CurveBuckets) state.Thin();
    }

    private KilnCard Totals(KilnCard card, SiteEntry site, string kiln, KilnWatch state, FiringWindow w, DateTimeOffset now)
    {
        double? kwh = null, kg = null, m3 = null, cost = null, mj = null;
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        foreach (var m in site.MetersOf(kiln))
        {
            var acc = state.Meter(m.Device);
            if (acc.LastT is null) continue;
            switch (m.Carrier, m.Point)
            {
                case (Carrier.Electricity, _):
                    kwh = (kwh ?? 0) + acc.Amount;
                    cost = (cost ?? 0) + acc.CostVnd;
                    break;
                case (_, "lpg_mass_kg"):
                    kg = (kg ?? 0) + acc.Amount;
                    break;
                default:
                    m3 = (m3 ?? 0) + acc.Amount;
                    break;
            }
            try
            {
                var unit = m.Carrier == Carrier.Electricity ? PhysicalUnit.KWh : m.Point == "lpg_mass_kg" ? PhysicalUnit.Kg : PhysicalUnit.CubicMetre;
                mj = (mj ?? 0) + ctx.Factors.Toe.Convert(new Quantity(m.Carrier, acc.Amount, unit), day).Mj;
            }
            catch (Exception ex) when (ex is MissingFactorException or ArgumentException or InvalidOperationException)
            {
                // No conversion factor for this carrier: the total in MJ stays unknown rather than wrong.
                mj = double.NaN;
            }
        }
        if (mj is double.NaN) mj = null;
        card = card with { FiringStartMs = w.Start, FiringEndMs = w.End, ElectricityKwh = kwh, LpgKg = kg, GasM3 = m3, EnergyMj = mj, CostVnd = cost };

        var completed = card.Recent.Where(f => f.DurationH is > 0).Take(5).Select(f => f.DurationH!.Value).Order().ToList();
        double? planned = completed.Count == 0 ? null : completed.Count % 2 == 1 ? completed[completed.Count / 2] : (completed[completed.Count / 2 - 1] + completed[completed.Count / 2]) / 2;
        if (w.End is not null) return card with { PlannedDurationH = planned, ProjectionNote = "not-running" };
        if (planned is null) return card with { ProjectionNote = "no-history" };
        var elapsedH = (now.ToUnixTimeMilliseconds() - w.Start) / 3_600_000.0;
        if (mj is null || elapsedH < 0.1 * planned.Value) return card with { PlannedDurationH = planned, ProjectionNote = "too-early" };
        return card with { PlannedDurationH = planned, ProjectedMj = mj.Value * Math.Max(1, planned.Value / elapsedH) };
    }

    // ---- recent firings (written by the analytics jobs) --------------------------------------------------------------

    private async Task<Dictionary<string, IReadOnlyList<RecentFiring>>> ReadRecentFiringsAsync(SiteEntry site, CancellationToken ct)
    {
        var map = new Dictionary<string, IReadOnlyList<RecentFiring>>(StringComparer.Ordinal);
        var r = await ctx.Influx.QueryAsync($"SELECT * FROM firing WHERE site = '{Q(site.Id)}' AND time > now() - 400d GROUP BY kiln ORDER BY time DESC LIMIT 8", ct).ConfigureAwait(false);
        foreach (var x in r)
        {
            if (x.Tags.GetValueOrDefault("kiln") is not { Length: > 0 } kiln) continue;
            var times = x.Times().ToList();
            var list = new List<RecentFiring>();
            for (var i = 0; i < x.Values.Count; i++)
            {
                var running = Num(x, i, "running");
                if (running is >= 0.5 || (Has(x, "end_ms") && Num(x, i, "end_ms") is null && running is null)) continue;
                list.Add(new RecentFiring(times[i].ToUnixTimeMilliseconds(), Num(x, i, "duration_h"), Num(x, i, "energy_mj"), Num(x, i, "ware_kg"), Num(x, i, "sec_mj_per_kg")));
            }
            map[kiln] = list.Take(5).ToList();
        }
        return map;
    }

    private static bool Has(Series x, string column) => x.Columns.Contains(column);

    private static double? Num(Series x, int row, string column)
    {
        var c = -1;
        for (var i = 0; i < x.Columns.Count; i++)
        {
            if (x.Columns[i] == column)
            {
                c = i;
                break;
            }
        }
        if (c < 0) return null;
        var v = x.Values[row][c];
        return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
    }

    /// <summary>Escapes a value for a single-quoted InfluxQL string (ids are restricted anyway).</summary>
    internal static string Q(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal);
}

/// <summary>A firing's time span: [Start, End], End null while it runs.</summary>
public readonly record struct FiringWindow(long Start, long? End);

/// <summary>What one page (one event stream) has read so far: per kiln, the firing, its energy sums and its curve.</summary>
public sealed class SiteWatch
{
    private readonly Dictionary<string, KilnWatch> _kilns = new(StringComparer.Ordinal);

    public KilnWatch Kiln(string kiln)
    {
        if (!_kilns.TryGetValue(kiln, out var k)) _kilns[kiln] = k = new KilnWatch();
        return k;
    }

    public Dictionary<string, IReadOnlyList<RecentFiring>> Recent { get; set; } = new(StringComparer.Ordinal);
    public DateTimeOffset RecentReadAt { get; set; } = DateTimeOffset.MinValue;
}

public sealed class KilnWatch
{
    private readonly Dictionary<string, MeterSum> _meters = new(StringComparer.Ordinal);

    public FiringWindow? Window { get; private set; }
    /// <summary>The firing was looked up for the run state <see cref="CheckedFor"/>.</summary>
    public bool Checked { get; set; }
    public bool? CheckedFor { get; set; }
    public List<CurvePoint> Curve { get; } = [];
    /// <summary>Curve points not yet sent to the page.</summary>
    public List<CurvePoint> Pending { get; } = [];
    /// <summary>The page must drop its curve before adding <see cref="Pending"/> (a new firing, or the curve was thinned).</summary>
    public bool CurveReset { get; set; } = true;
    public long? CurveLastT { get; set; }

    public MeterSum Meter(string device)
    {
        if (!_meters.TryGetValue(device, out var m)) _meters[device] = m = new MeterSum();
        return m;
    }

    public void Reset(FiringWindow? window)
    {
        Window = window;
        _meters.Clear();
        Curve.Clear();
        Pending.Clear();
        CurveReset = true;
        CurveLastT = null;
    }

    /// <summary>Keeps every second point of a long curve (the page redraws it whole).</summary>
    public void Thin()
    {
        var kept = Curve.Where((_, i) => i % 2 == 0 || i == Curve.Count - 1).ToList();
        Curve.Clear();
        Curve.AddRange(kept);
        Pending.Clear();
        Pending.AddRange(kept);
        CurveReset = true;
    }
}

/// <summary>
/// A meter's use since the firing started, from its readings in time order: a counter's increases (a drop is a reset
/// or a rollover and is skipped), a scale's decreases (a rise is a refill), or power integrated over time. A step larger
/// than an hour of the meter's plausible maximum (max_rate_per_hour in the site registry) is a misread and is skipped.
/// </summary>
public sealed class MeterSum
{
    public long? LastT { get; private set; }
    private double _last;
    public double Amount { get; private set; }
    public double CostVnd { get; private set; }

    public void Add(MeterEntry m, long t, double v, TouTariff tariff)
    {
        if (LastT is not { } t0 || t <= t0)
        {
            if (LastT is null)
            {
                LastT = t;
                _last = v;
            }
            return;
        }
        var hours = (t - t0) / 3_600_000.0;
        double step = m.Point switch
        {
            "power_w" => hours <= 5 * m.PollInterval.TotalHours ? (_last + v) / 2 / 1000 * hours : 0,
            "lpg_mass_kg" => Math.Max(0, _last - v),
            _ => Math.Max(0, v - _last),
        };
        // More than an hour's worth of the meter's maximum use in one step is a misread, not use. (A finer bound per
        // elapsed time would also refuse the demo's compressed time; the analytics apply the exact rule.)
        // The misread is dropped and the reading before it stays the baseline, so the use around it still counts.
        if (m.MaxRatePerHour is { } max && step > max * Math.Max(hours, 1)) return;
        if (step > 0)
        {
            Amount += step;
            if (m.Carrier == Carrier.Electricity)
            {
                try
                {
                    CostVnd += tariff.Split(DateTimeOffset.FromUnixTimeMilliseconds(t0), DateTimeOffset.FromUnixTimeMilliseconds(t), step, VoltageLevel.Below6kV).CostVnd;
                }
                catch (MissingFactorException)
                {
                    // No price in force for that day: the cost covers what can be priced.
                }
            }
        }
        LastT = t;
        _last = v;
    }
}
