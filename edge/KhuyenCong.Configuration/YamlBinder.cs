using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KhuyenCong.Configuration;

/// <summary>Where a value came from: file, line, column and the dotted path of the field.</summary>
public sealed record SourceLocation(string File, int Line, int Column, string Path)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Path}";
}

/// <summary>A configuration error. Its message starts with <c>file:line:column: field.path:</c>.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(SourceLocation where, string message) : base($"{where}: {message}") => Where = where;

    public ConfigException(string file, string message) : base($"{file}: {message}") => Where = new SourceLocation(file, 0, 0, "");

    public SourceLocation Where { get; }
}

/// <summary>Marks a property that may be absent from YAML even though its type is not nullable.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionalAttribute : Attribute;

/// <summary>Overrides the YAML key of a property (the default is the property name in snake_case).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class YamlKeyAttribute(string key) : Attribute
{
    public string Key { get; } = key;
}

/// <summary>
/// Binds YAML onto plain classes with settable properties. Keys are snake_case property names; an unknown key,
/// a missing <c>required</c> property, or a value of the wrong type is an error that names the file, line and field.
/// Supported: string, bool, integer types, double, TimeSpan ("500ms", "5s", "2m", "1h", "1d"), enums (case-insensitive,
/// '-' and '_' ignored), nullable of those, List&lt;T&gt;, Dictionary&lt;string,T&gt; and nested classes.
/// After binding, <see cref="Where(object, string?)"/> gives the source of any bound object or property, so
/// semantic checks can name the place too.
/// </summary>
public sealed class YamlBinder
{
    /// <summary>
    /// What trimming and Native AOT must keep of a bound class: its properties and constructors. The root type gets it from
    /// the annotation on <c>T</c>; nested classes (the types of its properties) cannot be followed by the trimmer, so a
    /// caller that is published trimmed lists them with <c>[DynamicDependency(YamlBinder.Kept, typeof(…))]</c>
    /// (see GatewayConfigLoader.Load; a test checks that the list covers every class reachable from the root).
    /// </summary>
    public const DynamicallyAccessedMemberTypes Kept =
        DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.PublicConstructors | DynamicallyAccessedMemberTypes.NonPublicConstructors;

    private const string NestedTypesJustification =
        "Nested configuration classes are kept by the caller's [DynamicDependency(YamlBinder.Kept, …)] list; List<T> and " +
        "Dictionary<string,T> of reference types share their compiled code under Native AOT.";

    private readonly string _file;
    private readonly ConditionalWeakTable<object, Dictionary<string, SourceLocation>> _locations = new();

    private YamlBinder(string file) => _file = file;

    /// <summary>Reads and binds a file. The binder returned can locate every bound value.</summary>
    public static (T Value, YamlBinder Binder) LoadFile<[DynamicallyAccessedMembers(Kept)] T>(string path) where T : class
    {
        string text;
        try
        {
            text = System.IO.File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, $"cannot read: {ex.Message}");
        }
        return Load<T>(text, path);
    }

    /// <summary>Binds YAML text; <paramref name="file"/> is only used in messages.</summary>
    public static (T Value, YamlBinder Binder) Load<[DynamicallyAccessedMembers(Kept)] T>(string yaml, string file) where T : class
    {
        var binder = new YamlBinder(file);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw new ConfigException(new SourceLocation(file, (int)ex.Start.Line, (int)ex.Start.Column, "(syntax)"), ex.InnerException?.Message ?? ex.Message);
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
            throw new ConfigException(file, "is empty");
        var root = stream.Documents[0].RootNode;
        var value = (T)binder.Bind(root, typeof(T), "")!;
        return (value, binder);
    }

    /// <summary>Where <paramref name="obj"/> (or its <paramref name="property"/>) was written.</summary>
    public SourceLocation Where(object obj, string? property = null)
    {
        if (_locations.TryGetValue(obj, out var map))
        {
            if (property is not null && map.TryGetValue(property, out var loc)) return loc;
            if (map.TryGetValue("", out var self)) return property is null ? self : self with { Path = Join(self.Path, ToSnake(property)) };
        }
        return new SourceLocation(_file, 0, 0, property is null ? "" : ToSnake(property));
    }

    /// <summary>An error located at <paramref name="obj"/>'s <paramref name="property"/>.</summary>
    public ConfigException Error(object obj, string? property, string message) => new(Where(obj, property), message);

    public string File => _file;

    private SourceLocation Loc(YamlNode node, string path) => new(_file, (int)node.Start.Line, (int)node.Start.Column, path.Length == 0 ? "(root)" : path);

    [UnconditionalSuppressMessage("Trimming", "IL2067", Justification = NestedTypesJustification)]
    [UnconditionalSuppressMessage("Trimming", "IL2072", Justification = NestedTypesJustification)]
    [UnconditionalSuppressMessage("Trimming", "IL2062", Justification = NestedTypesJustification)]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = NestedTypesJustification)]
    private object? Bind(YamlNode node, [DynamicallyAccessedMembers(Kept)] Type type, string path)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (node is YamlScalarNode { Style: not ScalarStyle.SingleQuoted and not ScalarStyle.DoubleQuoted } s && (s.Value is null || s.Value == "~" || s.Value == "null"))
        {
            if (underlying is not null || !type.IsValueType) return null;
            throw new ConfigException(Loc(node, path), $"must have a value of type {Describe(type)}");
        }
        type = underlying ?? type;

        if (type == typeof(string) || type.IsPrimitive || type == typeof(double) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(DateOnly) || type.IsEnum)
        {
            if (node is not YamlScalarNode scalar) throw new ConfigException(Loc(node, path), $"expected a {Describe(type)}, found a {Kind(node)}");
            return ConvertScalar(scalar, type, path);
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            if (node is not YamlMappingNode map) throw new ConfigException(Loc(node, path), $"expected a mapping, found a {Kind(node)}");
            var valueType = type.GetGenericArguments()[1];
            var dict = (IDictionary)Activator.CreateInstance(type)!;
            foreach (var (k, v) in map.Children)
            {
                var key = ((YamlScalarNode)k).Value ?? "";
                dict[key] = Bind(v, valueType, Join(path, key));
            }
            return dict;
        }

        if (type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(List<>) || type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>)))
        {
            if (node is not YamlSequenceNode seq) throw new ConfigException(Loc(node, path), $"expected a list, found a {Kind(node)}");
            var itemType = type.GetGenericArguments()[0];
            var list = (IList)Activator.CreateInstance(type.GetGenericTypeDefinition() == typeof(List<>) ? type : typeof(List<>).MakeGenericType(itemType))!;
            var i = 0;
            foreach (var child in seq.Children) list.Add(Bind(child, itemType, $"{path}[{i++}]"));
            return list;
        }

        if (type.IsClass)
        {
            if (node is not YamlMappingNode map) throw new ConfigException(Loc(node, path), $"expected a mapping, found a {Kind(node)}");
            return BindObject(map, type, path);
        }

        throw new ConfigException(Loc(node, path), $"type {type.Name} cannot be read from YAML");
    }

    [UnconditionalSuppressMessage("Trimming", "IL2072", Justification = NestedTypesJustification)]
    private object BindObject(YamlMappingNode map, [DynamicallyAccessedMembers(Kept)] Type type, string path)
    {
        var obj = RuntimeHelpers.GetUninitializedObject(type);
        // Run field initialisers and the parameterless constructor when there is one.
        var ctor = type.GetConstructor(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, Type.EmptyTypes);
        ctor?.Invoke(obj, null);

        var props = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .ToDictionary(KeyOf, StringComparer.Ordinal);
        var locations = new Dictionary<string, SourceLocation>(StringComparer.Ordinal) { [""] = Loc(map, path) };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (k, v) in map.Children)
        {
            var key = (k as YamlScalarNode)?.Value ?? "";
            var childPath = Join(path, key);
            if (!props.TryGetValue(key, out var prop))
            {
                var known = string.Join(", ", props.Keys.Order(StringComparer.Ordinal));
                throw new ConfigException(Loc(k, childPath), $"unknown key '{key}'; known keys here: {known}");
            }
            if (!seen.Add(key)) throw new ConfigException(Loc(k, childPath), $"key '{key}' appears twice");
            prop.SetValue(obj, Bind(v, prop.PropertyType, childPath));
            locations[prop.Name] = Loc(v, childPath);
        }
        foreach (var (key, prop) in props)
        {
            if (!seen.Contains(key) && IsRequired(prop))
                throw new ConfigException(Loc(map, Join(path, key)), $"required key '{key}' is missing");
        }
        _locations.AddOrUpdate(obj, locations);
        return obj;
    }

    private object ConvertScalar(YamlScalarNode scalar, Type type, string path)
    {
        var text = scalar.Value ?? "";
        var inv = CultureInfo.InvariantCulture;
        try
        {
            if (type == typeof(string)) return text;
            if (type == typeof(bool))
            {
                return text.ToLowerInvariant() switch
                {
                    "true" or "yes" or "on" => true,
                    "false" or "no" or "off" => false,
                    _ => throw new FormatException(),
                };
            }
            if (type == typeof(double)) return double.Parse(text, NumberStyles.Float, inv) is var d && double.IsFinite(d) ? d : throw new FormatException();
            if (type == typeof(TimeSpan)) return ParseDuration(text);
            if (type == typeof(DateOnly)) return DateOnly.ParseExact(text, "yyyy-MM-dd", inv);
            if (type.IsEnum)
            {
                var wanted = Normalize(text);
                foreach (var name in Enum.GetNames(type))
                {
                    if (Normalize(name) == wanted) return Enum.Parse(type, name);
                }
                throw new ConfigException(Loc(scalar, path), $"'{text}' is not one of {string.Join(", ", Enum.GetNames(type).Select(ToSnake))}");
            }
            if (type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte) || type == typeof(ushort) || type == typeof(uint))
            {
                long v = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                    ? long.Parse(text.AsSpan(2), NumberStyles.HexNumber, inv)
                    : long.Parse(text, NumberStyles.Integer, inv);
                return Convert.ChangeType(v, type, inv);
            }
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            throw new ConfigException(Loc(scalar, path), $"'{text}' is not a valid {Describe(type)}");
        }
        throw new ConfigException(Loc(scalar, path), $"type {type.Name} cannot be read from YAML");
    }

    /// <summary>Parses "250ms", "5s", "2m", "1h", "1d", or a plain number of seconds.</summary>
    public static TimeSpan ParseDuration(string text)
    {
        var t = text.Trim();
        (string suffix, double ms)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];
        foreach (var (suffix, ms) in units)
        {
            if (t.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0 && double.IsFinite(n))
                return TimeSpan.FromMilliseconds(n * ms);
        }
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var secs) && secs >= 0 && double.IsFinite(secs))
            return TimeSpan.FromSeconds(secs);
        throw new FormatException($"'{text}' is not a duration");
    }

    private static bool IsRequired(PropertyInfo p) =>
        p.GetCustomAttribute<RequiredMemberAttribute>() is not null && p.GetCustomAttribute<OptionalAttribute>() is null;

    private static string KeyOf(PropertyInfo p) => p.GetCustomAttribute<YamlKeyAttribute>()?.Key ?? ToSnake(p.Name);

    /// <summary>PollInterval → poll_interval.</summary>
    public static string ToSnake(string name)
    {
        var sb = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                // A lone capital at the start stays joined (UInt16 → uint16, not u_int16).
                if (i > 1 && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1])))) sb.Append('_');
                else if (i == 1 && char.IsLower(name[i - 1])) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }

    private static string Normalize(string s) => s.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    private static string Kind(YamlNode n) => n switch { YamlMappingNode => "mapping", YamlSequenceNode => "list", _ => "scalar" };

    private static string Describe(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(string)) return "string";
        if (t == typeof(bool)) return "boolean (true/false)";
        if (t == typeof(double)) return "number";
        if (t == typeof(TimeSpan)) return "duration (e.g. 500ms, 5s, 2m)";
        if (t == typeof(DateOnly)) return "date (YYYY-MM-DD)";
        if (t.IsEnum) return $"one of {string.Join(", ", Enum.GetNames(t).Select(ToSnake))}";
        if (t == typeof(byte)) return "integer 0–255";
        if (t == typeof(ushort)) return "integer 0–65535";
        if (t.IsPrimitive) return "integer";
        return t.Name;
    }
}
