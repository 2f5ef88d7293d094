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
