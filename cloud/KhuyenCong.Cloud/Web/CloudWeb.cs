using System.Net;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Cloud.Access;
using KhuyenCong.Cloud.Api;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Live;
using KhuyenCong.Cloud.Production;
using KhuyenCong.Cloud.Sites;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Cloud.Web;

/// <summary>
/// What the web side (API and live page) reads from: the registry, the users, InfluxDB through InfluxQL, the factor
/// files and the production ledger. One instance per cloud service, shared by every request.
/// </summary>
public sealed record CloudWebContext(SiteRegistry Registry, AccessList Access, InfluxQlClient Influx, FactorSet Factors, ProductionStore Production, ILoggerFactory Logs);

/// <summary>
/// The HTTP side of the cloud service (ASP.NET Core, Kestrel): the REST API under <c>/api/v1</c> with its OpenAPI
/// document at <c>/openapi/v1.json</c>, and the live page at <c>/</c>. Every API answer that is not a success is a
/// ProblemDetails document (RFC 9457).
/// </summary>
public sealed class CloudWeb : IAsyncDisposable
{
    private readonly WebApplication _app;

    public CloudWeb(HttpConfig cfg, CloudWebContext ctx)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "kc-cloud", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(ctx.Logs);
        builder.Services.AddSingleton(ctx);
        builder.Services.AddSingleton(ctx.Registry);
        builder.Services.AddSingleton(ctx.Access);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(cfg.Bind), cfg.Port));
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi("v1");
        builder.Services.AddAuthentication(KcAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, KcAuthenticationHandler>(KcAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddKcApi(ctx);
        builder.Services.AddKcLive(ctx);
        _app = builder.Build();
        _app.UseExceptionHandler();
        _app.UseStatusCodePages();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.MapOpenApi("/openapi/{documentName}.json");

        var api = _app.MapGroup("/api/v1").RequireAuthorization();
        api.MapGet("/me", (HttpContext http) => Results.Ok(new MeDto(KcUser.Of(http).Name, KcUser.Of(http).Role.ToString().ToLowerInvariant(), [.. KcUser.Of(http).Readable(ctx.Registry).Select(s => s.Id)])))
            .WithName("Me").WithSummary("Who the token belongs to, their role and the sites they may read");
        api.MapKcApi(ctx);
        _app.MapKcLive(ctx);
    }

    /// <summary>The address the server listens on, e.g. http://127.0.0.1:8080 (the real port when 0 was configured).</summary>
    public Uri Url { get; private set; } = new("http://127.0.0.1/");

    public async Task StartAsync(CancellationToken ct)
    {
        await _app.StartAsync(ct).ConfigureAwait(false);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Url = new Uri(address.Replace("[::]", "localhost", StringComparison.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    public sealed record MeDto(string Name, string Role, IReadOnlyList<string> Sites);
}
