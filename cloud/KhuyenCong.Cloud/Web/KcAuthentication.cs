using System.Security.Claims;
using System.Text.Encodings.Web;
using KhuyenCong.Cloud.Access;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KhuyenCong.Cloud.Web;

/// <summary>
/// Authenticates a request by its token: <c>Authorization: Bearer &lt;token&gt;</c>, or <c>X-Api-Key: &lt;token&gt;</c>, or —
/// for the browser page, whose EventSource cannot send headers — the HttpOnly cookie <c>kc_token</c> set by <c>POST /login</c>.
/// The user is looked up in <see cref="AccessList"/>; <see cref="KcUser.Of"/> gives the <see cref="Principal"/>.
/// </summary>
public sealed class KcAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AccessList access)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "kc-token";
    public const string Cookie = "kc_token";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = TokenOf(Request);
        if (token is null) return Task.FromResult(AuthenticateResult.NoResult());
        var user = access.Authenticate(token);
        if (user is null) return Task.FromResult(AuthenticateResult.Fail("unknown token"));
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user.Name), new Claim(ClaimTypes.Role, user.Role.ToString())], SchemeName);
        Context.Items[typeof(Principal)] = user;
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
            detail: "Send a valid token: 'Authorization: Bearer <token>' or 'X-Api-Key: <token>'.").ExecuteAsync(Context);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "Your role does not allow this.").ExecuteAsync(Context);

    internal static string? TokenOf(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return auth["Bearer ".Length..].Trim();
        var key = request.Headers["X-Api-Key"].ToString();
        if (key.Length > 0) return key.Trim();
        return request.Cookies.TryGetValue(Cookie, out var c) && c.Length > 0 ? c : null;
    }
}

/// <summary>The signed-in user of a request.</summary>
public static class KcUser
{
    /// <summary>The <see cref="Principal"/> of an authenticated request (endpoints behind RequireAuthorization always have one).</summary>
    public static Principal Of(HttpContext http) =>
        http.Items.TryGetValue(typeof(Principal), out var p) && p is Principal user ? user : throw new InvalidOperationException("request is not authenticated");

    /// <summary>
    /// 404 for a site the registry does not know, 403 for a site this user may not read, null when the user may read it.
    /// (An unknown site answers the same 404 to everyone, so the answer reveals nothing beyond the user's own rights.)
    /// </summary>
    public static IResult? DenyRead(HttpContext http, Sites.SiteRegistry registry, string site)
    {
        if (registry.Find(site) is null) return Results.Problem(statusCode: 404, title: "Unknown site", detail: $"site '{site}' is not in the site registry");
        return Of(http).CanRead(site) ? null : Results.Problem(statusCode: 403, title: "Forbidden", detail: $"you may not read site '{site}'");
    }
}
