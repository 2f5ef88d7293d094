using System.Text.RegularExpressions;
using KhuyenCong.TestSupport;

namespace KhuyenCong.EndToEnd.Tests;

/// <summary>`./kc demo` as a user runs it: real influxd, simulator, edge agent and cloud service, as child processes.</summary>
public sealed partial class DemoTests
{
    [Fact]
    public async Task The_demo_produces_firings_with_SEC_the_compliance_line_and_the_annual_report()
    {
        using var dir = new TempDirectory();
        var bin = AppContext.BaseDirectory;
        await using var demo = ExternalProcess.Start("dotnet", [
            Path.Combine(bin, "kc-cloud.dll"), "demo",
            "--edge", Path.Combine(bin, "kc-edge.dll"), "--sim", Path.Combine(bin, "kc-sim.dll"),
            "--gateway", Path.Combine(RepoPaths.Gateways, "demo-workshop.yaml"),
            "--work-dir", dir.Path, "--duration", "20s", "--history-days", "10"]);
        var exit = await demo.WaitForExitAsync(TimeSpan.FromMinutes(8));
        var output = demo.FullOutput;
        Assert.True(exit == 0, $"the demo exited with {exit}:\n{demo.Output}");

        Assert.Contains("Live page: http://127.0.0.1:", output, StringComparison.Ordinal);
        Assert.Contains("Firings of bat-trang-demo", output, StringComparison.Ordinal);
        // Each kiln's table has rows of completed firings with a SEC in MJ/kg, and a baseline line.
        Assert.Contains("kiln-1", output, StringComparison.Ordinal);
        Assert.Contains("kiln-2", output, StringComparison.Ordinal);
        Assert.Matches(BaselineLine(), output);
        Assert.Matches(ComplianceLine(), output);

        var run = Directory.GetDirectories(dir.Path).Single();
        var html = Directory.GetFiles(run, "report-bat-trang-demo-*.html").Single();
        var csv = Directory.GetFiles(run, "report-bat-trang-demo-*.csv").Single();
        var page = await File.ReadAllTextAsync(html);
        Assert.Contains("<svg", page, StringComparison.Ordinal);
        var rows = (await File.ReadAllLinesAsync(csv)).Skip(1).ToList();
        Assert.NotEmpty(rows);
        // The report carries SEC figures with a positive value (the history's firings have production entries).
        Assert.Contains(rows, r => r.Contains("sec", StringComparison.OrdinalIgnoreCase) && SecValue().IsMatch(r));
    }

    [GeneratedRegex(@"baseline \(\d+ firings\): E = .* MJ/kg × ware, R² = 0\.\d+")]
    private static partial Regex BaselineLine();

    [GeneratedRegex(@"Compliance bat-trang-demo \d{4}: [0-9.]+ TOE so far .* SEC [0-9.]+ MJ/kg")]
    private static partial Regex ComplianceLine();

    [GeneratedRegex(@",[1-9][0-9]*(\.[0-9]+)?,")]
    private static partial Regex SecValue();
}
