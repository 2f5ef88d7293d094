using System.IO.Ports;
using System.Net.Sockets;

namespace KhuyenCong.Modbus;

/// <summary>A byte pipe that carries RTU frames: a serial port, or a TCP socket to a serial server.</summary>
public interface IByteTransport : IAsyncDisposable
{
    bool IsOpen { get; }
    Task OpenAsync(CancellationToken ct);
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct);
    /// <summary>Reads at least one byte; cancel <paramref name="ct"/> to time out.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct);
    /// <summary>Throws away whatever is waiting to be read (stale bytes, noise).</summary>
    void DiscardInput();
    void Close();
    string Describe();
}

/// <summary>Serial line settings.</summary>
public sealed record SerialPortSettings
{
    /// <summary>Device path, e.g. /dev/ttyUSB0 or a /dev/serial/by-id/… link.</summary>
    public required string PortName { get; init; }
    public int Baud { get; init; } = 9600;
    public Parity Parity { get; init; } = Parity.None;
    public int DataBits { get; init; } = 8;
    public StopBits StopBits { get; init; } = StopBits.One;
}

/// <summary>
/// A serial port through System.IO.Ports. RTS/DTR are left alone (setting them throws on a pty, and RS-485 adapters with
/// automatic direction control do not need them). Reads use a cancellation token: BaseStream ignores ReadTimeout.
/// </summary>
public sealed class SerialByteTransport(SerialPortSettings settings) : IByteTransport
{
    private SerialPort? _port;

    public SerialPortSettings Settings { get; } = settings ?? throw new ArgumentNullException(nameof(settings));

    public bool IsOpen => _port?.IsOpen == true;

    public Task OpenAsync(CancellationToken ct)
    {
        var port = new SerialPort(Settings.PortName, Settings.Baud, Settings.Parity, Settings.DataBits, Settings.StopBits)
        {
            Handshake = Handshake.None,
            ReadTimeout = SerialPort.InfiniteTimeout,
            WriteTimeout = 2000,
        };
        try
        {
            port.Open();
        }
        catch
        {
            port.Dispose();
            throw;
        }
        _port = port;
        return Task.CompletedTask;
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var s = Port.BaseStream;
        await s.WriteAsync(data, ct).ConfigureAwait(false);
        await s.FlushAsync(ct).ConfigureAwait(false);
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct) => Port.BaseStream.ReadAsync(buffer, ct);

    public void DiscardInput()
    {
        if (_port?.IsOpen == true) _port.DiscardInBuffer();
    }

    public void Close()
    {
        var p = Interlocked.Exchange(ref _port, null);
        p?.Dispose();
    }

    public string Describe() => $"{Settings.PortName} {Settings.Baud} {Settings.DataBits}{Settings.Parity.ToString()[0]}{(Settings.StopBits == StopBits.Two ? 2 : 1)}";

    private SerialPort Port => _port ?? throw new IOException($"{Settings.PortName} is not open");

    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A TCP socket to an RS-485-to-Ethernet serial server that passes RTU frames through unchanged.</summary>
public sealed class TcpByteTransport(string host, int port) : IByteTransport
{
    private Socket? _socket;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    public bool IsOpen => _socket?.Connected == true;

    public async Task OpenAsync(CancellationToken ct)
    {
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(ConnectTimeout);
        try
        {
            await s.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            s.Dispose();
            throw new IOException($"connect to {host}:{port} timed out");
        }
        catch
        {
            s.Dispose();
            throw;
        }
        _socket = s;
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct) =>
        await Sock.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct)
    {
        var n = await Sock.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
        if (n == 0) throw new IOException($"{host}:{port} closed the connection");
        return n;
    }

    public void DiscardInput()
    {
        var s = _socket;
        if (s is null) return;
        Span<byte> junk = stackalloc byte[256];
        while (s.Available > 0) s.Receive(junk);
    }

    public void Close()
    {
        var s = Interlocked.Exchange(ref _socket, null);
        s?.Dispose();
    }

    public string Describe() => $"{host}:{port} (RTU over TCP)";

    private Socket Sock => _socket ?? throw new IOException($"{host}:{port} is not connected");

    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }
}
