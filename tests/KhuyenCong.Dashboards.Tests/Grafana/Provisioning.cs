using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KhuyenCong.Dashboards.Tests.Grafana;

/// <summary>Grafana provisioning files read with YamlDotNet into plain nodes; errors name the file, line and column.</summary>
public static class Provisioning
{
    public static YamlMappingNode LoadMapping(string path) => ParseMapping(File.ReadAllText(path), path);

    public static YamlMappingNode ParseMapping(string yaml, string origin)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"{origin}:{e.Start.Line}:{e.Start.Column}: not valid YAML: {e.Message}", e);
        }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new InvalidDataException($"{origin}: expected one YAML document holding a mapping");
        return root;
    }

    public static string? Scalar(this YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var n) && n is YamlScalarNode s ? s.Value : null;

    public static YamlMappingNode? Map(this YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var n) ? n as YamlMappingNode : null;

    public static IEnumerable<YamlMappingNode> Items(this YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var n) && n is YamlSequenceNode seq ? seq.Children.OfType<YamlMappingNode>() : [];

    /// <summary>The datasource entries of the datasource provisioning file.</summary>
    public static IReadOnlyList<YamlMappingNode> Datasources(string path) => [.. LoadMapping(path).Items("datasources")];

    /// <summary>
    /// The commented-out alternative entry after <paramref name="marker"/> (e.g. the InfluxDB 3.x variant): its YAML lines
    /// are those written as <c>  # - …</c> or <c>  #   …</c>; uncommented, they must form a valid datasource entry.
    /// </summary>
    public static YamlMappingNode CommentedVariant(string path, string marker)
    {
        var lines = File.ReadAllLines(path);
        var start = Array.FindIndex(lines, l => l.Contains(marker, StringComparison.Ordinal));
        if (start < 0) throw new InvalidDataException($"{path}: no comment '{marker}'");
        var yaml = new List<string> { "datasources:" };
        foreach (var line in lines.Skip(start + 1))
        {
            if (line.StartsWith("  # - ", StringComparison.Ordinal) || line.StartsWith("  #   ", StringComparison.Ordinal)) yaml.Add("  " + line[4..]);
            else if (line.TrimStart().StartsWith("# ----", StringComparison.Ordinal)) break;
        }
        var root = ParseMapping(string.Join('\n', yaml), $"{path} (commented variant after '{marker}')");
        return root.Items("datasources").Single();
    }
}
