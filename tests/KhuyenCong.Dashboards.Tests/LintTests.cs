using System.Text.RegularExpressions;
using KhuyenCong.Dashboards.Tests.Grafana;
using YamlDotNet.RepresentationModel;

namespace KhuyenCong.Dashboards.Tests;

/// <summary>
/// Static checks of dashboards/: the JSON is valid, uids and panel ids are unique, every query goes to the provisioned
/// datasource, every variable a query uses is defined, and the provisioning files parse and point at what exists.
/// </summary>
public sealed class LintTests
{
    /// <summary>The dashboards shipped, with the uid each must keep (links and bookmarks use it) and its refresh.</summary>
    public static readonly TheoryData<string, string, string> Shipped = new()
    {
        { "kiln-operator.json", "kc-kiln-operator", "10s" },
        { "auditor-savings.json", "kc-auditor-savings", "5m" },
        { "centre-overview.json", "kc-centre-overview", "1h" },
    };

    private static IReadOnlyList<DashboardFile> All() => [.. DashboardFile.AllPaths().Select(DashboardFile.Load)];

    private static string ProvisionedUid()
    {
        var ds = Assert.Single(Provisioning.Datasources(Repo.DatasourceYaml));
        return ds.Scalar("uid") ?? throw new InvalidDataException($"{Repo.DatasourceYaml}: the datasource has no uid");
    }

    [Theory]
    [MemberData(nameof(Shipped))]
    public void Each_shipped_dashboard_is_valid_JSON_with_its_stable_uid_refresh_and_a_current_schema(string file, string uid, string refresh)
    {
        var d = DashboardFile.Load(Path.Combine(Repo.DashboardJsonDir, file));
        Assert.Equal(uid, d.Uid);
        Assert.Matches("^[A-Za-z0-9_-]{1,40}$", d.Uid);
        Assert.Equal(refresh, d.Refresh);
        Assert.True(d.SchemaVersion >= 39, $"{file}: schemaVersion {d.SchemaVersion} is older than Grafana 10.4's 39");
        Assert.False(string.IsNullOrWhiteSpace(d.Title));
        Assert.Equal("now", d.TimeTo);
        var range = TimeRange.Parse(d.TimeFrom!, d.TimeTo!, DateTimeOffset.UnixEpoch.AddYears(60));
        Assert.True(range.To > range.From, $"{file}: time range {d.TimeFrom}..{d.TimeTo} is empty");
    }

    [Fact]
    public void A_file_that_is_not_JSON_is_reported_with_its_name_and_line()
    {
        using var dir = new KhuyenCong.TestSupport.TempDirectory();
        var path = dir.File("broken.json");
        File.WriteAllText(path, "{\n  \"uid\": \"x\",\n  \"panels\": [ }\n");
        var e = Assert.Throws<InvalidDataException>(() => DashboardFile.Load(path));
        Assert.StartsWith($"{path}:3:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_dashboard_file_is_one_of_the_shipped_ones_and_their_uids_are_unique()
    {
        var all = All();
        Assert.Equal(Shipped.Select(r => (string)r[0]).Order(StringComparer.Ordinal), all.Select(d => d.FileName).Order(StringComparer.Ordinal));
        var dup = all.GroupBy(d => d.Uid).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(d => d.FileName))}").ToList();
        Assert.True(dup.Count == 0, "duplicate dashboard uids: " + string.Join("; ", dup));
    }

    [Fact]
    public void Panel_ids_are_present_and_unique_within_each_dashboard()
    {
        var problems = new List<string>();
        foreach (var d in All())
        {
            foreach (var p in d.Panels.Where(p => p.Id is null)) problems.Add($"{d.FileName}: panel '{p.Title}' has no id");
            foreach (var g in d.Panels.Where(p => p.Id is not null).GroupBy(p => p.Id).Where(g => g.Count() > 1))
                problems.Add($"{d.FileName}: id {g.Key} is used by {string.Join(", ", g.Select(p => $"'{p.Title}'"))}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_panel_target_variable_and_annotation_uses_the_provisioned_InfluxDB_datasource_by_uid()
    {
        var uid = ProvisionedUid();
        var expected = new DatasourceRef("influxdb", uid);
        var problems = new List<string>();
        foreach (var d in All())
        {
            foreach (var p in d.Panels.Where(p => !p.IsRow))
            {
                if (p.Datasource != expected) problems.Add($"{d.FileName}: panel '{p.Title}' datasource {p.Datasource?.ToString() ?? "missing"}");
                if (p.Targets.Count == 0) problems.Add($"{d.FileName}: panel '{p.Title}' has no query");
                foreach (var t in p.Targets.Where(t => t.Datasource is not null && t.Datasource != expected))
                    problems.Add($"{d.FileName}: panel '{p.Title}' query {t.RefId} datasource {t.Datasource}");
                foreach (var g in p.Targets.GroupBy(t => t.RefId).Where(g => g.Count() > 1 || g.Key.Length == 0))
                    problems.Add($"{d.FileName}: panel '{p.Title}' has refId '{g.Key}' {g.Count()} times");
            }
            foreach (var v in d.Variables.Where(v => v.Type == "query" && v.Datasource != expected))
                problems.Add($"{d.FileName}: variable {v.Name} datasource {v.Datasource?.ToString() ?? "missing"}");
            foreach (var a in d.Annotations)
            {
                var ok = a.BuiltIn ? a.Datasource == new DatasourceRef("grafana", "-- Grafana --") : a.Datasource == expected;
                if (!ok) problems.Add($"{d.FileName}: annotation '{a.Name}' datasource {a.Datasource?.ToString() ?? "missing"}");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_variable_used_in_a_query_is_a_defined_template_variable_or_a_Grafana_built_in()
    {
        var problems = new List<string>();
        foreach (var d in All())
        {
            var defined = d.Variables.Select(v => v.Name).ToList();
            void Check(string where, string query, IReadOnlyCollection<string> allowed)
            {
                foreach (var (name, format) in Macros.References(query))
                {
                    if (!allowed.Contains(name) && !Macros.BuiltIns.Contains(name)) problems.Add($"{d.FileName}: {where} uses ${name}, which is not defined");
                    if (format is not null and not "regex" and not "raw") problems.Add($"{d.FileName}: {where} uses the format :{format}");
                }
            }
            foreach (var p in d.Panels)
            {
                foreach (var t in p.Targets) Check($"panel '{p.Title}' query {t.RefId}", t.Query, defined);
            }
            foreach (var a in d.Annotations.Where(a => !a.BuiltIn)) Check($"annotation '{a.Name}'", a.Query, defined);
            // A variable's query may use only the variables defined before it: Grafana resolves them in that order.
            for (var i = 0; i < d.Variables.Count; i++)
            {
                if (d.Variables[i].Type == "query") Check($"variable {d.Variables[i].Name}", d.Variables[i].Query, [.. defined.Take(i)]);
            }
            foreach (var g in defined.GroupBy(n => n).Where(g => g.Count() > 1)) problems.Add($"{d.FileName}: variable {g.Key} is defined {g.Count()} times");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Dashboards_have_site_and_kiln_variables_read_with_SHOW_TAG_VALUES()
    {
        foreach (var d in All())
        {
            var site = Assert.Single(d.Variables, v => v.Name == "site");
            Assert.StartsWith("SHOW TAG VALUES", site.Query, StringComparison.Ordinal);
            Assert.Contains("WITH KEY = \"site\"", site.Query, StringComparison.Ordinal);
            // The centre compares sites; it has no kiln picker.
            if (d.Uid == "kc-centre-overview") continue;
            var kiln = Assert.Single(d.Variables, v => v.Name == "kiln");
            Assert.StartsWith("SHOW TAG VALUES", kiln.Query, StringComparison.Ordinal);
            Assert.Contains("WITH KEY = \"kiln\"", kiln.Query, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// Grafana joins the values of a multi-value or "All" variable with | and no parentheses, so <c>/^$site$/</c> would
    /// become <c>/^a|b$/</c> (anything starting with a). The dashboards write <c>/^($site)$/</c>; raw InfluxQL only.
    /// </summary>
    [Fact]
    public void Queries_are_raw_InfluxQL_and_multi_value_variables_appear_only_as_whole_regex_alternations()
    {
        var problems = new List<string>();
        foreach (var d in All())
        {
            var multi = d.Variables.Where(v => v.Multi || v.IncludeAll).Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
            IEnumerable<(string Where, string Query)> queries = d.Panels.SelectMany(p => p.Targets.Select(t => ($"panel '{p.Title}' query {t.RefId}", t.Query)))
                .Concat(d.Variables.Where(v => v.Type == "query").Select(v => ($"variable {v.Name}", v.Query)))
                .Concat(d.Annotations.Where(a => !a.BuiltIn).Select(a => ($"annotation '{a.Name}'", a.Query)));
            foreach (var (where, query) in queries)
            {
                foreach (var name in multi)
                {
                    var uses = Regex.Matches(query, $@"\${name}\b|\$\{{{name}\}}").Count;
                    var wellFormed = Regex.Matches(query, $@"=~ /\^\(\${name}\)\$/").Count;
                    if (uses != wellFormed) problems.Add($"{d.FileName}: {where}: ${name} must be used as =~ /^(${name})$/");
                }
            }
            foreach (var p in d.Panels)
            {
                foreach (var t in p.Targets.Where(t => !t.RawQuery || string.IsNullOrWhiteSpace(t.Query)))
                    problems.Add($"{d.FileName}: panel '{p.Title}' query {t.RefId} is not a raw InfluxQL query");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Titles_and_variable_labels_are_Vietnamese_first_then_English()
    {
        var problems = new List<string>();
        foreach (var d in All())
        {
            var labels = d.Panels.Select(p => ("panel", p.Title)).Append(("dashboard", d.Title))
                .Concat(d.Root["templating"]!["list"]!.AsArray().Select(v => ("variable label", (string?)v!["label"] ?? "")));
            foreach (var (kind, text) in labels)
            {
                var parts = text.Split(" / ", 2);
                if (parts.Length != 2 || parts[0].Trim().Length == 0 || parts[1].Trim().Length == 0 || parts[0] == parts[1])
                    problems.Add($"{d.FileName}: {kind} '{text}' is not 'Vietnamese / English'");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>InfluxQL durations stop at weeks: a GROUP BY time($__interval) of "1y" is refused.</summary>
    [Fact]
    public void The_interval_Grafana_computes_over_each_default_time_range_is_an_InfluxQL_duration()
    {
        var minInterval = Assert.Single(Provisioning.Datasources(Repo.DatasourceYaml)).Map("jsonData")?.Scalar("timeInterval");
        foreach (var d in All())
        {
            var range = TimeRange.Parse(d.TimeFrom!, d.TimeTo!, DateTimeOffset.UtcNow);
            foreach (var p in d.Panels.Where(p => !p.IsRow))
            {
                var interval = GrafanaInterval.Calculate(range, p.MaxDataPoints ?? QueryRunner.PanelWidthPx(p), p.MinInterval ?? minInterval);
                Assert.Matches(@"^\d+(ms|s|m|h|d|w)$", interval.Text);
            }
        }
    }

    [Fact]
    public void The_datasource_provisioning_parses_and_defines_an_InfluxQL_datasource_from_environment_variables()
    {
        var root = Provisioning.LoadMapping(Repo.DatasourceYaml);
        Assert.Equal("1", root.Scalar("apiVersion"));
        var ds = Assert.Single(root.Items("datasources"));
        Assert.Equal("kc-influxdb", ds.Scalar("uid"));
        Assert.Equal("influxdb", ds.Scalar("type"));
        Assert.Equal("proxy", ds.Scalar("access"));
        Assert.Equal("${KC_INFLUX_URL}", ds.Scalar("url"));
        Assert.Equal("${KC_INFLUX_USER}", ds.Scalar("user"));
        var json = ds.Map("jsonData")!;
        Assert.Equal("InfluxQL", json.Scalar("version"));
        Assert.Equal("${KC_INFLUX_DATABASE}", json.Scalar("dbName"));
        Assert.Equal("${KC_INFLUX_PASSWORD}", ds.Map("secureJsonData")!.Scalar("password"));
        GrafanaInterval.ParseMs(json.Scalar("timeInterval")!);

        // The commented InfluxDB 3.x entry is valid YAML too, and keeps the uid the dashboards use.
        var v3 = Provisioning.CommentedVariant(Repo.DatasourceYaml, "---- InfluxDB 3.x");
        Assert.Equal("kc-influxdb", v3.Scalar("uid"));
        Assert.Equal("InfluxQL", v3.Map("jsonData")!.Scalar("version"));
        Assert.Equal("Authorization", v3.Map("jsonData")!.Scalar("httpHeaderName1"));
        Assert.Equal("Token ${KC_INFLUX_TOKEN}", v3.Map("secureJsonData")!.Scalar("httpHeaderValue1"));
    }

    [Fact]
    public void The_dashboard_provider_loads_the_directory_the_README_mounts_dashboards_json_on()
    {
        var root = Provisioning.LoadMapping(Repo.ProviderYaml);
        Assert.Equal("1", root.Scalar("apiVersion"));
        var provider = Assert.Single(root.Items("providers"));
        Assert.Equal("file", provider.Scalar("type"));
        var path = provider.Map("options")!.Scalar("path");
        Assert.False(string.IsNullOrEmpty(path));

        // The README's docker run line mounts the repository's dashboards/json there, and the provisioning directory where
        // Grafana reads provisioning; both exist.
        var readme = File.ReadAllText(Repo.Readme);
        Assert.Contains($"dashboards/json:{path}", readme, StringComparison.Ordinal);
        Assert.Contains("dashboards/provisioning:/etc/grafana/provisioning", readme, StringComparison.Ordinal);
        Assert.True(Directory.EnumerateFiles(Repo.DashboardJsonDir, "*.json").Any());
        Assert.True(File.Exists(Path.Combine(Repo.ProvisioningDir, "datasources", "khuyencong.yaml")));
        Assert.True(File.Exists(Path.Combine(Repo.ProvisioningDir, "dashboards", "khuyencong.yaml")));
    }

    [Fact]
    public void A_provisioning_file_that_is_not_YAML_is_reported_with_its_line_and_column()
    {
        var e = Assert.Throws<InvalidDataException>(() => Provisioning.ParseMapping("apiVersion: 1\ndatasources:\n  - name: [unclosed\n", "ds.yaml"));
        Assert.StartsWith("ds.yaml:", e.Message, StringComparison.Ordinal);
        Assert.IsType<YamlMappingNode>(Provisioning.ParseMapping("apiVersion: 1\n", "ok.yaml"));
    }
}

/// <summary>The queries use only the measurement, tag and field names of docs/schema.md and docs/points.md.</summary>
public sealed class SchemaContractTests
{
    [Fact]
    public void The_contract_is_read_from_the_documents()
    {
        var c = SchemaContract.Load();
        Assert.Contains("kiln_temp_c", c.NamesByMeasurement["kiln"]);
        Assert.Contains("energy_import_kwh", c.NamesByMeasurement["meter"]);
        Assert.Contains("lpg_mass_kg", c.NamesByMeasurement["gas"]);
        Assert.Contains("online", c.NamesByMeasurement["gateway_status"]);
        Assert.Contains("cusum_mj", c.NamesByMeasurement["savings"]);
        Assert.Contains("basis", c.NamesByMeasurement["baseline_model"]);
        Assert.Contains("key_consumer", c.NamesByMeasurement["compliance"]);
        Assert.Contains("electricity", c.DocumentTokens);
    }

    [Fact]
    public void A_misspelt_field_tag_value_or_measurement_is_reported()
    {
        var c = SchemaContract.Load();
        Assert.Empty(c.Violations("SELECT last(\"kiln_temp_c\") AS \"t\" FROM \"kiln\" WHERE \"site\" =~ /^(a)$/ GROUP BY \"kiln\""));
        Assert.Single(c.Violations("SELECT last(\"kiln_temp\") FROM \"kiln\""));
        Assert.Single(c.Violations("SELECT \"toe\" FROM \"enpi\" WHERE \"period\" = 'months'"));
        Assert.Contains("measurement \"enpis\" is not in docs/schema.md", c.Violations("SELECT \"toe\" FROM \"enpis\""));
    }

    [Fact]
    public void Every_dashboard_query_keeps_to_the_schema_contract()
    {
        var c = SchemaContract.Load();
        var problems = new List<string>();
        foreach (var d in DashboardFile.AllPaths().Select(DashboardFile.Load))
        {
            foreach (var p in d.Panels)
            {
                foreach (var t in p.Targets)
                    problems.AddRange(c.Violations(t.Query).Select(v => $"{d.FileName}: panel '{p.Title}' query {t.RefId}: {v}"));
            }
            foreach (var v in d.Variables.Where(v => v.Type == "query"))
                problems.AddRange(c.Violations(v.Query).Select(x => $"{d.FileName}: variable {v.Name}: {x}"));
            foreach (var a in d.Annotations.Where(a => !a.BuiltIn))
                problems.AddRange(c.Violations(a.Query).Select(x => $"{d.FileName}: annotation '{a.Name}': {x}"));
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
