using KhuyenCong.Cloud.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace KhuyenCong.Cloud.Api;

/// <summary>The REST API under /api/v1 (every endpoint requires a token; see <see cref="KcUser"/> for the per-site checks).</summary>
public static class ApiEndpoints
{
    public static IServiceCollection AddKcApi(this IServiceCollection services, CloudWebContext ctx) => services;

    public static RouteGroupBuilder MapKcApi(this RouteGroupBuilder api, CloudWebContext ctx)
    {
        api.MapGet("/sites", (HttpContext http) => Results.Ok(KcUser.Of(http).Readable(ctx.Registry).Select(s => new SiteDto(s.Id, s.Name, s.Address, [.. s.Kilns.Select(k => k.Id)]))))
            .WithName("ListSites").WithSummary("The sites this user may read");
        return api;
    }

    public sealed record SiteDto(string Id, string Name, string? Address, IReadOnlyList<string> Kilns);
}
