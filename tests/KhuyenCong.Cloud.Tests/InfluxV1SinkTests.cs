using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Cloud.Tests;

/// <summary>The v1 transport (POST /write) against real influxd 1.6.7: how each answer is classified.</summary>
public sealed class InfluxV1SinkTests
{
    private static PointData Power(object value) =>
        PointData.Measurement("meter").Tag("site", "s").Tag("device", "m1").Timestamp(1_795_000_000_000, WritePrecision.Ms) switch
        {
            var p when value is double d => p.Field("power_w", d),
            var p => p.Field("power_w", (string)value),
        };

    [Fact]
    public async Task Accepted_points_return_refused_points_carry_InfluxDBs_message_and_a_missing_database_is_not_found()
    {
        await using var influxd = await LocalInfluxd.StartAsync();
        using var sink = new InfluxV1Sink(new InfluxConfig { Url = influxd.Url, Database = "typed" }, password: null);
        await sink.PrepareAsync(default);
        await sink.PrepareAsync(default); // creating an existing database is harmless
        await sink.WriteAsync([Power(12.5)], default);
        await sink.WriteAsync([Power(12.5)], default); // the same series and timestamp again: an overwrite, not an error

        var refused = await Assert.ThrowsAsync<SinkException>(() => sink.WriteAsync([Power("twelve")], default));
        Assert.Equal(SinkFailure.Rejected, refused.Kind);
        Assert.Equal(400, refused.Status);
        Assert.Contains("field type conflict", refused.ServerMessage, StringComparison.Ordinal);

        using var missing = new InfluxV1Sink(new InfluxConfig { Url = influxd.Url, Database = "never-created" }, password: null);
        var notFound = await Assert.ThrowsAsync<SinkException>(() => missing.WriteAsync([Power(1.0)], default));
        Assert.Equal(SinkFailure.NotFound, notFound.Kind);
        Assert.Equal(404, notFound.Status);
        Assert.Contains("database not found", notFound.ServerMessage, StringComparison.Ordinal);

        using var influx = new InfluxQlClient(influxd.Url, "typed");
        var s = Assert.Single(await influx.QueryAsync("SELECT power_w FROM meter"));
        Assert.Equal([12.5], s.Numbers("power_w"));

        // Statements that change the server go through ExecuteAsync (POST), as InfluxDB 1.x requires.
        await influx.ExecuteAsync("CREATE DATABASE \"made-by-execute\"");
        var databases = Assert.Single(await influx.QueryAsync("SHOW DATABASES"));
        Assert.Contains("made-by-execute", databases.Strings("name"));
        var ex = await Assert.ThrowsAsync<InfluxQueryException>(() => influx.QueryAsync("SELEC nonsense"));
        Assert.StartsWith("error parsing query", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_is_not_there_is_a_retryable_failure()
    {
        using var nothing = new ClosedPort();
        using var sink = new InfluxV1Sink(new InfluxConfig { Url = nothing.HttpUrl, Database = "x" }, password: null);
        var ex = await Assert.ThrowsAsync<SinkException>(() => sink.WriteAsync([Power(1.0)], default));
        Assert.Equal(SinkFailure.Retry, ex.Kind);
        Assert.Null(ex.Status);
    }

    [Theory]
    [InlineData(400, SinkFailure.Rejected)]
    [InlineData(422, SinkFailure.Rejected)]
    [InlineData(401, SinkFailure.Unauthorized)]
    [InlineData(403, SinkFailure.Unauthorized)]
    [InlineData(404, SinkFailure.NotFound)]
    [InlineData(413, SinkFailure.TooLarge)]
    [InlineData(429, SinkFailure.Retry)]
    [InlineData(500, SinkFailure.Retry)]
    [InlineData(503, SinkFailure.Retry)]
    public void Answers_are_classified_as_telegraf_does(int status, SinkFailure kind) => Assert.Equal(kind, SinkException.Classify(status));

    [Theory]
    [InlineData("{\"error\":\"partial write: field type conflict\"}\n", "partial write: field type conflict")]
    [InlineData("<html>bad gateway</html>", "<html>bad gateway</html>")]
    public void InfluxDBs_error_text_is_taken_from_its_json_answer(string body, string expected) => Assert.Equal(expected, InfluxV1Sink.ErrorText(body));
}
