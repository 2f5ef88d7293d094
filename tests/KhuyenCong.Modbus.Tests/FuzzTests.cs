using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using KhuyenCong.Modbus;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus.Tests;

/// <summary>
/// Random and mutated frames against every decoder (seeded, so a failure reproduces): nothing escapes but the typed
/// protocol errors, and nothing hangs.
/// </summary>
public sealed class FuzzTests
{
    private static readonly byte[][] ValidReplies =
    [
        [0x03, 0x04, 0x43, 0x66, 0x80, 0x00],
        [0x01, 0x01, 0x05],
        [0x06, 0x00, 0x0A, 0x12, 0x34],
        [0x10, 0x00, 0x14, 0x00, 0x03],
        [0x83, 0x02],
    ];

    private static byte[] Mutate(Random rng, byte[] frame)
    {
        var b = frame.ToList();
        switch (rng.Next(4))
        {
            case 0: b[rng.Next(b.Count)] ^= (byte)(1 << rng.Next(8)); break;
            case 1: if (b.Count > 1) b.RemoveAt(rng.Next(b.Count)); break;
            case 2: b.Insert(rng.Next(b.Count + 1), (byte)rng.Next(256)); break;
            default: b = [.. Enumerable.Range(0, rng.Next(0, 300)).Select(_ => (byte)rng.Next(256))]; break;
        }
        return [.. b];
    }

    [Fact]
    public void Reply_parsers_throw_only_protocol_errors_on_random_and_mutated_frames()
    {
        var rng = new Random(20261128);
        for (var i = 0; i < 20_000; i++)
        {
            var frame = Mutate(rng, ValidReplies[rng.Next(ValidReplies.Length)]);
            var fc = (byte)rng.Next(1, 17);
            var count = (ushort)rng.Next(1, 130);
            try
            {
                switch (rng.Next(4))
                {
                    case 0: Pdu.ParseRegisters(frame, 1, fc, count); break;
                    case 1: Pdu.ParseBits(frame, 1, fc, count); break;
                    case 2: Pdu.CheckWriteEcho(frame, 1, fc, 10, count); break;
                    default: Pdu.ExpectedResponseLength(frame); break;
                }
            }
            catch (ModbusException)
            {
                // the only failure allowed
            }
        }
    }

    [Fact]
    public void The_slave_answers_any_request_pdu_without_throwing_and_within_the_pdu_limit()
    {
        var store = new ModbusDataStore();
        store.DefineRegisters(1, RegisterTable.HoldingRegister, 0, new ushort[200]);
        store.DefineBits(1, RegisterTable.Coil, 0, new bool[200]);
        var rng = new Random(7);
        var reply = new byte[Pdu.MaxLength];
        for (var i = 0; i < 20_000; i++)
        {
            var req = new byte[rng.Next(0, 260)];
            rng.NextBytes(req);
            if (req.Length > 0 && rng.Next(2) == 0) req[0] = (byte)rng.Next(1, 17);
            var n = store.Handle(1, req, reply);
            Assert.InRange(n, 0, Pdu.MaxLength);
            if (n > 0 && req.Length > 0) Assert.True(reply[0] == req[0] || reply[0] == (req[0] | 0x80));
        }
    }

    [Fact]
    public async Task The_rtu_slave_keeps_answering_valid_frames_among_garbage()
    {
        var store = new ModbusDataStore();
        store.DefineRegisters(1, RegisterTable.HoldingRegister, 0, [7, 8, 9]);
        var (slaveSide, masterSide) = PipeTransport.Pair();
        await using var slave = new ModbusRtuSlave(slaveSide, store);
        await slave.StartAsync();
        await using var master = new ModbusRtuMaster(masterSide, new ModbusRtuMasterOptions { Baud = 115200, ResponseTimeout = TimeSpan.FromMilliseconds(200), ResyncPause = TimeSpan.FromMilliseconds(60) });
        var rng = new Random(99);
        var answered = 0;
        for (var i = 0; i < 100; i++)
        {
            var junk = new byte[rng.Next(0, 40)];
            rng.NextBytes(junk);
            await masterSide.InjectAsync(junk);
            try
            {
                var regs = await master.ReadHoldingRegistersAsync(1, 0, 3);
                Assert.Equal([7, 8, 9], regs);
                answered++;
            }
            catch (ModbusException)
            {
                // garbage in front of a request may swallow it; the next one must work again
            }
        }
        Assert.True(answered > 50, $"only {answered} of 100 requests were answered");
    }

    [Fact]
    public async Task The_tcp_master_turns_a_device_speaking_garbage_into_typed_errors()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var rng = new Random(5);
        using var cts = new CancellationTokenSource();
        var server = Task.Run(async () =>
        {
            while (!cts.IsCancellationRequested)
            {
                using var c = await listener.AcceptTcpClientAsync(cts.Token);
                var s = c.GetStream();
                var buf = new byte[300];
                try
                {
                    while (await s.ReadAsync(buf, cts.Token) > 0)
                    {
                        var junk = new byte[rng.Next(1, 300)];
                        rng.NextBytes(junk);
                        await s.WriteAsync(junk, cts.Token);
                    }
                }
                catch (IOException)
                {
                }
            }
        });
        await using var master = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = port, ResponseTimeout = TimeSpan.FromMilliseconds(300) });
        for (var i = 0; i < 100; i++)
        {
            var ex = await Record.ExceptionAsync(() => master.ReadHoldingRegistersAsync(1, 0, 2));
            Assert.True(ex is null or ModbusException or IOException, $"unexpected {ex?.GetType().Name}: {ex?.Message}");
        }
        await cts.CancelAsync();
        listener.Stop();
        await Record.ExceptionAsync(() => server);
    }
}

/// <summary>Two in-memory byte transports wired to each other, like a null-modem cable.</summary>
internal sealed class PipeTransport : IByteTransport
{
    private readonly Channel<byte[]> _in;
    private readonly Channel<byte[]> _out;
    private byte[] _pending = [];
    private int _offset;

    private PipeTransport(Channel<byte[]> @in, Channel<byte[]> @out)
    {
        _in = @in;
        _out = @out;
    }

    public static (PipeTransport A, PipeTransport B) Pair()
    {
        var ab = Channel.CreateUnbounded<byte[]>();
        var ba = Channel.CreateUnbounded<byte[]>();
        return (new PipeTransport(ba, ab), new PipeTransport(ab, ba));
    }

    public bool IsOpen { get; private set; }

    /// <summary>True when bytes from the other end wait to be read.</summary>
    public bool HasPendingInput => _offset < _pending.Length || _in.Reader.Count > 0;

    public Task OpenAsync(CancellationToken ct)
    {
        IsOpen = true;
        return Task.CompletedTask;
    }

    /// <summary>Puts bytes on the line towards the other end, as noise would.</summary>
    public ValueTask InjectAsync(byte[] bytes) => _out.Writer.WriteAsync(bytes);

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct) => _out.Writer.WriteAsync(data.ToArray(), ct);

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct)
    {
        while (_offset >= _pending.Length)
        {
            _pending = await _in.Reader.ReadAsync(ct);
            _offset = 0;
        }
        var n = Math.Min(buffer.Length, _pending.Length - _offset);
        _pending.AsMemory(_offset, n).CopyTo(buffer);
        _offset += n;
        return n;
    }

    public void DiscardInput()
    {
        _pending = [];
        _offset = 0;
        while (_in.Reader.TryRead(out _))
        {
        }
    }

    public void Close() => IsOpen = false;

    public string Describe() => "in-memory line";

    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }
}
