namespace KhuyenCong.TestSupport;

/// <summary>
/// Waits for something that real servers do in their own time. The timeout is only a failure bound: nothing asserts how
/// fast it happens. A transient HTTP error while polling (a server still starting) counts as "not yet".
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultPatience = TimeSpan.FromSeconds(120);

    public static Task Until(Func<bool> condition, string what, TimeSpan? patience = null) =>
        Until(() => Task.FromResult(condition()), () => what, patience);

    /// <summary>As above, with a description computed on failure (it may show a server's output).</summary>
    public static Task Until(Func<bool> condition, Func<string> what, TimeSpan? patience = null) =>
        Until(() => Task.FromResult(condition()), what, patience);

    public static Task Until(Func<Task<bool>> condition, string what, TimeSpan? patience = null) =>
        Until(condition, () => what, patience);

    public static async Task Until(Func<Task<bool>> condition, Func<string> what, TimeSpan? patience = null)
    {
        var limit = patience ?? DefaultPatience;
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            bool ok;
            try
            {
                ok = await condition();
            }
            catch (HttpRequestException)
            {
                ok = false;
            }
            if (ok) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"gave up after {limit.TotalSeconds:0} s waiting until {what()}");
            await Task.Delay(100);
        }
    }
}
