using System.Buffers.Binary;
using KhuyenCong.Modbus.Framing;

namespace KhuyenCong.Modbus;

/// <summary>
/// The registers and bits of one or more simulated devices (unit ids). Only addresses that were defined exist: reading
/// or writing any other gives exception 02, as a real device does. Thread-safe; values can change while masters read.
/// </summary>
public sealed class ModbusDataStore
{
    private readonly object _gate = new();
    private readonly Dictionary<(byte Unit, RegisterTable Table), Dictionary<ushort, ushort>> _registers = [];
    private readonly Dictionary<(byte Unit, RegisterTable Table), Dictionary<ushort, bool>> _bits = [];
    private readonly HashSet<byte> _units = [];

    /// <summary>
    /// When true (the default), requests for unit ids that were never defined get no reply, like devices that are not
    /// on an RS-485 bus: the master times out. When false they are answered with <see cref="UnknownUnitException"/>,
    /// as a TCP gateway does.
    /// </summary>
    public bool IgnoreUnknownUnits { get; init; } = true;

    /// <summary>The exception answered for an unknown unit id when <see cref="IgnoreUnknownUnits"/> is false.</summary>
    public ModbusExceptionCode UnknownUnitException { get; init; } = ModbusExceptionCode.GatewayTargetFailedToRespond;

    /// <summary>
    /// Raised after a master wrote (unit, table, first address, count), outside the store's lock, on the thread that
    /// serves the request. A handler that throws makes the slave answer exception 04 (server device failure).
    /// </summary>
    public event Action<byte, RegisterTable, ushort, int>? Written;

    public bool HasUnit(byte unit)
    {
        lock (_gate) return _units.Contains(unit);
    }

    /// <summary>The unit ids that have anything defined.</summary>
    public IReadOnlyList<byte> Units()
    {
        lock (_gate) return [.. _units.Order()];
    }

    /// <summary>Makes registers exist (input or holding), with their first values. Defining again overwrites.</summary>
    public void DefineRegisters(byte unit, RegisterTable table, ushort address, ReadOnlySpan<ushort> values)
    {
        if (table is RegisterTable.Coil or RegisterTable.DiscreteInput) throw new ArgumentException("use DefineBits for coils and discrete inputs", nameof(table));
        CheckRange(unit, table, address, values.Length);
        lock (_gate)
        {
            _units.Add(unit);
            var map = Map(_registers, unit, table);
            for (var i = 0; i < values.Length; i++) map[(ushort)(address + i)] = values[i];
        }
    }

    /// <summary>Makes coils or discrete inputs exist, with their first values. Defining again overwrites.</summary>
    public void DefineBits(byte unit, RegisterTable table, ushort address, ReadOnlySpan<bool> values)
    {
        if (table is RegisterTable.HoldingRegister or RegisterTable.InputRegister) throw new ArgumentException("use DefineRegisters for registers", nameof(table));
        CheckRange(unit, table, address, values.Length);
        lock (_gate)
        {
            _units.Add(unit);
            var map = Map(_bits, unit, table);
            for (var i = 0; i < values.Length; i++) map[(ushort)(address + i)] = values[i];
        }
    }

    /// <summary>Changes defined registers (all or nothing); throws <see cref="ArgumentException"/> if any address was never defined.</summary>
    public void SetRegisters(byte unit, RegisterTable table, ushort address, ReadOnlySpan<ushort> values)
    {
        CheckRange(unit, table, address, values.Length);
        lock (_gate)
        {
            var map = Existing(_registers, unit, table, address, values.Length);
            for (var i = 0; i < values.Length; i++) map[(ushort)(address + i)] = values[i];
        }
    }

    /// <summary>Changes defined coils or discrete inputs (all or nothing); throws if any address was never defined.</summary>
    public void SetBits(byte unit, RegisterTable table, ushort address, ReadOnlySpan<bool> values)
    {
        CheckRange(unit, table, address, values.Length);
        lock (_gate)
        {
            var map = Existing(_bits, unit, table, address, values.Length);
            for (var i = 0; i < values.Length; i++) map[(ushort)(address + i)] = values[i];
        }
    }

    /// <summary>Current values of defined registers; throws <see cref="ArgumentException"/> if any address was never defined.</summary>
    public ushort[] GetRegisters(byte unit, RegisterTable table, ushort address, ushort count)
    {
        CheckRange(unit, table, address, count);
        lock (_gate)
        {
            var map = Existing(_registers, unit, table, address, count);
            var r = new ushort[count];
            for (var i = 0; i < count; i++) r[i] = map[(ushort)(address + i)];
            return r;
        }
    }

    /// <summary>Current values of defined coils or discrete inputs; throws if any address was never defined.</summary>
    public bool[] GetBits(byte unit, RegisterTable table, ushort address, ushort count)
    {
        CheckRange(unit, table, address, count);
        lock (_gate)
        {
            var map = Existing(_bits, unit, table, address, count);
            var r = new bool[count];
            for (var i = 0; i < count; i++) r[i] = map[(ushort)(address + i)];
            return r;
        }
    }

    private static void CheckRange(byte unit, RegisterTable table, ushort address, int count)
    {
        if (address + count > 65536) throw new ArgumentOutOfRangeException(nameof(count), count, $"unit {unit} {table} {address}: {count} values run past address 65535");
    }

    private static Dictionary<ushort, T> Existing<T>(Dictionary<(byte, RegisterTable), Dictionary<ushort, T>> maps, byte unit, RegisterTable table, ushort address, int count)
    {
        maps.TryGetValue((unit, table), out var map);
        for (var i = 0; i < count; i++)
        {
            var a = (ushort)(address + i);
            if (map is null || !map.ContainsKey(a)) throw new ArgumentException($"unit {unit} {table} {a} is not defined");
        }
        return map ?? [];
    }

    /// <summary>
    /// Answers one request PDU for <paramref name="unit"/>: writes the reply PDU into <paramref name="reply"/> (at least
    /// <see cref="Framing.Pdu.MaxLength"/> bytes) and returns its length, or 0 when no reply must be sent (unknown unit on
    /// a bus, or a broadcast). Requests that break the spec's limits get exception 03, undefined addresses 02, unknown
    /// function codes 01.
    /// </summary>
    public int Handle(byte unit, ReadOnlySpan<byte> request, Span<byte> reply)
    {
        if (request.Length == 0) return 0;
        var fc = request[0];
        if (unit == 0)
        {
            // Broadcast writes are carried out by every unit and answered by none; reads make no sense and are ignored.
            if (fc is FunctionCodes.WriteSingleCoil or FunctionCodes.WriteSingleRegister or FunctionCodes.WriteMultipleCoils or FunctionCodes.WriteMultipleRegisters)
            {
                foreach (var u in Units()) Handle(u, request, reply);
            }
            return 0;
        }
        lock (_gate)
        {
            if (!_units.Contains(unit))
            {
                if (IgnoreUnknownUnits) return 0;
                return Exception(reply, fc, UnknownUnitException);
            }
        }
        try
        {
            return fc switch
            {
                FunctionCodes.ReadCoils => ReadBits(unit, RegisterTable.Coil, request, reply),
                FunctionCodes.ReadDiscreteInputs => ReadBits(unit, RegisterTable.DiscreteInput, request, reply),
                FunctionCodes.ReadHoldingRegisters => ReadRegs(unit, RegisterTable.HoldingRegister, request, reply),
                FunctionCodes.ReadInputRegisters => ReadRegs(unit, RegisterTable.InputRegister, request, reply),
                FunctionCodes.WriteSingleCoil => WriteSingleCoil(unit, request, reply),
                FunctionCodes.WriteSingleRegister => WriteSingleRegister(unit, request, reply),
                FunctionCodes.WriteMultipleCoils => WriteCoils(unit, request, reply),
                FunctionCodes.WriteMultipleRegisters => WriteRegs(unit, request, reply),
                _ => Exception(reply, fc, ModbusExceptionCode.IllegalFunction),
            };
        }
        catch (SlaveException ex)
        {
            return Exception(reply, fc, ex.Code);
        }
        catch (WrittenHandlerException)
        {
            return Exception(reply, fc, ModbusExceptionCode.ServerDeviceFailure);
        }
    }

    private void RaiseWritten(byte unit, RegisterTable table, ushort address, int count)
    {
        try
        {
            Written?.Invoke(unit, table, address, count);
        }
#pragma warning disable CA1031 // a handler's bug must not kill the connection that carried the write
        catch (Exception ex)
#pragma warning restore CA1031
        {
            throw new WrittenHandlerException(ex);
        }
    }

    private int ReadRegs(byte unit, RegisterTable table, ReadOnlySpan<byte> req, Span<byte> reply)
    {
        Need(req, 5);
        var address = BinaryPrimitives.ReadUInt16BigEndian(req[1..]);
        var count = BinaryPrimitives.ReadUInt16BigEndian(req[3..]);
        if (count is < 1 or > 125) throw new SlaveException(ModbusExceptionCode.IllegalDataValue);
        lock (_gate)
        {
            var map = Map(_registers, unit, table);
            reply[0] = req[0];
            reply[1] = (byte)(count * 2);
            for (var i = 0; i < count; i++)
            {
                if (address + i > ushort.MaxValue || !map.TryGetValue((ushort)(address + i), out var v)) throw new SlaveException(ModbusExceptionCode.IllegalDataAddress);
                BinaryPrimitives.WriteUInt16BigEndian(reply[(2 + 2 * i)..], v);
            }
        }
        return 2 + count * 2;
    }

    private int ReadBits(byte unit, RegisterTable table, ReadOnlySpan<byte> req, Span<byte> reply)
    {
        Need(req, 5);
        var address = BinaryPrimitives.ReadUInt16BigEndian(req[1..]);
        var count = BinaryPrimitives.ReadUInt16BigEndian(req[3..]);
        if (count is < 1 or > 2000) throw new SlaveException(ModbusExceptionCode.IllegalDataValue);
        var bytes = (count + 7) / 8;
        reply[0] = req[0];
        reply[1] = (byte)bytes;
        reply.Slice(2, bytes).Clear();
        lock (_gate)
        {
            var map = Map(_bits, unit, table);
            for (var i = 0; i < count; i++)
            {
                if (address + i > ushort.MaxValue || !map.TryGetValue((ushort)(address + i), out var v)) throw new SlaveException(ModbusExceptionCode.IllegalDataAddress);
                if (v) reply[2 + i / 8] |= (byte)(1 << (i % 8));
            }
        }
        return 2 + bytes;
    }

    private int WriteSingleCoil(byte unit, ReadOnlySpan<byte> req, Span<byte> reply)
    {
        Need(req, 5);
        var address = BinaryPrimitives.ReadUInt16BigEndian(req[1..]);
        var value = BinaryPrimitives.ReadUInt16BigEndian(req[3..]);
        if (value is not (0xFF00 or 0x0000)) throw new SlaveException(ModbusExceptionCode.IllegalDataValue);
        lock (_gate)
        {
            var map = Map(_bits, unit, RegisterTable.Coil);
            if (!map.ContainsKey(address)) throw new SlaveException(ModbusExceptionCode.IllegalDataAddress);
            map[address] = value == 0xFF00;
        }
        RaiseWritten(unit, RegisterTable.Coil, address, 1);
        req[..5].CopyTo(reply);
        return 5;
    }

    private int WriteSingleRegister(byte unit, ReadOnlySpan<byte> req, Span<byte> reply)
    {
        Need(req, 5);
        var address = BinaryPrimitives.ReadUInt16BigEndian(req[1..]);
        var value = BinaryPrimitives.ReadUInt16BigEndian(req[3..]);
        lock (_gate)
        {
            var map = Map(_registers, unit, RegisterTable.HoldingRegister);
            if (!map.ContainsKey(address)) throw new SlaveException(ModbusExceptionCode.IllegalDataAddress);
            map[address] = value;
        }
        RaiseWritten(unit, RegisterTable.HoldingRegister, address, 1);
        req[..5].CopyTo(reply);
        return 5;
    }

    private int WriteCoils(byte unit, ReadOnlySpan<byte> req, Span<byte> reply)
    {
        Need(req, 6);
        var address = BinaryPrimitives.ReadUInt16BigEndian(req[1..]);
        var count = BinaryPrimitives.ReadUInt16BigEndian(req[3..]);
        var bytes = req[5];
        if (count is < 1 or > 1968 || bytes != (count + 7) / 8 || req.Length < 6 + bytes) throw new SlaveException(ModbusExceptionCode.IllegalDataValue);
        lock (_gate)
        {
            var map = Map(_bits, unit, RegisterTable.Coil);
            for (var i = 0; i < count; i++)
            {
                if (address + i > ushort.MaxValue || !map.ContainsKey((ushort)(address + i))) throw new SlaveException(ModbusExceptionCode.IllegalDataAddress);
            }
            for (var i = 0; i < count; i++) map[(ushort)(address + i)] = (req[6 + i / 8] & (1 << (i % 8))) != 0;
        }
        RaiseWritten(unit, RegisterTable.Coil, address, count);
        req[..5].CopyTo(reply);
        return 5;
    }

    private int WriteRegs(byte unit, ReadOnlySpan<byte> req, Span<byte> reply)
    {
        Need(req, 6);
        var address = BinaryPrimitives.ReadUInt16BigEndian(req[1..]);
        var count = BinaryPrimitives.ReadUInt16BigEndian(req[3..]);
        var bytes = req[5];
        if (count is < 1 or > 123 || bytes != count * 2 || req.Length < 6 + bytes) throw new SlaveException(ModbusExceptionCode.IllegalDataValue);
        lock (_gate)
        {
            var map = Map(_registers, unit, RegisterTable.HoldingRegister);
            for (var i = 0; i < count; i++)
            {
                if (address + i > ushort.MaxValue || !map.ContainsKey((ushort)(address + i))) throw new SlaveException(ModbusExceptionCode.IllegalDataAddress);
            }
            for (var i = 0; i < count; i++) map[(ushort)(address + i)] = BinaryPrimitives.ReadUInt16BigEndian(req[(6 + 2 * i)..]);
        }
        RaiseWritten(unit, RegisterTable.HoldingRegister, address, count);
        req[..5].CopyTo(reply);
        return 5;
    }

    private static void Need(ReadOnlySpan<byte> req, int n)
    {
        if (req.Length < n) throw new SlaveException(ModbusExceptionCode.IllegalDataValue);
    }

    private static int Exception(Span<byte> reply, byte fc, ModbusExceptionCode code)
    {
        reply[0] = (byte)(fc | 0x80);
        reply[1] = (byte)code;
        return 2;
    }

    private static Dictionary<ushort, T> Map<T>(Dictionary<(byte, RegisterTable), Dictionary<ushort, T>> maps, byte unit, RegisterTable table)
    {
        if (!maps.TryGetValue((unit, table), out var m)) maps[(unit, table)] = m = [];
        return m;
    }

    private sealed class SlaveException(ModbusExceptionCode code) : Exception
    {
        public ModbusExceptionCode Code { get; } = code;
    }

    private sealed class WrittenHandlerException(Exception inner) : Exception("a Written handler failed", inner);
}
