using System.Globalization;
using System.IO.Ports;
using System.Net;
using System.Text.Json;
using KhuyenCong.Modbus;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Modbus.Tests;

/// <summary>
/// Values encoded by peers no one here wrote, read back through the planner and codec: pymodbus's BinaryPayloadBuilder
/// (unit 2 of peers/pymodbus_server.py) over TCP and RTU, and the project's slaves read and written by mbpoll.
/// </summary>
public sealed partial class PeerTests
{
    private sealed record ManifestEntry(string Name, string Type, string Order, ushort Address, int Length, JsonElement Value);

    /// <summary>
    /// Reads unit 2's typed map from holding and input registers, planned with <paramref name="maxRegisters"/>, and checks
    /// every field against the value pymodbus encoded.
    /// </summary>
    private static async Task ReadEveryTypeAndOrderAsync(IModbusMaster m, string manifestPath, int maxRegisters)
    {
        var entries = JsonSerializer.Deserialize<List<ManifestEntry>>(await File.ReadAllTextAsync(manifestPath), new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        Assert.Equal(33, entries.Count); // 8 numeric types × 4 orders + one string
        var expected = entries.ToDictionary(e => e.Name);
        foreach (var table in new[] { RegisterTable.HoldingRegister, RegisterTable.InputRegister })
        {
            var fields = entries.Select(e => new FieldSpec(e.Name, table, e.Address, Enum.Parse<DataType>(e.Type), Enum.Parse<WordOrder>(e.Order), Length: e.Length)).ToList();
            var plan = RequestPlanner.Plan(fields, new PlannerOptions { MaxRegisters = maxRegisters });
            var checkedFields = 0;
            foreach (var r in plan)
            {
                var regs = table == RegisterTable.HoldingRegister
                    ? await m.ReadHoldingRegistersAsync(2, r.Address, r.Count)
                    : await m.ReadInputRegistersAsync(2, r.Address, r.Count);
                foreach (var (f, v) in r.Decode(regs))
                {
                    var want = expected[f.Name].Value.GetDouble();
                    Assert.True(want == v, $"{table} {f.Name}: pymodbus encoded {want.ToString("R", CultureInfo.InvariantCulture)}, decoded {v.ToString("R", CultureInfo.InvariantCulture)}");
                    checkedFields++;
                }
                foreach (var (f, text) in r.DecodeStrings(regs))
                {
                    Assert.Equal(expected[f.Name].Value.GetString(), text);
                    checkedFields++;
                }
            }
            Assert.Equal(entries.Count, checkedFields);
        }
    }

    /// <summary>The first request after a peer starts may be lost while it opens its port: retry until it answers.</summary>
    private static async Task WaitUntilAnsweringAsync(IModbusMaster m)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await m.ReadHoldingRegistersAsync(1, 0, 1);
                return;
            }
            catch (Exception ex) when (ex is ModbusTimeoutException or ModbusFrameException or IOException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task Every_type_in_every_word_order_encoded_by_pymodbus_decodes_over_tcp()
    {
        using var dir = new TempDirectory("kc-pym-typed");
        var manifest = dir.File("manifest.json");
        var (server, port) = await Peers.PyModbusTcpAsync(manifest);
        await using (server)
        await using (var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = port, ResponseTimeout = TimeSpan.FromSeconds(2) }))
        {
            await ReadEveryTypeAndOrderAsync(m, manifest, 125);
            await ReadEveryTypeAndOrderAsync(m, manifest, 9); // many small requests, split between fields
        }
    }

    [Fact]
    public async Task Every_type_in_every_word_order_encoded_by_pymodbus_decodes_over_a_serial_line()
    {
        using var dir = new TempDirectory("kc-pym-typed-rtu");
        var manifest = dir.File("manifest.json");
        var (socat, a, b) = await Peers.SerialPairAsync(dir);
        await using (socat)
        await using (var server = await Peers.PyModbusRtuAsync(a, manifest))
        await using (var m = new ModbusRtuMaster(new SerialPortSettings { PortName = b, Baud = 19200 }))
        {
            await WaitUntilAnsweringAsync(m);
            await ReadEveryTypeAndOrderAsync(m, manifest, 125);
        }
    }

    [Fact]
    public async Task A_unit_the_pymodbus_tcp_server_does_not_have_times_out_and_the_connection_stays_usable()
    {
        var (server, port) = await Peers.PyModbusTcpAsync();
        await using (server)
        await using (var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = port, ResponseTimeout = TimeSpan.FromMilliseconds(500) }))
        {
            Assert.Equal([5], await m.ReadHoldingRegistersAsync(1, 5, 1));
            var ex = await Assert.ThrowsAsync<ModbusTimeoutException>(() => m.ReadHoldingRegistersAsync(7, 0, 1));
            Assert.Contains("unit 7 function 3 address 0", ex.Message, StringComparison.Ordinal);
            Assert.Equal([6], await m.ReadHoldingRegistersAsync(1, 6, 1));
            var stats = m.Stats();
            Assert.Equal((3L, 1L, 1L), (stats.Requests, stats.Timeouts, stats.Reconnects));
        }
    }

    [Fact]
    public async Task Exception_responses_from_pymodbus_name_unit_function_and_address()
    {
        var (server, port) = await Peers.PyModbusTcpAsync();
        await using (server)
        await using (var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = port, ResponseTimeout = TimeSpan.FromSeconds(2) }))
        {
            var ex = await Assert.ThrowsAsync<ModbusExceptionResponseException>(() => m.ReadInputRegistersAsync(1, 300, 1));
            Assert.Equal((ModbusExceptionCode.IllegalDataAddress, (byte)1, (byte)4, (ushort?)300), (ex.Code, ex.Unit, ex.FunctionCode, ex.Address));
            Assert.Contains("unit 1 answered function 4 at address 300", ex.Message, StringComparison.Ordinal);
            var coils = await Assert.ThrowsAsync<ModbusExceptionResponseException>(() => m.WriteMultipleCoilsAsync(1, 99, [true, true]));
            Assert.Equal(ModbusExceptionCode.IllegalDataAddress, coils.Code);
            Assert.Equal(2, m.Stats().ExceptionResponses);
        }
    }

    /// <summary>Wraps the master's serial transport so the test can put noise on the line between transactions.</summary>
    private sealed class NoisyTransport(IByteTransport inner) : IByteTransport
    {
        public bool IsOpen => inner.IsOpen;
        public Task OpenAsync(CancellationToken ct) => inner.OpenAsync(ct);
        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct) => inner.WriteAsync(data, ct);
        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct) => inner.ReadAsync(buffer, ct);
        public void DiscardInput() => inner.DiscardInput();
        public void Close() => inner.Close();
        public string Describe() => inner.Describe();
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    [Fact]
    public async Task After_line_noise_the_rtu_master_recovers_with_a_retry()
    {
        using var dir = new TempDirectory("kc-rtu-noise");
        var (socat, a, b) = await Peers.SerialPairAsync(dir);
        await using (socat)
        await using (var server = await Peers.PyModbusRtuAsync(a))
        {
            var line = new NoisyTransport(new SerialByteTransport(new SerialPortSettings { PortName = b, Baud = 19200 }));
            await using var m = new ModbusRtuMaster(line, new ModbusRtuMasterOptions { Baud = 19200, ResponseTimeout = TimeSpan.FromMilliseconds(500) });
            await WaitUntilAnsweringAsync(m);
            var rng = new Random(12);
            for (var round = 0; round < 5; round++)
            {
                var junk = new byte[rng.Next(3, 20)];
                rng.NextBytes(junk);
                await line.WriteAsync(junk, CancellationToken.None);
                // pymodbus 3.0.0's RTU server drops the first valid frame after garbage (libs.md §5), so a request right
                // after noise may time out; a real poller retries, and so does this test, at most three times.
                ushort[]? regs = null;
                for (var attempt = 0; regs is null; attempt++)
                {
                    try
                    {
                        regs = await m.ReadHoldingRegistersAsync(1, (ushort)(10 + round), 2);
                    }
                    catch (Exception ex) when (ex is ModbusTimeoutException or ModbusFrameException && attempt < 3)
                    {
                    }
                }
                Assert.Equal([(ushort)(10 + round), (ushort)(11 + round)], regs);
            }
        }
    }

    [Fact]
    public async Task Mbpoll_reads_word_swapped_floats_ints_and_coils_from_the_projects_tcp_slave()
    {
        var store = new ModbusDataStore();
        // mbpoll's default word order for 32-bit values is little-endian words (CDAB); -B asks for ABCD.
        store.DefineRegisters(1, RegisterTable.HoldingRegister, 10, [0x8000, 0x4366, 0xF8A4, 0x32EB]);
        store.DefineBits(1, RegisterTable.Coil, 0, [true, false, true, true]);
        store.DefineBits(1, RegisterTable.DiscreteInput, 0, [false, true]);
        await using var slave = new ModbusTcpSlave(new IPEndPoint(IPAddress.Loopback, 0), store);
        await slave.StartAsync();
        var port = slave.Port.ToString(CultureInfo.InvariantCulture);

        Assert.Equal(["230.5"], Values(await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "1", "-0", "-r", "10", "-t", "4:float", "-c", "1", "-1", "127.0.0.1")));
        Assert.Equal(["-123456789"], Values(await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "1", "-0", "-r", "12", "-t", "4:int", "-B", "-c", "1", "-1", "127.0.0.1")));
        Assert.Equal(["1", "0", "1", "1"], Values(await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "1", "-0", "-r", "0", "-t", "0", "-c", "4", "-1", "127.0.0.1")));
        Assert.Equal(["0", "1"], Values(await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "1", "-0", "-r", "0", "-t", "1", "-c", "2", "-1", "127.0.0.1")));
        // mbpoll writes coils (FC 15 for several values) and registers (FC 16).
        await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "1", "-0", "-r", "0", "-t", "0", "127.0.0.1", "0", "1", "0", "0");
        Assert.Equal([false, true, false, false], store.GetBits(1, RegisterTable.Coil, 0, 4));
        await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "1", "-0", "-r", "10", "-t", "4", "127.0.0.1", "1", "2");
        Assert.Equal([1, 2], store.GetRegisters(1, RegisterTable.HoldingRegister, 10, 2));
    }

    [Fact]
    public async Task Mbpoll_writes_to_the_projects_rtu_slave_and_reads_the_result()
    {
        using var dir = new TempDirectory("kc-rtu-slave-w");
        var (socat, a, b) = await Peers.SerialPairAsync(dir);
        await using (socat)
        {
            var store = new ModbusDataStore();
            store.DefineRegisters(5, RegisterTable.HoldingRegister, 100, [0, 0]);
            store.DefineRegisters(5, RegisterTable.InputRegister, 0, [0x4366, 0x8000]);
            var writes = 0;
            store.Written += (_, _, _, _) => Interlocked.Increment(ref writes);
            await using var slave = new ModbusRtuSlave(new SerialByteTransport(new SerialPortSettings { PortName = a, Baud = 19200, StopBits = StopBits.Two }), store);
            await slave.StartAsync();
            string[] line = ["-m", "rtu", "-b", "19200", "-P", "none", "-s", "2", "-a", "5", "-0"];
            await Peers.MbPollAsync([.. line, "-r", "100", "-t", "4", b, "1187", "65535"]);
            Assert.Equal([1187, 65535], store.GetRegisters(5, RegisterTable.HoldingRegister, 100, 2));
            Assert.Equal(["1187", "65535"], Values(await Peers.MbPollAsync([.. line, "-r", "100", "-t", "4", "-c", "2", "-1", b])));
            Assert.Equal(["230.5"], Values(await Peers.MbPollAsync([.. line, "-r", "0", "-t", "3:float", "-B", "-c", "1", "-1", b])));
            Assert.Equal(1, writes);
        }
    }
}
