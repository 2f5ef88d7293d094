using KhuyenCong.TestSupport;

namespace KhuyenCong.Dashboards.Tests;

/// <summary>Where the dashboards live in the repository.</summary>
public static class Repo
{
    public static string DashboardsDir => Path.Combine(RepoPaths.Root, "dashboards");
    public static string DashboardJsonDir => Path.Combine(DashboardsDir, "json");
    public static string ProvisioningDir => Path.Combine(DashboardsDir, "provisioning");
    public static string DatasourceYaml => Path.Combine(ProvisioningDir, "datasources", "khuyencong.yaml");
    public static string ProviderYaml => Path.Combine(ProvisioningDir, "dashboards", "khuyencong.yaml");
    public static string Readme => Path.Combine(DashboardsDir, "README.md");
}
