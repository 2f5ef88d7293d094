using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using KhuyenCong.Analytics.Compliance;
using KhuyenCong.Analytics.Conversion;
using KhuyenCong.Analytics.Factors;
using KhuyenCong.Cloud.Reports;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Cloud.Web;
using KhuyenCong.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace KhuyenCong.Cloud.Api;

/// <summary>
/// The REST API under /api/v1 (docs/api.md). Every endpoint requires a token; per-site reads answer 404 for an unknown
/// site and 403 for a site the user may not read (<see cref="KcUser.DenyRead"/>); production entries may be written only
/// by an operator of the site. Bad input answers 400 ProblemDetails whose <c>errors</c> names the field or parameter.
/// </summary>
public static class ApiEndpoints
{
    public static IServiceCollection AddKcApi(this IServiceCollection services, CloudWebContext ctx)
    {
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        // Binding failures throw, so BadRequestHandler can answer with a ProblemDetails naming the field.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadRequestHandler>();
        // A body that is not JSON is refused by routing (415) before the endpoint runs: name the body in that answer too.
        services.PostConfigure<ProblemDetailsOptions>(o =>
        {
            var previous = o.CustomizeProblemDetails;
            o.CustomizeProblemDetails = c =>
            {
                previous?.Invoke(c);
                if (c.ProblemDetails.Status == StatusCodes.Status415UnsupportedMediaType && !c.ProblemDetails.Extensions.ContainsKey("errors"))
                {
                    c.ProblemDetails.Detail ??= "body: must be JSON (Content-Type: application/json)";
                    c.ProblemDetails.Extensions["errors"] = new Dictionary<string, string[]> { ["body"] = ["must be JSON (Content-Type: application/json)"] };
                }
            };
        });
        services.AddAuthorizationBuilder().AddPolicy(EnterProductionRequirement.Policy, p => p.RequireAuthenticatedUser().AddRequirements(new EnterProductionRequirement()));
        services.AddExceptionHandler<InfluxUnavailableHandler>();
        return services;
    }

    public static RouteGroupBuilder MapKcApi(this RouteGroupBuilder api, CloudWebContext ctx)
    {
        var data = new SiteData(ctx.Influx);
        var reports = new AnnualReportBuilder(data, ctx.Factors, ctx.Production);

        api.MapGet("/sites", (HttpContext http) => Results.Ok(KcUser.Of(http).Readable(ctx.Registry).Select(s => new SiteDto(s.Id, s.Name, s.Address, [.. s.Kilns.Select(k => k.Id)]))))
            .WithName("ListSites").WithSummary("The sites this user may read").Produces<IEnumerable<SiteDto>>();

        api.MapGet("/sites/{site}", (HttpContext http, string site) =>
            Guard(http, ctx, site, out var s) ?? Results.Ok(Detail(s!, ctx.Factors)))
            .WithName("GetSite").WithSummary("A site with its gateways, kilns, meters, baseline period and savings target").Produces<SiteDetailDto>().ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/sites/{site}/live", async (HttpContext http, string site, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            return Results.Ok(Live(s!, await data.LiveAsync(s!, ct).ConfigureAwait(false), DateTimeOffset.UtcNow));
        }).WithName("GetLiveStatus").WithSummary("Now: each kiln's temperature, setpoint, run state, power and LPG; gateways online; last reading of every device")
            .Produces<LiveStatusDto>().ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/sites/{site}/firings", async (HttpContext http, string site, [AsParameters] PeriodParams period, [FromQuery(Name = "kiln"), Description("One kiln of the site (default: the whole site)")] string? kiln, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            var errors = new Errors();
            var k = KilnParam(kiln, s!, errors);
            var span = PeriodQuery.Parse(period, errors, () => PeriodQuery.CurrentMonth(DateTimeOffset.UtcNow));
            if (errors.Any) return errors.ToResult();
            return Results.Ok(new FiringsDto(s!.Id, k, span!.From, span.To, await data.FiringsAsync(s, k, span.From, span.To, ct).ConfigureAwait(false)));
        }).WithName("ListFirings").WithSummary("Firings that started in a period (default: this month), with energy per carrier, production and SEC; ?kiln= for one kiln")
            .Produces<FiringsDto>().ProducesValidationProblem().ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/sites/{site}/production", async (HttpContext http, string site, [FromQuery(Name = "kiln"), Description("One kiln of the site (default: the whole site)")] string? kiln, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            var errors = new Errors();
            var k = KilnParam(kiln, s!, errors);
            if (errors.Any) return errors.ToResult();
            return Results.Ok(await ProductionApi.HistoryAsync(ctx, data, s!, k, ct).ConfigureAwait(false));
        }).WithName("ListProduction").WithSummary("Every production entry of the site (corrections included), with who entered it and when")
            .Produces<ProductionHistoryDto>().ProducesValidationProblem().ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/sites/{site}/production/{entryId}", async (HttpContext http, string site, string entryId, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            var history = await ProductionApi.HistoryAsync(ctx, data, s!, null, ct).ConfigureAwait(false);
            var e = history.Entries.FirstOrDefault(x => x.EntryId == entryId);
            return e is null ? Results.Problem(statusCode: 404, title: "Unknown production entry", detail: $"site '{site}' has no production entry '{entryId}'") : Results.Ok(e);
        }).WithName("GetProductionEntry").WithSummary("One production entry").Produces<ProductionEntryDto>().ProducesProblem(403).ProducesProblem(404);

        api.MapPost("/sites/{site}/production", async (HttpContext http, string site, ProductionRequest body, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            return await ProductionApi.AppendAsync(http, ctx, data, s!, body, ct).ConfigureAwait(false);
        }).RequireAuthorization(EnterProductionRequirement.Policy)
            .WithName("AddProductionEntry")
            .WithSummary("Record the production of a firing (operator of the site only). A correction is a new entry naming the one it supersedes.")
            .Accepts<ProductionRequest>("application/json").Produces<ProductionEntryDto>(StatusCodes.Status201Created)
            .ProducesValidationProblem().ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/sites/{site}/enpi", async (HttpContext http, string site, [AsParameters] PeriodParams period, [FromQuery(Name = "kiln"), Description("One kiln of the site (default: the whole site)")] string? kiln,
            [FromQuery(Name = "per"), Description("day, month (default) or year")] string? per, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            var errors = new Errors();
            var k = KilnParam(kiln, s!, errors);
            var p = Choice(per, "per", ["day", "month", "year"], "month", errors);
            var span = PeriodQuery.Parse(period, errors, () => PeriodQuery.CurrentYear(DateTimeOffset.UtcNow));
            if (errors.Any) return errors.ToResult();
            var rows = await data.EnpiAsync(s!, k, p, span!.From, span.To, ct).ConfigureAwait(false);
            return Results.Ok(new EnpisDto(s!.Id, k is null ? "site" : "kiln", k, p, span.From, span.To, rows));
        }).WithName("ListEnpi")
            .WithSummary("Energy performance indicators per day, month or year (?per=, default month) for the site or one kiln (?kiln=): energy, TOE, production, SEC, completeness")
            .Produces<EnpisDto>().ProducesValidationProblem().ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/sites/{site}/baseline", async (HttpContext http, string site, [FromQuery(Name = "kiln"), Description("One kiln of the site (default: the whole site)")] string? kiln, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            var errors = new Errors();
            var k = KilnParam(kiln, s!, errors);
            if (errors.Any) return errors.ToResult();
            var models = await data.BaselineModelsAsync(s!, k, ct).ConfigureAwait(false);
            return Results.Ok(new BaselineDto(s!.Id, s.Baseline is { } b ? new BaselinePeriodDto(b.From, b.To) : null, [.. models.Select(m => Verdict(m, ctx.Factors.Mv))]));
        }).WithName("GetBaseline").WithSummary("The baseline models (energy on production): R², CV(RMSE), NMBE and the ASHRAE Guideline 14 verdict")
            .Produces<BaselineDto>().ProducesValidationProblem().ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/sites/{site}/savings", async (HttpContext http, string site, [AsParameters] PeriodParams period, [FromQuery(Name = "kiln"), Description("One kiln of the site (default: the whole site)")] string? kiln,
            [FromQuery(Name = "basis"), Description("month (default) or firing: the points the baseline was fitted on")] string? basis, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            var errors = new Errors();
            var k = KilnParam(kiln, s!, errors);
            var b = Choice(basis, "basis", ["month", "firing"], "month", errors);
            var span = PeriodQuery.Parse(period, errors, () => new PeriodQuery(DateTimeOffset.UnixEpoch, DateTimeOffset.UtcNow.AddDays(1)));
            if (errors.Any) return errors.ToResult();
            return Results.Ok(await Savings(data, ctx.Factors, s!, k, b, span!, ct).ConfigureAwait(false));
        }).WithName("GetSavings")
            .WithSummary("Verified savings over a reporting period (default: all): adjusted baseline, avoided energy, savings %, CUSUM and progress against the target")
            .Produces<SavingsDto>().ProducesValidationProblem().ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/compliance", async (HttpContext http, [FromQuery(Name = "year"), Description("The local year, YYYY (default: this year)")] string? year, CancellationToken ct) =>
        {
            var errors = new Errors();
            var y = YearParam(year, errors);
            if (errors.Any) return errors.ToResult();
            var sites = KcUser.Of(http).Readable(ctx.Registry).ToList();
            return Results.Ok(await Compliance(data, ctx.Factors, sites, y, ct).ConfigureAwait(false));
        }).WithName("GetCompliance")
            .WithSummary("For every site the user may read: annual TOE per carrier, key-energy-consumer status, SEC ranking among those sites, data completeness")
            .Produces<ComplianceDto>().ProducesValidationProblem();

        api.MapGet("/sites/{site}/compliance", async (HttpContext http, string site, [FromQuery(Name = "year"), Description("The local year, YYYY (default: this year)")] string? year, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            var errors = new Errors();
            var y = YearParam(year, errors);
            if (errors.Any) return errors.ToResult();
            var all = await Compliance(data, ctx.Factors, [s!], y, ct).ConfigureAwait(false);
            return Results.Ok(all.Sites[0]);
        }).WithName("GetSiteCompliance").WithSummary("One site's annual TOE per carrier, key-energy-consumer status and data completeness")
            .Produces<SiteComplianceDto>().ProducesValidationProblem().ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/sites/{site}/reports/{year}.csv", async (HttpContext http, string site, string year, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            if (!PeriodQuery.TryYear(year, out var y)) return YearError(year);
            var report = await reports.BuildAsync(s!, y, DateTimeOffset.UtcNow, ct).ConfigureAwait(false);
            return Results.Text(ReportCsv.Write(report), "text/csv; charset=utf-8");
        }).WithName("GetAnnualReportCsv").WithSummary("The site's annual energy-use report as CSV, one value per row (section,scope,period,quantity,value,unit,note)")
            .Produces<string>(200, "text/csv").ProducesValidationProblem().ProducesProblem(403).ProducesProblem(404);

        api.MapGet("/sites/{site}/reports/{year}.html", async (HttpContext http, string site, string year, CancellationToken ct) =>
        {
            if (Guard(http, ctx, site, out var s) is { } deny) return deny;
            if (!PeriodQuery.TryYear(year, out var y)) return YearError(year);
            var report = await reports.BuildAsync(s!, y, DateTimeOffset.UtcNow, ct).ConfigureAwait(false);
            return Results.Text(ReportHtml.Write(report), "text/html; charset=utf-8");
        }).WithName("GetAnnualReportHtml").WithSummary("The site's annual energy-use report as a printable HTML page with inline SVG charts (SEC trend, baseline vs actual, CUSUM)")
            .Produces<string>(200, "text/html").ProducesValidationProblem().ProducesProblem(403).ProducesProblem(404);

        return api;
    }

    private static IResult? Guard(HttpContext http, CloudWebContext ctx, string site, out SiteEntry? entry)
    {
        entry = ctx.Registry.Find(site);
        return KcUser.DenyRead(http, ctx.Registry, site);
    }

    private static IResult YearError(string year)
    {
        var e = new Errors();
        e.Add("year", $"'{year}' is not a year (YYYY, 2000–2100)");
        return e.ToResult();
    }

    /// <summary>The <c>kiln</c> query parameter: null when absent, an error when it is not a kiln of the site.</summary>
    private static string? KilnParam(string? kiln, SiteEntry site, Errors errors)
    {
        if (kiln is null) return null;
        if (site.Kiln(kiln) is null)
        {
            errors.Add("kiln", $"'{kiln}' is not a kiln of site '{site.Id}' ({string.Join(", ", site.Kilns.Select(x => x.Id))})");
            return null;
        }
        return kiln;
    }

    private static string Choice(string? value, string name, string[] allowed, string fallback, Errors errors)
    {
        if (value is null) return fallback;
        if (allowed.Contains(value, StringComparer.Ordinal)) return value;
        errors.Add(name, $"'{value}' is not one of {string.Join(", ", allowed)}");
        return fallback;
    }

    private static int YearParam(string? year, Errors errors)
    {
        var now = Analytics.Time.VietnamTime.LocalDate(DateTimeOffset.UtcNow).Year;
        if (year is null) return now;
        if (PeriodQuery.TryYear(year, out var y)) return y;
        errors.Add("year", $"'{year}' is not a year (YYYY, 2000–2100)");
        return now;
    }

    internal static SiteDetailDto Detail(SiteEntry s, FactorSet factors) => new(
        s.Id, s.Name, s.Address, s.Contact, YamlBinder.ToSnake(s.Facility.ToString()), s.TargetSavingsPercent ?? factors.Mv.SavingsTargetLowPercent.Value,
        [.. s.Gateways.Select(g => new GatewayDto(g.Id, g.Description))],
        [.. s.Kilns.Select(k => new KilnDto(k.Id, k.Name, YamlBinder.ToSnake(k.Type.ToString()), k.VolumeM3, k.Description, [.. s.MetersOf(k.Id).Select(m => m.Device)]))],
        [.. s.Meters.Select(m => new MeterDto(m.Device, m.Gateway, m.Kiln, YamlBinder.ToSnake(m.Carrier.ToString()), m.Point, YamlBinder.ToSnake(m.Covers.ToString()), m.MaxRatePerHour, m.PollInterval.TotalSeconds))],
        s.Baseline is { } b ? new BaselinePeriodDto(b.From, b.To) : null,
        [.. s.Measures.Select(m => new MeasureDto(m.Name, m.Implemented, m.Kiln, m.Description, m.ExpectedSavingsPercent))]);

    internal static LiveStatusDto Live(SiteEntry s, LiveSnapshot snap, DateTimeOffset now)
    {
        static double? V(LatestReading? r, string field) => r is not null && r.Values.TryGetValue(field, out var v) ? v : null;
        var kilns = s.Kilns.Select(k =>
        {
            var ctl = snap.Devices.Where(d => d.Measurement == "kiln" && d.Kiln == k.Id).MaxBy(d => d.At);
            var meters = snap.Devices.Where(d => d.Measurement == "meter" && d.Kiln == k.Id).ToList();
            var gas = snap.Devices.Where(d => d.Measurement == "gas" && d.Kiln == k.Id).ToList();
            var power = meters.Select(m => V(m, "power_w")).Where(p => p is not null).ToList();
            var lpg = gas.Select(g => V(g, "lpg_mass_kg")).Where(p => p is not null).ToList();
            var flow = gas.Select(g => V(g, "gas_flow_m3h")).Where(p => p is not null).ToList();
            var seen = snap.Devices.Where(d => d.Kiln == k.Id).Select(d => (DateTimeOffset?)d.At).Max();
            return new LiveKilnDto(k.Id, k.Name, V(ctl, "kiln_temp_c"), V(ctl, "kiln_setpoint_c"), V(ctl, "kiln_running") is { } r ? r >= 0.5 : null,
                V(ctl, "kiln_alarm") is { } a ? a >= 0.5 : null, power.Count > 0 ? power.Sum() : null, lpg.Count > 0 ? lpg.Sum() : null, flow.Count > 0 ? flow.Sum() : null, seen);
        }).ToList();
        var gateways = s.Gateways.Select(g =>
        {
            var st = snap.Gateways.Where(x => x.Gateway == g.Id).Select(x => ((bool, DateTimeOffset)?)(x.Online, x.At)).FirstOrDefault();
            var seen = snap.Devices.Where(d => d.Gateway == g.Id).Select(d => (DateTimeOffset?)d.At).Max();
            return new LiveGatewayDto(g.Id, st?.Item1, st?.Item2, seen);
        }).ToList();
        // Site power: the site-total electricity meters (docs: SiteTotalMeters) that reported a power reading.
        var siteMeters = s.SiteTotalMeters(Carrier.Electricity).Select(m => m.Device).ToHashSet(StringComparer.Ordinal);
        var sitePower = snap.Devices.Where(d => d.Measurement == "meter" && siteMeters.Contains(d.Device)).Select(d => V(d, "power_w")).Where(p => p is not null).ToList();
        var devices = snap.Devices.OrderBy(d => d.Device, StringComparer.Ordinal)
            .Select(d => new LiveDeviceDto(d.Device, d.Measurement, d.Gateway, d.Kiln, d.At, Math.Round((now - d.At).TotalSeconds, 1), d.Values)).ToList();
        return new LiveStatusDto(s.Id, now, sitePower.Count > 0 ? sitePower.Sum() : null, kilns, gateways, devices);
    }

    internal static BaselineModelWithVerdictDto Verdict(BaselineModelDto m, MvCriteria mv)
    {
        var granularity = m.Basis == "month" ? DataGranularity.Monthly : DataGranularity.Daily;
        var lim = mv.Calibration[granularity];
        var limits = new AshraeLimitsDto(YamlBinder.ToSnake(granularity.ToString()), lim.MaxCvRmsePercent, lim.MaxAbsNmbePercent, mv.MinRSquared.Value, (int)mv.MinPoints.Value, lim.CvRmseSource.Document);
        var inv = CultureInfo.InvariantCulture;
        var failures = new List<string>();
        if (m.N < mv.MinPoints.Value) failures.Add(string.Create(inv, $"n = {m.N} points is below the {mv.MinPoints.Value:0} needed"));
        if (m.R2 is { } r2 && r2 < mv.MinRSquared.Value) failures.Add(string.Create(inv, $"R² = {r2:0.000} is below {mv.MinRSquared.Value:0.00}"));
        if (m.CvRmsePct is { } cv && cv > lim.MaxCvRmsePercent) failures.Add(string.Create(inv, $"CV(RMSE) = {cv:0.0} % is above {lim.MaxCvRmsePercent:0} %"));
        if (m.NmbePct is { } nmbe && Math.Abs(nmbe) > lim.MaxAbsNmbePercent) failures.Add(string.Create(inv, $"|NMBE| = {Math.Abs(nmbe):0.0} % is above {lim.MaxAbsNmbePercent:0} %"));
        var verdict = m.Adequate ? "adequate: savings may be claimed" : "NOT good enough to claim savings";
        return new BaselineModelWithVerdictDto(m, limits, verdict, failures);
    }

    internal static async Task<SavingsDto> Savings(SiteData data, FactorSet factors, SiteEntry s, string? kiln, string basis, PeriodQuery span, CancellationToken ct)
    {
        var models = await data.BaselineModelsAsync(s, kiln, ct).ConfigureAwait(false);
        var scope = kiln is null ? "site" : "kiln";
        var model = models.FirstOrDefault(m => m.Scope == scope && m.Kiln == kiln && m.Basis == basis);
        var points = await data.SavingsAsync(s, kiln, basis, span.From, span.To, ct).ConfigureAwait(false);
        var actual = points.Sum(p => p.ActualMj);
        var expected = points.Sum(p => p.ExpectedMj);
        var avoided = points.Sum(p => p.AvoidedMj);
        double? pct = expected > 0 ? 100 * avoided / expected : null;
        return new SavingsDto(s.Id, scope, kiln, basis, span.From, span.To, model, model?.Adequate == true, actual, expected, avoided, pct, Target(s, factors, pct), points);
    }

    internal static TargetDto Target(SiteEntry s, FactorSet factors, double? savingsPct)
    {
        var low = factors.Mv.SavingsTargetLowPercent.Value;
        var high = factors.Mv.SavingsTargetHighPercent.Value;
        var target = s.TargetSavingsPercent ?? low;
        string? progress = savingsPct is not { } p ? null : p < target ? "below" : p <= Math.Max(high, target) ? "within" : "above";
        return new TargetDto(target, low, high, progress);
    }

    internal static async Task<ComplianceDto> Compliance(SiteData data, FactorSet factors, IReadOnlyList<SiteEntry> sites, int year, CancellationToken ct)
    {
        var period = Analytics.Time.Period.Year(year);
        var rows = new List<(SiteEntry Site, EnpiDto? Year, AnnualToeReport Toe, double? SavingsPct)>();
        foreach (var s in sites)
        {
            var enpi = (await data.EnpiAsync(s, null, "year", period.StartUtc, period.EndUtc, ct).ConfigureAwait(false)).FirstOrDefault();
            var toe = ComplianceReports.AnnualToe(s.Id, year, s.Facility, Quantities(s, enpi), factors);
            var sav = await Savings(data, factors, s, null, "month", new PeriodQuery(period.StartUtc, period.EndUtc), ct).ConfigureAwait(false);
            rows.Add((s, enpi, toe, sav.SavingsPct));
        }
        // Ranked by the year's SEC as the EnPI defines it: energy of the firings with production / their production.
        var ranking = ComplianceReports.RankBySec(rows.Select(r => r.Year is { SecMjPerKg: { } sec, ProductionKg: { } kg } && kg > 0
                ? new SiteSec(r.Site.Id, sec * kg, kg) : new SiteSec(r.Site.Id, 0, 0)))
            .ToDictionary(r => r.Site, StringComparer.Ordinal);
        var list = rows.Select(r => new SiteComplianceDto(
            r.Site.Id, r.Site.Name, year, [.. r.Toe.ByCarrier.Select(c => CarrierUse(c, factors.Toe.GjPerToe * 1000))], r.Toe.TotalToe, r.Toe.Threshold.ToePerYear, r.Toe.Threshold.Source.Document,
            r.Toe.Status == KeyConsumerStatus.KeyConsumer, r.Toe.Summary, r.Year?.ProductionKg, ranking[r.Site.Id].MjPerKg, ranking[r.Site.Id].Rank,
            r.Year?.Completeness, r.SavingsPct, r.Site.TargetSavingsPercent ?? factors.Mv.SavingsTargetLowPercent.Value))
            .OrderBy(c => c.SecRank ?? int.MaxValue).ThenBy(c => c.Site, StringComparer.Ordinal).ToList();
        return new ComplianceDto(year, list.Count(c => c.SecRank is not null), list);
    }

    /// <summary>
    /// The annual use per carrier in physical units, from a year's EnPI: the carriers the site has meters for, and any
    /// other with use (a carrier the site does not use is left out rather than listed as 0).
    /// </summary>
    internal static IEnumerable<Quantity> Quantities(SiteEntry site, EnpiDto? year)
    {
        if (year is null) yield break;
        bool Used(Carrier c, double amount) => amount != 0 || site.Meters.Any(m => m.Carrier == c);
        if (year.ElectricityKwh is { } e && Used(Carrier.Electricity, e)) yield return new Quantity(Carrier.Electricity, e, PhysicalUnit.KWh);
        if (year.LpgKg is { } l && Used(Carrier.Lpg, l)) yield return new Quantity(Carrier.Lpg, l, PhysicalUnit.Kg);
        if (year.GasM3 is { } g && Used(Carrier.NaturalGas, g)) yield return new Quantity(Carrier.NaturalGas, g, PhysicalUnit.CubicMetre);
    }

    internal static CarrierUseDto CarrierUse(CarrierToe c, double mjPerToe) =>
        new(YamlBinder.ToSnake(c.Carrier.ToString()), c.Amount, Units.Symbol(c.Unit), c.Toe, c.Toe * mjPerToe);
}
