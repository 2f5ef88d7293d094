using System.Text.RegularExpressions;
using KhuyenCong.Cloud.Live;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Configuration;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Web.Tests;

/// <summary>Every label the page and the server use exists in both languages (Live/Assets/i18n.json).</summary>
public sealed partial class LabelTests
{
    private static readonly string LiveDir = Path.Combine(RepoPaths.Root, "cloud", "KhuyenCong.Cloud", "Live");

    [Fact]
    public void Every_label_key_used_by_the_script_and_the_server_has_Vietnamese_and_English()
    {
        var script = File.ReadAllText(Path.Combine(LiveDir, "Assets", "live.js"));
        var server = File.ReadAllText(Path.Combine(LiveDir, "LiveEndpoints.cs"));
        var used = new SortedSet<string>(StringComparer.Ordinal);
        foreach (Match m in DataI18n().Matches(script + server)) used.Add(m.Groups[1].Value);
        foreach (Match m in ScriptCall().Matches(script)) used.Add(m.Groups[1].Value);
        foreach (Match m in ServerCall().Matches(server)) used.Add(m.Groups[1].Value);
        used.RemoveWhere(k => k.EndsWith('_')); // a prefix completed at run time, e.g. kiln_type_ + the kiln type
        foreach (var type in Enum.GetValues<KilnType>()) used.Add("kiln_type_" + YamlBinder.ToSnake(type.ToString()));
        Assert.True(used.Count > 40, $"found only {used.Count} label keys: the patterns no longer match the sources");
        var missing = used.Where(k => !LiveEndpoints.Labels.ContainsKey(k)).ToList();
        Assert.True(missing.Count == 0, "labels missing from i18n.json: " + string.Join(", ", missing));
        Assert.All(LiveEndpoints.Labels, l => Assert.False(string.IsNullOrWhiteSpace(l.Value.Vi) || string.IsNullOrWhiteSpace(l.Value.En), l.Key));
    }

    [GeneratedRegex("data-i18n=\\\\?\"([a-z_]+)\\\\?\"")]
    private static partial Regex DataI18n();

    [GeneratedRegex(@"\bt\('([a-z_]+)'")]
    private static partial Regex ScriptCall();

    [GeneratedRegex(@"\b[TL]\(lang, ""([a-z_]+)""")]
    private static partial Regex ServerCall();
}
