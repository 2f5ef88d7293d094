using KhuyenCong.Contracts;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Lines;
using KhuyenCong.Edge.Outbox;
using KhuyenCong.Edge.Profiles;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Edge.Polling;

/// <summary>
/// Reads a plain serial (ASCII) device — a scale or a thermocouple reader that prints a line per reading — on its own
/// bus. Every good line becomes readings stamped on arrival; bad lines and silences are counted on the device's health,
/// and a port that disappears (a USB adapter unplugged) is reopened with back-off.
/// </summary>
public sealed class LinePoller
{
    private readonly BusConfig _bus;
    private readonly LoadedProfile _profile;
    private readonly IReadingSink _sink;
    private readonly TimeProvider _clock;
    private readonly ILogger _log;
    private readonly Func<LineReader> _open;

    public LinePoller(BusConfig bus, DeviceConfig device, LoadedProfile profile, IReadingSink sink, TimeProvider clock, ILogger log, Func<LineReader>? open = null)
    {
        _bus = bus;
        Device = device;
        _profile = profile;
        _sink = sink;
        _clock = clock;
        _log = log;
        var serial = profile.Profile.Serial ?? new SerialDefaults();
        _open = open ?? (() => LineReader.OpenSerial(
            new SerialLineSettings(bus.Device!, bus.Baud ?? serial.Baud, bus.Parity ?? serial.Parity, bus.DataBits ?? serial.DataBits, bus.StopBits ?? serial.StopBits),
            profile.LineFormat!));
        Info = new DeviceInfo { Id = device.Id, Class = profile.Profile.Class, Kiln = device.Kiln, Profile = profile.Profile.Id };
        Health = new DeviceHealth { Device = device.Id };
    }

    public string BusId => _bus.Id;
    public DeviceConfig Device { get; }
    public DeviceInfo Info { get; }
    public DeviceHealth Health { get; }

    /// <summary>When the reader last returned anything (a line or a timeout): proof that the loop is alive.</summary>
    public DateTimeOffset? LastAttempt { get; private set; }

    public async Task RunAsync(CancellationToken ct)
    {
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            LineReader reader;
            try
            {
                reader = _open();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                failures++;
                Health.Failed(FailureKind.Link, ex.Message);
                LastAttempt = _clock.GetUtcNow();
                if (failures is 1 or 10 or 100) _log.LogWarning("Cannot open {Device} for {Id}: {Error}", _bus.Device, Device.Id, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(failures, 5)))), _clock, ct).ConfigureAwait(false);
                continue;
            }
            await using (reader.ConfigureAwait(false))
            {
                try
                {
                    while (!ct.IsCancellationRequested)
                    {
                        var r = await reader.ReadAsync(ct).ConfigureAwait(false);
                        LastAttempt = _clock.GetUtcNow();
                        await HandleAsync(r, ct).ConfigureAwait(false);
                        failures = 0;
                    }
                }
                catch (Exception ex) when (ex is EndOfStreamException or IOException && !ct.IsCancellationRequested)
                {
                    Health.Failed(FailureKind.Link, ex.Message);
                    _log.LogWarning("{Device} for {Id} went away ({Error}); reopening", _bus.Device, Device.Id, ex.Message);
                    await Task.Delay(TimeSpan.FromSeconds(1), _clock, ct).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Turns one reader outcome into readings or counters.</summary>
    public async Task HandleAsync(LineResult r, CancellationToken ct)
    {
        switch (r.Status)
        {
            case LineStatus.Good:
                var now = _clock.GetUtcNow();
                var ts = DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds());
                var readings = r.Values.Select(v =>
                {
                    CanonicalPoints.TryGet(v.Point, out var def);
                    return new Reading { Device = Device.Id, Point = v.Point, Timestamp = ts, Value = v.Value, Unit = def.Unit };
                }).ToList();
                Health.Ok(ts, TimeSpan.Zero);
                await _sink.AddAsync(Info, readings, ct).ConfigureAwait(false);
                break;
            case LineStatus.Bad:
                Health.Failed(FailureKind.Frame, r.Error?.ToString() ?? "bad line");
                break;
            case LineStatus.Timeout:
                Health.Failed(FailureKind.Timeout, $"no complete line within {_profile.Profile.Lines!.StaleAfter.TotalSeconds:0.#} s");
                break;
            default:
                break; // skipped lines (unstable weight, net mode) are expected, not errors
        }
    }
}
