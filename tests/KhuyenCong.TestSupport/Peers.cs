namespace KhuyenCong.TestSupport;

/// <summary>Modbus peers no one here wrote: pymodbus servers, socat virtual serial pairs, mbpoll.</summary>
public static class Peers
{
    public const string Python = "/usr/bin/python3";

    private static string Script => Path.Combine(AppContext.BaseDirectory, "peers", "pymodbus_server.py");

    /// <summary>pymodbus 3.0 Modbus TCP server on a free loopback port (data layout: peers/pymodbus_server.py).</summary>
    public static Task<(ExternalProcess Process, int Port)> PyModbusTcpAsync() => PyModbusTcpAsync(null);

    /// <summary>
    /// pymodbus 3.0 Modbus TCP server on a free loopback port; when <paramref name="manifestPath"/> is given, the layout of
    /// unit 2's typed values (name, type, order, address, length, value) is written there as JSON.
    /// </summary>
    public static async Task<(ExternalProcess Process, int Port)> PyModbusTcpAsync(string? manifestPath)
    {
        var port = FreePort.Next();
        List<string> args = [Script, "tcp", port.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        if (manifestPath is not null) args.Add(manifestPath);
        var p = ExternalProcess.Start(Python, args);
        await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(30), () => p.Output);
        return (p, port);
    }

    /// <summary>pymodbus 3.0 Modbus TCP server serving a register image (JSON, see peers/pymodbus_image.py).</summary>
    public static async Task<(ExternalProcess Process, int Port)> PyModbusImageAsync(string imageJson)
    {
        var port = FreePort.Next();
        var script = Path.Combine(AppContext.BaseDirectory, "peers", "pymodbus_image.py");
        var p = ExternalProcess.Start(Python, [script, port.ToString(System.Globalization.CultureInfo.InvariantCulture), imageJson]);
        await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(30), () => p.Output);
        return (p, port);
    }

    /// <summary>pymodbus 3.0 Modbus RTU server (19,200 8N1) on one end of a virtual serial pair.</summary>
    public static Task<ExternalProcess> PyModbusRtuAsync(string device) => PyModbusRtuAsync(device, null);

    /// <summary>pymodbus 3.0 Modbus RTU server (19,200 8N1) on <paramref name="device"/>; see <see cref="PyModbusTcpAsync(string?)"/> for the manifest.</summary>
    public static async Task<ExternalProcess> PyModbusRtuAsync(string device, string? manifestPath)
    {
        List<string> args = [Script, "rtu", device];
        if (manifestPath is not null) args.Add(manifestPath);
        var p = ExternalProcess.Start(Python, args);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!p.Output.Contains("ready", StringComparison.Ordinal))
        {
            if (p.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException($"pymodbus RTU server did not start: {p.Output}");
            await Task.Delay(50);
        }
        await Task.Delay(500); // the serial server opens the port after printing
        return p;
    }

    /// <summary>
    /// A pair of connected pseudo-terminals made by socat: what is written to <c>A</c> is read from <c>B</c> and back.
    /// </summary>
    public static async Task<(ExternalProcess Process, string A, string B)> SerialPairAsync(TempDirectory dir)
    {
        var a = dir.File("ttyA");
        var b = dir.File("ttyB");
        var p = ExternalProcess.Start("/usr/bin/socat", ["-d", "-d", $"pty,raw,echo=0,link={a}", $"pty,raw,echo=0,link={b}"]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!(File.Exists(a) && File.Exists(b)))
        {
            if (p.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException($"socat did not make a serial pair: {p.Output}");
            await Task.Delay(20);
        }
        return (p, a, b);
    }

    /// <summary>Runs mbpoll once and returns its output.</summary>
    public static async Task<string> MbPollAsync(params string[] args)
    {
        await using var p = ExternalProcess.Start("/usr/bin/mbpoll", args);
        var code = await p.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(50);
        if (code != 0) throw new InvalidOperationException($"mbpoll {string.Join(' ', args)} exited with {code}: {p.Output}");
        return p.Output;
    }
}
