using System.Globalization;
using System.IO.Ports;
using System.Text.Json;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.Modbus;

namespace KhuyenCong.Edge;

/// <summary>
/// Tools for the technician at the kiln: read every point of a profile once from a device, list which unit ids
/// answer on a bus, and show how many requests a profile needs per poll.
/// </summary>
internal static class FieldTools
{
    /// <summary>Where profiles are looked up: --profiles-dir, then $KC_PROFILES_DIR, then /etc/khuyencong/devices.</summary>
    public static string ProfilesDir(Options o) =>
        o.Get("profiles-dir") ?? Environment.GetEnvironmentVariable("KC_PROFILES_DIR") ?? "/etc/khuyencong/devices";

    public static async Task<int> ReadAsync(Options o, CancellationToken ct)
    {
        var profile = ProfileLoader.Load(ProfileLoader.Resolve(o.Require("profile"), ProfilesDir(o)));
        var unit = ParseUnit(o.Get("unit") ?? profile.Profile.DefaultUnit.ToString(CultureInfo.InvariantCulture));
        await using var master = OpenMaster(o, profile.Profile.Serial, profile.Profile.Requests.Timeout);
        var rq = profile.Profile.Requests;
        var plan = RequestPlanner.Plan(profile.Fields(), new PlannerOptions { MaxRegisters = rq.MaxRegisters, MaxGap = rq.MaxGap, OneRequestPerField = rq.OnePerPoint });
        var values = new List<(ProfilePoint Point, double? Value, string? Error)>();
        foreach (var request in plan)
        {
            try
            {
                var decoded = request.Table switch
                {
                    RegisterTable.HoldingRegister => request.Decode(await master.ReadHoldingRegistersAsync(unit, request.Address, request.Count, ct).ConfigureAwait(false)),
                    RegisterTable.InputRegister => request.Decode(await master.ReadInputRegistersAsync(unit, request.Address, request.Count, ct).ConfigureAwait(false)),
                    RegisterTable.Coil => request.Decode(await master.ReadCoilsAsync(unit, request.Address, request.Count, ct).ConfigureAwait(false)),
                    _ => request.Decode(await master.ReadDiscreteInputsAsync(unit, request.Address, request.Count, ct).ConfigureAwait(false)),
                };
                foreach (var (field, value) in decoded) values.Add((profile.Point(field.Name), profile.Point(field.Name).FromField(value), null));
            }
            catch (Exception ex) when (ex is ModbusException or IOException or TimeoutException)
            {
                foreach (var f in request.Fields) values.Add((profile.Point(f.Name), null, ex.Message));
            }
            if (rq.PauseBetween > TimeSpan.Zero) await Task.Delay(rq.PauseBetween, ct).ConfigureAwait(false);
        }

        var failed = values.Count(v => v.Value is null);
        if (o.Get("json") is not null)
        {
            using var stdout = Console.OpenStandardOutput();
            using var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            w.WriteStartObject();
            w.WriteString("device", profile.Profile.Id);
            w.WriteNumber("unit", unit);
            w.WriteStartArray("points");
            foreach (var (p, v, err) in values)
            {
                w.WriteStartObject();
                w.WriteString("name", p.Name);
                if (v is { } x) w.WriteNumber("value", x);
                else w.WriteNull("value");
                CanonicalPoints.TryGet(p.Name, out var def);
                w.WriteString("unit", def.Unit);
                if (err is not null) w.WriteString("error", err);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.Flush();
            Console.WriteLine();
        }
        else
        {
            Console.WriteLine($"{profile.Profile.Vendor} {profile.Profile.Model} ({profile.Profile.Id}), unit {unit}, {plan.Count} requests");
            foreach (var (p, v, err) in values)
            {
                CanonicalPoints.TryGet(p.Name, out var def);
                var text = v is { } x ? x.ToString("0.###", CultureInfo.InvariantCulture) + (def.Unit.Length > 0 ? " " + def.Unit : "") : "error: " + err;
                Console.WriteLine($"  {p.Name,-20} {text}");
            }
        }
        return failed == 0 ? 0 : 1;
    }

    public static async Task<int> ScanAsync(Options o, CancellationToken ct)
    {
        var (first, last) = ParseRange(o.Get("units") ?? "1-247");
        var address = ushort.Parse(o.Get("register") ?? "0", CultureInfo.InvariantCulture);
        var input = (o.Get("table") ?? "holding") == "input";
        var timeout = TimeSpan.FromMilliseconds(double.Parse(o.Get("timeout-ms") ?? "300", CultureInfo.InvariantCulture));
        await using var master = OpenMaster(o, null, timeout);
        var found = 0;
        for (var u = first; u <= last; u++)
        {
            var unit = (byte)u;
            try
            {
                if (input) await master.ReadInputRegistersAsync(unit, address, 1, ct).ConfigureAwait(false);
                else await master.ReadHoldingRegistersAsync(unit, address, 1, ct).ConfigureAwait(false);
                Console.WriteLine($"unit {unit}: answers");
                found++;
            }
            catch (ModbusExceptionResponseException ex)
            {
                // An exception response is an answer: the device is there, the register is not.
                Console.WriteLine($"unit {unit}: answers (exception {ex.Code} for register {address})");
                found++;
            }
            catch (Exception ex) when (ex is ModbusTimeoutException or ModbusFrameException)
            {
            }
        }
        Console.WriteLine($"{found} unit(s) answered between {first} and {last}");
        return found > 0 ? 0 : 1;
    }

    /// <summary>How many requests each profile needs per poll, planned versus one request per point.</summary>
    public static int Plan(Options o)
    {
        var dir = ProfilesDir(o);
        Console.WriteLine($"{"profile",-34} {"points",6} {"planned",8} {"one per point",14}");
        foreach (var file in ProfileLoader.All(dir))
        {
            var p = ProfileLoader.Load(file);
            if (p.IsLineDevice) continue; // ASCII line devices send lines on their own; nothing to plan
            var rq = p.Profile.Requests;
            var planned = RequestPlanner.Plan(p.Fields(), new PlannerOptions { MaxRegisters = rq.MaxRegisters, MaxGap = rq.MaxGap, OneRequestPerField = rq.OnePerPoint }).Count;
            Console.WriteLine($"{p.Profile.Id,-34} {p.Profile.Points.Count,6} {planned,8} {p.Profile.Points.Count,14}");
        }
        return 0;
    }

    private static IModbusMaster OpenMaster(Options o, SerialDefaults? defaults, TimeSpan timeout)
    {
        if (o.Get("tcp") is { } tcp)
        {
            var (host, port) = HostPort(tcp, 502);
            return new ModbusTcpMaster(new ModbusTcpMasterOptions { Host = host, Port = port, ResponseTimeout = timeout });
        }
        var baud = int.Parse(o.Get("baud") ?? (defaults?.Baud ?? 9600).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        if (o.Get("rtu-over-tcp") is { } rt)
        {
            var (host, port) = HostPort(rt, 502);
            return new ModbusRtuMaster(new TcpByteTransport(host, port), new ModbusRtuMasterOptions { Baud = baud, ResponseTimeout = timeout });
        }
        if (o.Get("serial") is { } dev)
        {
            var parity = (o.Get("parity") ?? defaults?.Parity.ToString()[..1] ?? "N").ToUpperInvariant() switch
            {
                "N" or "NONE" => System.IO.Ports.Parity.None,
                "E" or "EVEN" => System.IO.Ports.Parity.Even,
                "O" or "ODD" => System.IO.Ports.Parity.Odd,
                var x => throw new UsageException($"--parity {x}: use N, E or O"),
            };
            var stop = (o.Get("stop-bits") ?? (defaults?.StopBits ?? 1).ToString(CultureInfo.InvariantCulture)) switch
            {
                "1" => StopBits.One,
                "2" => StopBits.Two,
                var x => throw new UsageException($"--stop-bits {x}: use 1 or 2"),
            };
            var settings = new SerialPortSettings { PortName = dev, Baud = baud, Parity = parity, StopBits = stop, DataBits = defaults?.DataBits ?? 8 };
            return new ModbusRtuMaster(new SerialByteTransport(settings), new ModbusRtuMasterOptions { Baud = baud, ResponseTimeout = timeout });
        }
        throw new UsageException("give one of --tcp HOST:PORT, --rtu-over-tcp HOST:PORT or --serial DEVICE");
    }

    private static (string Host, int Port) HostPort(string s, int defaultPort)
    {
        var i = s.LastIndexOf(':');
        if (i < 0) return (s, defaultPort);
        if (!int.TryParse(s[(i + 1)..], CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535) throw new UsageException($"'{s}' is not HOST:PORT");
        return (s[..i], port);
    }

    private static byte ParseUnit(string s) =>
        byte.TryParse(s, CultureInfo.InvariantCulture, out var u) && u is >= 1 and <= 247 ? u : throw new UsageException($"--unit {s}: use 1–247");

    private static (int First, int Last) ParseRange(string s)
    {
        var parts = s.Split('-');
        if (parts.Length is 1 or 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var a) && int.TryParse(parts[^1], CultureInfo.InvariantCulture, out var b) && a is >= 1 and <= 247 && b >= a && b <= 247)
            return (a, b);
        throw new UsageException($"--units {s}: use a range like 1-247");
    }
}
