namespace KhuyenCong.Configuration;

/// <summary>
/// Secrets (broker passwords, database tokens) come from a file or an environment variable named in the config —
/// never from the config itself — and are never logged.
/// </summary>
public static class Secrets
{
    /// <summary>The first line of <paramref name="file"/> (relative to <paramref name="baseDir"/>), or the variable <paramref name="env"/>; null when neither is given.</summary>
    public static string? Read(string? file, string? env, string baseDir)
    {
        if (file is not null)
        {
            var path = Path.GetFullPath(file, baseDir);
            if (!File.Exists(path)) throw new FileNotFoundException($"secret file {path} does not exist");
            return File.ReadLines(path).FirstOrDefault()?.Trim() ?? "";
        }
        if (env is not null)
            return Environment.GetEnvironmentVariable(env) ?? throw new InvalidOperationException($"environment variable {env} is not set");
        return null;
    }
}
