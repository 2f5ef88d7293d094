namespace KhuyenCong.TestSupport;

/// <summary>Paths inside the repository, found from the test binaries' location.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Devices => Path.Combine(Root, "firmware-config", "devices");

    public static string Gateways => Path.Combine(Root, "firmware-config", "gateways");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "KhuyenCong.Energy.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (KhuyenCong.Energy.sln) above " + AppContext.BaseDirectory);
    }
}
