using KhuyenCong.Cloud.Influx;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Tests.Support;

/// <summary>
/// A known set of telemetry: <see cref="Gateways"/> gateways of one site, each sending <see cref="BatchesPerGateway"/>
/// batches. Batch i of gateway g carries two readings of one meter at <c>Start + i s</c> (energy = g·100,000 + i,
/// power = i), so every batch is one InfluxDB line with a timestamp of its own, and the whole set can be checked exactly.
/// </summary>
public sealed class Fleet(string site, int gateways, int batchesPerGateway, DateTimeOffset? start = null)
{
    public string Site { get; } = site;
    public int Gateways { get; } = gateways;
    public int BatchesPerGateway { get; } = batchesPerGateway;

    /// <summary>Whole seconds, an hour before the test ran: inside the wire contract's timestamp limits.</summary>
    public DateTimeOffset Start { get; } = start ?? DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600).AddMilliseconds(125);

    public int Total => Gateways * BatchesPerGateway;

    public static string GatewayId(int g) => $"gw-{g:D3}";

    public DateTimeOffset Time(int i) => Start.AddSeconds(i);

    public TelemetryBatch Batch(int g, int i) => new()
    {
        Site = Site,
        Gateway = GatewayId(g),
        Sequence = i,
        Sent = Time(i),
        Devices = [new DeviceInfo { Id = "m1", Class = DeviceClasses.Meter, Kiln = "kiln-1" }],
        Readings =
        [
            new Reading { Device = "m1", Point = "energy_import_kwh", Timestamp = Time(i), Value = (g * 100_000) + i, Unit = "kWh" },
            new Reading { Device = "m1", Point = "power_w", Timestamp = Time(i), Value = i, Unit = "W" },
        ],
    };

    /// <summary>Batches <paramref name="from"/> (inclusive) to <paramref name="to"/> (exclusive) of every gateway, gateway by gateway within each i.</summary>
    public IEnumerable<TelemetryBatch> Batches(int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            for (var g = 0; g < Gateways; g++) yield return Batch(g, i);
        }
    }

    /// <summary>How many meter lines of this site InfluxDB holds (0 before the first write).</summary>
    public async Task<long> StoredAsync(InfluxQlClient influx)
    {
        var s = await influx.QueryAsync($"SELECT count(energy_import_kwh) FROM meter WHERE site = '{Site}'");
        return s.Count == 0 ? 0 : (long)s[0].Numbers("count").Single()!.Value;
    }

    /// <summary>
    /// Every reading is stored exactly once: InfluxQL counts equal the number sent, and each gateway's series has exactly
    /// the sent timestamps and values, in order (a repeat would overwrite the same point, a loss would leave a gap).
    /// </summary>
    public async Task AssertEveryReadingStoredOnceAsync(InfluxQlClient influx)
    {
        var counts = Assert.Single(await influx.QueryAsync($"SELECT count(energy_import_kwh) AS e, count(power_w) AS p FROM meter WHERE site = '{Site}'"));
        Assert.Equal([(double)Total], counts.Numbers("e"));
        Assert.Equal([(double)Total], counts.Numbers("p"));

        var series = await influx.QueryAsync($"SELECT energy_import_kwh, power_w FROM meter WHERE site = '{Site}' GROUP BY gateway");
        Assert.Equal(Enumerable.Range(0, Gateways).Select(GatewayId), series.Select(s => s.Tags["gateway"]).Order(StringComparer.Ordinal));
        var expectedTimes = Enumerable.Range(0, BatchesPerGateway).Select(Time).ToList();
        foreach (var s in series)
        {
            var g = int.Parse(s.Tags["gateway"][3..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(expectedTimes, s.Times());
            Assert.Equal(Enumerable.Range(0, BatchesPerGateway).Select(i => (double?)((g * 100_000) + i)), s.Numbers("energy_import_kwh"));
            Assert.Equal(Enumerable.Range(0, BatchesPerGateway).Select(i => (double?)i), s.Numbers("power_w"));
        }
    }
}
