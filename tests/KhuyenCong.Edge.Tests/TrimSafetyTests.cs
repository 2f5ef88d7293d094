using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Profiles;

namespace KhuyenCong.Edge.Tests;

/// <summary>
/// The edge agent is published trimmed / Native AOT (docs/benchmarks.md). The YAML binder creates configuration classes
/// by reflection, and the trimmer cannot follow property types, so each loader lists the classes it binds with
/// [DynamicDependency]. A class missing from the list would load in every JIT test and fail only on the gateway:
/// this test walks the configuration types the way the binder does and checks that the lists are complete.
/// </summary>
public sealed class TrimSafetyTests
{
    [Theory]
    [InlineData(typeof(GatewayConfigLoader), typeof(GatewayConfig))]
    [InlineData(typeof(ProfileLoader), typeof(DeviceProfile))]
    public void Every_type_the_yaml_binder_creates_is_kept_for_trimmed_builds(Type loader, Type root)
    {
        var load = loader.GetMethod("Load", [typeof(string)])!;
        var kept = load.GetCustomAttributes<DynamicDependencyAttribute>().Select(a => a.Type).OfType<Type>().ToHashSet();
        var needed = new HashSet<Type>();
        Walk(root, needed);
        needed.Remove(root); // the root is kept by the annotation on YamlBinder.LoadFile<T>
        var missing = needed.Except(kept).Select(t => t.ToString()).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"{loader.Name}.Load needs [DynamicDependency] for: {string.Join(", ", missing)}");
        var extra = kept.Except(needed).Select(t => t.ToString()).Order(StringComparer.Ordinal).ToList();
        Assert.True(extra.Count == 0, $"{loader.Name}.Load keeps types the binder never creates: {string.Join(", ", extra)}");
    }

    private static void Walk(Type type, HashSet<Type> seen)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string) || type.IsPrimitive || type == typeof(double) || type == typeof(decimal) || type == typeof(TimeSpan)) return;
        if (!seen.Add(type) || type.IsEnum) return;
        if (type.IsGenericType)
        {
            foreach (var arg in type.GetGenericArguments()) Walk(arg, seen);
            return;
        }
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite)) Walk(p.PropertyType, seen);
    }
}
