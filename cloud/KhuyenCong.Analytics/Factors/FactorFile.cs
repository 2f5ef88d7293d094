using System.Globalization;
using KhuyenCong.Configuration;

namespace KhuyenCong.Analytics.Factors;

/// <summary>How far a value can be trusted: H = official or several sources agree; M = one secondary source; L = weak.</summary>
public enum Confidence
{
    H,
    M,
    L,
}

/// <summary>Where a number came from: the factor file and field, the document, its date and confidence. Carried by every
/// result that used the number, so a report can cite it.</summary>
public sealed record FactorSource(string File, string Field, string Document, string? Url, Confidence Confidence, DateOnly Effective, string? Note)
{
    public override string ToString() => $"{Document} (effective {Effective:yyyy-MM-dd}, confidence {Confidence}; {System.IO.Path.GetFileName(File)}: {Field})";
}

/// <summary>A computation needed a factor that the data files do not hold. The message names the file.</summary>
public sealed class MissingFactorException : Exception
{
    public MissingFactorException(string file, string message) : base($"{file}: {message}") => File = file;

    public MissingFactorException() { File = ""; }

    public MissingFactorException(string message) : base(message) { File = ""; }

    public MissingFactorException(string message, Exception inner) : base(message, inner) { File = ""; }

    public string File { get; }
}

/// <summary>The fields every factor entry has.</summary>
internal class EntryDto
{
    public required double Value { get; set; }
    public required string Unit { get; set; }
    public required string Effective { get; set; }
    public required string Source { get; set; }
    public string? Url { get; set; }
    public required Confidence Confidence { get; set; }
    public string? Note { get; set; }
}

internal static class FactorFile
{
    public static (T Value, YamlBinder Binder) Load<T>(string path) where T : class =>
        YamlBinder.LoadFile<T>(Path.GetFullPath(path));

    /// <summary>"2011" (1 January) or "2011-04-19".</summary>
    public static DateOnly ParseEffective(YamlBinder b, object dto, string text, string property = "Effective")
    {
        var inv = CultureInfo.InvariantCulture;
        if (text.Length == 4 && int.TryParse(text, NumberStyles.None, inv, out var year) && year >= 1900) return new DateOnly(year, 1, 1);
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", inv, DateTimeStyles.None, out var d)) return d;
        throw b.Error(dto, property, $"'{text}' is not a year (YYYY) or a date (YYYY-MM-DD)");
    }

    /// <summary>Checks an entry and returns its provenance. <paramref name="units"/> lists the units accepted here.</summary>
    public static FactorSource Check(YamlBinder b, EntryDto e, params string[] units)
    {
        if (!double.IsFinite(e.Value) || e.Value <= 0) throw b.Error(e, nameof(EntryDto.Value), $"must be a positive number, not {e.Value}");
        if (units.Length > 0 && !units.Contains(e.Unit, StringComparer.Ordinal))
            throw b.Error(e, nameof(EntryDto.Unit), $"'{e.Unit}' is not an accepted unit here; expected {string.Join(" or ", units.Select(u => $"'{u}'"))}");
        if (string.IsNullOrWhiteSpace(e.Source)) throw b.Error(e, nameof(EntryDto.Source), "must name the source document");
        return new FactorSource(b.File, b.Where(e).Path, e.Source, e.Url, e.Confidence, ParseEffective(b, e, e.Effective), e.Note);
    }

    public static void RequireVersion(YamlBinder b, object dto, int version)
    {
        if (version != 1) throw b.Error(dto, "Version", $"version {version} is not supported; this build reads version 1");
    }
}
