using System.Net.Http.Json;
using System.Text.Json;

namespace KhuyenCong.Api.Tests;

/// <summary>What the read endpoints answer, checked against the points in influxd (<see cref="Seed"/>) and numbers worked out here.</summary>
[Collection(ApiCollection.Name)]
public sealed class DataTests(ApiServer server)
{
    [Fact]
    public async Task Site_detail_lists_kilns_meters_baseline_and_target()
    {
        using var c = server.Client("op-a");
        var s = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a");
        Assert.Equal("Xưởng A / Workshop A", s.GetProperty("name").GetString());
        Assert.Equal(["kiln-1", "kiln-2"], s.GetProperty("kilns").EnumerateArray().Select(k => k.GetProperty("id").GetString()!).ToArray());
        Assert.Equal(["kiln1-lpg"], s.GetProperty("kilns")[0].GetProperty("meters").EnumerateArray().Select(m => m.GetString()!).ToArray());
        Assert.Equal("lpg", s.GetProperty("kilns")[0].GetProperty("type").GetString());
        var main = s.GetProperty("meters").EnumerateArray().Single(m => m.GetProperty("device").GetString() == "main-meter");
        Assert.Equal("site", main.GetProperty("covers").GetString());
        Assert.Equal(5, main.GetProperty("poll_interval_s").GetDouble());
        Assert.Equal(5, s.GetProperty("target_savings_percent").GetDouble());
        Assert.Equal(DateTimeOffset.Parse("2023-12-31T17:00:00Z", System.Globalization.CultureInfo.InvariantCulture), s.GetProperty("baseline").GetProperty("from").GetDateTimeOffset());
        var measure = Assert.Single(s.GetProperty("measures").EnumerateArray());
        Assert.Equal("2025-02-01", measure.GetProperty("implemented").GetString());
        Assert.Equal(4, measure.GetProperty("expected_savings_percent").GetDouble());
        using var centre = server.Client("centre");
        Assert.Equal(8, (await centre.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-c")).GetProperty("target_savings_percent").GetDouble());
    }

    [Fact]
    public async Task Live_status_shows_the_latest_reading_of_each_kiln_meter_and_gateway()
    {
        using var c = server.Client("op-a");
        var live = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/live");
        var k1 = live.GetProperty("kilns")[0];
        Assert.Equal("kiln-1", k1.GetProperty("kiln").GetString());
        Assert.Equal(852.5, k1.GetProperty("temp_c").GetDouble());
        Assert.Equal(900, k1.GetProperty("setpoint_c").GetDouble());
        Assert.True(k1.GetProperty("running").GetBoolean());
        Assert.False(k1.GetProperty("alarm").GetBoolean());
        Assert.Equal(35.5, k1.GetProperty("lpg_mass_kg").GetDouble());
        var k2 = live.GetProperty("kilns")[1];
        Assert.False(k2.GetProperty("running").GetBoolean());
        Assert.Equal(120, k2.GetProperty("power_w").GetDouble());
        Assert.Equal(15250, live.GetProperty("site_power_w").GetDouble());
        var gw = Assert.Single(live.GetProperty("gateways").EnumerateArray());
        Assert.True(gw.GetProperty("online").GetBoolean());
        Assert.True(gw.GetProperty("last_seen").GetDateTimeOffset() > gw.GetProperty("status_at").GetDateTimeOffset());
        var devices = live.GetProperty("devices").EnumerateArray().ToList();
        Assert.Equal(["kiln1-ctl", "kiln1-lpg", "kiln2-ctl", "kiln2-meter", "main-meter"], devices.Select(d => d.GetProperty("device").GetString()!).ToArray());
        Assert.All(devices, d => Assert.InRange(d.GetProperty("age_s").GetDouble(), 0, 3600));
        Assert.DoesNotContain(devices, d => d.GetProperty("values").TryGetProperty("kiln_temp_c", out var t) && t.GetDouble() == 1111);
    }

    [Fact]
    public async Task Firings_of_a_period_and_kiln_come_with_energy_production_and_sec()
    {
        using var c = server.Client("aud");
        var all = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/firings?year=2025");
        Assert.Equal(6, all.GetProperty("firings").GetArrayLength());
        var feb = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/firings?month=2025-02");
        Assert.Equal([Seed.SiteAFirings[2].Start, Seed.SiteAFirings[3].Start], feb.GetProperty("firings").EnumerateArray().Select(f => f.GetProperty("start").GetDateTimeOffset()).ToArray());
        var k2 = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/firings?kiln=kiln-2&from=2025-02-15&to=2025-03-03");
        var list = k2.GetProperty("firings").EnumerateArray().ToList();
        Assert.Equal(2, list.Count); // 'to' as a day includes that day
        var f = list[0];
        var seed = Seed.SiteAFirings[3];
        Assert.Equal(seed.End, f.GetProperty("end").GetDateTimeOffset());
        Assert.Equal(seed.Mj, f.GetProperty("energy_mj").GetDouble(), 9);
        Assert.Equal(120 * Seed.MjPerKwh / 100, f.GetProperty("sec_mj_per_kg").GetDouble(), 9);
        Assert.Equal(40, f.GetProperty("pieces").GetInt32());
        var noProduction = list[1].GetProperty("ware_kg");
        Assert.Equal(110, noProduction.GetDouble());
        var last = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/firings?day=2025-03-20");
        Assert.Equal(JsonValueKind.Null, last.GetProperty("firings")[0].GetProperty("sec_mj_per_kg").ValueKind);
    }

    [Fact]
    public async Task Enpi_per_month_year_and_kiln()
    {
        using var c = server.Client("op-a");
        var months = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/enpi?per=month&year=2025");
        var rows = months.GetProperty("enpi").EnumerateArray().ToList();
        Assert.Equal(["2025-01", "2025-02", "2025-03"], rows.Select(r => r.GetProperty("period").GetString()!).ToArray());
        var jan = Seed.SiteAMonths()[0];
        Assert.Equal(jan.Kwh, rows[0].GetProperty("electricity_kwh").GetDouble(), 9);
        Assert.Equal(126, rows[0].GetProperty("lpg_kg").GetDouble(), 9);
        Assert.Equal(620, rows[0].GetProperty("production_kg").GetDouble());
        Assert.Equal(jan.SecEnergyMj / 620, rows[0].GetProperty("sec_mj_per_kg").GetDouble(), 9);
        var year = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/enpi?per=year&year=2025");
        var y = Assert.Single(year.GetProperty("enpi").EnumerateArray());
        Assert.Equal(rows.Sum(r => r.GetProperty("energy_mj").GetDouble()), y.GetProperty("energy_mj").GetDouble(), 6);
        Assert.Equal(0.97, y.GetProperty("completeness").GetDouble());
        var kiln = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/enpi?per=year&kiln=kiln-2&year=2025");
        var k = Assert.Single(kiln.GetProperty("enpi").EnumerateArray());
        Assert.Equal("kiln", k.GetProperty("scope").GetString());
        Assert.Equal(375, k.GetProperty("electricity_kwh").GetDouble());
        Assert.Equal(3, k.GetProperty("firings").GetInt32());
        var none = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/enpi?per=day&month=2025-04");
        Assert.Equal(0, none.GetProperty("enpi").GetArrayLength());
    }

    [Fact]
    public async Task Baseline_models_carry_the_ashrae_verdict_with_the_reasons()
    {
        using var c = server.Client("aud");
        var b = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/baseline");
        var models = b.GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(2, models.Count);
        var site = models[0];
        Assert.Equal("site", site.GetProperty("model").GetProperty("scope").GetString());
        Assert.Equal(0.91, site.GetProperty("model").GetProperty("r2").GetDouble());
        Assert.Equal(15, site.GetProperty("limits").GetProperty("max_cv_rmse_pct").GetDouble());
        Assert.Equal("adequate: savings may be claimed", site.GetProperty("verdict").GetString());
        Assert.Equal(0, site.GetProperty("failures").GetArrayLength());
        var kiln = models[1];
        Assert.Equal("kiln-2", kiln.GetProperty("model").GetProperty("kiln").GetString());
        Assert.Equal(30, kiln.GetProperty("limits").GetProperty("max_cv_rmse_pct").GetDouble());
        Assert.Equal("NOT good enough to claim savings", kiln.GetProperty("verdict").GetString());
        var failures = kiln.GetProperty("failures").EnumerateArray().Select(f => f.GetString()!).ToArray();
        Assert.Equal(["n = 8 points is below the 10 needed", "R² = 0.500 is below 0.75", "CV(RMSE) = 35.0 % is above 30 %"], failures);
    }

    [Fact]
    public async Task Savings_sum_the_reporting_points_and_compare_with_the_target()
    {
        using var c = server.Client("aud");
        var s = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/savings?year=2025");
        var months = Seed.SiteAMonths();
        var actual = months.Sum(m => m.Mj);
        Assert.Equal(actual, s.GetProperty("actual_mj").GetDouble(), 6);
        Assert.Equal(actual * 1.06, s.GetProperty("expected_mj").GetDouble(), 6);
        Assert.Equal(100 * 0.06 / 1.06, s.GetProperty("savings_pct").GetDouble(), 9);
        Assert.True(s.GetProperty("claim_allowed").GetBoolean());
        Assert.Equal("within", s.GetProperty("target").GetProperty("progress").GetString());
        var points = s.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(3, points.Count);
        Assert.Equal(actual * 0.06, points[2].GetProperty("cusum_mj").GetDouble(), 6);
        var onlyMarch = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/savings?month=2025-03");
        Assert.Equal(months[2].Mj, onlyMarch.GetProperty("actual_mj").GetDouble(), 6);
        var kiln = await c.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/savings?kiln=kiln-2&basis=firing");
        Assert.False(kiln.GetProperty("claim_allowed").GetBoolean());
        Assert.Equal(0, kiln.GetProperty("points").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, kiln.GetProperty("savings_pct").ValueKind);
    }

    [Fact]
    public async Task Compliance_gives_toe_per_carrier_key_consumer_status_and_a_sec_ranking()
    {
        using var c = server.Client("centre");
        var doc = await c.GetFromJsonAsync<JsonElement>("/api/v1/compliance?year=2025");
        var sites = doc.GetProperty("sites").EnumerateArray().ToList();
        Assert.Equal(["site-b", "site-a", "site-c"], sites.Select(s => s.GetProperty("site").GetString()!).ToArray());
        Assert.Equal(2, doc.GetProperty("sites_ranked").GetInt32());
        var months = Seed.SiteAMonths();
        var kwh = months.Sum(m => m.Kwh);
        var a = sites[1];
        var carriers = a.GetProperty("carriers").EnumerateArray().ToDictionary(x => x.GetProperty("carrier").GetString()!);
        Assert.Equal(kwh, carriers["electricity"].GetProperty("amount").GetDouble(), 9);
        Assert.Equal("kWh", carriers["electricity"].GetProperty("unit").GetString());
        Assert.Equal(kwh * 0.0001543, carriers["electricity"].GetProperty("toe").GetDouble(), 9);
        Assert.Equal(184 * 0.00109, carriers["lpg"].GetProperty("toe").GetDouble(), 9);
        Assert.Equal(kwh * 0.0001543 + 184 * 0.00109, a.GetProperty("toe").GetDouble(), 9);
        Assert.False(a.GetProperty("key_consumer").GetBoolean());
        Assert.Equal(1000, a.GetProperty("threshold_toe").GetDouble());
        Assert.Equal(2, a.GetProperty("sec_rank").GetInt32());
        Assert.Equal(1, sites[0].GetProperty("sec_rank").GetInt32());
        Assert.Equal(Seed.SiteBKwh * Seed.MjPerKwh / Seed.SiteBWareKg, sites[0].GetProperty("sec_mj_per_kg").GetDouble(), 9);
        Assert.Equal(JsonValueKind.Null, sites[2].GetProperty("sec_rank").ValueKind);
        Assert.Equal(0.97, a.GetProperty("completeness").GetDouble());
        Assert.Equal(100 * 0.06 / 1.06, a.GetProperty("savings_pct").GetDouble(), 9);

        // The operator's ranking is among the sites they may read: site-a alone is first.
        using var op = server.Client("op-a");
        var own = await op.GetFromJsonAsync<JsonElement>("/api/v1/compliance?year=2025");
        Assert.Equal(1, own.GetProperty("sites")[0].GetProperty("sec_rank").GetInt32());
        var single = await op.GetFromJsonAsync<JsonElement>("/api/v1/sites/site-a/compliance?year=2025");
        Assert.Equal(a.GetProperty("toe").GetDouble(), single.GetProperty("toe").GetDouble());
    }
}
