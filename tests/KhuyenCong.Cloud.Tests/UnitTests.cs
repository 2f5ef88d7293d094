using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Ingest;

namespace KhuyenCong.Cloud.Tests;

public sealed class InfluxQlParsingTests
{
    [Fact]
    public void Every_series_of_every_statement_comes_back_with_its_name_tags_columns_and_rows()
    {
        const string body = """
            {"results":[
              {"statement_id":0,"series":[
                {"name":"meter","tags":{"device":"m1","site":"s"},"columns":["time","power_w","quality"],"values":[[1795000000000,12.5,null],[1795000005000,13,"uncertain"]]},
                {"name":"meter","tags":{"device":"m2","site":"s"},"columns":["time","power_w","quality"],"values":[[1795000000000,1,null]]}]},
              {"statement_id":1}
            ]}
            """;
        var series = InfluxQlClient.Parse(body, 200, "q");
        Assert.Equal(2, series.Count);
        Assert.Equal("meter", series[0].Name);
        Assert.Equal("m1", series[0].Tags["device"]);
        Assert.Equal([DateTimeOffset.FromUnixTimeMilliseconds(1795000000000), DateTimeOffset.FromUnixTimeMilliseconds(1795000005000)], series[0].Times());
        Assert.Equal([12.5, 13.0], series[0].Numbers("power_w"));
        Assert.Equal([null, "uncertain"], series[0].Strings("quality"));
        Assert.Equal("m2", series[1].Tags["device"]);
    }

    [Fact]
    public void A_statement_without_series_is_an_empty_answer_not_an_error()
    {
        Assert.Empty(InfluxQlClient.Parse("""{"results":[{"statement_id":0}]}""", 200, "q"));
    }

    [Theory]
    [InlineData("""{"results":[{"statement_id":0,"error":"database not found: nope"}]}""", "database not found: nope (query: q)")]
    [InlineData("""{"error":"error parsing query: found EOF"}""", "error parsing query: found EOF (query: q)")]
    [InlineData("502 Bad Gateway", "InfluxDB answered 502 with non-JSON: 502 Bad Gateway")]
    public void Errors_carry_InfluxDBs_message_and_the_query(string body, string message)
    {
        var ex = Assert.Throws<InfluxQueryException>(() => InfluxQlClient.Parse(body, 502, "q"));
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void Asking_for_a_column_that_is_not_there_names_the_columns_that_are()
    {
        var s = Assert.Single(InfluxQlClient.Parse("""{"results":[{"series":[{"name":"m","columns":["time","a"],"values":[[1,2]]}]}]}""", 200, "q"));
        var ex = Assert.Throws<KeyNotFoundException>(() => s.Numbers("b").ToList());
        Assert.Equal("column 'b' not in time, a", ex.Message);
    }
}

public sealed class BackoffTests
{
    [Theory]
    [InlineData(1, 250)]
    [InlineData(2, 500)]
    [InlineData(5, 4000)]
    [InlineData(8, 30000)]
    [InlineData(1000, 30000)]
    public void Back_off_doubles_from_the_first_delay_up_to_its_cap(int failures, double ms) =>
        Assert.Equal(TimeSpan.FromMilliseconds(ms), Ingestor.Backoff(failures, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30), jitter: false));

    [Fact]
    public void Jitter_keeps_between_half_and_all_of_the_delay()
    {
        for (var i = 0; i < 200; i++)
        {
            var d = Ingestor.Backoff(3, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30), jitter: true);
            Assert.InRange(d.TotalMilliseconds, 500, 1000);
        }
    }
}

public sealed class LocalInfluxdConfigTests
{
    [Fact]
    public void The_default_configuration_is_moved_to_private_ports_and_directories_and_made_quiet()
    {
        const string defaults = """
            reporting-enabled = false
            bind-address = "127.0.0.1:8088"

            [meta]
              dir = "/var/lib/influxdb/meta"

            [data]
              dir = "/var/lib/influxdb/data"
              wal-dir = "/var/lib/influxdb/wal"
              query-log-enabled = true

            [monitor]
              store-enabled = true

            [http]
              enabled = true
              bind-address = ":8086"
              log-enabled = true

            [ifql]
              enabled = false
              log-enabled = true
              bind-address = ":8082"

            [[graphite]]
              enabled = true
              bind-address = ":2003"
            """;
        var conf = LocalInfluxd.Rewrite(defaults.Replace("\r", "", StringComparison.Ordinal), "/tmp/x", 18086, 18088).Split('\n').Select(l => l.Trim()).ToList();
        Assert.Equal("reporting-enabled = false", conf[0]);
        Assert.Equal("bind-address = \"127.0.0.1:18088\"", conf[1]);
        Assert.Contains("dir = \"/tmp/x/meta\"", conf);
        Assert.Contains("dir = \"/tmp/x/data\"", conf);
        Assert.Contains("wal-dir = \"/tmp/x/wal\"", conf);
        Assert.Contains("query-log-enabled = false", conf);
        Assert.Contains("store-enabled = false", conf);
        Assert.Contains("bind-address = \"127.0.0.1:18086\"", conf);
        Assert.Equal(1, conf.Count(l => l == "log-enabled = false"));      // [http] only
        Assert.Contains("bind-address = \":8082\"", conf);                   // [ifql] stays as it was (disabled)
        Assert.Equal("enabled = false", conf[conf.IndexOf("[[graphite]]") + 1]);
    }
}
