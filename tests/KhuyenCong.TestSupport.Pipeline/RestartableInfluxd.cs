using KhuyenCong.Cloud.Influx;

namespace KhuyenCong.TestSupport.Pipeline;

/// <summary>
/// influxd on a data directory and a port that outlive a restart, so a test can take InfluxDB away and bring it back
/// with its data at the same address.
/// </summary>
public sealed class RestartableInfluxd : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly int _port;

    private RestartableInfluxd(TempDirectory dir, int port, LocalInfluxd first)
    {
        _dir = dir;
        _port = port;
        Current = first;
    }

    /// <summary>The influxd running now (or stopped or killed by the test).</summary>
    public LocalInfluxd Current { get; private set; }

    public string Url => Current.Url;

    public static async Task<RestartableInfluxd> StartAsync(string name)
    {
        var dir = new TempDirectory(name);
        try
        {
            var port = FreePort.Next();
            return new RestartableInfluxd(dir, port, await LocalInfluxd.StartAsync(dir.Path, port));
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>Stops what is left of the current influxd and starts a new one on the same data and port.</summary>
    public async Task RestartAsync()
    {
        await Current.DisposeAsync();
        Current = await LocalInfluxd.StartAsync(_dir.Path, _port);
    }

    public async ValueTask DisposeAsync()
    {
        await Current.DisposeAsync();
        _dir.Dispose();
    }
}
