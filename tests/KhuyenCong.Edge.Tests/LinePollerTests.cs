using System.Text;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Outbox;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KhuyenCong.Edge.Tests;

/// <summary>An ASCII scale on a real (socat) serial line, read by the edge agent as configured in a gateway file.</summary>
public sealed class LinePollerTests
{
    [Fact]
    public async Task An_ascii_scale_on_a_serial_line_becomes_readings_and_garbage_is_counted_not_published()
    {
        using var dir = new TempDirectory("kc-ascii");
        var (socat, scaleEnd, gatewayEnd) = await Peers.SerialPairAsync(dir);
        await using (socat)
        {
            var file = dir.File("gw.yaml");
            File.WriteAllText(file, $$"""
                site: s
                gateway: g
                profiles_dir: {{RepoPaths.Devices}}
                mqtt: { url: "mqtt://127.0.0.1:1" }
                buses: [ { id: scale-port, type: ascii, device: {{gatewayEnd}}, baud: 9600 } ]
                devices: [ { id: kiln1-lpg, bus: scale-port, profile: generic-ascii-scale, kiln: kiln-1 } ]
                """);
            var gw = GatewayConfigLoader.Load(file);
            var outbox = new MemoryOutbox();
            await using var agent = new EdgeAgent(gw, NullLoggerFactory.Instance, outbox: outbox);
            using var stop = new CancellationTokenSource();
            var run = agent.RunAsync(stop.Token);

            await using var scale = new FileStream(scaleEnd, FileMode.Open, FileAccess.Write);
            async Task Send(string text)
            {
                await scale.WriteAsync(Encoding.ASCII.GetBytes(text));
                await scale.FlushAsync();
            }
            var poller = Assert.Single(agent.LinePollers);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            // The reader opens the port asynchronously: repeat the first line until it is seen.
            while (poller.Health.PollsOk == 0 && DateTime.UtcNow < deadline)
            {
                await Send("ST,GS,+0145.20kg\r\n");
                await Task.Delay(200);
            }
            await Send("\u0002#@!garbage\r\n");          // noise on the line
            await Send("US,GS,+0144.00kg\r\n");            // unstable: skipped, not an error
            await Send("ST,GS,+0143.75kg\r\n");
            while ((await outbox.PeekAsync(1000, default)).All(r => r.Reading.Value != 143.75) && DateTime.UtcNow < deadline) await Task.Delay(50);
            await stop.CancelAsync();
            await run;

            var readings = await outbox.PeekAsync(1000, default);
            Assert.All(readings, r => Assert.Equal("lpg_mass_kg", r.Reading.Point));
            Assert.All(readings, r => Assert.Equal("kiln-1", r.Device.Kiln));
            Assert.Equal("gas", readings[0].Device.Class);
            Assert.Contains(readings, r => r.Reading.Value == 145.2);
            Assert.Equal(143.75, readings[^1].Reading.Value);
            Assert.DoesNotContain(readings, r => r.Reading.Value == 144.0);
            Assert.True(poller.Health.FrameErrors >= 1, "the garbage line was not counted");
        }
    }
}
