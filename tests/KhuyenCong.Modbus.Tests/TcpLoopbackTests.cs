using System.Net;
using KhuyenCong.Modbus;

namespace KhuyenCong.Modbus.Tests;

/// <summary>The project's own master against its own slave over loopback TCP (peers no one here wrote are in PeerTests).</summary>
public sealed class TcpLoopbackTests : IAsyncLifetime
{
    private readonly ModbusDataStore _store = new();
    private ModbusTcpSlave _slave = null!;
    private ModbusTcpMaster _master = null!;

    public async Task InitializeAsync()
    {
        _store.DefineRegisters(1, RegisterTable.HoldingRegister, 0, [.. Enumerable.Range(0, 100).Select(i => (ushort)i)]);
        _store.DefineRegisters(1, RegisterTable.InputRegister, 72, [0x4366, 0x8000]);
        _store.DefineBits(1, RegisterTable.Coil, 0, new bool[16]);
        _store.DefineBits(1, RegisterTable.DiscreteInput, 0, [true, false, true]);
        _slave = new ModbusTcpSlave(new IPEndPoint(IPAddress.Loopback, 0), _store);
        await _slave.StartAsync();
        _master = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = _slave.LocalEndPoint.Port, ResponseTimeout = TimeSpan.FromSeconds(2) });
    }

    public async Task DisposeAsync()
    {
        await _master.DisposeAsync();
        await _slave.DisposeAsync();
    }

    [Fact]
    public async Task Reads_and_writes_of_every_function_code_round_trip()
    {
        Assert.Equal([5, 6, 7], await _master.ReadHoldingRegistersAsync(1, 5, 3));
        Assert.Equal([0x4366, 0x8000], await _master.ReadInputRegistersAsync(1, 72, 2));
        Assert.Equal(new[] { true, false, true }, await _master.ReadDiscreteInputsAsync(1, 0, 3));
        await _master.WriteSingleRegisterAsync(1, 10, 4242);
        await _master.WriteMultipleRegistersAsync(1, 20, [1, 2, 3]);
        Assert.Equal([4242], await _master.ReadHoldingRegistersAsync(1, 10, 1));
        Assert.Equal([1, 2, 3], await _master.ReadHoldingRegistersAsync(1, 20, 3));
        await _master.WriteSingleCoilAsync(1, 3, true);
        await _master.WriteMultipleCoilsAsync(1, 8, [true, true, false, true]);
        Assert.Equal(new[] { false, false, false, true, false, false, false, false, true, true, false, true }, await _master.ReadCoilsAsync(1, 0, 12));
    }

    [Fact]
    public async Task An_unmapped_address_is_a_typed_exception_and_the_master_stays_usable()
    {
        var ex = await Assert.ThrowsAsync<ModbusExceptionResponseException>(() => _master.ReadHoldingRegistersAsync(1, 99, 2));
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, ex.Code);
        Assert.Equal(3, ex.FunctionCode);
        Assert.Equal([99], await _master.ReadHoldingRegistersAsync(1, 99, 1));
        Assert.Equal(1, _master.Stats().ExceptionResponses);
    }

    [Fact]
    public async Task A_unit_nobody_answers_times_out_and_the_next_request_still_works()
    {
        var fast = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = "127.0.0.1", Port = _slave.LocalEndPoint.Port, ResponseTimeout = TimeSpan.FromMilliseconds(200) });
        await using (fast)
        {
            await Assert.ThrowsAsync<ModbusTimeoutException>(() => fast.ReadHoldingRegistersAsync(9, 0, 1));
            Assert.Equal([0, 1], await fast.ReadHoldingRegistersAsync(1, 0, 2));
            Assert.Equal(1, fast.Stats().Timeouts);
        }
    }

    [Fact]
    public async Task Quantities_outside_the_spec_are_refused_before_sending()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _master.ReadHoldingRegistersAsync(1, 0, 126));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _master.ReadCoilsAsync(1, 0, 2001));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _master.WriteMultipleRegistersAsync(1, 0, new ushort[124]));
        Assert.Equal(0, _master.Stats().Requests);
    }

    [Fact]
    public async Task Many_concurrent_callers_never_get_each_others_answers()
    {
        var tasks = Enumerable.Range(0, 200).Select(async i =>
        {
            var address = (ushort)(i % 90);
            var regs = await _master.ReadHoldingRegistersAsync(1, address, 3);
            Assert.Equal([address, (ushort)(address + 1), (ushort)(address + 2)], regs);
        });
        await Task.WhenAll(tasks);
        Assert.Equal(200, _master.Stats().Requests);
    }

    [Fact]
    public async Task A_slave_that_went_away_is_a_link_error_and_the_master_reconnects_when_it_is_back()
    {
        Assert.Equal([0], await _master.ReadHoldingRegistersAsync(1, 0, 1));
        var port = _slave.LocalEndPoint.Port;
        await _slave.DisposeAsync();
        await Assert.ThrowsAnyAsync<IOException>(() => _master.ReadHoldingRegistersAsync(1, 0, 1));
        _slave = new ModbusTcpSlave(new IPEndPoint(IPAddress.Loopback, port), _store);
        await _slave.StartAsync();
        Assert.Equal([0], await _master.ReadHoldingRegistersAsync(1, 0, 1));
    }
}
