using System.Net;
using System.Text.Json;
using KhuyenCong.Cloud.Live;
using KhuyenCong.TestSupport;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace KhuyenCong.Web.Tests;

/// <summary>
/// The live page in headless Chromium against the real pipeline (<see cref="LivePipeline"/>): sign-in, the simulated
/// kilns, values that move as the simulator advances, the English switch, per-site access, the phone layout. Deadlines
/// are generous failure bounds only; nothing asserts how fast a value arrives.
/// </summary>
public sealed class LivePageTests(LivePipeline p, ITestOutputHelper output) : IClassFixture<LivePipeline>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private static ILocator Field(IPage page, string kiln, string field) => page.Locator($"[data-kiln=\"{kiln}\"] [data-f=\"{field}\"]");

    private static async Task<string> TextAsync(ILocator l) => (await l.TextContentAsync())?.Trim() ?? "";

    [Fact]
    public async Task An_operator_signs_in_and_sees_the_simulated_kilns_change_live()
    {
        await using var context = await p.NewContextAsync();
        var page = await LivePipeline.SignInAsync(context, p.OperatorToken);
        Assert.Equal($"/site/{LivePipeline.Site}", new Uri(page.Url).AbsolutePath);
        Assert.Equal("vi", await page.GetAttributeAsync("html", "lang"));

        // Both kilns of the registry get a card with a temperature read back from InfluxDB.
        string first = "";
        await Eventually.Until(async () =>
        {
            first = await TextAsync(Field(page, "kiln-1", "temp"));
            return first is not ("" or "—") && await TextAsync(Field(page, "kiln-2", "temp")) is not ("" or "—");
        }, "both kiln cards show a temperature", Patience);
        Assert.Equal(2, await page.Locator("article.card[data-kiln]").CountAsync());
        Assert.Contains("Lò điện 1", await TextAsync(page.Locator("[data-kiln=\"kiln-1\"] .kiln-name")));
        Assert.Equal("Đang nung", await TextAsync(Field(page, "kiln-1", "state")));
        var firstPower = await TextAsync(Field(page, "kiln-1", "power"));
        Assert.EndsWith(" kW", firstPower);

        // The simulator keeps ramping: the temperature on the page changes without a reload (Server-Sent Events).
        var navigations = 0;
        page.FrameNavigated += (_, f) => { if (f == page.MainFrame) navigations++; };
        await Eventually.Until(async () => await TextAsync(Field(page, "kiln-1", "temp")) is var now && now != first && now != "—",
            () => $"kiln-1's temperature changes from {first}", Patience);
        Assert.Equal(0, navigations);
        output.WriteLine($"kiln-1 temperature {first} → {await TextAsync(Field(page, "kiln-1", "temp"))} °C; power {firstPower}");

        // The curve of the current firing is drawn, and the firing's energy, cost, projection and recent SEC are shown.
        await Eventually.Until(async () => await page.Locator("[data-kiln=\"kiln-1\"] polyline.temp-line").CountAsync() == 1
            && (await page.Locator("[data-kiln=\"kiln-1\"] polyline.temp-line").GetAttributeAsync("points"))!.Split(' ').Length >= 3,
            "kiln-1's temperature curve has points", Patience);
        await Eventually.Until(async () => (await TextAsync(Field(page, "kiln-1", "energy"))).Contains("kWh", StringComparison.Ordinal)
            && await TextAsync(Field(page, "kiln-1", "cost")) != "—", "kiln-1 shows its energy and cost so far", Patience);
        Assert.Contains("kg LPG", await TextAsync(Field(page, "kiln-2", "energy")));
        Assert.Contains("kg/h", await TextAsync(Field(page, "kiln-2", "gas-unit")));
        // SEC of the firings written in the firing series: 410/120, 402/115, 425/125 MJ/kg, newest first.
        Assert.StartsWith("3,4 MJ/kg", await TextAsync(Field(page, "kiln-1", "sec")));
        Assert.Equal("—", await TextAsync(Field(page, "kiln-2", "sec")));
        await Eventually.Until(async () => (await TextAsync(Field(page, "kiln-1", "projected"))).StartsWith('≈'), "kiln-1 shows a projected energy", Patience);
        Assert.Contains("0,1 h", await TextAsync(Field(page, "kiln-1", "projected-note"))); // median usual length 0.055 h
        Assert.Equal("—", await TextAsync(Field(page, "kiln-2", "projected")));
        Assert.Equal("chưa có mẻ đã hoàn tất để ước tính", await TextAsync(Field(page, "kiln-2", "projected-note")));

        // Gateway status from the gateway's birth message, and the site's load from its main meter.
        await Eventually.Until(async () => await TextAsync(page.Locator("[data-gateway=\"gw-demo-01\"] .dot")) == "trực tuyến", "the gateway shows online", Patience);
        Assert.NotEqual("—", await TextAsync(page.Locator("[data-f=\"site-load\"]")));
        Assert.Equal("2", await TextAsync(page.Locator("[data-f=\"site-firing\"]")));

        await Eventually.Until(async () => await TextAsync(Field(page, "kiln-1", "power")) != firstPower, () => $"kiln-1's power changes from {firstPower}", Patience);
        var shot = Path.Combine(LivePipeline.Artifacts, "live-page-desktop.png");
        await page.ScreenshotAsync(new() { Path = shot, FullPage = true });
        output.WriteLine($"screenshot: {shot}");
    }

    [Fact]
    public async Task The_English_switch_changes_every_label_and_is_remembered()
    {
        await using var context = await p.NewContextAsync();
        var page = await LivePipeline.SignInAsync(context, p.OperatorToken);
        await Eventually.Until(async () => await page.Locator("[data-kiln=\"kiln-1\"] dt[data-i18n=\"power\"]").CountAsync() == 1, "kiln-1's card is built", Patience);
        Assert.Equal("Công suất điện", await TextAsync(page.Locator("[data-kiln=\"kiln-1\"] dt[data-i18n=\"power\"]")));

        await page.ClickAsync("#lang");
        Assert.Equal("en", await page.GetAttributeAsync("html", "lang"));
        Assert.Equal("Electric power", await TextAsync(page.Locator("[data-kiln=\"kiln-1\"] dt[data-i18n=\"power\"]")));
        Assert.Equal("Firing", await TextAsync(Field(page, "kiln-1", "state")));
        Assert.Equal("Sign out", await TextAsync(page.Locator("[data-i18n=\"sign_out\"]")));
        Assert.Equal("Tiếng Việt", await TextAsync(page.Locator("#lang")));
        // No Vietnamese label is left anywhere a label lives.
        var labels = await page.Locator("[data-i18n]").AllTextContentsAsync();
        var vi = await page.EvaluateAsync<string[]>("() => Object.values(JSON.parse(document.getElementById('kc-i18n').textContent)).filter(x => x.vi !== x.en).map(x => x.vi)");
        Assert.NotEmpty(labels);
        Assert.DoesNotContain(labels, l => vi.Contains(l.Trim()));

        // Remembered: a new page of the same browser opens in English, rendered so by the server.
        var again = await context.NewPageAsync();
        var resp = await again.GotoAsync($"/site/{LivePipeline.Site}");
        Assert.Equal(200, resp!.Status);
        Assert.Contains("lang=\"en\"", await resp.TextAsync());
        Assert.Equal("Sign out", await TextAsync(again.Locator("[data-i18n=\"sign_out\"]")));

        await again.ClickAsync("#lang");
        Assert.Equal("vi", await again.GetAttributeAsync("html", "lang"));
        Assert.Equal("Đăng xuất", await TextAsync(again.Locator("[data-i18n=\"sign_out\"]")));
    }

    [Fact]
    public async Task An_operator_of_another_site_gets_403_for_the_page_and_the_stream()
    {
        await using var context = await p.NewContextAsync();
        var page = await LivePipeline.SignInAsync(context, p.OtherOperatorToken);
        Assert.Equal($"/site/{LivePipeline.OtherSite}", new Uri(page.Url).AbsolutePath);

        var resp = await page.GotoAsync($"/site/{LivePipeline.Site}");
        Assert.Equal(403, resp!.Status);
        Assert.Equal("Không có quyền", await TextAsync(page.Locator("h1")));
        Assert.Equal(0, await page.Locator("[data-kiln]").CountAsync());
        var html = await resp.TextAsync();
        Assert.DoesNotContain("kiln-1", html);
        Assert.DoesNotContain("Xưởng gốm mẫu", html);

        // The stream and the JSON, with the browser's cookie: 403 and a problem document, never data.
        foreach (var path in new[] { $"/live/site/{LivePipeline.Site}/events", $"/live/site/{LivePipeline.Site}" })
        {
            var r = await page.EvaluateAsync<JsonElement>("async p => { const r = await fetch(p); return { status: r.status, type: r.headers.get('content-type'), body: await r.text() }; }", path);
            Assert.Equal(403, r.GetProperty("status").GetInt32());
            Assert.StartsWith("application/problem+json", r.GetProperty("type").GetString());
            Assert.DoesNotContain("tempC", r.GetProperty("body").GetString());
        }
        // The same with the token in a header, and an unknown site is 404 for everyone.
        using var api = p.Api(p.OtherOperatorToken);
        Assert.Equal(HttpStatusCode.Forbidden, (await api.GetAsync($"live/site/{LivePipeline.Site}/events", HttpCompletionOption.ResponseHeadersRead)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("live/site/no-such-site")).StatusCode);
        Assert.Equal(404, (await page.GotoAsync("/site/no-such-site"))!.Status);
        // Without a token: 401 for the stream, the sign-in page for the page.
        using var anonymous = new HttpClient { BaseAddress = p.Url };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"live/site/{LivePipeline.Site}/events")).StatusCode);
    }

    [Fact]
    public async Task A_wrong_token_is_refused_and_signing_out_ends_access()
    {
        await using var context = await p.NewContextAsync();
        var page = await LivePipeline.SignInAsync(context, "kc_not-a-real-token");
        Assert.EndsWith("/login", new Uri(page.Url).AbsolutePath);
        Assert.Equal("Mã truy cập không đúng.", await TextAsync(page.Locator("#login-error")));

        await page.FillAsync("#token", p.OperatorToken);
        await LivePipeline.NextDocumentAsync(page, () => page.ClickAsync("button[type=submit]"), "sign-in with the right token");
        Assert.EndsWith($"/site/{LivePipeline.Site}", new Uri(page.Url).AbsolutePath);
        var cookie = (await context.CookiesAsync()).Single(c => c.Name == "kc_token");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);

        await LivePipeline.NextDocumentAsync(page, () => page.ClickAsync("[data-i18n=\"sign_out\"]"), "sign-out");
        Assert.EndsWith("/login", new Uri(page.Url).AbsolutePath);
        Assert.DoesNotContain(await context.CookiesAsync(), c => c.Name == "kc_token");
        var resp = await page.GotoAsync($"/site/{LivePipeline.Site}");
        Assert.EndsWith("/login", new Uri(page.Url).AbsolutePath);
        Assert.Equal(200, resp!.Status);
    }

    [Fact]
    public async Task The_centre_sees_every_site_with_its_load_and_kilns_firing()
    {
        await using var context = await p.NewContextAsync();
        var page = await LivePipeline.SignInAsync(context, p.CentreToken);
        Assert.Equal("/", new Uri(page.Url).AbsolutePath);
        await Eventually.Until(async () => await page.Locator("a.site-row").CountAsync() == 3, "the three registry sites are listed", Patience);
        var demo = page.Locator($"a.site-row[data-site=\"{LivePipeline.Site}\"]");
        await Eventually.Until(async () => await TextAsync(demo.Locator("[data-f=\"firing\"]")) == "2 / 2" && !(await TextAsync(demo.Locator("[data-f=\"load\"]"))).StartsWith('—'),
            "the demo site shows 2 of 2 kilns firing and its load", Patience);
        Assert.Equal("1 / 1", await TextAsync(demo.Locator("[data-f=\"gateways\"]")));
        Assert.Equal("0 / 1", await TextAsync(page.Locator($"a.site-row[data-site=\"{LivePipeline.OtherSite}\"] [data-f=\"firing\"]")));
        Assert.StartsWith("— kW", await TextAsync(page.Locator($"a.site-row[data-site=\"{LivePipeline.OtherSite}\"] [data-f=\"load\"]")));
        await page.ScreenshotAsync(new() { Path = Path.Combine(LivePipeline.Artifacts, "live-sites-desktop.png"), FullPage = true });

        await LivePipeline.NextDocumentAsync(page, () => demo.ClickAsync(), "opening the demo site");
        Assert.EndsWith($"/site/{LivePipeline.Site}", new Uri(page.Url).AbsolutePath);
        await Eventually.Until(async () => await page.Locator("article.card[data-kiln]").CountAsync() == 2, "the centre opens the demo site", Patience);

        // An auditor reads only the sites assigned to them.
        await using var auditor = await p.NewContextAsync();
        var a = await LivePipeline.SignInAsync(auditor, p.AuditorToken);
        await Eventually.Until(async () => await a.Locator("a.site-row").CountAsync() == 2, "the auditor's two sites are listed", Patience);
        Assert.Equal(403, (await a.GotoAsync("/site/bat-trang-studio-07"))!.Status);
    }

    [Fact]
    public async Task On_a_phone_the_page_fits_the_screen_without_horizontal_scrolling()
    {
        await using var context = await p.NewContextAsync(phone: true);
        var page = await LivePipeline.SignInAsync(context, p.OperatorToken);
        await Eventually.Until(async () => await TextAsync(Field(page, "kiln-2", "temp")) is not ("" or "—")
            && await page.Locator("[data-kiln=\"kiln-1\"] polyline.temp-line").CountAsync() == 1, "the cards are filled", Patience);
        var widths = await page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]");
        Assert.True(widths[0] <= widths[1], $"the page is {widths[0]} px wide on a {widths[1]} px screen");
        Assert.Equal(390, widths[2]);
        // Cards stack in one column.
        var boxes = await page.Locator("article.card[data-kiln]").EvaluateAllAsync<double[]>("els => els.map(e => e.getBoundingClientRect().left)");
        Assert.Single(boxes.Distinct());
        var shot = Path.Combine(LivePipeline.Artifacts, "live-page-phone.png");
        await page.ScreenshotAsync(new() { Path = shot, FullPage = true });
        output.WriteLine($"screenshot: {shot}");
    }

    [Fact]
    public async Task A_stream_stops_reading_when_its_page_closes()
    {
        await using (var context = await p.NewContextAsync())
        {
            var page = await LivePipeline.SignInAsync(context, p.OperatorToken);
            await Eventually.Until(() => LiveEndpoints.OpenStreams >= 1, "the page's stream is open", Patience);
            await Eventually.Until(async () => await TextAsync(Field(page, "kiln-1", "temp")) is not ("" or "—"), "the page gets data", Patience);
        }
        await Eventually.Until(() => Task.FromResult(LiveEndpoints.OpenStreams == 0), () => $"every stream has stopped ({LiveEndpoints.OpenStreams} open)", Patience);
    }

    /// <summary>The figures behind the cards, from raw points written into influxd with known answers.</summary>
    [Fact]
    public async Task A_finished_firing_has_its_start_end_energy_and_time_of_use_cost_and_a_misread_is_not_counted()
    {
        // bat-trang-studio-07, kiln-1: idle, fired from 40 to 20 minutes ago, idle since. Its meter counts 0.5 kWh a
        // minute while firing (10 kWh in all) and misreads once (999,999 kWh) half way.
        const string site = "bat-trang-studio-07";
        var now = DateTimeOffset.UtcNow;
        var minute = now.ToUnixTimeMilliseconds() / 60_000 * 60_000;
        long At(int m) => minute + m * 60_000L;
        var lines = new System.Text.StringBuilder();
        for (var m = -60; m <= -1; m++)
        {
            var running = m is >= -40 and < -20 ? 1 : 0;
            lines.Append($"kiln,device=kiln1-ctl,gateway=gw-studio-07,kiln=kiln-1,site={site} kiln_temp_c={30 + 40 * Math.Clamp(m + 40, 0, 20)},kiln_setpoint_c=900,kiln_running={running} {At(m)}\n");
            var kwh = m == -30 ? 999_999 : 1000 + 0.5 * Math.Clamp(m + 40, 0, 20);
            lines.Append($"meter,device=kiln1-meter,gateway=gw-studio-07,kiln=kiln-1,site={site} energy_import_kwh={kwh},power_w={(running == 1 ? 30000 : 0)} {At(m)}\n");
        }
        lines.Append($"meter,device=studio-meter,gateway=gw-studio-07,site={site} energy_import_kwh=500,power_w=1500 {At(-1)}\n");
        using (var influx = new HttpClient())
        {
            var w = await influx.PostAsync($"{p.Influxd.Url}/write?db=web&precision=ms", new StringContent(lines.ToString()));
            Assert.True(w.IsSuccessStatusCode, await w.Content.ReadAsStringAsync());
        }

        using var api = p.Api(p.CentreToken);
        var json = await api.GetStringAsync($"live/site/{site}");
        using var doc = JsonDocument.Parse(json);
        var kiln = doc.RootElement.GetProperty("kilns")[0];
        Assert.Equal("kiln-1", kiln.GetProperty("kiln").GetString());
        Assert.False(kiln.GetProperty("running").GetBoolean());
        Assert.Equal(At(-40), kiln.GetProperty("firingStartMs").GetInt64());
        Assert.Equal(At(-20), kiln.GetProperty("firingEndMs").GetInt64());
        Assert.Equal(10.0, kiln.GetProperty("electricityKwh").GetDouble(), 9);
        var expected = KhuyenCong.Analytics.Factors.FactorSet.LoadDirectory(Path.Combine(RepoPaths.Root, "firmware-config", "factors")).Tariff.Split(DateTimeOffset.FromUnixTimeMilliseconds(At(-40)), DateTimeOffset.FromUnixTimeMilliseconds(At(-20)), 10, KhuyenCong.Analytics.Factors.VoltageLevel.Below6kV).CostVnd;
        Assert.Equal(expected, kiln.GetProperty("costVnd").GetDouble(), 3);
        var factors = KhuyenCong.Analytics.Factors.FactorSet.LoadDirectory(Path.Combine(RepoPaths.Root, "firmware-config", "factors"));
        var mj = factors.Toe.Convert(new(KhuyenCong.Analytics.Conversion.Carrier.Electricity, 10, KhuyenCong.Analytics.Conversion.PhysicalUnit.KWh), DateOnly.FromDateTime(now.UtcDateTime)).Mj;
        Assert.Equal(mj, kiln.GetProperty("energyMj").GetDouble(), 6); // the TOE convention: 6.46 MJ per kWh
        Assert.Equal("not-running", kiln.GetProperty("projectionNote").GetString());
        Assert.Equal(0.0, kiln.GetProperty("powerKw").GetDouble());
        // The site's load is the kiln meter plus the rest of the site (no whole-site meter): 0 + 1.5 kW.
        Assert.Equal(1.5, doc.RootElement.GetProperty("status").GetProperty("loadKw").GetDouble(), 9);
        Assert.Equal(0, doc.RootElement.GetProperty("status").GetProperty("kilnsFiring").GetInt32());
    }
}
