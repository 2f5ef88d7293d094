using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using KhuyenCong.Modbus;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus.Tests;

/// <summary>
/// Masters against devices that answer late, half, wrongly or with noise, and against many concurrent callers.
/// Timeouts here only bound failures; no assertion depends on how fast the machine is.
/// </summary>
public sealed class RobustnessTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static byte[] RtuFrame(params byte[] unitAndPdu)
    {
        var frame = new byte[unitAndPdu.Length + 2];
        unitAndPdu.CopyTo(frame, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(unitAndPdu.Length), Crc16.Compute(unitAndPdu));
        return frame;
    }

    /// <summary>An RTU device on the far end of a pipe that answers each 8-byte request as the script says.</summary>
    private static Task RunRtuDeviceAsync(PipeTransport line, Func<int, byte[], Task<byte[]?>> script, CancellationToken ct) => Task.Run(async () =>
    {
        var request = new byte[8];
        for (var n = 0; !ct.IsCancellationRequested; n++)
        {
            for (var got = 0; got < 8;) got += await line.ReadAsync(request.AsMemory(got), ct);
            var reply = await script(n, request);
            if (reply is not null) await line.WriteAsync(reply, ct);
        }
    }, ct);

    private static async Task Within<T>(Task<T> work) => Assert.Same(work, await Task.WhenAny(work, Task.Delay(Bound)));

    private static async Task Within(Task work) => Assert.Same(work, await Task.WhenAny(work, Task.Delay(Bound)));

    [Fact]
    public async Task A_late_rtu_reply_is_discarded_and_never_taken_for_the_next_answer()
    {
        var (device, master) = PipeTransport.Pair();
        using var cts = new CancellationTokenSource();
        var late = new TaskCompletionSource();
        var run = RunRtuDeviceAsync(device, async (n, req) =>
        {
            if (n == 0)
            {
                // Answer the first request only after the master gave up on it (it waits for the signal below).
                await late.Task;
                return RtuFrame(1, 3, 2, 0xDE, 0xAD);
            }
            return RtuFrame(1, 3, 2, 0, (byte)n);
        }, cts.Token);
        await using var m = new ModbusRtuMaster(master, new ModbusRtuMasterOptions { Baud = 115200, ResponseTimeout = TimeSpan.FromMilliseconds(100), ResyncPause = TimeSpan.FromMilliseconds(300) });
        await Assert.ThrowsAsync<ModbusTimeoutException>(() => m.ReadHoldingRegistersAsync(1, 0, 1));
        late.SetResult(); // the late reply arrives during the resync pause
        Assert.Equal([1], await m.ReadHoldingRegistersAsync(1, 0, 1));
        Assert.Equal([2], await m.ReadHoldingRegistersAsync(1, 0, 1));
        Assert.Equal((3L, 1L), (m.Stats().Requests, m.Stats().Timeouts));
        await cts.CancelAsync();
    }

    [Fact]
    public async Task A_cancelled_rtu_transaction_leaves_the_master_usable()
    {
        var (device, master) = PipeTransport.Pair();
        using var cts = new CancellationTokenSource();
        var reached = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var run = RunRtuDeviceAsync(device, async (n, req) =>
        {
            if (n == 0)
            {
                reached.SetResult();
                await release.Task;
                return RtuFrame(1, 3, 2, 0xDE, 0xAD);
            }
            return RtuFrame(1, 3, 2, 0, 7);
        }, cts.Token);
        await using var m = new ModbusRtuMaster(master, new ModbusRtuMasterOptions { Baud = 115200, ResponseTimeout = TimeSpan.FromSeconds(30), ResyncPause = TimeSpan.FromMilliseconds(200) });
        using var caller = new CancellationTokenSource();
        var first = m.ReadHoldingRegistersAsync(1, 0, 1, caller.Token);
        await reached.Task;
        await caller.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        release.SetResult();
        Assert.Equal([7], await m.ReadHoldingRegistersAsync(1, 0, 1));
        Assert.Equal(1, m.Stats().Cancelled);
        await cts.CancelAsync();
    }

    [Fact]
    public async Task An_rtu_reply_from_another_unit_or_with_a_bad_crc_is_a_classified_frame_error()
    {
        var (device, master) = PipeTransport.Pair();
        using var cts = new CancellationTokenSource();
        var run = RunRtuDeviceAsync(device, (n, req) => Task.FromResult<byte[]?>(n switch
        {
            0 => RtuFrame(2, 3, 2, 0, 1),
            1 => [1, 3, 2, 0, 1, 0x00, 0x00],
            2 => RtuFrame(1, 4, 2, 0, 1),
            _ => RtuFrame(1, 3, 2, 0, 9),
        }), cts.Token);
        await using var m = new ModbusRtuMaster(master, new ModbusRtuMasterOptions { Baud = 115200, ResyncPause = TimeSpan.Zero });
        Assert.Equal(ModbusFrameError.WrongUnit, (await Assert.ThrowsAsync<ModbusFrameException>(() => m.ReadHoldingRegistersAsync(1, 0, 1))).Error);
        Assert.Equal(ModbusFrameError.BadCrc, (await Assert.ThrowsAsync<ModbusFrameException>(() => m.ReadHoldingRegistersAsync(1, 0, 1))).Error);
        Assert.Equal(ModbusFrameError.WrongFunction, (await Assert.ThrowsAsync<ModbusFrameException>(() => m.ReadHoldingRegistersAsync(1, 0, 1))).Error);
        Assert.Equal([9], await m.ReadHoldingRegistersAsync(1, 0, 1));
        var s = m.Stats();
        Assert.Equal((4L, 3L, 1L), (s.Requests, s.FrameErrors, s.CrcErrors));
        await cts.CancelAsync();
    }

    [Fact]
    public async Task A_broadcast_write_expects_no_reply()
    {
        var (device, master) = PipeTransport.Pair();
        var store = new ModbusDataStore();
        store.DefineRegisters(1, RegisterTable.HoldingRegister, 0, [0]);
        store.DefineRegisters(2, RegisterTable.HoldingRegister, 0, [0]);
        await using var slave = new ModbusRtuSlave(device, store);
        await slave.StartAsync();
        await using var m = new ModbusRtuMaster(master, new ModbusRtuMasterOptions { Baud = 115200, BroadcastTurnaround = TimeSpan.FromMilliseconds(10) });
        await m.WriteSingleRegisterAsync(0, 0, 99);
        Assert.Equal([99], await m.ReadHoldingRegistersAsync(1, 0, 1));
        Assert.Equal([99], await m.ReadHoldingRegistersAsync(2, 0, 1));
        await Assert.ThrowsAsync<ArgumentException>(() => m.ReadHoldingRegistersAsync(0, 0, 1));
    }

    [Fact]
    public async Task The_rtu_master_turns_thousands_of_random_and_mutated_replies_into_typed_errors_only()
    {
        var (device, master) = PipeTransport.Pair();
        using var cts = new CancellationTokenSource();
        var rng = new Random(31337);
        byte[][] valid = [RtuFrame(1, 3, 4, 0x43, 0x66, 0x80, 0x00), RtuFrame(1, 0x83, 2), RtuFrame(1, 3, 4, 0, 0, 0, 0)];
        var run = RunRtuDeviceAsync(device, (n, req) =>
        {
            var b = valid[rng.Next(valid.Length)].ToList();
            switch (rng.Next(4))
            {
                case 0: b[rng.Next(b.Count)] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b.RemoveAt(rng.Next(b.Count)); break;
                case 2: b.Insert(rng.Next(b.Count + 1), (byte)rng.Next(256)); break;
                default: b = [.. Enumerable.Range(0, rng.Next(1, 300)).Select(_ => (byte)rng.Next(256))]; break;
            }
            // The line goes on after the reply (noise, the next device): a short frame never leaves the master waiting.
            if (n % 50 != 0) b.AddRange(Enumerable.Range(0, 260).Select(_ => (byte)rng.Next(256)));
            return Task.FromResult<byte[]?>([.. b]);
        }, cts.Token);
        await using var m = new ModbusRtuMaster(master, new ModbusRtuMasterOptions { Baud = 115200, ResponseTimeout = TimeSpan.FromMilliseconds(50), ResyncPause = TimeSpan.Zero, MinimumSilence = TimeSpan.Zero });
        var outcomes = new Dictionary<string, int>();
        await Within(Task.Run(async () =>
        {
            for (var i = 0; i < 2000; i++)
            {
                try
                {
                    var regs = await m.ReadHoldingRegistersAsync(1, 0, 2);
                    Assert.Equal(2, regs.Length);
                    outcomes["ok"] = outcomes.GetValueOrDefault("ok") + 1;
                }
                catch (ModbusException ex)
                {
                    outcomes[ex.GetType().Name] = outcomes.GetValueOrDefault(ex.GetType().Name) + 1;
                }
            }
        }));
        Assert.True(outcomes.GetValueOrDefault(nameof(ModbusFrameException)) > 1000, string.Join(", ", outcomes));
        await cts.CancelAsync();
    }

    [Fact]
    public async Task The_rtu_slave_answers_an_unknown_function_with_exception_01()
    {
        var (device, master) = PipeTransport.Pair();
        var store = new ModbusDataStore();
        store.DefineRegisters(1, RegisterTable.HoldingRegister, 0, [1]);
        await using var slave = new ModbusRtuSlave(device, store);
        await slave.StartAsync();
        await master.OpenAsync(CancellationToken.None);
        await master.WriteAsync(RtuFrame(1, 0x2B, 0x0E, 0x01, 0x00), CancellationToken.None); // read device identification
        var reply = new byte[5];
        using var bound = new CancellationTokenSource(Bound);
        for (var got = 0; got < 5;) got += await master.ReadAsync(reply.AsMemory(got), bound.Token);
        Assert.Equal(RtuFrame(1, 0xAB, 0x01), reply);
    }

    /// <summary>A TCP device written for one test: each request is answered by the script (null: no answer).</summary>
    private sealed class ScriptedTcpDevice : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;
        private int _connections;

        public ScriptedTcpDevice(Func<int, byte[], Socket, Task> script)
        {
            _listener.Start();
            _run = Task.Run(async () =>
            {
                var n = 0;
                while (!_stop.IsCancellationRequested)
                {
                    Socket s;
                    try
                    {
                        s = await _listener.AcceptSocketAsync(_stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    Interlocked.Increment(ref _connections);
                    _ = Task.Run(async () =>
                    {
                        using (s)
                        {
                            var head = new byte[7];
                            try
                            {
                                while (true)
                                {
                                    if (!await ReadExactly(s, head, _stop.Token)) return;
                                    var body = new byte[BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(4)) - 1];
                                    if (!await ReadExactly(s, body, _stop.Token)) return;
                                    await script(Interlocked.Increment(ref n) - 1, [.. head, .. body], s);
                                }
                            }
                            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
                            {
                            }
                        }
                    });
                }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Connections => Volatile.Read(ref _connections);

        private static async Task<bool> ReadExactly(Socket s, byte[] buffer, CancellationToken ct)
        {
            for (var got = 0; got < buffer.Length;)
            {
                var k = await s.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, ct);
                if (k == 0) return false;
                got += k;
            }
            return true;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _run;
            _stop.Dispose();
        }
    }

    /// <summary>An FC 3 reply to <paramref name="request"/> carrying <paramref name="registers"/>.</summary>
    private static byte[] TcpReply(byte[] request, params ushort[] registers)
    {
        var reply = new byte[9 + registers.Length * 2];
        request.AsSpan(0, 4).CopyTo(reply);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(4), (ushort)(3 + registers.Length * 2));
        reply[6] = request[6];
        reply[7] = request[7];
        reply[8] = (byte)(registers.Length * 2);
        for (var i = 0; i < registers.Length; i++) BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(9 + 2 * i), registers[i]);
        return reply;
    }

    private static ushort Address(byte[] request) => BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(8));

    [Fact]
    public async Task A_late_tcp_reply_is_skipped_by_its_transaction_id_without_reconnecting()
    {
        var release = new TaskCompletionSource();
        await using var device = new ScriptedTcpDevice(async (n, req, s) =>
        {
            if (n == 0)
            {
                // Hold the first answer until the master timed out, then send it right before the second one.
                _ = Task.Run(async () =>
                {
                    await release.Task;
                    await s.SendAsync(TcpReply(req, 0xDEAD), SocketFlags.None);
                });
                return;
            }
            await release.Task;
            await Task.Delay(20);
            await s.SendAsync(TcpReply(req, Address(req)), SocketFlags.None);
        });
        await using var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = device.Port, ResponseTimeout = TimeSpan.FromMilliseconds(150) });
        await Assert.ThrowsAsync<ModbusTimeoutException>(() => m.ReadHoldingRegistersAsync(1, 1, 1));
        var second = m.ReadHoldingRegistersAsync(1, 2, 1);
        release.SetResult();
        Assert.Equal([2], await second);
        Assert.Equal((1L, 1), (m.Stats().Reconnects, device.Connections));
    }

    [Fact]
    public async Task A_tcp_reply_cut_off_half_way_makes_the_master_reconnect_and_carry_on()
    {
        await using var device = new ScriptedTcpDevice(async (n, req, s) =>
        {
            var reply = TcpReply(req, Address(req));
            await s.SendAsync(n == 0 ? reply[..5] : reply, SocketFlags.None); // the first answer stops after 5 bytes
        });
        await using var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = device.Port, ResponseTimeout = TimeSpan.FromMilliseconds(200) });
        await Assert.ThrowsAsync<ModbusTimeoutException>(() => m.ReadHoldingRegistersAsync(1, 1, 1));
        Assert.Equal([2], await m.ReadHoldingRegistersAsync(1, 2, 1));
        Assert.Equal(2, m.Stats().Reconnects);
    }

    [Fact]
    public async Task A_cancelled_tcp_transaction_leaves_the_master_usable()
    {
        var first = new TaskCompletionSource();
        await using var device = new ScriptedTcpDevice(async (n, req, s) =>
        {
            if (n == 0)
            {
                first.SetResult();
                return; // never answered
            }
            await s.SendAsync(TcpReply(req, Address(req)), SocketFlags.None);
        });
        await using var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = device.Port, ResponseTimeout = TimeSpan.FromSeconds(30) });
        using var caller = new CancellationTokenSource();
        var pending = m.ReadHoldingRegistersAsync(1, 1, 1, caller.Token);
        await first.Task;
        await caller.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        Assert.Equal([5], await m.ReadHoldingRegistersAsync(1, 5, 1));
        Assert.Equal((1L, 0L), (m.Stats().Cancelled, m.Stats().Timeouts));
    }

    [Fact]
    public async Task The_tcp_master_turns_mutated_replies_into_typed_errors_only()
    {
        var rng = new Random(2718);
        await using var device = new ScriptedTcpDevice(async (n, req, s) =>
        {
            byte[] reply;
            lock (rng)
            {
                var b = TcpReply(req, 1, 2).ToList();
                switch (rng.Next(5))
                {
                    case 0: b[rng.Next(b.Count)] ^= (byte)(1 << rng.Next(8)); break;
                    case 1: b.RemoveAt(rng.Next(b.Count)); break;
                    case 2: b.Insert(rng.Next(b.Count + 1), (byte)rng.Next(256)); break;
                    case 3: break;
                    default: b = [.. Enumerable.Range(0, rng.Next(1, 300)).Select(_ => (byte)rng.Next(256))]; break;
                }
                // More bytes follow, as on a busy gateway: a short frame never leaves the master waiting.
                if (n % 20 != 0) b.AddRange(Enumerable.Range(0, 270).Select(_ => (byte)rng.Next(256)));
                reply = [.. b];
            }
            await s.SendAsync(reply, SocketFlags.None);
        });
        await using var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = device.Port, ResponseTimeout = TimeSpan.FromMilliseconds(100) });
        var ok = 0;
        await Within(Task.Run(async () =>
        {
            for (var i = 0; i < 1000; i++)
            {
                try
                {
                    var regs = await m.ReadHoldingRegistersAsync(1, 0, 2);
                    Assert.Equal(2, regs.Length);
                    ok++;
                }
                catch (Exception ex) when (ex is ModbusException or IOException)
                {
                }
            }
        }));
        Assert.True(ok > 100, $"only {ok} intact replies were accepted");
    }

    [Fact]
    public async Task Many_concurrent_callers_on_one_tcp_master_never_overlap_on_the_wire()
    {
        var overlaps = 0;
        var tids = new List<ushort>();
        await using var device = new ScriptedTcpDevice(async (n, req, s) =>
        {
            await Task.Yield();
            // Had the master sent the next request before this answer, its bytes would be waiting now.
            if (s.Available > 0) Interlocked.Increment(ref overlaps);
            lock (tids) tids.Add(BinaryPrimitives.ReadUInt16BigEndian(req));
            await s.SendAsync(TcpReply(req, Address(req), (ushort)(Address(req) + 1)), SocketFlags.None);
        });
        await using var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = device.Port, ResponseTimeout = TimeSpan.FromSeconds(10) });
        var callers = Enumerable.Range(0, 32).Select(c => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                var address = (ushort)(c * 100 + i);
                Assert.Equal([address, (ushort)(address + 1)], await m.ReadHoldingRegistersAsync(1, address, 2));
            }
        }));
        await Within(Task.WhenAll(callers));
        Assert.Equal(0, overlaps);
        Assert.Equal(Enumerable.Range(1, 800).Select(i => (ushort)i), tids);
    }

    [Fact]
    public async Task Many_concurrent_callers_on_one_rtu_master_never_overlap_on_the_line()
    {
        var (device, master) = PipeTransport.Pair();
        var store = new ModbusDataStore();
        store.DefineRegisters(1, RegisterTable.HoldingRegister, 0, [.. Enumerable.Range(0, 200).Select(i => (ushort)i)]);
        var overlaps = 0;
        var spy = new SpyTransport(device, () =>
        {
            if (device.HasPendingInput) Interlocked.Increment(ref overlaps);
        });
        await using var slave = new ModbusRtuSlave(spy, store);
        await slave.StartAsync();
        await using var m = new ModbusRtuMaster(master, new ModbusRtuMasterOptions { Baud = 115200, MinimumSilence = TimeSpan.Zero });
        var callers = Enumerable.Range(0, 16).Select(c => Task.Run(async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                var address = (ushort)((c * 7 + i) % 190);
                Assert.Equal([address, (ushort)(address + 1), (ushort)(address + 2)], await m.ReadHoldingRegistersAsync(1, address, 3));
            }
        }));
        await Within(Task.WhenAll(callers));
        Assert.Equal(0, overlaps);
        Assert.Equal(320, slave.FramesAnswered);
    }

    /// <summary>Calls <paramref name="beforeWrite"/> each time the slave is about to answer.</summary>
    private sealed class SpyTransport(PipeTransport inner, Action beforeWrite) : IByteTransport
    {
        public bool IsOpen => inner.IsOpen;
        public Task OpenAsync(CancellationToken ct) => inner.OpenAsync(ct);

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
        {
            beforeWrite();
            return inner.WriteAsync(data, ct);
        }

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct) => inner.ReadAsync(buffer, ct);
        public void DiscardInput() => inner.DiscardInput();
        public void Close() => inner.Close();
        public string Describe() => inner.Describe();
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    [Fact]
    public async Task The_tcp_slave_drops_a_connection_with_a_malformed_header_and_keeps_serving_the_others()
    {
        var store = new ModbusDataStore();
        store.DefineRegisters(1, RegisterTable.HoldingRegister, 0, [42]);
        await using var slave = new ModbusTcpSlave(new IPEndPoint(IPAddress.Loopback, 0), store);
        await slave.StartAsync();
        await using var good = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = slave.Port });
        Assert.Equal([42], await good.ReadHoldingRegistersAsync(1, 0, 1));

        using var bad = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await bad.ConnectAsync(IPAddress.Loopback, slave.Port);
        await bad.SendAsync(new byte[] { 0, 1, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1 }, SocketFlags.None); // protocol id 7
        using var bound = new CancellationTokenSource(Bound);
        try
        {
            Assert.Equal(0, await bad.ReceiveAsync(new byte[16], SocketFlags.None, bound.Token)); // closed, no answer
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // closed with our unread bytes still queued: the kernel resets instead
        }

        Assert.Equal([42], await good.ReadHoldingRegistersAsync(1, 0, 1));
        Assert.Equal(1, good.Stats().Reconnects);
    }
}
