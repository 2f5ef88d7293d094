using KhuyenCong.TestSupport;

namespace KhuyenCong.Profiles.Tests;

/// <summary>Folders of data-driven cases, read from the source tree so a new case needs no project change.</summary>
internal static class TestData
{
    public static string Root => Path.Combine(RepoPaths.Root, "tests", "KhuyenCong.Profiles.Tests", "testdata");

    public static TheoryData<string> Cases(string kind)
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.EnumerateDirectories(Path.Combine(Root, kind)).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }

    /// <summary>The non-comment lines of a testdata file, split on spaces.</summary>
    public static IEnumerable<string[]> Lines(string file) =>
        File.ReadLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>A decimal or 0x-hex integer.</summary>
    public static int Number(string s) => s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
        ? int.Parse(s.AsSpan(2), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)
        : int.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    public static TheoryData<string> ShippedProfiles()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.EnumerateDirectories(RepoPaths.Devices).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }
}
