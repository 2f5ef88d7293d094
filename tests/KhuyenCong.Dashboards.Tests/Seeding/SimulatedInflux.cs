using KhuyenCong.Cloud.Influx;

namespace KhuyenCong.Dashboards.Tests.Seeding;

/// <summary>
/// One influxd 1.6.7 of its own (free port, temp directory) holding a simulated workshop: what the dashboards' queries run
/// against. Shared by the tests of one class and stopped after them.
/// </summary>
public sealed class SimulatedInflux : IAsyncLifetime
{
    public const string Database = "khuyencong";
    public const string Site = "bat-trang-dash";

    private LocalInfluxd? _influxd;

    public LocalInfluxd Server => _influxd ?? throw new InvalidOperationException("not started");

    public InfluxQlClient Client { get; private set; } = null!;

    /// <summary>"Now" for the dashboards' relative time ranges: the time of the newest raw reading.</summary>
    public DateTimeOffset Now { get; private set; }

    /// <summary>What was seeded, for failure messages.</summary>
    public string Description { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _influxd = await LocalInfluxd.StartAsync();
        Client = new InfluxQlClient(_influxd.Url, Database);
        await Client.ExecuteAsync($"CREATE DATABASE \"{Database}\"");
        Now = await LivePipeline.RunAsync(_influxd.Url, Database, Site);
        Description = $"live pipeline run of site {Site} up to {Now:O}";
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (_influxd is not null) await _influxd.DisposeAsync();
    }
}
