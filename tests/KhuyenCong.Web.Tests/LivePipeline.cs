using System.Net.Http.Headers;
using System.Text;
using KhuyenCong.Cloud;
using KhuyenCong.Cloud.Access;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.TestSupport;
using KhuyenCong.TestSupport.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;

namespace KhuyenCong.Web.Tests;

/// <summary>
/// The whole pipeline behind the live page, on loopback with free ports: influxd 1.6, the cloud service (embedded
/// broker, ingestor, HTTP) with the repository's site registry and factor files, the simulated demo workshop
/// (bat-trang-demo: kiln-1 electric, kiln-2 LPG) served over Modbus TCP, the edge agent polling it, and headless
/// Chromium driven by Playwright. Shared by the tests of <see cref="LivePageTests"/>.
/// </summary>
public sealed class LivePipeline : IAsyncLifetime
{
    public const string Site = "bat-trang-demo";
    public const string OtherSite = "bat-trang-gas-01";

    public TempDirectory Dir { get; } = new("kc-web");
    public LocalInfluxd Influxd { get; private set; } = null!;
    public CloudService Cloud { get; private set; } = null!;
    public LiveWorkshop Workshop { get; private set; } = null!;
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public Uri Url => Cloud.Web!.Url;

    /// <summary>Tokens: an operator of the demo site, an operator of another site, an auditor of the demo site, the centre.</summary>
    public string OperatorToken { get; } = AccessList.NewToken();
    public string OtherOperatorToken { get; } = AccessList.NewToken();
    public string AuditorToken { get; } = AccessList.NewToken();
    public string CentreToken { get; } = AccessList.NewToken();

    /// <summary>Where screenshots go (printed by the tests).</summary>
    public static string Artifacts { get; } = Path.Combine(AppContext.BaseDirectory, "artifacts");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Artifacts);
        Influxd = await LocalInfluxd.StartAsync(Dir.File("influxdb"));
        File.WriteAllText(Dir.File("access.yaml"), $"""
            version: 1
            users:
              - {"{"} name: op-demo, role: operator, sites: [{Site}], token_sha256: {AccessList.Hash(OperatorToken)} {"}"}
              - {"{"} name: op-gas, role: operator, sites: [{OtherSite}], token_sha256: {AccessList.Hash(OtherOperatorToken)} {"}"}
              - {"{"} name: auditor, role: auditor, sites: [{Site}, {OtherSite}], token_sha256: {AccessList.Hash(AuditorToken)} {"}"}
              - {"{"} name: centre, role: centre, token_sha256: {AccessList.Hash(CentreToken)} {"}"}
            """);
        Cloud = await StartCloudAsync(Dir, Influxd.Url, "web");

        // Completed firings of kiln-1 as the analytics jobs write them (docs/schema.md, measurement `firing`), so the
        // page has a recent SEC and a usual firing length to project from. Short, like the demo's compressed firings.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var lines = new StringBuilder();
        foreach (var (ago, hours, mj, kg) in new[] { (3_600_000L, 0.05, 410.0, 120.0), (7_200_000L, 0.055, 402.0, 115.0), (10_800_000L, 0.06, 425.0, 125.0) })
        {
            var start = now - ago;
            lines.Append($"firing,kiln=kiln-1,site={Site} end_ms={start + (long)(hours * 3_600_000)}i,running=0,duration_h={hours},energy_mj={mj},ware_kg={kg},sec_mj_per_kg={mj / kg:0.###},method=\"run_state\" {start}\n");
        }
        using (var http = new HttpClient())
        {
            using var resp = await http.PostAsync($"{Influxd.Url}/write?db=web&precision=ms", new StringContent(lines.ToString()));
            Assert.True(resp.IsSuccessStatusCode, $"writing the firing points: {(int)resp.StatusCode} {await resp.Content.ReadAsStringAsync()}");
        }

        // Kiln time runs 30× faster than the clock: a 1 s poll sees about 1–2 °C of ramp. Two hours in, both kilns fire.
        Workshop = await LiveWorkshop.StartAsync(Dir.Path, new()
        {
            Site = Site,
            Gateway = "gw-demo-01",
            BrokerPort = Cloud.Broker!.Port,
            TimeScale = 30,
            StartAt = TimeSpan.FromHours(2),
        });

        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new() { ExecutablePath = "/usr/bin/chromium", Args = ["--no-sandbox", "--disable-gpu", "--headless=new"] });
    }

    /// <summary>
    /// Starts the cloud service (embedded broker, ingestor, HTTP on free ports) with the repository's site registry and
    /// factor files, writing <paramref name="database"/> at <paramref name="influxUrl"/>; its users are the access list
    /// <c>access.yaml</c> in <paramref name="dir"/>.
    /// </summary>
    public static async Task<CloudService> StartCloudAsync(TempDirectory dir, string influxUrl, string database)
    {
        var config = Path.Combine(RepoPaths.Root, "firmware-config");
        File.WriteAllText(dir.File("cloud.yaml"), $"""
            embedded_broker: {"{"} bind: 127.0.0.1, port: 0 {"}"}
            influx: {"{"} url: "{influxUrl}", api: v1, database: {database} {"}"}
            registry: {Path.Combine(config, "sites", "sites.yaml")}
            factors: {Path.Combine(config, "factors")}
            data_dir: {dir.File("data")}
            http: {"{"} bind: 127.0.0.1, port: 0, access_file: access.yaml {"}"}
            """);
        var cloud = CloudService.FromFile(dir.File("cloud.yaml"), NullLoggerFactory.Instance);
        try
        {
            await cloud.StartAsync(default);
            return cloud;
        }
        catch
        {
            await cloud.DisposeAsync();
            throw;
        }
    }

    /// <summary>A new browser context (its own cookies), optionally the size of a phone.</summary>
    public Task<IBrowserContext> NewContextAsync(bool phone = false) => Browser.NewContextAsync(phone
        ? new() { ViewportSize = new() { Width = 390, Height = 844 }, DeviceScaleFactor = 2, IsMobile = true, HasTouch = true, BaseURL = Url.ToString() }
        : new() { ViewportSize = new() { Width = 1280, Height = 900 }, BaseURL = Url.ToString() });

    /// <summary>Signs in through the page's form and returns the page it lands on.</summary>
    public static async Task<IPage> SignInAsync(IBrowserContext context, string token, string? path = null)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync(path ?? "/");
        Assert.EndsWith("/login", new Uri(page.Url).AbsolutePath);
        await page.FillAsync("#token", token);
        await NextDocumentAsync(page, () => page.ClickAsync("button[type=submit]"), "sign-in");
        return page;
    }

    /// <summary>
    /// Does <paramref name="act"/> (a click that navigates) and waits until the next document is parsed. Not Playwright's
    /// WaitForURLAsync or WaitForLoadStateAsync: they check the load states the client has seen, then subscribe to new
    /// ones, and miss an event that arrives in between — under load they hung until their timeout in 3 of 8 runs ("load"
    /// never seen, only "networkidle"). A mark on the current document tells the next one apart whatever its address (a
    /// refused token lands on /login again), and the page itself is asked.
    /// </summary>
    public static async Task NextDocumentAsync(IPage page, Func<Task> act, string what)
    {
        await page.EvaluateAsync("() => { window.kcPreviousDocument = true; }");
        await act();
        try
        {
            // A deadline generous enough for a loaded machine.
            await page.WaitForFunctionAsync("() => window.kcPreviousDocument === undefined && document.readyState !== 'loading'", null,
                new() { Timeout = 120_000, PollingInterval = 50 });
        }
        catch (TimeoutException ex)
        {
            // Say whether the server still answers, to tell a stalled server from a stalled browser.
            var answer = await ProbeAsync(new Uri(new Uri(page.Url), "/login"));
            throw new TimeoutException($"{what}: the next page did not load in 120 s; the browser is at {page.Url}; GET /login now: {answer}", ex);
        }
    }

    private static async Task<string> ProbeAsync(Uri url)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var r = await http.GetAsync(url);
            return $"{(int)r.StatusCode} after {sw.ElapsedMilliseconds} ms";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return $"no answer after {sw.ElapsedMilliseconds} ms ({e.GetType().Name}: {e.Message})";
        }
    }

    public HttpClient Api(string token)
    {
        var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    public InfluxQlClient Influx() => new(Influxd.Url, "web");

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        if (Workshop is not null) await Workshop.DisposeAsync();
        if (Cloud is not null) await Cloud.DisposeAsync();
        if (Influxd is not null) await Influxd.DisposeAsync();
        Dir.Dispose();
    }
}
