using System.Net;
using System.Net.Sockets;

namespace KhuyenCong.TestSupport;

/// <summary>
/// A loopback port where nothing answers, held for as long as this object lives. The socket is bound but never
/// listens, so connections are refused at once and no other server — another test's, or one bound to port 0 —
/// can take the port meanwhile (a port that was merely free a moment ago can be).
/// </summary>
public sealed class ClosedPort : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public ClosedPort()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    /// <summary>http://127.0.0.1:port</summary>
    public string HttpUrl => $"http://127.0.0.1:{Port}";

    public void Dispose() => _socket.Dispose();
}
