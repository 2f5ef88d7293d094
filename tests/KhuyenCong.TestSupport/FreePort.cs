using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KhuyenCong.TestSupport;

/// <summary>Free TCP ports on loopback, for servers started by tests.</summary>
public static class FreePort
{
    private static readonly HashSet<int> Handed = [];

    /// <summary>
    /// A port that was free a moment ago and that this process has not handed out before. It is taken below the
    /// kernel's ephemeral range (net.ipv4.ip_local_port_range), where neither a server bound to port 0 nor an outgoing
    /// connection can land, so the port stays free until the test's server binds it (a port from the ephemeral range
    /// was once taken meanwhile by another test's server on port 0).
    /// </summary>
    public static int Next()
    {
        var (low, high) = Below(EphemeralLow());
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = high > low ? Random.Shared.Next(low, high) : 0;
            using var l = new TcpListener(IPAddress.Loopback, port);
            try
            {
                l.Start();
            }
            catch (SocketException) when (port != 0)
            {
                continue; // in use
            }
            port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            lock (Handed)
            {
                if (Handed.Add(port)) return port;
            }
        }
        throw new InvalidOperationException("no free loopback port found");
    }

    /// <summary>The ports to pick from: 10000 up to the ephemeral range (none when that range starts too low).</summary>
    private static (int Low, int High) Below(int ephemeralLow) => ephemeralLow > 11_000 ? (10_000, ephemeralLow) : (0, 0);

    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0; // unknown: fall back to ports the kernel picks
        }
    }

    /// <summary>Waits until something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task WaitListeningAsync(int port, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            catch (SocketException)
            {
                throw new TimeoutException($"nothing listens on 127.0.0.1:{port} after {timeout.TotalSeconds:0} s. {diagnostics?.Invoke()}");
            }
        }
    }
}
