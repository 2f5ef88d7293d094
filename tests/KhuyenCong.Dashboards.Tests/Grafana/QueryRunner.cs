using System.Text.Json;
using KhuyenCong.Cloud.Influx;

namespace KhuyenCong.Dashboards.Tests.Grafana;

/// <summary>What one query returned: where it came from, the InfluxQL sent, and how much data (or which error) came back.</summary>
public sealed record QueryOutcome(string Dashboard, string Where, string Sent, int Series, int RowsWithValues, string? Error)
{
    public bool HasData => Error is null && Series > 0 && RowsWithValues > 0;

    public override string ToString() => Error is not null
        ? $"{Dashboard}: {Where}: InfluxDB error: {Error}\n    sent: {Sent}"
        : $"{Dashboard}: {Where}: {Series} series, {RowsWithValues} rows with a value\n    sent: {Sent}";
}

/// <summary>
/// Runs a dashboard's queries the way Grafana would: resolves the template variables in order (each query variable's
/// values come from InfluxDB), then expands and runs every panel query and annotation query.
/// </summary>
public sealed class QueryRunner(InfluxQlClient influx, string? datasourceMinInterval)
{
    /// <summary>Panel width in pixels on a 1920-pixel-wide screen: Grafana's max data points when the panel sets none.</summary>
    public static int PanelWidthPx(Panel p) => Math.Max(1, p.Width) * 1920 / 24;

    /// <summary>Resolves every variable with "All" selected (all values the variable's query returns).</summary>
    public async Task<(Dictionary<string, VariableValue> Values, List<QueryOutcome> Outcomes)> ResolveVariablesAsync(DashboardFile d, TimeRange range)
    {
        var values = new Dictionary<string, VariableValue>(StringComparer.Ordinal);
        var outcomes = new List<QueryOutcome>();
        foreach (var v in d.Variables)
        {
            IReadOnlyList<string> options;
            if (v.Type == "query")
            {
                var sent = Macros.Expand(v.Query, range, new GrafanaInterval(0, "0s"), values);
                var (series, error) = await RunAsync(sent);
                options = series.SelectMany(s => s.Columns.Contains("value") ? s.Strings("value") : []).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                outcomes.Add(new QueryOutcome(d.FileName, $"variable {v.Name}", sent, series.Count, options.Count, error));
            }
            else
            {
                options = v.CustomValues;
            }
            values[v.Name] = new VariableValue(options, v.Multi || v.IncludeAll);
        }
        return (values, outcomes);
    }

    /// <summary>Runs every visible panel query and every annotation query with the given variable values.</summary>
    public async Task<List<QueryOutcome>> RunPanelsAsync(DashboardFile d, TimeRange range, IReadOnlyDictionary<string, VariableValue> values, string label = "")
    {
        var outcomes = new List<QueryOutcome>();
        foreach (var p in d.Panels.Where(p => !p.IsRow))
        {
            var interval = GrafanaInterval.Calculate(range, p.MaxDataPoints ?? PanelWidthPx(p), p.MinInterval ?? datasourceMinInterval);
            foreach (var t in p.Targets.Where(t => !t.Hide))
            {
                var sent = Macros.Expand(t.Query, range, interval, values);
                outcomes.Add(await OutcomeAsync(d, $"panel '{p.Title}' query {t.RefId}{label}", sent));
            }
        }
        foreach (var a in d.Annotations.Where(a => !a.BuiltIn))
        {
            var interval = GrafanaInterval.Calculate(range, 1920, datasourceMinInterval);
            outcomes.Add(await OutcomeAsync(d, $"annotation '{a.Name}'{label}", Macros.Expand(a.Query, range, interval, values)));
        }
        return outcomes;
    }

    private async Task<QueryOutcome> OutcomeAsync(DashboardFile d, string where, string sent)
    {
        var (series, error) = await RunAsync(sent);
        // A row counts when at least one column other than time holds a value (not null).
        var rows = series.Sum(s => s.Values.Count(r => r.Where((cell, i) => s.Columns[i] != "time" && cell.ValueKind is not JsonValueKind.Null).Any()));
        return new QueryOutcome(d.FileName, where, sent, series.Count, rows, error);
    }

    private async Task<(IReadOnlyList<Series> Series, string? Error)> RunAsync(string influxQl)
    {
        try
        {
            return (await influx.QueryAsync(influxQl), null);
        }
        catch (InfluxQueryException e)
        {
            return ([], e.Message);
        }
    }
}
