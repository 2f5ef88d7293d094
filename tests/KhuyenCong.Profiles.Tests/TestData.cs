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

    public static TheoryData<string> ShippedProfiles()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.EnumerateDirectories(RepoPaths.Devices).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }
}
