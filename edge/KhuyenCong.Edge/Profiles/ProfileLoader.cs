using System.Diagnostics.CodeAnalysis;
using KhuyenCong.Configuration;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Lines;
using KhuyenCong.Modbus;

namespace KhuyenCong.Edge.Profiles;

/// <summary>A profile together with the file it came from.</summary>
public sealed record LoadedProfile(DeviceProfile Profile, string File, YamlBinder Binder)
{
    /// <summary>The compiled line format of a plain serial ASCII device (a profile with <c>lines:</c>), else null.</summary>
    public LineFormat? LineFormat { get; init; }

    /// <summary>True for a plain serial ASCII device read line by line, false for a Modbus device.</summary>
    public bool IsLineDevice => Profile.Lines is not null;

    public IReadOnlyList<FieldSpec> Fields() => [.. Profile.Points.Select(p => p.ToField(Profile.WordOrder))];

    public ProfilePoint Point(string name) => Profile.Points.First(p => p.Name == name);
}

/// <summary>Finds, loads and checks device profiles.</summary>
public static class ProfileLoader
{
    public const string FileName = "profile.yaml";

    /// <summary>The points a device of each class must have for the analytics to work.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> RequiredPoints = new Dictionary<string, string[]>
    {
        [DeviceClasses.Meter] = ["energy_import_kwh"],
        [DeviceClasses.Kiln] = ["kiln_temp_c"],
        [DeviceClasses.Gas] = [],
    };

    /// <summary>
    /// Resolves <paramref name="reference"/>: a path to a YAML file, or a profile id looked up as
    /// <c>&lt;profilesDir&gt;/&lt;id&gt;/profile.yaml</c>.
    /// </summary>
    public static string Resolve(string reference, string profilesDir)
    {
        if (reference.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || reference.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || reference.Contains('/', StringComparison.Ordinal))
            return Path.GetFullPath(reference, profilesDir);
        return Path.Combine(profilesDir, reference, FileName);
    }

    // The classes the YAML binder creates below DeviceProfile, kept for trimmed and Native AOT builds
    // (TrimSafetyTests checks that this list is complete).
    [DynamicDependency(YamlBinder.Kept, typeof(SerialDefaults))]
    [DynamicDependency(YamlBinder.Kept, typeof(ProfileRequests))]
    [DynamicDependency(YamlBinder.Kept, typeof(ProfilePoint))]
    [DynamicDependency(YamlBinder.Kept, typeof(LineSpec))]
    [DynamicDependency(YamlBinder.Kept, typeof(LineChecksum))]
    [DynamicDependency(YamlBinder.Kept, typeof(LinePoint))]
    [DynamicDependency(YamlBinder.Kept, typeof(List<ProfilePoint>))]
    [DynamicDependency(YamlBinder.Kept, typeof(List<LinePoint>))]
    [DynamicDependency(YamlBinder.Kept, typeof(Dictionary<string, string>))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields, typeof(Parity))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields, typeof(LineTerminator))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields, typeof(ChecksumKind))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields, typeof(DataType))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields, typeof(RegisterTable))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields, typeof(WordOrder))]
    public static LoadedProfile Load(string file)
    {
        var (profile, binder) = YamlBinder.LoadFile<DeviceProfile>(file);
        var lineFormat = Validate(profile, binder);
        return new LoadedProfile(profile, file, binder) { LineFormat = lineFormat };
    }

    /// <summary>Every profile under <paramref name="profilesDir"/> (one folder each).</summary>
    public static IEnumerable<string> All(string profilesDir) =>
        Directory.EnumerateDirectories(profilesDir)
            .Select(d => Path.Combine(d, FileName))
            .Where(File.Exists)
            .Order(StringComparer.Ordinal);

    private static LineFormat? Validate(DeviceProfile p, YamlBinder b)
    {
        if (!Identifiers.IsValid(p.Id)) throw b.Error(p, nameof(p.Id), $"'{p.Id}' is not a valid id (letters, digits, '-', '_', '.')");
        if (!DeviceClasses.All.Contains(p.Class)) throw b.Error(p, nameof(p.Class), $"'{p.Class}' is not one of {string.Join(", ", DeviceClasses.All)}");
        if (p.DefaultUnit is 0 or > 247) throw b.Error(p, nameof(p.DefaultUnit), "must be 1–247");
        var rq = p.Requests;
        if (rq.MaxRegisters is < 1 or > 125) throw b.Error(rq, nameof(rq.MaxRegisters), "must be 1–125");
        if (rq.MaxGap < 0) throw b.Error(rq, nameof(rq.MaxGap), "must not be negative");
        if (rq.Timeout <= TimeSpan.Zero) throw b.Error(rq, nameof(rq.Timeout), "must be positive");
        if (p.Lines is not null) return ValidateLines(p, b);
        if (p.Points.Count == 0) throw b.Error(p, nameof(p.Points), "must list at least one point (or declare lines: for a plain serial ASCII device)");

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pt in p.Points)
        {
            if (!CanonicalPoints.TryGet(pt.Name, out var def))
                throw b.Error(pt, nameof(pt.Name), $"'{pt.Name}' is not a canonical point name (see docs/points.md)");
            if (!names.Add(pt.Name)) throw b.Error(pt, nameof(pt.Name), $"point '{pt.Name}' is mapped twice");
            if (pt.Unit is not null && pt.Unit != def.Unit)
                throw b.Error(pt, nameof(pt.Unit), $"'{pt.Unit}' is not the unit of {pt.Name} ('{def.Unit}'); scale the register to it");
            var bitTable = pt.Table is RegisterTable.Coil or RegisterTable.DiscreteInput;
            if (bitTable && pt.Type != DataType.Bit) throw b.Error(pt, nameof(pt.Type), $"a {Snake(pt.Table)} holds single bits: type must be bit");
            if (pt.Type == DataType.String) throw b.Error(pt, nameof(pt.Type), "string points cannot carry a canonical numeric value");
            if (pt.Bit is { } bit)
            {
                if (bitTable) throw b.Error(pt, nameof(pt.Bit), "bit applies to a register, not a coil or discrete input");
                if (bit is < 0 or > 15) throw b.Error(pt, nameof(pt.Bit), "must be 0–15");
                if (pt.Type is not (DataType.UInt16 or DataType.Bit)) throw b.Error(pt, nameof(pt.Type), "a bit of a status register needs type uint16");
            }
            if (pt.Invert && !(bitTable || pt.Bit is not null || pt.Type == DataType.Bit))
                throw b.Error(pt, nameof(pt.Invert), "invert applies to a coil, a discrete input, a bit type or a bit of a register");
            if (!double.IsFinite(pt.Scale) || pt.Scale == 0) throw b.Error(pt, nameof(pt.Scale), "must be a finite, non-zero number");
            if (pt.Address + pt.ToField(p.WordOrder).Width > 65536) throw b.Error(pt, nameof(pt.Address), "the value runs past address 65535");
        }
        foreach (var required in RequiredPoints[p.Class])
        {
            if (!names.Contains(required)) throw b.Error(p, nameof(p.Points), $"a {p.Class} profile must map '{required}'");
        }

        // Two points may share a status register only when each takes its own bit.
        var byStart = p.Points.Select(pt => (pt, f: pt.ToField(p.WordOrder))).OrderBy(x => x.f.Table).ThenBy(x => x.f.Address).ToList();
        for (var i = 1; i < byStart.Count; i++)
        {
            var (prev, pf) = byStart[i - 1];
            var (cur, cf) = byStart[i];
            if (pf.Table != cf.Table || cf.Address >= pf.Address + pf.Width) continue;
            var sharedBits = prev.Bit is not null && cur.Bit is not null && pf.Address == cf.Address && prev.Bit != cur.Bit;
            if (!sharedBits)
                throw b.Error(cur, nameof(cur.Address), $"{Snake(cf.Table)} {cf.Address} overlaps '{prev.Name}' at {pf.Address} ({pf.Width} registers)");
        }
        return null;
    }

    /// <summary>A plain serial ASCII device: the lines: section instead of Modbus points.</summary>
    private static LineFormat ValidateLines(DeviceProfile p, YamlBinder b)
    {
        if (p.Points.Count > 0) throw b.Error(p, nameof(p.Lines), "a profile maps Modbus points or ASCII lines, not both");
        if (p.Class == DeviceClasses.Meter) throw b.Error(p, nameof(p.Lines), "lines: is for gas and kiln instruments (scales, thermocouple readers); meters use Modbus points");
        LineFormat format;
        try
        {
            format = LineFormat.Compile(p.Lines!);
        }
        catch (LineFormatException ex)
        {
            throw b.Error(ex.Owner, ex.Property, ex.Message);
        }
        var names = p.Lines!.Points.Select(x => x.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var required in RequiredPoints[p.Class])
        {
            if (!names.Contains(required)) throw b.Error(p.Lines, nameof(p.Lines.Points), $"a {p.Class} profile must map '{required}'");
        }
        return format;
    }

    private static string Snake(RegisterTable t) => YamlBinder.ToSnake(t.ToString()).Replace('_', ' ');
}
