using KhuyenCong.Dashboards.Tests.Grafana;
using KhuyenCong.Dashboards.Tests.Seeding;
using Xunit.Abstractions;

namespace KhuyenCong.Dashboards.Tests;

/// <summary>
/// Every query of every dashboard, expanded as Grafana expands it, runs against a real influxd holding a simulated
/// workshop: no query may fail, and with every site and kiln selected each must return at least one series with a value.
/// </summary>
public sealed class QueryExecutionTests(SimulatedInflux data, ITestOutputHelper output) : IClassFixture<SimulatedInflux>
{
    public static readonly TheoryData<string> Dashboards = new() { "kiln-operator.json", "auditor-savings.json", "centre-overview.json" };

    private static string? DatasourceMinInterval() =>
        Provisioning.Datasources(Repo.DatasourceYaml).Single().Map("jsonData")?.Scalar("timeInterval");

    [Theory]
    [MemberData(nameof(Dashboards))]
    public async Task With_all_sites_and_kilns_selected_every_query_returns_data_over_the_default_time_range(string file)
    {
        var d = DashboardFile.Load(Path.Combine(Repo.DashboardJsonDir, file));
        var range = TimeRange.Parse(d.TimeFrom!, d.TimeTo!, data.Now);
        var runner = new QueryRunner(data.Client, DatasourceMinInterval());
        output.WriteLine($"data: {data.Description}; range {range.From:O} .. {range.To:O}");

        var (values, outcomes) = await runner.ResolveVariablesAsync(d, range);
        outcomes.AddRange(await runner.RunPanelsAsync(d, range, values));
        foreach (var o in outcomes) output.WriteLine(o.ToString());

        var failed = outcomes.Where(o => !o.HasData).ToList();
        Assert.True(failed.Count == 0,
            $"{failed.Count} of {outcomes.Count} queries of {file} failed or returned no data ({data.Description}; range {range.From:O} .. {range.To:O}):\n"
            + string.Join("\n", failed));
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public async Task With_each_single_site_and_kiln_selected_no_query_fails(string file)
    {
        var d = DashboardFile.Load(Path.Combine(Repo.DashboardJsonDir, file));
        var range = TimeRange.Parse(d.TimeFrom!, d.TimeTo!, data.Now);
        var runner = new QueryRunner(data.Client, DatasourceMinInterval());
        var (all, _) = await runner.ResolveVariablesAsync(d, range);

        var outcomes = new List<QueryOutcome>();
        var sites = all["site"].Values;
        var kilns = all.TryGetValue("kiln", out var k) ? k.Values : [];
        Assert.NotEmpty(sites);
        foreach (var site in sites)
        {
            foreach (var kiln in kilns.Count == 0 ? [""] : kilns)
            {
                // One value picked: the selection still goes through the multi-value formatter (the variables allow several).
                var one = new Dictionary<string, VariableValue>(all, StringComparer.Ordinal) { ["site"] = new([site], true) };
                if (kiln.Length > 0) one["kiln"] = new([kiln], true);
                outcomes.AddRange(await runner.RunPanelsAsync(d, range, one, $" [site={site}{(kiln.Length > 0 ? $", kiln={kiln}" : "")}]"));
            }
        }
        var failed = outcomes.Where(o => o.Error is not null).ToList();
        Assert.True(failed.Count == 0, $"{failed.Count} of {outcomes.Count} queries failed:\n" + string.Join("\n", failed));
        // Each panel query returns data for at least one single selection.
        var neverData = outcomes.GroupBy(o => o.Where[..o.Where.LastIndexOf(" [", StringComparison.Ordinal)]).Where(g => !g.Any(o => o.HasData)).Select(g => g.Key).ToList();
        Assert.True(neverData.Count == 0, $"queries of {file} without data for any single site/kiln ({data.Description}):\n" + string.Join("\n", neverData));
    }
}
