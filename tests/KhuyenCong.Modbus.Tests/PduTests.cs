using KhuyenCong.Modbus;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus.Tests;

/// <summary>Request and reply PDUs against the examples of Modbus Application Protocol V1.1b3 §6.</summary>
public sealed class PduTests
{
    private static byte[] Build(Func<byte[], int> write)
    {
        var buffer = new byte[Pdu.MaxLength];
        return buffer[..write(buffer)];
    }

    [Fact]
    public void Read_requests_match_the_spec_examples()
    {
        Assert.Equal([0x01, 0x00, 0x13, 0x00, 0x13], Build(b => Pdu.WriteReadRequest(b, FunctionCodes.ReadCoils, 0x13, 19)));
        Assert.Equal([0x02, 0x00, 0xC4, 0x00, 0x16], Build(b => Pdu.WriteReadRequest(b, FunctionCodes.ReadDiscreteInputs, 0xC4, 22)));
        Assert.Equal([0x03, 0x00, 0x6B, 0x00, 0x03], Build(b => Pdu.WriteReadRequest(b, FunctionCodes.ReadHoldingRegisters, 0x6B, 3)));
        Assert.Equal([0x04, 0x00, 0x08, 0x00, 0x01], Build(b => Pdu.WriteReadRequest(b, FunctionCodes.ReadInputRegisters, 8, 1)));
    }

    [Fact]
    public void Write_requests_match_the_spec_examples()
    {
        Assert.Equal([0x05, 0x00, 0xAC, 0xFF, 0x00], Build(b => Pdu.WriteSingle(b, FunctionCodes.WriteSingleCoil, 0xAC, 0xFF00)));
        Assert.Equal([0x06, 0x00, 0x01, 0x00, 0x03], Build(b => Pdu.WriteSingle(b, FunctionCodes.WriteSingleRegister, 1, 3)));
        bool[] coils = [true, false, true, true, false, false, true, true, true, false];
        Assert.Equal([0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01], Build(b => Pdu.WriteMultipleCoils(b, 0x13, coils)));
        Assert.Equal([0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02], Build(b => Pdu.WriteMultipleRegisters(b, 1, [0x000A, 0x0102])));
    }

    [Fact]
    public void Replies_of_the_spec_examples_decode()
    {
        // 19 coils: CD 6B 05.
        var bits = Pdu.ParseBits([0x01, 0x03, 0xCD, 0x6B, 0x05], 1, FunctionCodes.ReadCoils, 19);
        Assert.Equal("1011001111010110101", string.Concat(bits.Select(b => b ? '1' : '0')));
        Assert.Equal([555, 0, 100], Pdu.ParseRegisters([0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64], 1, FunctionCodes.ReadHoldingRegisters, 3));
        Pdu.CheckWriteEcho([0x10, 0x00, 0x01, 0x00, 0x02], 1, FunctionCodes.WriteMultipleRegisters, 1, 2);
    }

    [Theory]
    [InlineData(FunctionCodes.ReadCoils, 0)]
    [InlineData(FunctionCodes.ReadCoils, 2001)]
    [InlineData(FunctionCodes.ReadDiscreteInputs, 2001)]
    [InlineData(FunctionCodes.ReadHoldingRegisters, 0)]
    [InlineData(FunctionCodes.ReadHoldingRegisters, 126)]
    [InlineData(FunctionCodes.ReadInputRegisters, 126)]
    public void Read_quantities_outside_the_spec_are_refused(byte fc, int count)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Pdu.WriteReadRequest(new byte[8], fc, 0, (ushort)count));
    }

    [Fact]
    public void Write_quantities_outside_the_spec_and_reads_past_65535_are_refused()
    {
        var b = new byte[Pdu.MaxLength];
        Assert.Throws<ArgumentOutOfRangeException>(() => Pdu.WriteMultipleRegisters(b, 0, new ushort[124]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pdu.WriteMultipleRegisters(b, 0, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pdu.WriteMultipleCoils(b, 0, new bool[1969]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pdu.WriteSingle(b, FunctionCodes.WriteSingleCoil, 0, 0x1234));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pdu.WriteReadRequest(b, FunctionCodes.ReadHoldingRegisters, 65535, 2));
        Assert.Equal(5, Pdu.WriteReadRequest(b, FunctionCodes.ReadHoldingRegisters, 65535, 1));
        Assert.Equal(6 + 246, Pdu.WriteMultipleRegisters(b, 0, new ushort[123]));
        Assert.Equal(6 + 246, Pdu.WriteMultipleCoils(b, 0, new bool[1968]));
    }

    [Theory]
    [InlineData(new byte[] { 0x83, 0x02 }, ModbusExceptionCode.IllegalDataAddress)]
    [InlineData(new byte[] { 0x83, 0x0B }, ModbusExceptionCode.GatewayTargetFailedToRespond)]
    public void An_exception_reply_is_a_typed_error(byte[] reply, ModbusExceptionCode code)
    {
        var ex = Assert.Throws<ModbusExceptionResponseException>(() => Pdu.ParseRegisters(reply, 4, FunctionCodes.ReadHoldingRegisters, 2));
        Assert.Equal((code, (byte)4, (byte)3), (ex.Code, ex.Unit, ex.FunctionCode));
    }

    [Theory]
    [InlineData(new byte[] { 0x04, 0x04, 0, 1, 0, 2 }, ModbusFrameError.WrongFunction)]
    [InlineData(new byte[] { 0x03, 0x02, 0, 1 }, ModbusFrameError.ByteCountMismatch)]
    [InlineData(new byte[] { 0x03, 0x04, 0, 1, 0 }, ModbusFrameError.ByteCountMismatch)]
    [InlineData(new byte[] { 0x03 }, ModbusFrameError.Truncated)]
    [InlineData(new byte[] { 0x83, 0x02, 0x00 }, ModbusFrameError.LengthMismatch)]
    public void A_reply_that_does_not_match_the_request_is_a_classified_frame_error(byte[] reply, ModbusFrameError error)
    {
        var ex = Assert.Throws<ModbusFrameException>(() => Pdu.ParseRegisters(reply, 1, FunctionCodes.ReadHoldingRegisters, 2));
        Assert.Equal(error, ex.Error);
    }

    [Fact]
    public void A_write_reply_must_echo_what_was_sent()
    {
        var ex = Assert.Throws<ModbusFrameException>(() => Pdu.CheckWriteEcho([0x06, 0x00, 0x01, 0x00, 0x04], 1, FunctionCodes.WriteSingleRegister, 1, 3));
        Assert.Equal(ModbusFrameError.EchoMismatch, ex.Error);
    }

    [Theory]
    [InlineData(new byte[] { 0x83 }, 2)]
    [InlineData(new byte[] { 0x03 }, -1)]
    [InlineData(new byte[] { 0x03, 0x06 }, 8)]
    [InlineData(new byte[] { 0x05 }, 5)]
    [InlineData(new byte[] { 0x10 }, 5)]
    public void Reply_length_follows_from_the_function_code_and_byte_count(byte[] start, int length)
    {
        Assert.Equal(length, Pdu.ExpectedResponseLength(start));
    }

    [Theory]
    [InlineData(new byte[] { 0x01, 0x03, 0x00, 0x00, 0x00, 0x0A }, (ushort)0xCDC5)]
    [InlineData(new byte[] { 0x01, 0x03, 0x00, 0x00, 0x00, 0x04 }, (ushort)0x0944)]
    [InlineData(new byte[] { 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03 }, (ushort)0x8776)]
    public void The_crc_matches_published_frames(byte[] frame, ushort crc)
    {
        // Sent low byte first: C5 CD, 44 09, 76 87.
        Assert.Equal(crc, Crc16.Compute(frame));
    }
}

/// <summary>The slave side of the PDU rules, on the data store directly (no I/O).</summary>
public sealed class DataStoreTests
{
    private readonly ModbusDataStore _store = new();
    private readonly byte[] _reply = new byte[Pdu.MaxLength];

    public DataStoreTests()
    {
        _store.DefineRegisters(1, RegisterTable.HoldingRegister, 100, [1, 2, 3]);
        _store.DefineRegisters(1, RegisterTable.InputRegister, 0, [7]);
        _store.DefineBits(1, RegisterTable.Coil, 0, [false, true]);
        _store.DefineRegisters(2, RegisterTable.HoldingRegister, 100, [0]);
    }

    private byte[] Handle(byte unit, params byte[] request) => _reply[.._store.Handle(unit, request, _reply)];

    [Fact]
    public void Defined_registers_are_served()
    {
        Assert.Equal([0x03, 0x06, 0, 1, 0, 2, 0, 3], Handle(1, 0x03, 0, 100, 0, 3));
        Assert.Equal([0x04, 0x02, 0, 7], Handle(1, 0x04, 0, 0, 0, 1));
        Assert.Equal([0x01, 0x01, 0x02], Handle(1, 0x01, 0, 0, 0, 2));
    }

    [Fact]
    public void Undefined_addresses_are_exception_02_and_bad_quantities_exception_03()
    {
        Assert.Equal([0x83, 0x02], Handle(1, 0x03, 0, 99, 0, 2));
        Assert.Equal([0x83, 0x02], Handle(1, 0x03, 0, 102, 0, 2));
        Assert.Equal([0x84, 0x02], Handle(1, 0x04, 0, 100, 0, 1));
        Assert.Equal([0x83, 0x03], Handle(1, 0x03, 0, 100, 0, 126));
        Assert.Equal([0x83, 0x03], Handle(1, 0x03, 0, 100, 0, 0));
        Assert.Equal([0x81, 0x03], Handle(1, 0x01, 0, 0, 0x07, 0xD1));
        Assert.Equal([0x85, 0x03], Handle(1, 0x05, 0, 0, 0x12, 0x34));
        Assert.Equal([0x90, 0x03], Handle(1, 0x10, 0, 100, 0, 2, 3, 0, 1, 0));
        Assert.Equal([0x86, 0x02], Handle(1, 0x06, 0, 5, 0, 1));
    }

    [Fact]
    public void Unknown_function_codes_are_exception_01()
    {
        Assert.Equal([0xC1, 0x01], Handle(1, 0x41));
        Assert.Equal([0x88, 0x01], Handle(1, 0x08, 0, 0, 0x12, 0x34));
    }

    [Fact]
    public void Writes_change_the_store_and_are_echoed_and_reported()
    {
        var seen = new List<(byte, RegisterTable, ushort, int)>();
        _store.Written += (u, t, a, n) => seen.Add((u, t, a, n));
        Assert.Equal([0x06, 0, 101, 0x12, 0x34], Handle(1, 0x06, 0, 101, 0x12, 0x34));
        Assert.Equal([0x10, 0, 100, 0, 2], Handle(1, 0x10, 0, 100, 0, 2, 4, 0, 9, 0, 8));
        Assert.Equal([0x05, 0, 0, 0xFF, 0], Handle(1, 0x05, 0, 0, 0xFF, 0));
        Assert.Equal([0x0F, 0, 0, 0, 2], Handle(1, 0x0F, 0, 0, 0, 2, 1, 0b10));
        Assert.Equal([9, 8, 3], _store.GetRegisters(1, RegisterTable.HoldingRegister, 100, 3));
        Assert.Equal([false, true], _store.GetBits(1, RegisterTable.Coil, 0, 2));
        Assert.Equal(4, seen.Count);
        Assert.Equal((1, RegisterTable.HoldingRegister, (ushort)100, 2), seen[1]);
    }

    [Fact]
    public void A_failing_write_handler_is_answered_as_a_device_failure()
    {
        _store.Written += (_, _, _, _) => throw new InvalidOperationException("simulator bug");
        Assert.Equal([0x86, 0x04], Handle(1, 0x06, 0, 100, 0, 1));
    }

    [Fact]
    public void Unknown_units_are_silent_by_default_and_answered_by_a_gateway_style_store()
    {
        Assert.Empty(Handle(9, 0x03, 0, 100, 0, 1));
        var gateway = new ModbusDataStore { IgnoreUnknownUnits = false };
        gateway.DefineRegisters(1, RegisterTable.HoldingRegister, 0, [0]);
        var n = gateway.Handle(9, [0x03, 0, 0, 0, 1], _reply);
        Assert.Equal([0x83, 0x0B], _reply[..n]);
    }

    [Fact]
    public void A_broadcast_write_reaches_every_unit_and_gets_no_reply()
    {
        Assert.Empty(Handle(0, 0x06, 0, 100, 0, 42));
        Assert.Equal([42], _store.GetRegisters(1, RegisterTable.HoldingRegister, 100, 1));
        Assert.Equal([42], _store.GetRegisters(2, RegisterTable.HoldingRegister, 100, 1));
        Assert.Empty(Handle(0, 0x03, 0, 100, 0, 1));
    }

    [Fact]
    public void Setting_or_getting_an_undefined_address_names_it()
    {
        var ex = Assert.Throws<ArgumentException>(() => _store.SetRegisters(1, RegisterTable.HoldingRegister, 102, [1, 2]));
        Assert.Contains("103", ex.Message, StringComparison.Ordinal);
        Assert.Equal([1, 2, 3], _store.GetRegisters(1, RegisterTable.HoldingRegister, 100, 3)); // all or nothing
        Assert.Throws<ArgumentException>(() => _store.GetBits(5, RegisterTable.Coil, 0, 1));
    }
}
