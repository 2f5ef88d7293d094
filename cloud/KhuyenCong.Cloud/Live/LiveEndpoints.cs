using KhuyenCong.Cloud.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace KhuyenCong.Cloud.Live;

/// <summary>The live page for kiln operators (served at /).</summary>
public static class LiveEndpoints
{
    public static IServiceCollection AddKcLive(this IServiceCollection services, CloudWebContext ctx) => services;

    public static WebApplication MapKcLive(this WebApplication app, CloudWebContext ctx)
    {
        app.MapGet("/", () => Results.Text("KhuyenCong.Energy: the live page is not built yet; the API is at /api/v1 (OpenAPI: /openapi/v1.json).", "text/plain; charset=utf-8"));
        return app;
    }
}
