namespace KhuyenCong.Modbus.Framing;

/// <summary>Modbus RTU CRC-16 (initial 0xFFFF, reflected polynomial 0xA001), sent low byte first.</summary>
public static class Crc16
{
    private static readonly ushort[] Table = BuildTable();

    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        ushort crc = 0xFFFF;
        foreach (var b in data) crc = (ushort)((crc >> 8) ^ Table[(crc ^ b) & 0xFF]);
        return crc;
    }

    private static ushort[] BuildTable()
    {
        var t = new ushort[256];
        for (var i = 0; i < 256; i++)
        {
            var c = (ushort)i;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? (ushort)((c >> 1) ^ 0xA001) : (ushort)(c >> 1);
            t[i] = c;
        }
        return t;
    }
}
