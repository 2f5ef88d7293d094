using System.Security.Cryptography;
using KhuyenCong.Analytics.Firings;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Cloud.Web;
using Microsoft.AspNetCore.Http;

namespace KhuyenCong.Cloud.Api;

/// <summary>
/// Production entries through the API: validated, appended to the ledger (<see cref="Production.ProductionStore"/>), never
/// edited. The server sets who (<c>recorded_by</c>: the token's user) and when (<c>recorded_at</c>: its clock).
/// </summary>
public static class ProductionApi
{
    /// <summary>How far <c>firing_at</c> may lie outside a detected firing and still belong to it (as the ledger matches).</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromHours(1);

    public const int MaxProductType = 100;
    public const int MaxNote = 1000;

    public static async Task<IResult> AppendAsync(HttpContext http, CloudWebContext ctx, SiteData data, SiteEntry site, ProductionRequest? body, CancellationToken ct)
    {
        var errors = new Errors();
        if (body is null)
        {
            errors.Add("body", "a JSON object is required");
            return errors.ToResult();
        }
        var now = DateTimeOffset.UtcNow;
        if (body.Kiln is null) errors.Add("kiln", "is required");
        else if (site.Kiln(body.Kiln) is null) errors.Add("kiln", $"'{body.Kiln}' is not a kiln of site '{site.Id}' ({string.Join(", ", site.Kilns.Select(k => k.Id))})");
        if (body.FiringAt is null) errors.Add("firing_at", "is required (an instant inside the firing, with its offset)");
        else if (body.FiringAt.Value > now + Tolerance) errors.Add("firing_at", "is in the future");
        else if (body.FiringAt.Value.Year < 2000) errors.Add("firing_at", "is before 2000");
        if (body.WareKg is null) errors.Add("ware_kg", "is required");
        else if (!double.IsFinite(body.WareKg.Value) || body.WareKg.Value < 0) errors.Add("ware_kg", "must be ≥ 0");
        else if (body.WareKg.Value > 1_000_000) errors.Add("ware_kg", "is implausibly large (more than 1,000 t in one firing)");
        if (body.Pieces is null) errors.Add("pieces", "is required");
        else if (body.Pieces.Value < 0) errors.Add("pieces", "must be ≥ 0");
        if (string.IsNullOrWhiteSpace(body.ProductType)) errors.Add("product_type", "must not be empty");
        else if (body.ProductType.Length > MaxProductType) errors.Add("product_type", $"is longer than {MaxProductType} characters");
        if (body.Note is { Length: > MaxNote }) errors.Add("note", $"is longer than {MaxNote} characters");
        if (body.Supersedes is not null)
        {
            var old = ctx.Production.Entries(site.Id).FirstOrDefault(e => e.EntryId == body.Supersedes);
            if (old is null) errors.Add("supersedes", $"site '{site.Id}' has no production entry '{body.Supersedes}'");
            else if (body.Kiln is not null && old.Kiln != body.Kiln) errors.Add("supersedes", $"entry '{old.EntryId}' is for kiln '{old.Kiln}', not '{body.Kiln}'");
        }
        if (errors.Any) return errors.ToResult();

        var at = body.FiringAt!.Value.ToUniversalTime();
        var firing = Match(await FiringsNearAsync(data, site, body.Kiln, at - TimeSpan.FromDays(7), at + Tolerance, ct).ConfigureAwait(false), at, now);
        var entry = new ProductionEntry(NewId(now), site.Id, body.Kiln!, at, now, KcUser.Of(http).Name, body.WareKg!.Value, body.Pieces!.Value,
            body.ProductType!.Trim(), body.Supersedes, string.IsNullOrWhiteSpace(body.Note) ? null : body.Note.Trim());
        ctx.Production.Append(entry);
        var dto = ToDto(entry, [], true, firing?.Start);
        return Results.Created($"/api/v1/sites/{site.Id}/production/{entry.EntryId}", dto);
    }

    public static async Task<ProductionHistoryDto> HistoryAsync(CloudWebContext ctx, SiteData data, SiteEntry site, string? kiln, CancellationToken ct)
    {
        var all = ctx.Production.Entries(site.Id);
        var entries = kiln is null ? all : [.. all.Where(e => e.Kiln == kiln)];
        if (entries.Count == 0) return new ProductionHistoryDto(site.Id, kiln, []);
        var from = entries.Min(e => e.FiringAt) - TimeSpan.FromDays(7);
        var to = entries.Max(e => e.FiringAt) + Tolerance;
        var firings = await FiringsNearAsync(data, site, kiln, from, to, ct).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        var supersededBy = all.Where(e => e.Supersedes is not null).ToLookup(e => e.Supersedes!, e => e.EntryId, StringComparer.Ordinal);
        var matched = entries.Select(e => (Entry: e, Firing: Match(firings.Where(f => f.Kiln == e.Kiln), e.FiringAt, now))).ToList();
        // In force: per firing (or, without a detected firing, per kiln and firing_at), the latest entry nobody supersedes.
        var effective = matched.Where(x => !supersededBy.Contains(x.Entry.EntryId))
            .GroupBy(x => (x.Entry.Kiln, Key: x.Firing?.Start ?? x.Entry.FiringAt))
            .Select(g => g.OrderBy(x => x.Entry.RecordedAt).ThenBy(x => x.Entry.EntryId, StringComparer.Ordinal).Last().Entry.EntryId)
            .ToHashSet(StringComparer.Ordinal);
        return new ProductionHistoryDto(site.Id, kiln, [.. matched.Select(x => ToDto(x.Entry, [.. supersededBy[x.Entry.EntryId]], effective.Contains(x.Entry.EntryId), x.Firing?.Start))]);
    }

    /// <summary>
    /// The detected firings to match entries to. Matching is a convenience: when InfluxDB cannot be asked, entries are
    /// still recorded and listed (with <c>firing_start</c> null) — the ledger never depends on the time-series database.
    /// </summary>
    private static async Task<IReadOnlyList<FiringDto>> FiringsNearAsync(SiteData data, SiteEntry site, string? kiln, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        try
        {
            return await data.FiringsAsync(site, kiln, from, to, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or Influx.InfluxQueryException || (ex is TaskCanceledException && !ct.IsCancellationRequested))
        {
            return [];
        }
    }

    /// <summary>The detected firing of the kiln that <paramref name="at"/> falls in, widened by <see cref="Tolerance"/>.</summary>
    private static FiringDto? Match(IEnumerable<FiringDto> firings, DateTimeOffset at, DateTimeOffset now) =>
        firings.Where(f => at >= f.Start - Tolerance && at <= (f.End ?? now) + Tolerance).OrderBy(f => Math.Abs((f.Start - at).TotalSeconds)).FirstOrDefault();

    private static ProductionEntryDto ToDto(ProductionEntry e, IReadOnlyList<string> supersededBy, bool effective, DateTimeOffset? firingStart) =>
        new(e.EntryId, e.Site, e.Kiln, e.FiringAt, e.RecordedAt, e.RecordedBy, e.WareKg, e.Pieces, e.ProductType, e.Supersedes, e.Note, supersededBy, effective, firingStart);

    /// <summary>A new entry id: time-ordered and unique (<c>p-20261129T023015123Z-3fa9c2e1</c>).</summary>
    private static string NewId(DateTimeOffset now) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"p-{now.UtcDateTime:yyyyMMdd'T'HHmmssfff'Z'}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
}
