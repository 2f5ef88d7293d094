using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using KhuyenCong.Cloud.Access;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Cloud.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Cloud.Live;

/// <summary>
/// The live page for kiln operators: sign-in (<c>POST /login</c> sets the HttpOnly cookie <c>kc_token</c>, since an
/// EventSource cannot send headers), the site page <c>/site/{site}</c> with one card per kiln, the site list at <c>/</c>
/// for the centre and auditors, and their event streams under <c>/live/…</c>. An operator sees only their own site:
/// another site's page answers a 403 page, its stream a 403 problem.
/// </summary>
public static class LiveEndpoints
{
    /// <summary>How often a stream reads InfluxDB.</summary>
    public static TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(3);

    private static int _openStreams;

    /// <summary>Event streams currently open (each polls InfluxDB until its page goes away).</summary>
    public static int OpenStreams => Volatile.Read(ref _openStreams);

    private const string LangCookie = "kc_lang";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly FrozenDictionary<string, (string Vi, string En)> Texts = LoadTexts();
    private static readonly string I18nJson = Resource("i18n.json");
    private static readonly FrozenDictionary<string, (byte[] Body, string Type, string ETag)> Assets = new Dictionary<string, (byte[], string, string)>
    {
        ["live.js"] = Asset("live.js", "text/javascript; charset=utf-8"),
        ["live.css"] = Asset("live.css", "text/css; charset=utf-8"),
    }.ToFrozenDictionary();

    public static IServiceCollection AddKcLive(this IServiceCollection services, CloudWebContext ctx) => services.AddSingleton(new LiveReader(ctx));

    public static WebApplication MapKcLive(this WebApplication app, CloudWebContext ctx)
    {
        var reader = app.Services.GetRequiredService<LiveReader>();
        var log = ctx.Logs.CreateLogger("live");
        // Streams end when the server stops, rather than holding its shutdown until they time out.
        var stopping = app.Lifetime.ApplicationStopping;

        app.MapGet("/", (HttpContext http) =>
        {
            if (UserOf(http) is not { } user) return Results.Redirect("/login");
            var readable = user.Readable(ctx.Registry).ToList();
            if (user.Role == Role.Operator && readable.Count == 1) return Results.Redirect("/site/" + Uri.EscapeDataString(readable[0].Id));
            return Html(http, 200, SitesPage(http, user));
        }).ExcludeFromDescription();

        app.MapGet("/login", (HttpContext http, string? next) => Html(http, 200, LoginPage(http, next, error: false))).ExcludeFromDescription();

        app.MapPost("/login", async (HttpContext http) =>
        {
            if (CrossSite(http)) return Html(http, 403, MessagePage(http, "forbidden_title", "forbidden_text"));
            var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false) : null;
            var token = form?["token"].ToString().Trim();
            var next = form?["next"].ToString();
            if (ctx.Access.Authenticate(token) is null) return Html(http, 401, LoginPage(http, next, error: true));
            http.Response.Cookies.Append(KcAuthenticationHandler.Cookie, token!, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Secure = http.Request.IsHttps,
                Path = "/",
                MaxAge = TimeSpan.FromDays(30),
            });
            return Results.Redirect(SafeNext(next));
        }).ExcludeFromDescription().DisableAntiforgery();

        app.MapPost("/logout", (HttpContext http) =>
        {
            if (CrossSite(http)) return Html(http, 403, MessagePage(http, "forbidden_title", "forbidden_text"));
            http.Response.Cookies.Delete(KcAuthenticationHandler.Cookie, new CookieOptions { Path = "/" });
            return Results.Redirect("/login");
        }).ExcludeFromDescription().DisableAntiforgery();

        app.MapGet("/site/{site}", (HttpContext http, string site) =>
        {
            if (UserOf(http) is not { } user) return Results.Redirect("/login?next=" + Uri.EscapeDataString("/site/" + site));
            if (ctx.Registry.Find(site) is not { } entry) return Html(http, 404, MessagePage(http, "not_found_title", "not_found_text"));
            if (!user.CanRead(site)) return Html(http, 403, MessagePage(http, "forbidden_title", "forbidden_text"));
            return Html(http, 200, SitePage(http, user, entry));
        }).ExcludeFromDescription();

        app.MapGet("/live/assets/{name}", (HttpContext http, string name) =>
        {
            if (!Assets.TryGetValue(name, out var a)) return Results.NotFound();
            http.Response.Headers.ETag = a.ETag;
            http.Response.Headers.CacheControl = "no-cache";
            if (http.Request.Headers.IfNoneMatch == a.ETag) return Results.StatusCode(304);
            return Results.Bytes(a.Body, a.Type);
        }).ExcludeFromDescription();

        var live = app.MapGroup("/live").RequireAuthorization().ExcludeFromDescription();
        live.MapGet("/site/{site}", async (HttpContext http, string site) =>
        {
            if (KcUser.DenyRead(http, ctx.Registry, site) is { } deny) return deny;
            var (kilns, status) = await reader.ReadSiteAsync(ctx.Registry.Find(site)!, new SiteWatch(), http.RequestAborted).ConfigureAwait(false);
            return Results.Json(new { kilns, status }, Json);
        });
        live.MapGet("/site/{site}/events", async (HttpContext http, string site) =>
        {
            if (KcUser.DenyRead(http, ctx.Registry, site) is { } deny)
            {
                await deny.ExecuteAsync(http).ConfigureAwait(false);
                return;
            }
            await StreamSiteAsync(http, reader, ctx.Registry.Find(site)!, log, stopping).ConfigureAwait(false);
        });
        live.MapGet("/sites", async (HttpContext http) =>
            Results.Json(await reader.ReadSitesAsync([.. KcUser.Of(http).Readable(ctx.Registry)], http.RequestAborted).ConfigureAwait(false), Json));
        live.MapGet("/sites/events", (HttpContext http) => StreamSitesAsync(http, reader, [.. KcUser.Of(http).Readable(ctx.Registry)], log, stopping));
        return app;
    }

    // ---- event streams ----------------------------------------------------------------------------------------------

    /// <summary>
    /// One site's stream: every <see cref="PollInterval"/> it reads InfluxDB and sends only what changed — a <c>kiln</c>
    /// event per changed card, <c>curve</c> events with the new temperature points, a <c>status</c> event when the
    /// gateways or devices changed, and <c>problem</c> when InfluxDB cannot be read. It stops when the page goes away.
    /// </summary>
    private static Task StreamSiteAsync(HttpContext http, LiveReader reader, SiteEntry site, ILogger log, CancellationToken stopping)
    {
        var watch = new SiteWatch();
        var sentCards = new Dictionary<string, string>(StringComparer.Ordinal);
        string? sentStatus = null;
        return StreamAsync(http, message => log.LogWarning("Live page for {Site}: {Error}", site.Id, message), stopping, async ct =>
        {
            var wrote = false;
            var (kilns, status) = await reader.ReadSiteAsync(site, watch, ct).ConfigureAwait(false);
            foreach (var card in kilns)
            {
                var json = JsonSerializer.Serialize(card, Json);
                if (sentCards.GetValueOrDefault(card.Kiln) != json)
                {
                    await SendAsync(http, "kiln", json, ct).ConfigureAwait(false);
                    sentCards[card.Kiln] = json;
                    wrote = true;
                }
                var k = watch.Kiln(card.Kiln);
                if (k.Pending.Count > 0)
                {
                    var points = k.Pending.Select(p => new object?[] { p.T, p.Temp, p.Sp }).ToList();
                    await SendAsync(http, "curve", JsonSerializer.Serialize(new { kiln = card.Kiln, reset = k.CurveReset, points }, Json), ct).ConfigureAwait(false);
                    k.Pending.Clear();
                    k.CurveReset = false;
                    wrote = true;
                }
            }
            var statusJson = JsonSerializer.Serialize(status, Json);
            if (statusJson != sentStatus)
            {
                await SendAsync(http, "status", statusJson, ct).ConfigureAwait(false);
                sentStatus = statusJson;
                wrote = true;
            }
            return wrote;
        });
    }

    /// <summary>The site list's stream: a <c>sites</c> event whenever a row changed, and <c>problem</c> as for one site.</summary>
    private static Task StreamSitesAsync(HttpContext http, LiveReader reader, IReadOnlyList<SiteEntry> sites, ILogger log, CancellationToken stopping)
    {
        string? sent = null;
        return StreamAsync(http, message => log.LogWarning("Live site list: {Error}", message), stopping, async ct =>
        {
            var json = JsonSerializer.Serialize(await reader.ReadSitesAsync(sites, ct).ConfigureAwait(false), Json);
            if (json == sent) return false;
            await SendAsync(http, "sites", json, ct).ConfigureAwait(false);
            sent = json;
            return true;
        });
    }

    /// <summary>
    /// What every stream does around its own events: every <see cref="PollInterval"/> it lets <paramref name="sendChanges"/>
    /// send what changed (it says whether it wrote anything); when InfluxDB cannot be read it sends a <c>problem</c> event
    /// (once per distinct message, and <c>null</c> once reading works again); after 15 s without an event it sends a
    /// keep-alive comment. It stops when the page goes away or the service stops.
    /// </summary>
    private static async Task StreamAsync(HttpContext http, Action<string> logProblem, CancellationToken stopping, Func<CancellationToken, Task<bool>> sendChanges)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
        var ct = linked.Token;
        await BeginStreamAsync(http).ConfigureAwait(false);
        Interlocked.Increment(ref _openStreams);
        try
        {
            string? sentProblem = null;
            var lastWrite = DateTime.UtcNow;
            while (!ct.IsCancellationRequested)
            {
                var wrote = false;
                try
                {
                    wrote = await sendChanges(ct).ConfigureAwait(false);
                    if (sentProblem is not null)
                    {
                        await SendAsync(http, "problem", "null", ct).ConfigureAwait(false);
                        sentProblem = null;
                        wrote = true;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or InfluxQueryException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    var message = ex is TaskCanceledException ? "InfluxDB did not answer in time" : ex.Message;
                    if (message != sentProblem)
                    {
                        logProblem(message);
                        await SendAsync(http, "problem", JsonSerializer.Serialize(new { message }, Json), ct).ConfigureAwait(false);
                        sentProblem = message;
                        wrote = true;
                    }
                }
                if (wrote) lastWrite = DateTime.UtcNow;
                else if (DateTime.UtcNow - lastWrite > TimeSpan.FromSeconds(15))
                {
                    // A comment keeps proxies from closing an idle stream and finds a page that went away.
                    await http.Response.WriteAsync(": keep-alive\n\n", ct).ConfigureAwait(false);
                    lastWrite = DateTime.UtcNow;
                }
                await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                await Task.Delay(PollInterval, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The page was closed.
        }
        finally
        {
            Interlocked.Decrement(ref _openStreams);
        }
    }

    private static async Task BeginStreamAsync(HttpContext http)
    {
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        http.Response.ContentType = "text/event-stream; charset=utf-8";
        http.Response.Headers.CacheControl = "no-cache, no-store";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        // Reconnect after 5 s when the connection drops.
        await http.Response.WriteAsync("retry: 5000\n\n", http.RequestAborted).ConfigureAwait(false);
        await http.Response.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
    }

    private static Task SendAsync(HttpContext http, string evt, string json, CancellationToken ct) =>
        http.Response.WriteAsync($"event: {evt}\ndata: {json}\n\n", ct);

    // ---- pages -------------------------------------------------------------------------------------------------------

    private static Principal? UserOf(HttpContext http) =>
        http.Items.TryGetValue(typeof(Principal), out var p) && p is Principal user ? user : null;

    /// <summary>A form posted from another site's page (its Origin is not this host) is refused.</summary>
    private static bool CrossSite(HttpContext http)
    {
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length == 0 || origin == "null") return false;
        return !Uri.TryCreate(origin, UriKind.Absolute, out var o) || !string.Equals(o.Authority, http.Request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Only a path on this server ("/site/x"), never another host ("//evil", "https://…").</summary>
    private static string SafeNext(string? next) =>
        next is { Length: > 1 } n && n[0] == '/' && n[1] != '/' && n[1] != '\\' && !n.Contains("://", StringComparison.Ordinal) ? n : "/";

    private static string LangOf(HttpContext http) => http.Request.Cookies[LangCookie] == "en" ? "en" : "vi";

    private static string T(string lang, string key) => Texts.TryGetValue(key, out var t) ? (lang == "en" ? t.En : t.Vi) : key;

    private static IResult Html(HttpContext http, int status, string html)
    {
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers["Referrer-Policy"] = "same-origin";
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    private static string E(string s) => HtmlEncoder.Default.Encode(s);

    /// <summary>A label in the page's language, marked so the language switch can change it without a reload.</summary>
    private static string L(string lang, string key, string tag = "span") => $"<{tag} data-i18n=\"{key}\">{E(T(lang, key))}</{tag}>";

    private static string Shell(HttpContext http, string pageKind, string main, Principal? user, string? site = null)
    {
        var lang = LangOf(http);
        var who = user is null ? "" : $"""
            <span class="who">{L(lang, "signed_in_as")} {E(user.Name)} ({E(user.Role.ToString().ToLowerInvariant())})</span>
            <form method="post" action="/logout"><button type="submit" data-i18n="sign_out">{E(T(lang, "sign_out"))}</button></form>
            """;
        var conn = pageKind is "site" or "sites" ? $"<span id=\"conn\" class=\"conn wait\" data-i18n=\"connecting\">{E(T(lang, "connecting"))}</span>" : "";
        return $"""
            <!doctype html>
            <html lang="{lang}">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{E(T(lang, "app_title"))}</title>
            <link rel="stylesheet" href="/live/assets/live.css">
            <script id="kc-i18n" type="application/json">{I18nJson.Replace("</", "<\\/", StringComparison.Ordinal)}</script>
            <script src="/live/assets/live.js" defer></script>
            </head>
            <body data-page="{pageKind}" data-site="{E(site ?? "")}" data-server-now="{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}">
            <header class="top">
            <a class="brand" href="/">KhuyenCong.Energy</a>
            {conn}
            {who}
            <button id="lang" type="button" data-i18n="lang_switch">{E(T(lang, "lang_switch"))}</button>
            </header>
            <main>
            {main}
            </main>
            <footer class="foot">{L(lang, "footer")}</footer>
            </body>
            </html>
            """;
    }

    private static string LoginPage(HttpContext http, string? next, bool error)
    {
        var lang = LangOf(http);
        var main = $"""
            <section class="card login">
            <h1 data-i18n="sign_in">{E(T(lang, "sign_in"))}</h1>
            {(error ? $"<p class=\"error\" id=\"login-error\" data-i18n=\"bad_token\">{E(T(lang, "bad_token"))}</p>" : "")}
            <form method="post" action="/login">
            <label for="token" data-i18n="token">{E(T(lang, "token"))}</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required>
            <input type="hidden" name="next" value="{E(SafeNext(next))}">
            <p class="muted" data-i18n="token_hint">{E(T(lang, "token_hint"))}</p>
            <button type="submit" data-i18n="sign_in">{E(T(lang, "sign_in"))}</button>
            </form>
            </section>
            """;
        return Shell(http, "login", main, null);
    }

    private static string MessagePage(HttpContext http, string title, string text)
    {
        var lang = LangOf(http);
        var main = $"""
            <section class="card login">
            <h1 data-i18n="{title}">{E(T(lang, title))}</h1>
            <p data-i18n="{text}">{E(T(lang, text))}</p>
            <p><a href="/" data-i18n="back">{E(T(lang, "back"))}</a></p>
            </section>
            """;
        return Shell(http, "message", main, UserOf(http));
    }

    private static string SitePage(HttpContext http, Principal user, SiteEntry site)
    {
        var lang = LangOf(http);
        var back = user.Role == Role.Operator ? "" : $"<p><a href=\"/\" data-i18n=\"all_sites\">{E(T(lang, "all_sites"))}</a></p>";
        var main = $"""
            {back}
            <h1>{E(site.Name)}</h1>
            <p class="summary">
            <span>{L(lang, "site_load")}: <b><span data-f="site-load">—</span> kW</b></span>
            <span>{L(lang, "kilns_firing")}: <b data-f="site-firing">—</b> / {site.Kilns.Count}</span>
            </p>
            <div id="problem" class="problem" hidden></div>
            <section id="kilns" class="grid"><p class="loading muted" data-i18n="loading">{E(T(lang, "loading"))}</p></section>
            <section class="status">
            <h2 data-i18n="gateways">{E(T(lang, "gateways"))}</h2>
            <ul id="gateways" class="gws"></ul>
            <ul id="devices" class="devices"></ul>
            </section>
            """;
        return Shell(http, "site", main, user, site.Id);
    }

    private static string SitesPage(HttpContext http, Principal user)
    {
        var lang = LangOf(http);
        var main = $"""
            <h1 data-i18n="sites_title">{E(T(lang, "sites_title"))}</h1>
            <div id="problem" class="problem" hidden></div>
            <section id="sites" class="grid"><p class="loading muted" data-i18n="loading">{E(T(lang, "loading"))}</p></section>
            """;
        return Shell(http, "sites", main, user);
    }

    // ---- embedded assets --------------------------------------------------------------------------------------------

    private static string Resource(string name)
    {
        using var s = typeof(LiveEndpoints).Assembly.GetManifestResourceStream("kc.live." + name)
            ?? throw new InvalidOperationException($"the live page's asset '{name}' is not embedded in {typeof(LiveEndpoints).Assembly.GetName().Name}");
        using var r = new StreamReader(s, Encoding.UTF8);
        return r.ReadToEnd();
    }

    private static (byte[], string, string) Asset(string name, string type)
    {
        var body = Encoding.UTF8.GetBytes(Resource(name));
        return (body, type, "\"" + Convert.ToHexStringLower(SHA256.HashData(body))[..16] + "\"");
    }

    /// <summary>The page's labels (Assets/i18n.json): every key in Vietnamese and English.</summary>
    public static IReadOnlyDictionary<string, (string Vi, string En)> Labels => Texts;

    private static FrozenDictionary<string, (string Vi, string En)> LoadTexts()
    {
        using var doc = JsonDocument.Parse(Resource("i18n.json"));
        var d = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            var vi = p.Value.TryGetProperty("vi", out var v) ? v.GetString() : null;
            var en = p.Value.TryGetProperty("en", out var e) ? e.GetString() : null;
            if (string.IsNullOrWhiteSpace(vi) || string.IsNullOrWhiteSpace(en))
                throw new InvalidOperationException($"i18n.json: {p.Name}: needs both \"vi\" and \"en\"");
            d[p.Name] = (vi, en);
        }
        return d.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
