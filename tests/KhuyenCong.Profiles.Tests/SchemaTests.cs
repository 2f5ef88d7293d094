using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using KhuyenCong.Configuration;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Profiles.Tests;

/// <summary>
/// The JSON Schemas editors use (firmware-config/schema/) must accept exactly the keys the YAML binder accepts: the model
/// classes are walked by reflection, the same way <see cref="YamlBinder"/> maps them, so the two cannot drift.
/// </summary>
public sealed class SchemaTests
{
    private static string SchemaPath(string name) => Path.Combine(RepoPaths.Root, "firmware-config", "schema", name);

    public static TheoryData<string, Type> Schemas => new() { { "profile.schema.json", typeof(DeviceProfile) }, { "gateway.schema.json", typeof(GatewayConfig) } };

    [Theory]
    [MemberData(nameof(Schemas))]
    public void The_json_schema_is_valid_json_and_lists_every_key_the_model_accepts(string file, Type model)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SchemaPath(file)));
        var root = doc.RootElement;
        Assert.StartsWith("http://json-schema.org/", root.GetProperty("$schema").GetString(), StringComparison.Ordinal);
        var problems = new List<string>();
        Compare(root, root, model, "(root)", problems);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void The_profile_schema_offers_exactly_the_canonical_point_names()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SchemaPath("profile.schema.json")));
        var names = doc.RootElement.GetProperty("definitions").GetProperty("point_name").GetProperty("enum").EnumerateArray().Select(e => e.GetString()!);
        Assert.Equal(CanonicalPoints.All.Select(p => p.Name).Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
        var units = doc.RootElement.GetProperty("definitions").GetProperty("unit").GetProperty("enum").EnumerateArray().Select(e => e.GetString()!);
        Assert.Equal(CanonicalPoints.All.Select(p => p.Unit).Distinct().Order(StringComparer.Ordinal), units.Order(StringComparer.Ordinal));
    }

    private static void Compare(JsonElement root, JsonElement node, Type type, string path, List<string> problems)
    {
        node = Resolve(root, node);
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsEnum)
        {
            if (!node.TryGetProperty("enum", out var values))
            {
                problems.Add($"{path}: {type.Name} needs an enum");
                return;
            }
            var inSchema = values.EnumerateArray().Select(v => Normalize(v.GetString() ?? "")).Order(StringComparer.Ordinal).ToList();
            var inCode = Enum.GetNames(type).Select(Normalize).Order(StringComparer.Ordinal).ToList();
            if (!inSchema.SequenceEqual(inCode)) problems.Add($"{path}: enum [{string.Join(", ", inSchema)}] but {type.Name} has [{string.Join(", ", inCode)}]");
            return;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            if (!node.TryGetProperty("items", out var items)) problems.Add($"{path}: a list needs items");
            else Compare(root, items, type.GetGenericArguments()[0], $"{path}[]", problems);
            return;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            if (!node.TryGetProperty("additionalProperties", out var values) || values.ValueKind != JsonValueKind.Object) problems.Add($"{path}: a mapping needs additionalProperties");
            else Compare(root, values, type.GetGenericArguments()[1], $"{path}.*", problems);
            return;
        }
        if (type == typeof(string) || type.IsPrimitive || type == typeof(double) || type == typeof(TimeSpan)) return;

        // A class: its keys, as the binder names them.
        var props = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite)
            .ToDictionary(p => p.GetCustomAttribute<YamlKeyAttribute>()?.Key ?? YamlBinder.ToSnake(p.Name), StringComparer.Ordinal);
        if (!node.TryGetProperty("properties", out var schemaProps))
        {
            problems.Add($"{path}: {type.Name} needs properties");
            return;
        }
        if (!node.TryGetProperty("additionalProperties", out var extra) || extra.ValueKind != JsonValueKind.False)
            problems.Add($"{path}: additionalProperties must be false, as the binder rejects unknown keys");
        var keys = schemaProps.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var missing in props.Keys.Except(keys)) problems.Add($"{path}: key '{missing}' of {type.Name} is not in the schema");
        foreach (var unknown in keys.Except(props.Keys)) problems.Add($"{path}: the schema has '{unknown}', which {type.Name} does not accept");

        var required = node.TryGetProperty("required", out var req) ? req.EnumerateArray().Select(e => e.GetString()!).ToHashSet(StringComparer.Ordinal) : [];
        var requiredInCode = props.Where(p => p.Value.GetCustomAttribute<RequiredMemberAttribute>() is not null && p.Value.GetCustomAttribute<OptionalAttribute>() is null).Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        if (!required.SetEquals(requiredInCode))
            problems.Add($"{path}: required [{string.Join(", ", required.Order(StringComparer.Ordinal))}] but {type.Name} requires [{string.Join(", ", requiredInCode.Order(StringComparer.Ordinal))}]");

        foreach (var (key, prop) in props)
        {
            if (!schemaProps.TryGetProperty(key, out var child)) continue;
            var resolved = Resolve(root, child);
            if (!resolved.TryGetProperty("description", out _) && !child.TryGetProperty("description", out _)) problems.Add($"{path}.{key}: needs a description");
            Compare(root, child, prop.PropertyType, path == "(root)" ? key : $"{path}.{key}", problems);
        }
    }

    private static JsonElement Resolve(JsonElement root, JsonElement node)
    {
        if (!node.TryGetProperty("$ref", out var r)) return node;
        var target = root;
        foreach (var part in r.GetString()!.TrimStart('#', '/').Split('/')) target = target.GetProperty(part);
        return target;
    }

    private static string Normalize(string s) => s.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
}
