using KhuyenCong.Contracts;
using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.Modbus;

namespace KhuyenCong.Simulator;

/// <summary>
/// Steps a <see cref="Workshop"/> through simulated time without waiting, and reads every device at its own poll
/// interval as the edge agent would: each point of the device's profile, encoded into its registers and decoded back
/// (so a Float32 counter has exactly the resolution the real register gives), stamped with the poll time in whole
/// milliseconds. Used to write days of history in seconds; the physics are the workshop's own.
/// </summary>
public sealed class SimulatedPolls
{
    private readonly LoadedGateway _gateway;
    private readonly List<(DeviceConfig Device, LoadedProfile Profile, TimeSpan Poll)> _devices;
    private readonly DateTimeOffset[] _next;

    /// <param name="gateway">The gateway whose devices are read.</param>
    /// <param name="start">The instant simulated time 0 stands for (UTC).</param>
    /// <param name="seed">Seed of the workshop's measurement noise.</param>
    /// <param name="pollInterval">Overrides every device's poll interval (null: each device's own).</param>
    public SimulatedPolls(LoadedGateway gateway, DateTimeOffset start, int seed = 42, TimeSpan? pollInterval = null)
    {
        if (pollInterval is { } p && p < TimeSpan.FromMilliseconds(100)) throw new ArgumentOutOfRangeException(nameof(pollInterval), "must be at least 100 ms");
        _gateway = gateway;
        Start = start;
        Now = start;
        Workshop = new Workshop(gateway.Config, gateway.ProfilesByDevice.ToDictionary(x => x.Key, x => x.Value.Profile.Class), seed);
        _devices = [.. gateway.Config.Devices.Select(d => (d, gateway.ProfilesByDevice[d.Id], pollInterval ?? d.PollInterval))];
        _next = [.. _devices.Select(_ => start)];
    }

    public Workshop Workshop { get; }
    public DateTimeOffset Start { get; }

    /// <summary>The simulated instant the workshop is at.</summary>
    public DateTimeOffset Now { get; private set; }

    public GatewayConfig Config => _gateway.Config;

    /// <summary>The class (meter, kiln, gas) of a device, from its profile.</summary>
    public string ClassOf(string device) => _gateway.ProfilesByDevice[device].Profile.Class;

    /// <summary>The instant of the next poll of any device.</summary>
    public DateTimeOffset NextPoll => _next.Min();

    /// <summary>
    /// Advances the workshop to the next poll instant and returns the readings of every device due then (one or more
    /// devices; all readings of one device share the timestamp).
    /// </summary>
    public IReadOnlyList<Reading> Poll() => Poll(read: true);

    /// <summary>As <see cref="Poll()"/>; with <paramref name="read"/> false the workshop advances exactly the same way but no
    /// device is read (a dry run that finds out where a history ends).</summary>
    public IReadOnlyList<Reading> Poll(bool read)
    {
        var at = NextPoll;
        if (at > Now)
        {
            Workshop.Advance((at - Now).TotalSeconds);
            Now = at;
        }
        var readings = new List<Reading>();
        var ts = DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds());
        for (var i = 0; i < _devices.Count; i++)
        {
            if (_next[i] != at) continue;
            _next[i] = at + _devices[i].Poll;
            if (!read) continue;
            var (d, profile, _) = _devices[i];
            foreach (var p in profile.Profile.Points)
            {
                if (Workshop.Value(d.Id, p.Name) is not { } value) continue;
                CanonicalPoints.TryGet(p.Name, out var def);
                readings.Add(new Reading { Device = d.Id, Point = p.Name, Timestamp = ts, Value = AsRead(p, profile.Profile.WordOrder, value), Unit = def?.Unit ?? p.Unit ?? "" });
            }
        }
        return readings;
    }

    /// <summary>The value a master decodes after the device encoded <paramref name="value"/> into its registers.</summary>
    private static double AsRead(ProfilePoint p, WordOrder wordOrder, double value)
    {
        var f = p.ToField(wordOrder);
        if (f.Table is RegisterTable.Coil or RegisterTable.DiscreteInput || p.Bit is not null || p.Type == DataType.Bit)
            return p.FromField(p.ToRawBit(value) ? 1 : 0);
        var regs = new ushort[f.Width];
        RegisterCodec.Encode(f, value, regs);
        return p.FromField(RegisterCodec.Decode(f, regs));
    }
}
