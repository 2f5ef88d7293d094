using System.Diagnostics.CodeAnalysis;
using KhuyenCong.Configuration;
using KhuyenCong.Contracts;
using KhuyenCong.Edge.Profiles;

namespace KhuyenCong.Edge.Config;

/// <summary>A checked gateway configuration with every profile it uses, and paths made absolute.</summary>
public sealed record LoadedGateway(GatewayConfig Config, string File, YamlBinder Binder, IReadOnlyDictionary<string, LoadedProfile> ProfilesByDevice)
{
    public string Dir => Path.GetDirectoryName(Path.GetFullPath(File))!;

    public string OutboxPath => Path.GetFullPath(Config.Outbox.Path, Dir);

    public BusConfig Bus(string id) => Config.Buses.First(b => b.Id == id);
}

/// <summary>Loads a gateway config and checks it together with the profiles of its devices.</summary>
public static class GatewayConfigLoader
{
    // The classes the YAML binder creates below GatewayConfig, kept for trimmed and Native AOT builds
    // (TrimSafetyTests checks that this list is complete).
    [DynamicDependency(YamlBinder.Kept, typeof(MqttSettings))]
    [DynamicDependency(YamlBinder.Kept, typeof(TlsSettings))]
    [DynamicDependency(YamlBinder.Kept, typeof(OutboxSettings))]
    [DynamicDependency(YamlBinder.Kept, typeof(PublishSettings))]
    [DynamicDependency(YamlBinder.Kept, typeof(BusConfig))]
    [DynamicDependency(YamlBinder.Kept, typeof(DeviceConfig))]
    [DynamicDependency(YamlBinder.Kept, typeof(List<BusConfig>))]
    [DynamicDependency(YamlBinder.Kept, typeof(List<DeviceConfig>))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields, typeof(BusType))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields, typeof(Parity))]
    public static LoadedGateway Load(string file)
    {
        file = Path.GetFullPath(file);
        var (cfg, b) = YamlBinder.LoadFile<GatewayConfig>(file);
        var dir = Path.GetDirectoryName(file)!;

        if (!Identifiers.IsValid(cfg.Site)) throw b.Error(cfg, nameof(cfg.Site), $"'{cfg.Site}' is not a valid id (letters, digits, '-', '_', '.'; at most 64)");
        if (!Identifiers.IsValid(cfg.Gateway)) throw b.Error(cfg, nameof(cfg.Gateway), $"'{cfg.Gateway}' is not a valid id");
        ValidateMqtt(cfg.Mqtt, b);
        if (cfg.Publish.MaxBatch is < 1 or > 1000) throw b.Error(cfg.Publish, nameof(cfg.Publish.MaxBatch), "must be 1–1000 (one MQTT message stays under the cloud's 256 KiB limit)");
        if (cfg.Publish.HealthInterval < TimeSpan.FromSeconds(1)) throw b.Error(cfg.Publish, nameof(cfg.Publish.HealthInterval), "must be at least 1s");
        if (cfg.Outbox.MaxBytes < 64 * 1024) throw b.Error(cfg.Outbox, nameof(cfg.Outbox.MaxBytes), "must be at least 65536 bytes");

        var buses = new Dictionary<string, BusConfig>(StringComparer.Ordinal);
        foreach (var bus in cfg.Buses)
        {
            if (!Identifiers.IsValid(bus.Id)) throw b.Error(bus, nameof(bus.Id), $"'{bus.Id}' is not a valid id");
            if (!buses.TryAdd(bus.Id, bus)) throw b.Error(bus, nameof(bus.Id), $"bus '{bus.Id}' is defined twice");
            switch (bus.Type)
            {
                case BusType.Tcp or BusType.RtuOverTcp:
                    if (string.IsNullOrWhiteSpace(bus.Host)) throw b.Error(bus, nameof(bus.Host), $"a {YamlBinder.ToSnake(bus.Type.ToString())} bus needs a host");
                    if (bus.Port is < 1 or > 65535) throw b.Error(bus, nameof(bus.Port), "must be 1–65535");
                    break;
                case BusType.Rtu or BusType.Ascii:
                    if (string.IsNullOrWhiteSpace(bus.Device)) throw b.Error(bus, nameof(bus.Device), "a serial bus needs a device path, e.g. /dev/ttyUSB0");
                    if (bus.Baud is { } baud && baud is < 300 or > 921600) throw b.Error(bus, nameof(bus.Baud), "must be 300–921600");
                    if (bus.StopBits is { } sb && sb is not (1 or 2)) throw b.Error(bus, nameof(bus.StopBits), "must be 1 or 2");
                    if (bus.DataBits is { } db && db is not (7 or 8)) throw b.Error(bus, nameof(bus.DataBits), "must be 7 or 8");
                    break;
            }
        }

        var profilesDir = Path.GetFullPath(cfg.ProfilesDir, dir);
        var profiles = new Dictionary<string, LoadedProfile>(StringComparer.Ordinal);
        var byFile = new Dictionary<string, LoadedProfile>(StringComparer.Ordinal);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var unitsOnBus = new Dictionary<(string Bus, byte Unit), DeviceConfig>();
        var asciiBusUsers = new Dictionary<string, DeviceConfig>(StringComparer.Ordinal);
        foreach (var d in cfg.Devices)
        {
            if (!Identifiers.IsValid(d.Id)) throw b.Error(d, nameof(d.Id), $"'{d.Id}' is not a valid id");
            if (!ids.Add(d.Id)) throw b.Error(d, nameof(d.Id), $"device '{d.Id}' is defined twice");
            if (!buses.ContainsKey(d.Bus)) throw b.Error(d, nameof(d.Bus), $"no bus '{d.Bus}' is defined (buses: {string.Join(", ", buses.Keys)})");
            if (d.Kiln is not null && !Identifiers.IsValid(d.Kiln)) throw b.Error(d, nameof(d.Kiln), $"'{d.Kiln}' is not a valid id");
            if (d.PollInterval < TimeSpan.FromMilliseconds(100)) throw b.Error(d, nameof(d.PollInterval), "must be at least 100ms");
            if (d.Timeout is { } t && t <= TimeSpan.Zero) throw b.Error(d, nameof(d.Timeout), "must be positive");
            if (d.Retries is < 0 or > 5) throw b.Error(d, nameof(d.Retries), "must be 0–5");

            var path = ProfileLoader.Resolve(d.Profile, profilesDir);
            if (!File.Exists(path)) throw b.Error(d, nameof(d.Profile), $"profile '{d.Profile}' not found (looked for {path})");
            if (!byFile.TryGetValue(path, out var profile))
            {
                profile = ProfileLoader.Load(path);
                byFile[path] = profile;
            }
            profiles[d.Id] = profile;

            var busType = buses[d.Bus].Type;
            if (profile.IsLineDevice != (busType == BusType.Ascii))
            {
                throw b.Error(d, nameof(d.Profile), profile.IsLineDevice
                    ? $"profile '{profile.Profile.Id}' reads ASCII lines: put the device on a bus of type ascii, not {YamlBinder.ToSnake(busType.ToString())}"
                    : $"profile '{profile.Profile.Id}' is a Modbus profile: an ascii bus only carries a profile with lines:");
            }
            if (busType == BusType.Ascii)
            {
                if (d.Unit is not null) throw b.Error(d, nameof(d.Unit), "an ASCII line device has no unit id");
                if (!asciiBusUsers.TryAdd(d.Bus, d)) throw b.Error(d, nameof(d.Bus), $"ascii bus '{d.Bus}' already carries device '{asciiBusUsers[d.Bus].Id}' (one device per ascii bus)");
                continue;
            }

            var unit = d.Unit ?? profile.Profile.DefaultUnit;
            if (unit is 0 or > 247) throw b.Error(d, nameof(d.Unit), "must be 1–247");
            if (unitsOnBus.TryGetValue((d.Bus, unit), out var other))
                throw b.Error(d, nameof(d.Unit), $"unit id {unit} is already used by device '{other.Id}' on bus '{d.Bus}'");
            unitsOnBus[(d.Bus, unit)] = d;
        }
        CheckSerialSettingsAgree(cfg, b, profiles);
        return new LoadedGateway(cfg, file, b, profiles);
    }

    /// <summary>
    /// A serial bus without explicit settings takes them from its first device's profile; when its devices ship with
    /// different factory settings (an SDM120 at 2400 baud beside an SDM630 at 9600) that guess is wrong for some of them,
    /// so the bus must say which settings the installer set on every device.
    /// </summary>
    private static void CheckSerialSettingsAgree(GatewayConfig cfg, YamlBinder b, Dictionary<string, LoadedProfile> profiles)
    {
        foreach (var bus in cfg.Buses.Where(x => x.Type is BusType.Rtu or BusType.RtuOverTcp or BusType.Ascii))
        {
            var onBus = cfg.Devices.Where(d => d.Bus == bus.Id && profiles[d.Id].Profile.Serial is not null)
                .Select(d => (d.Id, Serial: profiles[d.Id].Profile.Serial!)).ToList();
            if (onBus.Count < 2) continue;
            Check(bus.Baud, nameof(bus.Baud), s => s.Baud.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (bus.Type != BusType.RtuOverTcp)
            {
                Check(bus.Parity, nameof(bus.Parity), s => YamlBinder.ToSnake(s.Parity.ToString()));
                Check(bus.DataBits, nameof(bus.DataBits), s => s.DataBits.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Check(bus.StopBits, nameof(bus.StopBits), s => s.StopBits.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            void Check(object? given, string property, Func<SerialDefaults, string> value)
            {
                if (given is not null) return;
                var distinct = onBus.GroupBy(x => value(x.Serial)).ToList();
                if (distinct.Count < 2) return;
                var which = string.Join(", ", distinct.Select(g => $"{g.Key} ({string.Join(", ", g.Select(x => x.Id))})"));
                throw b.Error(bus, property, $"the devices on bus '{bus.Id}' ship with different {YamlBinder.ToSnake(property)} settings: {which}; set {YamlBinder.ToSnake(property)} on the bus and on every device");
            }
        }
    }

    private static void ValidateMqtt(MqttSettings m, YamlBinder b)
    {
        if (!Uri.TryCreate(m.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("mqtt" or "mqtts" or "tcp" or "ssl") || string.IsNullOrEmpty(uri.Host))
            throw b.Error(m, nameof(m.Url), $"'{m.Url}' is not a broker URL like mqtt://host:1883 or mqtts://host:8883");
        if (m.PasswordFile is not null && m.PasswordEnv is not null)
            throw b.Error(m, nameof(m.PasswordEnv), "give password_file or password_env, not both");
        if (m.ClientId is not null && m.ClientId.Length is 0 or > 128) throw b.Error(m, nameof(m.ClientId), "must be 1–128 characters");
        if (m.Tls is { } tls)
        {
            if (uri.Scheme is not ("mqtts" or "ssl")) throw b.Error(m, nameof(m.Tls), $"tls settings need a TLS broker URL (mqtts://{uri.Host}:8883), not {uri.Scheme}://");
            if (tls.KeyFile is not null && tls.CertFile is null) throw b.Error(tls, nameof(tls.KeyFile), "key_file needs cert_file (the client certificate it belongs to)");
        }
    }
}
