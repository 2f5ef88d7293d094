using KhuyenCong.Cloud.Influx;

namespace KhuyenCong.Cloud.Tests;

/// <summary>The influxd the demo (and the tests) start is stopped by its owner, not by the terminal.</summary>
public sealed class LocalInfluxdTests
{
    [Fact]
    public async Task Influxd_runs_in_a_process_group_and_session_of_its_own_so_a_ctrl_c_for_the_demo_does_not_stop_it()
    {
        await using var influxd = await LocalInfluxd.StartAsync();
        var (comm, group, session) = Stat(influxd.Pid);
        var (_, ourGroup, ourSession) = Stat(Environment.ProcessId);
        Assert.Equal("influxd", comm); // the process id is influxd's own (setsid became influxd)
        Assert.NotEqual(ourGroup, group); // a terminal's Ctrl-C goes to the foreground group: ours, not influxd's
        Assert.NotEqual(ourSession, session);
        Assert.Equal(influxd.Pid, session); // it leads its session

        await influxd.StopAsync();
        Assert.True(influxd.HasExited, "disposing (stopping) the owner stops influxd");
    }

    [Fact]
    public async Task On_a_port_another_influxd_already_serves_the_start_fails_saying_so_instead_of_returning_the_other_one()
    {
        await using var first = await LocalInfluxd.StartAsync();
        // The second influxd cannot bind; meanwhile /ping on that port is answered — by the first one.
        var ex = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => LocalInfluxd.StartAsync(port: first.Port));
        Assert.Contains("address already in use", ex.Message, StringComparison.Ordinal);
        Assert.False(first.HasExited);
    }

    /// <summary>Name, process group and session of a process, from /proc/&lt;pid&gt;/stat.</summary>
    private static (string Comm, int Group, int Session) Stat(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var open = stat.IndexOf('(', StringComparison.Ordinal);
        var close = stat.LastIndexOf(')');
        var fields = stat[(close + 2)..].Split(' '); // state ppid pgrp session …
        return (stat[(open + 1)..close], int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture));
    }
}
