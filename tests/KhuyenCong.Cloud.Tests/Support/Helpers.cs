using System.Collections.Concurrent;
using KhuyenCong.Cloud.Config;
using KhuyenCong.Contracts;
using KhuyenCong.TestSupport;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace KhuyenCong.Cloud.Tests.Support;

/// <summary>Log messages kept in memory, so tests can check what the ingestor said and why.</summary>
public sealed class ListLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

    public ILoggerFactory Factory() => LoggerFactory.Create(b => b.AddProvider(this).SetMinimumLevel(LogLevel.Debug));

    public IReadOnlyList<(LogLevel Level, string Message)> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(ListLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue((logLevel, formatter(state, exception)));
    }
}

public static class Wait
{
    /// <summary>Polls <paramref name="condition"/>; the timeout only bounds a failing test, it measures nothing.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, Func<string>? diagnostics = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}. {diagnostics?.Invoke()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Bounds a task that should complete; fails the test with <paramref name="what"/> otherwise.</summary>
    public static async Task ForAsync(Func<CancellationToken, Task> task, string what, Func<string>? diagnostics = null, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await task(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"timed out waiting until {what}. {diagnostics?.Invoke()}");
        }
    }
}

/// <summary>A gateway stand-in: publishes raw payloads at QoS 1 and returns once the broker has them (PUBACK).</summary>
public sealed class TestPublisher : IAsyncDisposable
{
    private readonly IMqttClient _client;

    private TestPublisher(IMqttClient client) => _client = client;

    public static async Task<TestPublisher> ConnectAsync(int port, string clientId = "test-gateway")
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(clientId).WithCleanStart(true).Build();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var r = await client.ConnectAsync(options, cts.Token);
        Assert.Equal(MqttClientConnectResultCode.Success, r.ResultCode);
        return new TestPublisher(client);
    }

    public async Task PublishAsync(string topic, byte[] payload, bool retain = false)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var r = await _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cts.Token);
        Assert.True(r.IsSuccess, $"publish to {topic}: {r.ReasonCode}");
    }

    public Task PublishAsync(TelemetryBatch batch) => PublishAsync(Topics.Telemetry(batch.Site, batch.Gateway), TelemetryCodec.Encode(batch));

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected) await _client.DisconnectAsync();
        _client.Dispose();
    }
}

/// <summary>Telemetry the tests send: one meter and one kiln controller on kiln-1, and an LPG scale serving the site.</summary>
public static class Sample
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 28, 8, 0, 0, 250, TimeSpan.Zero);

    public static TelemetryBatch Batch(string site, string gateway, long seq, DateTimeOffset t) => new()
    {
        Site = site,
        Gateway = gateway,
        Sequence = seq,
        Sent = t.AddSeconds(6),
        Devices =
        [
            new DeviceInfo { Id = "kiln1-meter", Class = DeviceClasses.Meter, Kiln = "kiln-1", Profile = "eastron-sdm630" },
            new DeviceInfo { Id = "kiln1-ctl", Class = DeviceClasses.Kiln, Kiln = "kiln-1" },
            new DeviceInfo { Id = "lpg-scale", Class = DeviceClasses.Gas },
        ],
        Readings =
        [
            new Reading { Device = "kiln1-meter", Point = "energy_import_kwh", Timestamp = t, Value = 10234.5, Unit = "kWh" },
            new Reading { Device = "kiln1-meter", Point = "power_w", Timestamp = t, Value = 12750, Unit = "W" },
            new Reading { Device = "kiln1-ctl", Point = "kiln_temp_c", Timestamp = t, Value = 1187.5, Unit = "°C", Quality = Qualities.Uncertain },
            new Reading { Device = "kiln1-ctl", Point = "kiln_running", Timestamp = t, Value = 1, Unit = "", Quality = Qualities.Good },
            new Reading { Device = "lpg-scale", Point = "lpg_mass_kg", Timestamp = t, Value = 42.25, Unit = "kg" },
            new Reading { Device = "kiln1-meter", Point = "energy_import_kwh", Timestamp = t.AddSeconds(5), Value = 10234.52 + seq, Unit = "kWh" },
        ],
    };

    /// <summary>Lines one <see cref="Batch"/> becomes: meter at t and t+5 s, kiln at t, gas at t.</summary>
    public const int LinesPerBatch = 4;

    public static LoadedCloudConfig Config(string yaml) => CloudConfigLoader.Parse(yaml, Path.Combine(Path.GetTempPath(), "cloud.yaml"));

    /// <summary>Starts a cloud service from <paramref name="yaml"/> and waits until its ingestor is connected to the broker.</summary>
    public static async Task<CloudService> StartCloudAsync(string yaml, ILoggerFactory logs, string what, Func<string>? diagnostics = null)
    {
        var cloud = new CloudService(Config(yaml), logs);
        try
        {
            await cloud.StartAsync(default);
            await Wait.UntilAsync(() => cloud.Ingestor.IsConnected, what, diagnostics);
            return cloud;
        }
        catch
        {
            await cloud.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The cloud config of an ingestor that reads <paramref name="broker"/> as <paramref name="clientId"/> and writes
    /// <paramref name="database"/> of the influxd at <paramref name="influxUrl"/>; the extras are indented lines added to
    /// the mqtt and ingest sections.
    /// </summary>
    public static string IngestYaml(MosquittoServer broker, string influxUrl, string database, string clientId, string extraMqtt = "", string extraIngest = "", string flushInterval = "50ms") => $$"""
        mqtt:
          url: {{broker.Url}}
          client_id: {{clientId}}
        {{extraMqtt}}
        influx:
          url: {{influxUrl}}
          database: {{database}}
        ingest:
          flush_interval: {{flushInterval}}
        {{extraIngest}}
        """;
}
