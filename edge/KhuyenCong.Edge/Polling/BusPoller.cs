using System.Diagnostics;
using System.Net.Sockets;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Outbox;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.Modbus;
using Microsoft.Extensions.Logging;

namespace KhuyenCong.Edge.Polling;

/// <summary>A device on a bus with its request plan, worked out once when the agent starts.</summary>
public sealed class PolledDevice
{
    public PolledDevice(DeviceConfig config, LoadedProfile profile)
    {
        Config = config;
        Profile = profile;
        Unit = config.Unit ?? profile.Profile.DefaultUnit;
        var rq = profile.Profile.Requests;
        Plan = RequestPlanner.Plan(profile.Fields(), new PlannerOptions
        {
            MaxRegisters = rq.MaxRegisters,
            MaxGap = rq.MaxGap,
            OneRequestPerField = rq.OnePerPoint,
        });
        Timeout = config.Timeout ?? rq.Timeout;
        Info = new DeviceInfo { Id = config.Id, Class = profile.Profile.Class, Kiln = config.Kiln, Profile = profile.Profile.Id };
        Health = new DeviceHealth { Device = config.Id };
        _points = profile.Profile.Points.ToDictionary(p => p.Name, StringComparer.Ordinal);
    }

    private readonly Dictionary<string, ProfilePoint> _points;

    public DeviceConfig Config { get; }
    public LoadedProfile Profile { get; }
    public byte Unit { get; }
    public IReadOnlyList<ReadRequest> Plan { get; }
    public TimeSpan Timeout { get; }
    public DeviceInfo Info { get; }
    public DeviceHealth Health { get; }
    /// <summary>When this device is next polled (pushed out while it is backed off).</summary>
    public DateTimeOffset NextDue { get; internal set; }

    internal ProfilePoint Point(string name) => _points[name];
}

/// <summary>
/// Polls every device of one bus, one transaction at a time, each on its own schedule. A device that stops
/// answering is backed off (its next poll is pushed out exponentially up to <see cref="MaxBackoff"/>), so it
/// cannot starve the others; it is retried later and resumes its schedule when it answers.
/// </summary>
public sealed class BusPoller
{
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(1);

    private readonly IModbusMaster _master;
    private readonly IReadOnlyList<PolledDevice> _devices;
    private readonly IReadingSink _sink;
    private readonly TimeProvider _clock;
    private readonly ILogger _log;

    public BusPoller(string busId, IModbusMaster master, IReadOnlyList<PolledDevice> devices, IReadingSink sink, TimeProvider clock, ILogger log)
    {
        BusId = busId;
        _master = master;
        _devices = devices;
        _sink = sink;
        _clock = clock;
        _log = log;
    }

    public string BusId { get; }

    public IReadOnlyList<PolledDevice> Devices => _devices;

    /// <summary>When this bus last finished a poll, good or failed: proof that its loop is alive.</summary>
    public DateTimeOffset? LastAttempt { get; private set; }

    public async Task RunAsync(CancellationToken ct)
    {
        var start = _clock.GetUtcNow();
        foreach (var d in _devices) d.NextDue = start;
        while (!ct.IsCancellationRequested)
        {
            var next = _devices.MinBy(d => d.NextDue)!;
            var wait = next.NextDue - _clock.GetUtcNow();
            if (wait > TimeSpan.Zero) await Task.Delay(wait, _clock, ct).ConfigureAwait(false);
            await PollOnceAsync(next, ct).ConfigureAwait(false);
            LastAttempt = _clock.GetUtcNow();
        }
    }

    /// <summary>Reads every planned request of <paramref name="device"/> and hands the readings to the sink.</summary>
    public async Task<bool> PollOnceAsync(PolledDevice device, CancellationToken ct)
    {
        var at = _clock.GetUtcNow();
        var ts = DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds());
        var sw = Stopwatch.StartNew();
        var readings = new List<Reading>(device.Profile.Profile.Points.Count);
        try
        {
            foreach (var request in device.Plan)
            {
                foreach (var (field, value) in await ReadWithRetriesAsync(device, request, ct).ConfigureAwait(false))
                {
                    var point = device.Point(field.Name);
                    var v = point.FromField(value);
                    if (!double.IsFinite(v)) throw new ModbusFrameException($"{field.Name} decoded to {v}");
                    CanonicalPoints.TryGet(point.Name, out var def);
                    readings.Add(new Reading { Device = device.Config.Id, Point = point.Name, Timestamp = ts, Value = v, Unit = def.Unit });
                }
                if (device.Profile.Profile.Requests.PauseBetween > TimeSpan.Zero)
                    await Task.Delay(device.Profile.Profile.Requests.PauseBetween, _clock, ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (Classify(ex) is { } kind && !ct.IsCancellationRequested)
        {
            device.Health.Failed(kind, ex.Message);
            var backoff = Backoff(device);
            device.NextDue = _clock.GetUtcNow() + backoff;
            if (device.Health.ConsecutiveFailures is 1 or 10 or 100)
                _log.LogWarning("Device {Device} on bus {Bus} failed ({Kind}): {Error}; retrying in {Backoff:0.#} s", device.Config.Id, BusId, kind, ex.Message, backoff.TotalSeconds);
            return false;
        }

        device.Health.Ok(ts, sw.Elapsed);
        await _sink.AddAsync(device.Info, readings, ct).ConfigureAwait(false);
        // Keep the schedule anchored: the next poll is one interval after this one was due, never in the past.
        var due = device.NextDue + device.Config.PollInterval;
        var now = _clock.GetUtcNow();
        device.NextDue = due > now ? due : now + device.Config.PollInterval;
        return true;
    }

    /// <summary>
    /// One request, tried again (up to the device's <c>retries</c>) after a timeout or a corrupt reply: RS-485 lines
    /// drop the odd frame. An exception response is an answer and is not retried.
    /// </summary>
    private async Task<IReadOnlyList<(FieldSpec Field, double Value)>> ReadWithRetriesAsync(PolledDevice device, ReadRequest request, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(device.Timeout);
            try
            {
                return await ReadAsync(device.Unit, request, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                if (attempt >= device.Config.Retries)
                    throw new ModbusTimeoutException($"unit {device.Unit}: no answer to {request.Table} {request.Address}+{request.Count} within {device.Timeout.TotalMilliseconds:0} ms");
            }
            catch (Exception ex) when (ex is ModbusTimeoutException or ModbusFrameException && attempt < device.Config.Retries)
            {
            }
            device.Health.Retried();
        }
    }

    private static TimeSpan Backoff(PolledDevice d)
    {
        var factor = Math.Pow(2, Math.Min(d.Health.ConsecutiveFailures - 1, 10));
        var ms = Math.Min(d.Config.PollInterval.TotalMilliseconds * factor, MaxBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(Math.Max(ms, d.Config.PollInterval.TotalMilliseconds));
    }

    private async Task<IReadOnlyList<(FieldSpec Field, double Value)>> ReadAsync(byte unit, ReadRequest r, CancellationToken ct)
    {
        switch (r.Table)
        {
            case RegisterTable.HoldingRegister:
                return r.Decode(await _master.ReadHoldingRegistersAsync(unit, r.Address, r.Count, ct).ConfigureAwait(false));
            case RegisterTable.InputRegister:
                return r.Decode(await _master.ReadInputRegistersAsync(unit, r.Address, r.Count, ct).ConfigureAwait(false));
            case RegisterTable.Coil:
                return r.Decode(await _master.ReadCoilsAsync(unit, r.Address, r.Count, ct).ConfigureAwait(false));
            default:
                return r.Decode(await _master.ReadDiscreteInputsAsync(unit, r.Address, r.Count, ct).ConfigureAwait(false));
        }
    }

    private static FailureKind? Classify(Exception ex) => ex switch
    {
        ModbusTimeoutException or TimeoutException => FailureKind.Timeout,
        ModbusExceptionResponseException => FailureKind.ExceptionResponse,
        ModbusFrameException => FailureKind.Frame,
        ModbusException => FailureKind.Frame,
        IOException or SocketException or ObjectDisposedException => FailureKind.Link,
        _ => null,
    };
}
