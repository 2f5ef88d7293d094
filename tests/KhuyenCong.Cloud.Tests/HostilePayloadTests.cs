using System.Buffers;
using System.Net.Http.Headers;
using System.Text;
using KhuyenCong.Cloud.Influx;
using KhuyenCong.Cloud.Ingest;
using KhuyenCong.Cloud.Tests.Support;
using KhuyenCong.Contracts;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Cloud.Tests;

/// <summary>
/// Payloads written to hurt: huge, deeply nested, wrong types, NaN/Infinity literals, invalid UTF-8, timestamps a gateway
/// with a wrong clock would send. Through real mosquitto into real influxd: each is dead-lettered in <c>rejected</c>
/// with a reason naming the place, and the ingestor goes on with the next message.
/// </summary>
public sealed class HostilePayloadTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    private static TelemetryBatch Good(long seq) => new()
    {
        Site = "site-h",
        Gateway = "gw-1",
        Sequence = seq,
        Sent = Now,
        Devices = [new DeviceInfo { Id = "m1", Class = DeviceClasses.Meter, Kiln = "kiln-1" }],
        Readings = [new Reading { Device = "m1", Point = "power_w", Timestamp = Now.AddMinutes(-seq), Value = 1500 + seq, Unit = "W" }],
    };

    private static string GoodJson() => Encoding.UTF8.GetString(TelemetryCodec.Encode(Good(1)));

    private static byte[] Replace(string find, string replace)
    {
        var json = GoodJson();
        Assert.Contains(find, json, StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(json.Replace(find, replace, StringComparison.Ordinal));
    }

    /// <summary>The good batch with <paramref name="bytes"/> written over the two 'X' placeholders of site "site-XX".</summary>
    private static byte[] WithBytesInSite(byte first, byte second)
    {
        var payload = Replace("\"site\":\"site-h\"", "\"site\":\"site-XX\"");
        var i = Array.IndexOf(payload, (byte)'X');
        payload[i] = first;
        payload[i + 1] = second;
        return payload;
    }

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static TheoryData<string, byte[], string> Hostile()
    {
        var ts = $"\"ts\":\"{Iso(Now.AddMinutes(-1))}\"";
        var huge = Replace("\"v\":1", "\"pad\":\"" + new string('x', 2 * 1024 * 1024) + "\",\"v\":1");
        return new TheoryData<string, byte[], string>
        {
            { "huge (2 MiB)", huge, $"payload: {huge.Length} bytes exceeds the limit of {TelemetryCodec.MaxPayloadBytes}" },
            { "10,000 nested arrays", Replace("\"v\":1", "\"deep\":" + new string('[', 10_000) + new string(']', 10_000) + ",\"v\":1"), "deep: The maximum configured depth of 64 has been exceeded" },
            { "10,000 nested objects", Replace("\"v\":1", "\"deep\":" + string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000) + ",\"v\":1"), "deep: The maximum configured depth of 64 has been exceeded" },
            { "readings nested 10,000 deep", Replace("\"readings\":[", "\"readings\":" + new string('[', 10_000)), "readings[0]: has the wrong JSON type" },
            { "string for a number", Replace("\"seq\":1", "\"seq\":\"one\""), "seq: has the wrong JSON type" },
            { "object for a list", Replace("\"devices\":[{\"id\":\"m1\",\"class\":\"meter\",\"kiln\":\"kiln-1\"}]", "\"devices\":{\"id\":\"m1\"}"), "devices: has the wrong JSON type" },
            { "boolean for a value", Replace("\"value\":1501", "\"value\":true"), "readings[0].value: has the wrong JSON type" },
            { "NaN literal", Replace("\"value\":1501", "\"value\":NaN"), "readings[0].value: 'N' is an invalid start of a value" },
            { "Infinity literal", Replace("\"value\":1501", "\"value\":Infinity"), "readings[0].value: 'I' is an invalid start of a value" },
            { "-Infinity literal", Replace("\"value\":1501", "\"value\":-Infinity"), "readings[0].value: 'I' is invalid within a number" },
            { "1e999 (overflows to infinity)", Replace("\"value\":1501", "\"value\":1e999"), "readings[0].value: must be a finite number" },
            { "invalid UTF-8 in a string", WithBytesInSite(0xC3, 0x28), "site: is not valid UTF-8" },
            { "overlong UTF-8 in a string", WithBytesInSite(0xC0, 0xAF), "site: is not valid UTF-8" },
            { "timestamp in 2099", Replace(ts, "\"ts\":\"2099-01-01T00:00:00.000Z\""), "readings[0].ts: 2099-01-01T00:00:00.000Z is more than 24 h ahead of the receiver's clock" },
            { "timestamp in 1970", Replace(ts, "\"ts\":\"1970-01-01T00:00:00.000Z\""), "readings[0].ts: 1970-01-01T00:00:00.000Z is before 2020-01-01T00:00:00.000Z" },
        };
    }

    [Fact]
    public async Task Every_hostile_payload_is_dead_lettered_with_its_reason_and_the_ingestor_keeps_going()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        await using var cloud = await Sample.StartCloudAsync(Sample.IngestYaml(mosquitto, influxd.Url, "hostile", "ingestor-hostile"), NullLoggerFactory.Instance, "the ingestor connects");

        var cases = Hostile().Select(row => ((string)row[0], (byte[])row[1], (string)row[2])).ToList();
        var topic = Topics.Telemetry("site-h", "gw-1");
        await using (var gw = await TestPublisher.ConnectAsync(mosquitto.Port))
        {
            // Each hostile payload is followed by a good batch: nothing hostile may stop or delay the next message.
            for (var i = 0; i < cases.Count; i++)
            {
                await gw.PublishAsync(topic, cases[i].Item2);
                await gw.PublishAsync(Good(i + 1));
            }
        }

        using var influx = new InfluxQlClient(influxd.Url, "hostile");
        await Eventually.Until(() => cloud.Ingestor.Stats.Acknowledgements == 2 * cases.Count, () => $"every message is acknowledged ({cloud.Ingestor.Stats})");
        Assert.Equal(cases.Count, cloud.Ingestor.Stats.Invalid);

        var good = Assert.Single(await influx.QueryAsync("SELECT power_w FROM meter"));
        Assert.Equal(Enumerable.Range(1, cases.Count).Reverse().Select(i => Now.AddMinutes(-i)), good.Times());
        Assert.Equal(Enumerable.Range(1, cases.Count).Reverse().Select(i => (double?)(1500 + i)), good.Numbers("power_w"));

        var rejected = Assert.Single(await influx.QueryAsync($"SELECT reason, payload, bytes, kind, ingestor FROM {Ingestor.RejectedMeasurement}"));
        Assert.Equal(cases.Count, rejected.Values.Count);
        var rows = rejected.Values.Select(v => (Reason: v[1].GetString()!, Payload: v[2].GetString()!, Bytes: v[3].GetInt64(), Kind: v[4].GetString())).ToList();
        Assert.All(rows, r => Assert.Equal("invalid", r.Kind));
        Assert.All(rejected.Values, v => Assert.Equal("ingestor-hostile", v[5].GetString()));
        var unmatched = rows.ToList();
        foreach (var (name, payload, reason) in cases)
        {
            var row = unmatched.FirstOrDefault(r => r.Bytes == payload.Length && r.Reason.StartsWith(reason, StringComparison.Ordinal));
            Assert.True(row != default, $"{name}: no dead letter of {payload.Length} bytes with a reason starting '{reason}' among: {string.Join(" | ", unmatched.Select(r => $"{r.Bytes} {r.Reason}"))}");
            unmatched.Remove(row);
            Assert.True(row.Payload.Length <= Ingestor.DeadLetterPayloadChars + 1, $"{name}: the dead letter keeps at most {Ingestor.DeadLetterPayloadChars} characters");
        }
        var hugeRow = rows.Single(r => r.Reason.StartsWith("payload: ", StringComparison.Ordinal) && r.Bytes > TelemetryCodec.MaxPayloadBytes);
        Assert.StartsWith("{\"pad\":\"xxxx", hugeRow.Payload, StringComparison.Ordinal);
        Assert.EndsWith("x…", hugeRow.Payload, StringComparison.Ordinal);
        Assert.All(rows.Where(r => r.Reason.Contains("UTF-8", StringComparison.Ordinal)), r => Assert.StartsWith("base64:", r.Payload, StringComparison.Ordinal));
    }

    /// <summary>
    /// InfluxDB keeps one point per series and time: dead letters refused in the same instant must still get distinct
    /// times, or each would overwrite the one before. A burst of refusals, back to back through mosquitto, keeps every one.
    /// </summary>
    [Fact]
    public async Task A_burst_of_refused_messages_keeps_every_dead_letter()
    {
        var influxdStart = LocalInfluxd.StartAsync();
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var influxd = await influxdStart;
        await using var cloud = await Sample.StartCloudAsync(Sample.IngestYaml(mosquitto, influxd.Url, "burst", "ingestor-burst"), NullLoggerFactory.Instance, "the ingestor connects");

        const int count = 500;
        await using (var gw = await TestPublisher.ConnectAsync(mosquitto.Port))
        {
            for (var i = 0; i < count; i++)
                await gw.PublishAsync(Topics.Telemetry("site-h", "gw-1"), Encoding.UTF8.GetBytes($"{{\"v\":1,\"seq\":\"burst-{i}\"}}"));
        }

        await Eventually.Until(() => cloud.Ingestor.Stats.Acknowledgements == count, () => $"every message is acknowledged ({cloud.Ingestor.Stats})");
        Assert.Equal(count, cloud.Ingestor.Stats.Invalid);
        using var influx = new InfluxQlClient(influxd.Url, "burst");
        var rejected = Assert.Single(await influx.QueryAsync($"SELECT payload FROM {Ingestor.RejectedMeasurement}"));
        var payloads = rejected.Values.Select(v => v[1].GetString()!).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"{{\"v\":1,\"seq\":\"burst-{i}\"}}").Order(StringComparer.Ordinal), payloads);
    }

    [Fact]
    public void Dead_letter_times_strictly_increase_within_a_clock_tick_and_when_the_clock_steps_back()
    {
        // Now, not a time ahead: the counter is shared by every ingestor in the process, and later letters follow it.
        var now = DateTimeOffset.UtcNow;
        var first = Ingestor.DeadLetterTime(now);
        Assert.True(first >= now.ToUnixTimeMilliseconds() * 1000, "the time is the clock's, in microseconds");
        var times = Enumerable.Range(0, 10_000).Select(_ => Ingestor.DeadLetterTime(now)).Prepend(first).ToList();
        times.Add(Ingestor.DeadLetterTime(now.AddSeconds(-10)));
        Assert.All(times.Zip(times.Skip(1)), p => Assert.True(p.Second > p.First, $"{p.Second} follows {p.First}"));
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public void The_codec_names_the_place_of_each_hostile_payload(string name, byte[] payload, string reason)
    {
        var ex = Assert.Throws<ContractViolationException>(() => TelemetryCodec.Decode(payload));
        Assert.True(ex.Message.StartsWith(reason, StringComparison.Ordinal), $"{name}: '{ex.Message}' does not start with '{reason}'");
    }

    [Fact]
    public void Reading_timestamps_may_be_up_to_one_day_ahead_of_the_receivers_clock_and_not_before_2020()
    {
        var now = new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
        TelemetryBatch At(DateTimeOffset ts) => Good(1) with { Readings = [Good(1).Readings[0] with { Timestamp = ts }] };
        TelemetryCodec.Validate(At(now.AddDays(1)), now);
        TelemetryCodec.Validate(At(TelemetryCodec.MinTimestamp), now);
        var ahead = Assert.Throws<ContractViolationException>(() => TelemetryCodec.Validate(At(now.AddDays(1).AddMilliseconds(1)), now));
        Assert.Equal("readings[0].ts: 2026-11-30T12:00:00.001Z is more than 24 h ahead of the receiver's clock (2026-11-29T12:00:00.000Z)", ahead.Message);
        var before = Assert.Throws<ContractViolationException>(() => TelemetryCodec.Validate(At(TelemetryCodec.MinTimestamp.AddMilliseconds(-1)), now));
        Assert.Equal("readings[0].ts: 2019-12-31T23:59:59.999Z is before 2020-01-01T00:00:00.000Z: the sender's clock was not set", before.Message);

        var status = Assert.Throws<ContractViolationException>(() => TelemetryCodec.DecodeStatus("{\"v\":1,\"state\":\"online\",\"ts\":\"2099-01-01T00:00:00.000Z\"}"u8, now));
        Assert.StartsWith("ts: 2099-01-01T00:00:00.000Z is more than 24 h ahead", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dead_letter_keeps_only_the_head_of_a_payload_and_never_splits_a_character()
    {
        Assert.Equal("abc", Ingestor.PayloadText(new ReadOnlySequence<byte>("abc"u8.ToArray()), 10));
        Assert.Equal("abcdefghij…", Ingestor.PayloadText(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("abcdefghijklmnop")), 10));
        // "ồ" is 3 bytes in UTF-8: cut at 10 bytes, the character that would be split is left out whole.
        Assert.Equal("abcdefghi…", Ingestor.PayloadText(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("abcdefghiồx")), 10));
        Assert.Equal("base64:/w==", Ingestor.PayloadText(new ReadOnlySequence<byte>([0xFF]), 10));
        Assert.Equal("", Ingestor.PayloadText(ReadOnlySequence<byte>.Empty, 10));
    }

    [Fact]
    public void Retry_after_is_read_as_seconds_or_as_an_http_date()
    {
        var now = new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(7), InfluxV1Sink.RetryAfter(RetryConditionHeaderValue.Parse("7"), now));
        Assert.Equal(TimeSpan.FromSeconds(30), InfluxV1Sink.RetryAfter(RetryConditionHeaderValue.Parse("Sun, 29 Nov 2026 12:00:30 GMT"), now));
        Assert.Equal(TimeSpan.Zero, InfluxV1Sink.RetryAfter(RetryConditionHeaderValue.Parse("Sun, 29 Nov 2026 11:00:00 GMT"), now));
        Assert.Null(InfluxV1Sink.RetryAfter(null, now));
    }
}
