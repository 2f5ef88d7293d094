using System.Diagnostics;
using System.Globalization;
using KhuyenCong.Modbus;

// usage: ModbusThroughput HOST PORT UNIT REGISTERS REQUESTS
if (args.Length < 5)
{
    Console.Error.WriteLine("usage: ModbusThroughput HOST PORT UNIT REGISTERS REQUESTS");
    return 2;
}
var inv = CultureInfo.InvariantCulture;
var (host, port, unit, regs, n) = (args[0], int.Parse(args[1], inv), byte.Parse(args[2], inv), ushort.Parse(args[3], inv), int.Parse(args[4], inv));
await using var master = new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = host, Port = port, ResponseTimeout = TimeSpan.FromSeconds(2) });
// Warm up: connect and let the JIT settle, as the libmodbus client has no JIT to warm.
for (var i = 0; i < Math.Min(2000, n / 5); i++) await master.ReadHoldingRegistersAsync(unit, 0, regs);
var sw = Stopwatch.StartNew();
for (var i = 0; i < n; i++)
{
    var r = await master.ReadHoldingRegistersAsync(unit, 0, regs);
    if (r.Length != regs) throw new InvalidOperationException("short read");
}
sw.Stop();
Console.WriteLine(string.Create(inv, $"KhuyenCong.Modbus client: {n} requests of {regs} registers in {sw.Elapsed.TotalSeconds:0.000} s = {n / sw.Elapsed.TotalSeconds:0} requests/s"));
return 0;
