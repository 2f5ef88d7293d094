namespace KhuyenCong.Contracts;

/// <summary>
/// The one vocabulary of point names across all device profiles, so the cloud never needs to know a device's model.
/// Names are never renamed; new ones are added here and in docs/points.md.
/// </summary>
public static class CanonicalPoints
{
    public sealed record Definition(string Name, string Unit, string Class, PointKind Kind, string Description);

    public enum PointKind
    {
        /// <summary>An instantaneous value (power, temperature, state).</summary>
        Gauge,
        /// <summary>A cumulative counter that only grows (until a reset or rollover): the cloud computes deltas.</summary>
        Counter,
        /// <summary>A stock that falls as it is used and jumps up at a refill (an LPG cylinder on a scale).</summary>
        Stock,
    }

    public static readonly IReadOnlyList<Definition> All =
    [
        new("energy_import_kwh", "kWh", DeviceClasses.Meter, PointKind.Counter, "Imported active energy"),
        new("energy_export_kwh", "kWh", DeviceClasses.Meter, PointKind.Counter, "Exported active energy"),
        new("energy_total_kwh", "kWh", DeviceClasses.Meter, PointKind.Counter, "Total (import + export) active energy"),
        new("power_w", "W", DeviceClasses.Meter, PointKind.Gauge, "Total active power"),
        new("power_l1_w", "W", DeviceClasses.Meter, PointKind.Gauge, "Active power, phase L1"),
        new("power_l2_w", "W", DeviceClasses.Meter, PointKind.Gauge, "Active power, phase L2"),
        new("power_l3_w", "W", DeviceClasses.Meter, PointKind.Gauge, "Active power, phase L3"),
        new("voltage_l1_v", "V", DeviceClasses.Meter, PointKind.Gauge, "Voltage L1 to neutral"),
        new("voltage_l2_v", "V", DeviceClasses.Meter, PointKind.Gauge, "Voltage L2 to neutral"),
        new("voltage_l3_v", "V", DeviceClasses.Meter, PointKind.Gauge, "Voltage L3 to neutral"),
        new("current_l1_a", "A", DeviceClasses.Meter, PointKind.Gauge, "Current, phase L1"),
        new("current_l2_a", "A", DeviceClasses.Meter, PointKind.Gauge, "Current, phase L2"),
        new("current_l3_a", "A", DeviceClasses.Meter, PointKind.Gauge, "Current, phase L3"),
        new("frequency_hz", "Hz", DeviceClasses.Meter, PointKind.Gauge, "Grid frequency"),
        new("power_factor", "", DeviceClasses.Meter, PointKind.Gauge, "Total power factor"),
        new("kiln_temp_c", "°C", DeviceClasses.Kiln, PointKind.Gauge, "Kiln process temperature"),
        new("kiln_setpoint_c", "°C", DeviceClasses.Kiln, PointKind.Gauge, "Kiln controller setpoint"),
        new("kiln_running", "", DeviceClasses.Kiln, PointKind.Gauge, "1 while the firing program runs, else 0"),
        new("kiln_alarm", "", DeviceClasses.Kiln, PointKind.Gauge, "1 while the controller signals an alarm, else 0"),
        new("kiln_segment", "", DeviceClasses.Kiln, PointKind.Gauge, "Current program step"),
        new("lpg_mass_kg", "kg", DeviceClasses.Gas, PointKind.Stock, "LPG left on the scale (falls as gas is used, jumps up at a refill)"),
        new("gas_volume_m3", "m³", DeviceClasses.Gas, PointKind.Counter, "Cumulative gas volume"),
        new("gas_flow_m3h", "m³/h", DeviceClasses.Gas, PointKind.Gauge, "Gas flow rate"),
    ];

    private static readonly Dictionary<string, Definition> ByName = All.ToDictionary(d => d.Name, StringComparer.Ordinal);

    public static bool TryGet(string name, out Definition definition) => ByName.TryGetValue(name, out definition!);

    public static bool IsKnown(string name) => ByName.ContainsKey(name);
}
