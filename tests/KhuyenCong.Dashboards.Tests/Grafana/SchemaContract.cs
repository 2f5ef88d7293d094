using System.Text.RegularExpressions;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Dashboards.Tests.Grafana;

/// <summary>
/// The measurement, tag and field names of docs/schema.md (and the canonical points of docs/points.md): the contract the
/// dashboards' queries must keep to. Read from the documents' tables, so a name renamed there fails the lint here.
/// </summary>
public sealed partial class SchemaContract
{
    private SchemaContract(Dictionary<string, HashSet<string>> names, HashSet<string> tokens)
    {
        NamesByMeasurement = names;
        DocumentTokens = tokens;
    }

    /// <summary>Measurement → its tags and fields.</summary>
    public IReadOnlyDictionary<string, HashSet<string>> NamesByMeasurement { get; }

    /// <summary>Every `code` token of schema.md: tag values such as scope 'site' or carrier 'electricity' are among them.</summary>
    public IReadOnlySet<string> DocumentTokens { get; }

    [GeneratedRegex("`([A-Za-z0-9_]+)`")]
    private static partial Regex Code();

    public static SchemaContract Load()
    {
        var schema = File.ReadAllLines(Path.Combine(RepoPaths.Root, "docs", "schema.md"));
        var points = File.ReadAllLines(Path.Combine(RepoPaths.Root, "docs", "points.md"));
        var names = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        HashSet<string> Codes(string cell) => [.. Code().Matches(cell).Select(m => m.Groups[1].Value)];
        string? section = null;
        foreach (var line in schema)
        {
            if (line.StartsWith("## ", StringComparison.Ordinal)) section = line;
            if (!line.StartsWith("| `", StringComparison.Ordinal)) continue;
            var cells = line.Split('|').Select(c => c.Trim()).ToArray(); // "", c1, c2, …, ""
            var measurement = Codes(cells[1]).FirstOrDefault();
            if (measurement is null || section is null) continue;
            HashSet<string>? set = section switch
            {
                _ when section.StartsWith("## Operational", StringComparison.Ordinal) => [.. Codes(cells[2]), .. Codes(cells[3])],
                _ when section.StartsWith("## Derived", StringComparison.Ordinal) => [.. Codes(cells[2]), .. Codes(cells[4])],
                _ => null,
            };
            if (set is not null) names[measurement] = set;
        }
        // Raw measurements: the device class's canonical points, the tags on every line, and the quality flag.
        foreach (var line in points.Where(l => l.StartsWith("| `", StringComparison.Ordinal)))
        {
            var cells = line.Split('|').Select(c => c.Trim()).ToArray();
            if (cells.Length < 5 || cells[3] is not ("meter" or "kiln" or "gas")) continue;
            if (!names.TryGetValue(cells[3], out var set)) names[cells[3]] = set = ["site", "gateway", "device", "kiln", "quality"];
            set.UnionWith(Codes(cells[1]));
        }
        var tokens = schema.SelectMany(l => Code().Matches(l).Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);
        return new SchemaContract(names, tokens);
    }

    [GeneratedRegex(@"FROM\s+""(\w+)""")]
    private static partial Regex FromQuoted();

    [GeneratedRegex(@"FROM\s+/\^\(([\w|]+)\)\$/")]
    private static partial Regex FromRegex();

    [GeneratedRegex(@"AS\s+""([^""]+)""")]
    private static partial Regex Alias();

    [GeneratedRegex(@"""([^""]+)""")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"""(\w+)""\s*=\s*'([^'$]*)'")]
    private static partial Regex TagEquals();

    /// <summary>What in <paramref name="query"/> is not in the contract: unknown measurements, tags, fields or tag values.</summary>
    public IEnumerable<string> Violations(string query)
    {
        var measurements = FromQuoted().Matches(query).Select(m => m.Groups[1].Value)
            .Concat(FromRegex().Matches(query).SelectMany(m => m.Groups[1].Value.Split('|'))).ToList();
        if (measurements.Count == 0)
        {
            yield return "names no measurement (FROM \"name\" or FROM /^(a|b)$/)";
            yield break;
        }
        var allowed = new HashSet<string>(StringComparer.Ordinal) { "time" };
        foreach (var m in measurements)
        {
            if (NamesByMeasurement.TryGetValue(m, out var set)) allowed.UnionWith(set);
            else yield return $"measurement \"{m}\" is not in docs/schema.md";
        }
        var aliases = Alias().Matches(query).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        foreach (var name in Quoted().Matches(query).Select(m => m.Groups[1].Value).Distinct())
        {
            if (!allowed.Contains(name) && !aliases.Contains(name) && !measurements.Contains(name))
                yield return $"\"{name}\" is neither a tag nor a field of {string.Join("/", measurements)} in docs/schema.md";
        }
        foreach (Match m in TagEquals().Matches(query))
        {
            if (!DocumentTokens.Contains(m.Groups[2].Value)) yield return $"\"{m.Groups[1].Value}\" = '{m.Groups[2].Value}': the value is not named in docs/schema.md";
        }
    }
}
