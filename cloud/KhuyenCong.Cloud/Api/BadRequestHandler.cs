using System.Text.Json;
using System.Text.RegularExpressions;
using KhuyenCong.Cloud.Web;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace KhuyenCong.Cloud.Api;

/// <summary>
/// Turns the framework's own request-binding failures (malformed JSON, a value of the wrong type, an unknown field, no
/// body, a body that is not JSON) into a 400 ProblemDetails whose <c>errors</c> names the JSON field, e.g.
/// <c>{"errors": {"ware_kg": ["must be a number"]}}</c>, instead of a bare 400. Minimal APIs throw these only with
/// <c>RouteHandlerOptions.ThrowOnBadRequest</c>, which <see cref="ApiEndpoints.AddKcApi"/> turns on.
/// </summary>
public sealed partial class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad) return false;
        var errors = new Errors();
        if (bad.InnerException is JsonException json)
        {
            var field = FieldOf(json.Path);
            errors.Add(field, TypeMessage(http, field) is { } m && !IsSyntaxError(json) ? m : MessageOf(json));
        }
        else if (bad.StatusCode == StatusCodes.Status415UnsupportedMediaType)
        {
            errors.Add("body", "must be JSON (Content-Type: application/json)");
        }
        else if (bad.Message.Contains("no body was provided", StringComparison.Ordinal) || bad.Message.Contains("from the request body", StringComparison.Ordinal))
        {
            errors.Add("body", "a JSON object is required");
        }
        else
        {
            errors.Add(ParameterOf(bad.Message) ?? "request", bad.Message);
        }
        http.Response.StatusCode = bad.StatusCode;
        var problem = new HttpValidationProblemDetails(errors.ToDictionary())
        {
            Status = bad.StatusCode,
            Title = "The request is not valid",
            Detail = string.Join("; ", errors.ToDictionary().Select(kv => $"{kv.Key}: {string.Join(", ", kv.Value)}")),
        };
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem, Exception = exception }).ConfigureAwait(false);
    }

    /// <summary><c>$.ware_kg</c> → <c>ware_kg</c>; <c>$</c> (the document itself) → <c>body</c>.</summary>
    internal static string FieldOf(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$") return "body";
        var p = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        return p.Replace("['", "", StringComparison.Ordinal).Replace("']", "", StringComparison.Ordinal);
    }

    /// <summary>
    /// "must be a number" etc. from the type of the body's property with that JSON name (the endpoint declares its body
    /// type with Accepts); null when it cannot be told. System.Text.Json names only the record in its message.
    /// </summary>
    private static string? TypeMessage(HttpContext http, string field)
    {
        // The exception handler has cleared the request's endpoint; its feature keeps the one that failed.
        var endpoint = http.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? http.GetEndpoint();
        var type = endpoint?.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>().Select(m => m.RequestType).FirstOrDefault(t => t is not null);
        var prop = type?.GetProperties().FirstOrDefault(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name) == field);
        if (prop is null) return null;
        var t = Nullable.GetUnderlyingType(prop.PropertyType) ?? prop.PropertyType;
        return TypeMessage(t.Name);
    }

    /// <summary>A reader error (broken JSON) rather than a value of the wrong type.</summary>
    private static bool IsSyntaxError(JsonException json) => json.InnerException is not null && json.InnerException.GetType().Name == "JsonReaderException";

    private static string TypeMessage(string typeName) => typeName switch
    {
        "Double" or "Single" or "Decimal" => "must be a number",
        "Int32" or "Int64" or "Int16" => "must be a whole number",
        "String" => "must be a string",
        "DateTimeOffset" or "DateTime" => "must be an instant with its offset (2026-11-28T08:00:00+07:00)",
        "Boolean" => "must be true or false",
        _ => "has the wrong type",
    };

    internal static string MessageOf(JsonException json)
    {
        var m = json.Message;
        var conv = ConvertedTo().Match(m);
        if (conv.Success)
        {
            return TypeMessage(conv.Groups[1].Value);
        }
        if (m.Contains("could not be mapped", StringComparison.Ordinal)) return "is not a known field";
        var cut = m.IndexOf(" Path:", StringComparison.Ordinal);
        var reader = cut > 0 ? m[..cut] : m;
        var at = json.LineNumber is { } line ? $" (line {line + 1}, byte {json.BytePositionInLine + 1})" : "";
        return $"is not valid JSON: {reader}{at}";
    }

    private static string? ParameterOf(string message)
    {
        var m = ParameterName().Match(message);
        return m.Success ? m.Groups[1].Value : null;
    }

    [GeneratedRegex(@"could not be converted to (?:System\.Nullable`1\[)?System\.(\w+)")]
    private static partial Regex ConvertedTo();

    [GeneratedRegex("parameter \"(?:\\w+ )?(\\w+)\"")]
    private static partial Regex ParameterName();
}

/// <summary>
/// InfluxDB unreachable, timing out or refusing a query: 503 ProblemDetails saying so (the request may be retried),
/// rather than a bare 500. Production entries do not depend on it (they are kept in the ledger either way).
/// </summary>
public sealed class InfluxUnavailableHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not (HttpRequestException or Influx.InfluxQueryException or TaskCanceledException) || http.RequestAborted.IsCancellationRequested) return false;
        http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        http.Response.Headers.RetryAfter = "30";
        var problem = new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "The time-series database is not available",
            Detail = exception is Influx.InfluxQueryException q ? $"InfluxDB refused the query: {q.Message}" : $"InfluxDB did not answer: {exception.Message}",
        };
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem, Exception = exception }).ConfigureAwait(false);
    }
}

/// <summary>Production entries may be written only by an operator of the site in the route (an unknown site is left to answer 404).</summary>
public sealed class EnterProductionRequirement : IAuthorizationRequirement, IAuthorizationHandler
{
    public const string Policy = "enter-production";

    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        if (context.Resource is HttpContext http && http.Items.TryGetValue(typeof(Access.Principal), out var p) && p is Access.Principal user)
        {
            var site = http.GetRouteValue("site") as string ?? "";
            var registry = (Sites.SiteRegistry)http.RequestServices.GetService(typeof(Sites.SiteRegistry))!;
            if (registry.Find(site) is null || user.CanEnterProduction(site)) context.Succeed(this);
        }
        return Task.CompletedTask;
    }
}
