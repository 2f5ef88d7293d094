// MQTTnet's connection as the ingestor opened it until the seventh session, for bench --receive's comparison.
using System.Net;
using System.Net.Sockets;
using KhuyenCong.Cloud.Ingest;
using MQTTnet.Channel;

/// <summary>
/// MQTTnet's connection as the ingestor opened it before it had a receiver of its own (MQTTnet layered TLS on top when
/// configured), read through a buffer. MQTTnet reads each message in several small pieces (2 bytes of header, its length byte by byte, then the body
/// in 4 KB reads): unbuffered, each piece is a system call. Through the buffer a backlog of 13 KB telemetry messages is
/// read in few large reads. Writes are gathered: the acknowledgements of a written batch (hundreds of 4-byte packets)
/// leave in one send, not one each (see <see cref="ReadBufferedStream"/>).
/// </summary>
internal sealed class BrokerConnection(int socketBufferBytes, int readBufferBytes) : IMqttClientStreamProvider
{
    public async Task<Stream> ConnectAsync(EndPoint brokerEndPoint, CancellationToken cancellationToken)
    {
        // As MQTTnet's own TCP channel does it: a dual-mode socket, no Nagle delay, reset on close.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp)
        {
            ReceiveBufferSize = socketBufferBytes,
            SendBufferSize = socketBufferBytes,
            NoDelay = true,
            LingerState = new LingerOption(true, 0),
        };
        try
        {
            await socket.ConnectAsync(brokerEndPoint, cancellationToken).ConfigureAwait(false);
            return new ReadBufferedStream(new NetworkStream(socket, ownsSocket: true), readBufferBytes, socket.LocalEndPoint, socket.RemoteEndPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

