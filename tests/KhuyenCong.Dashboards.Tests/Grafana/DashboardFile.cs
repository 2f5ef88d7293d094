using System.Text.Json;
using System.Text.Json.Nodes;

namespace KhuyenCong.Dashboards.Tests.Grafana;

/// <summary>A datasource reference as Grafana writes it in dashboard JSON: <c>{"type": "influxdb", "uid": "…"}</c>.</summary>
public sealed record DatasourceRef(string? Type, string? Uid)
{
    public static DatasourceRef? From(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => new DatasourceRef((string?)o["type"], (string?)o["uid"]),
        // Old dashboards name the datasource by a plain string; the project's dashboards never do.
        JsonValue v => new DatasourceRef(null, "name:" + v.ToString()),
        _ => null,
    };

    public override string ToString() => $"{{type: {Type ?? "-"}, uid: {Uid ?? "-"}}}";
}

/// <summary>One query of a panel.</summary>
public sealed record Target(string RefId, string Query, bool RawQuery, string ResultFormat, bool Hide, DatasourceRef? Datasource);

/// <summary>A panel (rows included; the panels of a collapsed row are listed after it).</summary>
public sealed record Panel(int? Id, string Type, string Title, DatasourceRef? Datasource, IReadOnlyList<Target> Targets, int Width, int? MaxDataPoints, string? MinInterval)
{
    public bool IsRow => Type == "row";
}

/// <summary>A template variable of the dashboard.</summary>
public sealed record Variable(string Name, string Type, string Query, bool Multi, bool IncludeAll, DatasourceRef? Datasource, IReadOnlyList<string> CustomValues);

/// <summary>An annotation query (not Grafana's built-in one).</summary>
public sealed record Annotation(string Name, string Query, bool BuiltIn, DatasourceRef? Datasource);

/// <summary>A Grafana dashboard JSON file, read into what the tests check and run.</summary>
public sealed class DashboardFile
{
    private DashboardFile(string path, JsonObject root)
    {
        Path = path;
        Root = root;
        Uid = (string?)root["uid"];
        Title = (string?)root["title"] ?? "";
        Refresh = root["refresh"]?.GetValueKind() == JsonValueKind.String ? (string?)root["refresh"] : null;
        TimeFrom = (string?)root["time"]?["from"];
        TimeTo = (string?)root["time"]?["to"];
        SchemaVersion = root["schemaVersion"]?.GetValueKind() == JsonValueKind.Number ? (int)root["schemaVersion"]! : null;
        Panels = [.. Flatten(root["panels"] as JsonArray)];
        Variables = [.. (root["templating"]?["list"] as JsonArray ?? []).OfType<JsonObject>().Select(ReadVariable)];
        Annotations = [.. (root["annotations"]?["list"] as JsonArray ?? []).OfType<JsonObject>().Select(a => new Annotation(
            (string?)a["name"] ?? "", (string?)a["query"] ?? "", a["builtIn"] is JsonValue b && b.ToString() == "1", DatasourceRef.From(a["datasource"])))];
    }

    public string Path { get; }
    public string FileName => System.IO.Path.GetFileName(Path);
    public JsonObject Root { get; }
    public string? Uid { get; }
    public string Title { get; }
    public string? Refresh { get; }
    public string? TimeFrom { get; }
    public string? TimeTo { get; }
    public int? SchemaVersion { get; }
    public IReadOnlyList<Panel> Panels { get; }
    public IReadOnlyList<Variable> Variables { get; }
    public IReadOnlyList<Annotation> Annotations { get; }

    /// <summary>Reads a dashboard; a file that is not JSON fails with its name, line and byte position.</summary>
    public static DashboardFile Load(string path)
    {
        var text = File.ReadAllText(path);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: not valid JSON: {e.Message}", e);
        }
        return node is JsonObject o ? new DashboardFile(path, o) : throw new InvalidDataException($"{path}: a dashboard is a JSON object");
    }

    private static IEnumerable<Panel> Flatten(JsonArray? panels)
    {
        foreach (var p in (panels ?? []).OfType<JsonObject>())
        {
            yield return ReadPanel(p);
            foreach (var inner in Flatten(p["panels"] as JsonArray)) yield return inner;
        }
    }

    private static Panel ReadPanel(JsonObject p)
    {
        var targets = (p["targets"] as JsonArray ?? []).OfType<JsonObject>().Select(t => new Target(
            (string?)t["refId"] ?? "",
            (string?)t["query"] ?? "",
            t["rawQuery"]?.GetValueKind() == JsonValueKind.True,
            (string?)t["resultFormat"] ?? "time_series",
            t["hide"]?.GetValueKind() == JsonValueKind.True,
            DatasourceRef.From(t["datasource"]))).ToList();
        return new Panel(
            p["id"]?.GetValueKind() == JsonValueKind.Number ? (int)p["id"]! : null,
            (string?)p["type"] ?? "",
            (string?)p["title"] ?? "",
            DatasourceRef.From(p["datasource"]),
            targets,
            p["gridPos"]?["w"]?.GetValueKind() == JsonValueKind.Number ? (int)p["gridPos"]!["w"]! : 24,
            p["maxDataPoints"]?.GetValueKind() == JsonValueKind.Number ? (int)p["maxDataPoints"]! : null,
            (string?)p["interval"]);
    }

    private static Variable ReadVariable(JsonObject v)
    {
        var type = (string?)v["type"] ?? "";
        var query = v["query"] switch
        {
            JsonValue s when s.GetValueKind() == JsonValueKind.String => s.ToString(),
            JsonObject o => (string?)o["query"] ?? "",
            _ => "",
        };
        IReadOnlyList<string> custom = type == "custom"
            ? [.. query.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)]
            : [];
        return new Variable((string?)v["name"] ?? "", type, query, v["multi"]?.GetValueKind() == JsonValueKind.True,
            v["includeAll"]?.GetValueKind() == JsonValueKind.True, DatasourceRef.From(v["datasource"]), custom);
    }

    /// <summary>Every dashboard file of the repository (dashboards/json/*.json).</summary>
    public static IReadOnlyList<string> AllPaths() =>
        [.. Directory.EnumerateFiles(Repo.DashboardJsonDir, "*.json").Order(StringComparer.Ordinal)];
}
