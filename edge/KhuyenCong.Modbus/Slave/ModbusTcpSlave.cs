using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace KhuyenCong.Modbus;

/// <summary>
/// A Modbus TCP slave (server) over a <see cref="ModbusDataStore"/>: many concurrent masters, every unit id the store
/// defines. A malformed MBAP header closes that connection; it never affects the others.
/// </summary>
public sealed class ModbusTcpSlave(IPEndPoint endpoint, ModbusDataStore store) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private Socket? _listener;
    private Task? _accept;
    private long _requests;
    private int _disposed;

    /// <summary>Where it listens (the real port once started, when port 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; private set; } = endpoint ?? throw new ArgumentNullException(nameof(endpoint));

    /// <summary>The port it listens on (see <see cref="LocalEndPoint"/>).</summary>
    public int Port => LocalEndPoint.Port;

    public ModbusDataStore Store { get; } = store ?? throw new ArgumentNullException(nameof(store));

    /// <summary>Requests answered since start, over all connections.</summary>
    public long RequestsAnswered => Interlocked.Read(ref _requests);

    /// <summary>Binds and starts accepting masters. Throws <see cref="SocketException"/> when the endpoint is taken.</summary>
    public Task StartAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_listener is not null) throw new InvalidOperationException("the slave is already running");
        var l = new Socket(LocalEndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            l.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            l.Bind(LocalEndPoint);
            l.Listen(64);
        }
        catch
        {
            l.Dispose();
            throw;
        }
        _listener = l;
        LocalEndPoint = (IPEndPoint)l.LocalEndPoint!;
        _accept = AcceptLoopAsync(_stop.Token);
        return Task.CompletedTask;
    }

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener!.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            client.NoDelay = true;
            lock (_connections)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(ServeAsync(client, ct));
            }
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken ct)
    {
        var rx = new byte[260];
        var tx = new byte[260];
        using (client)
        {
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    if (!await ReadExactlyAsync(client, rx.AsMemory(0, 7), ct).ConfigureAwait(false)) return;
                    var proto = BinaryPrimitives.ReadUInt16BigEndian(rx.AsSpan(2));
                    var len = BinaryPrimitives.ReadUInt16BigEndian(rx.AsSpan(4));
                    if (proto != 0 || len is < 2 or > 254) return; // not Modbus: drop the connection
                    if (!await ReadExactlyAsync(client, rx.AsMemory(7, len - 1), ct).ConfigureAwait(false)) return;
                    var unit = rx[6];
                    var n = Store.Handle(unit, rx.AsSpan(7, len - 1), tx.AsSpan(7));
                    if (n == 0) continue; // unknown unit or broadcast: silence, as on a bus
                    rx.AsSpan(0, 4).CopyTo(tx);
                    BinaryPrimitives.WriteUInt16BigEndian(tx.AsSpan(4), (ushort)(n + 1));
                    tx[6] = unit;
                    await client.SendAsync(tx.AsMemory(0, 7 + n), SocketFlags.None, ct).ConfigureAwait(false);
                    Interlocked.Increment(ref _requests);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    private static async Task<bool> ReadExactlyAsync(Socket s, Memory<byte> buffer, CancellationToken ct)
    {
        var got = 0;
        while (got < buffer.Length)
        {
            var n = await s.ReceiveAsync(buffer[got..], SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) return false;
            got += n;
        }
        return true;
    }

    /// <summary>Stops listening and closes every connection. The slave cannot be started again.</summary>
    public async Task StopAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        Task[] pending;
        lock (_connections) pending = [.. _connections];
        if (_accept is not null) pending = [.. pending, _accept];
        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
