using System.IO.Ports;
using System.Text;
using KhuyenCong.Edge.Lines;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Profiles.Tests;

/// <summary>The line reader over a real serial port: a socat pseudo-terminal pair, written on one end, read on the other.</summary>
public sealed class LineReaderTests : IDisposable
{
    private readonly TempDirectory _dir = new("kc-lines");

    private static LineFormat Scale() => ProfileLoader.Load(Path.Combine(RepoPaths.Devices, "generic-ascii-scale", ProfileLoader.FileName)).LineFormat!;

    [Fact]
    public async Task Lines_written_on_one_end_of_a_serial_pair_are_read_on_the_other_with_garbage_and_a_timeout()
    {
        var (socat, a, b) = await Peers.SerialPairAsync(_dir);
        await using var _ = socat;
        await using var reader = LineReader.OpenSerial(new SerialLineSettings(b, 9600), Scale(), TimeSpan.FromMilliseconds(500));
        using var writer = new SerialPort(a, 9600); // RTS/DTR left alone: they throw on a pty
        writer.Open();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        void Send(string s)
        {
            var bytes = Encoding.Latin1.GetBytes(s);
            writer.Write(bytes, 0, bytes.Length);
        }

        // The reader's timeout is short (it is tested below), and socat forwards the bytes whenever it gets the CPU: on a
        // busy machine a read may time out before they arrive. Such timeouts are counted, not taken for lines.
        var timeouts = 0;
        async Task<LineResult> NextLineAsync()
        {
            while (true)
            {
                var r = await reader.ReadAsync(cts.Token);
                if (r.Status != LineStatus.Timeout) return r;
                timeouts++;
            }
        }

        Send("ST,GS,+0012.34kg\r\n");
        var first = await NextLineAsync();
        Assert.Equal(LineStatus.Good, first.Status);
        Assert.Equal(12.34, first.Value("lpg_mass_kg"), 9);

        // Garbage, an over-long run without a terminator, an unstable reading, then a good line split across writes.
        Send("\u0000\u00ff\u00fe#garbage\r\n");
        Send(new string('x', 200) + "\r\n");
        Send("US,GS,+0012.40kg\r\n");
        Send("ST,GS,+00");
        await Task.Delay(50, cts.Token);
        Send("11.90kg\r\n");

        var results = new List<LineResult>();
        while (results.Count < 4) results.Add(await NextLineAsync());
        Assert.Equal(LineErrorKind.NoMatch, results[0].Error!.Kind);
        Assert.Equal(LineErrorKind.TooLong, results[1].Error!.Kind);
        Assert.Equal(LineStatus.Skipped, results[2].Status);
        Assert.Equal(LineStatus.Good, results[3].Status);
        Assert.Equal(11.9, results[3].Value("lpg_mass_kg"), 9);

        // Silence: the read gives up after its timeout, and the port still works afterwards.
        var started = DateTime.UtcNow;
        Assert.Equal(LineStatus.Timeout, (await reader.ReadAsync(cts.Token)).Status);
        timeouts++;
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));

        // A line cut off by silence is dropped (counted bad) once nothing more has come for a whole timeout — however
        // many reads that spans — and the next line is read cleanly.
        Send("ST,GS,+0099");
        do
        {
            Assert.Equal(LineStatus.Timeout, (await reader.ReadAsync(cts.Token)).Status);
            timeouts++;
        }
        while (reader.Counters.Bad < 3);
        Assert.Equal(LineErrorKind.Partial, reader.LastError!.Kind);
        Assert.Equal("a line stopped after 11 bytes without its terminator", reader.LastError.Message);
        Send("ST,GS,+0010.00kg\r\n");
        var after = await NextLineAsync();
        Assert.Equal(LineStatus.Good, after.Status);
        Assert.Equal(10.0, after.Value("lpg_mass_kg"), 9);

        Assert.Equal(new LineCounters(Good: 3, Bad: 3, Skipped: 1, Timeouts: timeouts), reader.Counters);
        Assert.NotNull(reader.LastGood);
    }

    [Fact]
    public async Task A_line_whose_bytes_straddle_the_end_of_a_read_is_completed_by_the_next_read()
    {
        using var server = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out);
        var client = new System.IO.Pipes.AnonymousPipeClientStream(System.IO.Pipes.PipeDirection.In, server.ClientSafePipeHandle);
        await using var reader = new LineReader(client, Scale(), TimeSpan.FromSeconds(4));
        void Send(string s)
        {
            server.Write(Encoding.Latin1.GetBytes(s));
            server.Flush();
        }

        // The first half arrives while a read is waiting (about 1 s into its 4 s); that read times out without the rest.
        var read = reader.ReadAsync(CancellationToken.None).AsTask();
        await Task.Delay(TimeSpan.FromSeconds(1));
        Send("ST,GS,+00");
        Assert.Equal(LineStatus.Timeout, (await read).Status);
        Assert.Equal(0, reader.Counters.Bad);

        // The rest comes: the line is whole, not a stale fragment followed by garbage.
        Send("11.90kg\r\n");
        var line = await reader.ReadAsync(CancellationToken.None);
        Assert.Equal(LineStatus.Good, line.Status);
        Assert.Equal(11.9, line.Value("lpg_mass_kg"), 9);
        Assert.Equal(new LineCounters(Good: 1, Bad: 0, Skipped: 0, Timeouts: 1), reader.Counters);
    }

    [Fact]
    public async Task Any_stream_can_be_read_and_cr_terminated_lines_resynchronise_after_garbage()
    {
        var spec = new LineSpec
        {
            Pattern = @"^(?<t>-?[0-9]+(\.[0-9]+)?),(?<sp>-?[0-9]+)$",
            Terminator = LineTerminator.Cr,
            MaxLength = 16,
            Points = [new LinePoint { Name = "kiln_temp_c", Group = "t" }, new LinePoint { Name = "kiln_setpoint_c", Group = "sp" }],
        };
        var bytes = Encoding.Latin1.GetBytes("\n1020.5,1050\r\n\u0001\u0002zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\r\n\r\n1021,1050\r");
        await using var reader = new LineReader(new MemoryStream(bytes), LineFormat.Compile(spec), TimeSpan.FromSeconds(1));
        var r1 = await reader.ReadAsync(CancellationToken.None);
        var r2 = await reader.ReadAsync(CancellationToken.None);
        var r3 = await reader.ReadAsync(CancellationToken.None);
        Assert.Equal(1020.5, r1.Value("kiln_temp_c"));
        Assert.Equal(LineErrorKind.TooLong, r2.Error!.Kind);
        Assert.Equal(1021, r3.Value("kiln_temp_c"));
        await Assert.ThrowsAsync<EndOfStreamException>(async () => await reader.ReadAsync(CancellationToken.None));
    }

    public void Dispose() => _dir.Dispose();
}
