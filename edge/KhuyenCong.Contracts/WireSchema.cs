namespace KhuyenCong.Contracts;

/// <summary>The JSON Schema of the telemetry payload, shipped inside this assembly.</summary>
public static class WireSchema
{
    public static string TelemetryJson()
    {
        using var s = typeof(WireSchema).Assembly.GetManifestResourceStream("telemetry.schema.json")
            ?? throw new InvalidOperationException("telemetry.schema.json is not embedded");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}
