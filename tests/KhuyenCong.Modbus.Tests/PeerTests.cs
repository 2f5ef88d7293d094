using System.IO.Ports;
using System.Net;
using System.Text.RegularExpressions;
using KhuyenCong.Modbus;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Modbus.Tests;

/// <summary>
/// The project's Modbus against peers no one here wrote: pymodbus 3.0 (TCP, RTU on a socat serial pair, RTU over TCP)
/// as servers, and mbpoll (libmodbus) as a master reading the project's slaves.
/// </summary>
public sealed partial class PeerTests
{
    private static async Task ExerciseAsync(IModbusMaster m)
    {
        // Data layout of peers/pymodbus_server.py.
        Assert.Equal([10, 11, 12, 13], await m.ReadHoldingRegistersAsync(1, 10, 4));
        Assert.Equal(new ushort[] { 1000, 1001, 1002 }, await m.ReadInputRegistersAsync(1, 0, 3));
        Assert.Equal(new[] { true, false, false, true }, await m.ReadCoilsAsync(1, 0, 4));
        Assert.Equal(new[] { true, false, true }, await m.ReadDiscreteInputsAsync(1, 0, 3));
        Assert.Equal(125, (await m.ReadHoldingRegistersAsync(1, 0, 125)).Length);

        await m.WriteSingleRegisterAsync(1, 50, 0xBEEF);
        await m.WriteMultipleRegistersAsync(1, 60, [0x4366, 0x8000]);
        Assert.Equal([0xBEEF], await m.ReadHoldingRegistersAsync(1, 50, 1));
        var f = new FieldSpec("v", RegisterTable.HoldingRegister, 60, DataType.Float32);
        Assert.Equal(230.5, RegisterCodec.Decode(f, await m.ReadHoldingRegistersAsync(1, 60, 2)));
        await m.WriteSingleCoilAsync(1, 1, true);
        await m.WriteMultipleCoilsAsync(1, 10, [true, true, false]);
        Assert.Equal(new[] { true, true }, await m.ReadCoilsAsync(1, 0, 2));
        Assert.Equal(new[] { true, true, false }, await m.ReadCoilsAsync(1, 10, 3));

        var ex = await Assert.ThrowsAsync<ModbusExceptionResponseException>(() => m.ReadHoldingRegistersAsync(1, 199, 2));
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, ex.Code);
        Assert.Equal([199], await m.ReadHoldingRegistersAsync(1, 199, 1));
    }

    [Fact]
    public async Task Every_function_code_works_against_a_pymodbus_tcp_server()
    {
        var (server, port) = await Peers.PyModbusTcpAsync();
        await using (server)
        await using (var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = port, ResponseTimeout = TimeSpan.FromSeconds(2) }))
        {
            await ExerciseAsync(m);
        }
    }

    [Fact]
    public async Task Mbpoll_reads_the_simulators_meter_as_the_edge_agent_does()
    {
        using var dir = new TempDirectory("kc-sim-mbpoll");
        var busPort = FreePort.Next();
        var gwPath = dir.File("gw.yaml");
        File.WriteAllText(gwPath, $$"""
            site: s
            gateway: g
            profiles_dir: {{RepoPaths.Devices}}
            mqtt: { url: "mqtt://127.0.0.1:1" }
            buses: [ { id: lan, type: tcp, host: 127.0.0.1, port: {{busPort}} } ]
            devices: [ { id: m, bus: lan, profile: eastron-sdm630, unit: 4, kiln: k1 }, { id: c, bus: lan, profile: autonics-tk, unit: 5, kiln: k1 } ]
            """);
        var gw = KhuyenCong.Edge.Config.GatewayConfigLoader.Load(gwPath);
        await using var sim = new KhuyenCong.Simulator.SimulatorHost(gw, timeScale: 0);
        sim.Advance(TimeSpan.FromHours(2));
        await sim.StartAsync(default);
        var port = busPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // SDM630 import energy: input register 30073 (wire address 72), float32 ABCD.
        var energy = await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "4", "-0", "-r", "72", "-t", "3:float", "-B", "-c", "1", "-1", "127.0.0.1");
        // mbpoll prints six significant digits.
        var served = sim.Served("m", "energy_import_kwh");
        Assert.Equal(served, double.Parse(Values(energy)[0], System.Globalization.CultureInfo.InvariantCulture), tolerance: Math.Abs(served) * 1e-5);
        // Autonics TK process value: input register 301001 (wire 0x03E8), int16.
        var pv = await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "5", "-0", "-r", "1000", "-t", "3", "-c", "1", "-1", "127.0.0.1");
        Assert.Equal(sim.Served("c", "kiln_temp_c"), double.Parse(Values(pv)[0], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Every_function_code_works_against_a_pymodbus_rtu_server_on_a_serial_line()
    {
        using var dir = new TempDirectory("kc-rtu");
        var (socat, a, b) = await Peers.SerialPairAsync(dir);
        await using (socat)
        await using (var server = await Peers.PyModbusRtuAsync(a))
        await using (var m = new ModbusRtuMaster(new SerialByteTransport(new SerialPortSettings { PortName = b, Baud = 19200 }),
            new ModbusRtuMasterOptions { Baud = 19200, ResponseTimeout = TimeSpan.FromSeconds(1) }))
        {
            await ExerciseAsync(m);
            // A unit nobody answers times out, and the bus is healthy afterwards.
            await Assert.ThrowsAsync<ModbusTimeoutException>(() => m.ReadHoldingRegistersAsync(7, 0, 1));
            Assert.Equal([3], await m.ReadHoldingRegistersAsync(1, 3, 1));
        }
    }

    [Fact]
    public async Task Rtu_frames_pass_through_a_tcp_serial_server()
    {
        using var dir = new TempDirectory("kc-rtutcp");
        var port = FreePort.Next();
        var pty = dir.File("ttyS");
        // socat plays the RS-485-to-Ethernet box: a TCP socket on one side, a serial line on the other.
        await using var bridge = ExternalProcess.Start("/usr/bin/socat", ["-d", "-d", $"pty,raw,echo=0,link={pty}", $"TCP-LISTEN:{port},reuseaddr,bind=127.0.0.1"]);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!File.Exists(pty) && DateTime.UtcNow < deadline) await Task.Delay(20);
        await using var server = await Peers.PyModbusRtuAsync(pty);
        await using var m = new ModbusRtuMaster(new TcpByteTransport("127.0.0.1", port), new ModbusRtuMasterOptions { Baud = 19200, ResponseTimeout = TimeSpan.FromSeconds(1) });
        // socat starts listening just after it made the pty; the first connect may be refused (a probe connection
        // would end this single-connection bridge, so the master itself retries).
        ushort[]? first = null;
        for (var attempt = 0; first is null; attempt++)
        {
            try
            {
                first = await m.ReadHoldingRegistersAsync(1, 20, 2);
            }
            catch (IOException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }
        Assert.Equal([20, 21], first);
        await m.WriteSingleRegisterAsync(1, 21, 7);
        Assert.Equal([20, 7], await m.ReadHoldingRegistersAsync(1, 20, 2));
    }

    [Fact]
    public async Task Mbpoll_reads_the_projects_tcp_slave_correctly()
    {
        var store = new ModbusDataStore();
        store.DefineRegisters(3, RegisterTable.HoldingRegister, 0, [0x4366, 0x8000, 1234, 0xFFFE]);
        store.DefineRegisters(3, RegisterTable.InputRegister, 1000, [1187]);
        await using var slave = new ModbusTcpSlave(new IPEndPoint(IPAddress.Loopback, 0), store);
        await slave.StartAsync();
        var port = slave.LocalEndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var floats = await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "3", "-0", "-r", "0", "-t", "4:float", "-B", "-c", "1", "-1", "127.0.0.1");
        Assert.Equal("230.5", Values(floats)[0]);
        var ints = await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "3", "-0", "-r", "2", "-t", "4", "-c", "2", "-1", "127.0.0.1");
        Assert.Equal(["1234", "65534"], Values(ints));
        var input = await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "3", "-0", "-r", "1000", "-t", "3", "-c", "1", "-1", "127.0.0.1");
        Assert.Equal(["1187"], Values(input));
        // mbpoll writes too: -t 4 with values after the host.
        await Peers.MbPollAsync("-m", "tcp", "-p", port, "-a", "3", "-0", "-r", "2", "-t", "4", "127.0.0.1", "4321");
        Assert.Equal([4321], store.GetRegisters(3, RegisterTable.HoldingRegister, 2, 1));
    }

    [Fact]
    public async Task Mbpoll_reads_the_projects_rtu_slave_over_a_serial_line()
    {
        using var dir = new TempDirectory("kc-rtu-slave");
        var (socat, a, b) = await Peers.SerialPairAsync(dir);
        await using (socat)
        {
            var store = new ModbusDataStore();
            store.DefineRegisters(2, RegisterTable.HoldingRegister, 0, [11, 22, 33]);
            await using var slave = new ModbusRtuSlave(new SerialByteTransport(new SerialPortSettings { PortName = a, Baud = 9600, Parity = Parity.Even }), store);
            await slave.StartAsync();
            var output = await Peers.MbPollAsync("-m", "rtu", "-b", "9600", "-P", "even", "-a", "2", "-0", "-r", "0", "-t", "4", "-c", "3", "-1", b);
            Assert.Equal(["11", "22", "33"], Values(output));
        }
    }


    /// <summary>The values mbpoll printed, one per "[addr]: value" line.</summary>
    private static List<string> Values(string mbpollOutput) =>
        [.. MbPollValue().Matches(mbpollOutput).Select(m => m.Groups[1].Value)];

    [GeneratedRegex(@"^\[\d+\]:\s+(\S+)", RegexOptions.Multiline)]
    private static partial Regex MbPollValue();
}

/// <summary>One pymodbus TCP server for all the round-trip cases, stopped after them.</summary>
public sealed class PyModbusServerFixture : IAsyncLifetime
{
    private ExternalProcess? _process;

    public int Port { get; private set; }

    public async Task InitializeAsync() => (_process, Port) = await Peers.PyModbusTcpAsync();

    public async Task DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
    }
}

/// <summary>Values of every type and word order written with FC16 to pymodbus and read back with FC3.</summary>
public sealed class PyModbusRoundTripTests(PyModbusServerFixture server) : IClassFixture<PyModbusServerFixture>
{
    public static TheoryData<DataType, WordOrder, double> TypesAndOrders()
    {
        var data = new TheoryData<DataType, WordOrder, double>();
        foreach (var order in Enum.GetValues<WordOrder>())
        {
            data.Add(DataType.Int16, order, -1234);
            data.Add(DataType.UInt16, order, 54321);
            data.Add(DataType.Int32, order, -123456789);
            data.Add(DataType.UInt32, order, 3_000_000_000);
            data.Add(DataType.Int64, order, -1_234_567_890_123);
            data.Add(DataType.UInt64, order, 9_007_199_254_740_992);
            data.Add(DataType.Float32, order, 230.5);
            data.Add(DataType.Float64, order, 12345.678901234);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(TypesAndOrders))]
    public async Task Every_type_and_word_order_survives_a_round_trip_through_pymodbus(DataType type, WordOrder order, double value)
    {
        await using var m = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = server.Port, ResponseTimeout = TimeSpan.FromSeconds(2) });
        // Each case writes its own registers (by type and order), so the cases never disturb each other.
        var address = (ushort)(100 + 4 * ((int)type * 4 + (int)order) % 96);
        var f = new FieldSpec("x", RegisterTable.HoldingRegister, address, type, order);
        var regs = new ushort[f.Width];
        RegisterCodec.Encode(f, value, regs);
        await m.WriteMultipleRegistersAsync(1, address, regs);
        var back = await m.ReadHoldingRegistersAsync(1, address, (ushort)f.Width);
        Assert.Equal(regs, back);
        Assert.Equal(type == DataType.Float32 ? (double)(float)value : value, RegisterCodec.Decode(f, back));
    }

}
