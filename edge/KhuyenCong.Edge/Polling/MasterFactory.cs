using KhuyenCong.Edge.Config;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.Modbus;

namespace KhuyenCong.Edge.Polling;

/// <summary>Opens the right Modbus master for a bus.</summary>
public static class MasterFactory
{
    public static IModbusMaster Create(BusConfig bus, IReadOnlyList<PolledDevice> devices)
    {
        // Bus-wide timing follows the most demanding device on it.
        var timeout = devices.Count == 0 ? TimeSpan.FromSeconds(1) : devices.Max(d => d.Timeout);
        var pauseAfterConnect = devices.Count == 0 ? TimeSpan.Zero : devices.Max(d => d.Profile.Profile.Requests.PauseAfterConnect);
        switch (bus.Type)
        {
            case BusType.Tcp:
                return new ModbusTcpMaster(new ModbusTcpMasterOptions
                {
                    Host = bus.Host!,
                    Port = bus.Port,
                    ResponseTimeout = timeout,
                    PauseAfterConnect = pauseAfterConnect,
                });
            case BusType.RtuOverTcp:
                return new ModbusRtuMaster(new TcpByteTransport(bus.Host!, bus.Port), new ModbusRtuMasterOptions
                {
                    ResponseTimeout = timeout,
                    Baud = bus.Baud ?? devices.FirstOrDefault()?.Profile.Profile.Serial?.Baud ?? 9600,
                });
            case BusType.Ascii:
                throw new ArgumentException($"bus {bus.Id} carries ASCII lines, not Modbus", nameof(bus));
            default:
                var serial = devices.FirstOrDefault()?.Profile.Profile.Serial ?? new SerialDefaults();
                var settings = new SerialPortSettings
                {
                    PortName = bus.Device!,
                    Baud = bus.Baud ?? serial.Baud,
                    Parity = (bus.Parity ?? serial.Parity) switch
                    {
                        Profiles.Parity.Even => System.IO.Ports.Parity.Even,
                        Profiles.Parity.Odd => System.IO.Ports.Parity.Odd,
                        _ => System.IO.Ports.Parity.None,
                    },
                    DataBits = bus.DataBits ?? serial.DataBits,
                    StopBits = (bus.StopBits ?? serial.StopBits) == 2 ? System.IO.Ports.StopBits.Two : System.IO.Ports.StopBits.One,
                };
                return new ModbusRtuMaster(new SerialByteTransport(settings), new ModbusRtuMasterOptions
                {
                    ResponseTimeout = timeout,
                    Baud = settings.Baud,
                });
        }
    }
}
