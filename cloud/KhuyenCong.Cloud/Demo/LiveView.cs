using System.Globalization;
using KhuyenCong.Cloud.Influx;

namespace KhuyenCong.Cloud.Demo;

/// <summary>What a kiln looks like right now, read back from InfluxDB (so the view proves the whole pipeline).</summary>
public sealed record KilnSnapshot(string Kiln, double? TemperatureC, double? SetpointC, bool? Running, double? PowerW, double? EnergyKwh, double? LpgKg, DateTimeOffset? LastSeen);

/// <summary>Per-kiln summary queried with InfluxQL, the same way dashboards and reports read the data.</summary>
public static class LiveView
{
    public static async Task<IReadOnlyList<KilnSnapshot>> QueryAsync(InfluxQlClient influx, string site, DateTimeOffset since, CancellationToken ct)
    {
        var s = Escape(site);
        var from = since.ToUnixTimeMilliseconds();
        var q = string.Join(';',
            $"SELECT last(kiln_temp_c) AS temp, last(kiln_setpoint_c) AS sp, last(kiln_running) AS running FROM kiln WHERE site = '{s}' GROUP BY kiln",
            $"SELECT last(power_w) AS power, last(energy_import_kwh) - first(energy_import_kwh) AS energy FROM meter WHERE site = '{s}' AND time >= {from}ms GROUP BY kiln",
            $"SELECT last(lpg_mass_kg) AS lpg FROM gas WHERE site = '{s}' GROUP BY kiln");
        var series = await influx.QueryAsync(q, ct).ConfigureAwait(false);
        var byKiln = new SortedDictionary<string, KilnSnapshot>(StringComparer.Ordinal);
        foreach (var x in series)
        {
            if (!x.Tags.TryGetValue("kiln", out var kiln) || kiln.Length == 0) continue;
            var row = x.Values.Count > 0 ? x.Values[^1] : null;
            if (row is null) continue;
            byKiln.TryGetValue(kiln, out var k);
            k ??= new KilnSnapshot(kiln, null, null, null, null, null, null, null);
            double? Get(string col) => x.Columns.Contains(col) && row[x.Column(col)].ValueKind == System.Text.Json.JsonValueKind.Number ? row[x.Column(col)].GetDouble() : null;
            var seen = DateTimeOffset.FromUnixTimeMilliseconds(row[0].GetInt64());
            k = x.Name switch
            {
                "kiln" => k with { TemperatureC = Get("temp"), SetpointC = Get("sp"), Running = Get("running") is { } r ? r >= 0.5 : null, LastSeen = seen },
                "meter" => k with { PowerW = Get("power"), EnergyKwh = Get("energy") },
                "gas" => k with { LpgKg = Get("lpg") },
                _ => k,
            };
            byKiln[kiln] = k;
        }
        return [.. byKiln.Values];
    }

    public static string Format(KilnSnapshot k)
    {
        var inv = CultureInfo.InvariantCulture;
        string F(double? v, string fmt, string unit) => v is { } x ? x.ToString(fmt, inv) + unit : "—";
        var state = k.Running switch { true => "firing", false => "idle", null => "?" };
        return $"{k.Kiln,-10} {F(k.TemperatureC, "0", " °C"),8} → {F(k.SetpointC, "0", " °C"),-8} {state,-6}  power {F(k.PowerW is { } p ? p / 1000 : null, "0.0", " kW"),8}  energy {F(k.EnergyKwh, "0.00", " kWh"),11}  LPG {F(k.LpgKg, "0.0", " kg")}";
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal);
}
