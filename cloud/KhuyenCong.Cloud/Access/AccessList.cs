using System.Security.Cryptography;
using System.Text;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Configuration;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Access;

/// <summary>What a user of the API and the live page may do.</summary>
public enum Role
{
    /// <summary>Runs the kilns of one site: reads that site, enters production for it.</summary>
    Operator,
    /// <summary>Verifies savings: reads the sites assigned to them, changes nothing.</summary>
    Auditor,
    /// <summary>The khuyến công centre: reads every site.</summary>
    Centre,
}

/// <summary>An authenticated user: a name for the audit trail, a role, and the sites they are assigned to.</summary>
public sealed record Principal(string Name, Role Role, IReadOnlySet<string> Sites)
{
    public bool CanRead(string site) => Role == Role.Centre || Sites.Contains(site);

    /// <summary>Production entries: only an operator of the site.</summary>
    public bool CanEnterProduction(string site) => Role == Role.Operator && Sites.Contains(site);

    /// <summary>The sites this user may read, in registry order.</summary>
    public IEnumerable<SiteEntry> Readable(SiteRegistry registry) => registry.Sites.Where(s => CanRead(s.Id));
}

/// <summary>
/// The users of the API (firmware-config/cloud/access.yaml): each holds a bearer token (or API key — the same secret sent
/// in <c>X-Api-Key</c>) of which the file keeps only the SHA-256, so the file itself gives nobody access. Create a
/// token with <c>kc-cloud token</c>.
/// </summary>
public sealed class AccessList
{
    private readonly Dictionary<string, Principal> _byHash;

    private AccessList(IReadOnlyList<Principal> users, Dictionary<string, Principal> byHash)
    {
        Users = users;
        _byHash = byHash;
    }

    public IReadOnlyList<Principal> Users { get; }

    /// <summary>The user holding <paramref name="token"/>, or null. Compares hashes, so timing reveals nothing about the token.</summary>
    public Principal? Authenticate(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 512) return null;
        return _byHash.GetValueOrDefault(Hash(token));
    }

    /// <summary>The lowercase hex SHA-256 of a token, as access.yaml stores it.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>A new random token (256 bits, URL-safe).</summary>
    public static string NewToken() => "kc_" + Base64Url(RandomNumberGenerator.GetBytes(32));

    private static string Base64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static AccessList Load(string file, SiteRegistry registry)
    {
        file = Path.GetFullPath(file);
        var (dto, b) = YamlBinder.LoadFile<AccessDto>(file);
        return Build(dto, b, registry);
    }

    public static AccessList Parse(string yaml, string name, SiteRegistry registry)
    {
        var (dto, b) = YamlBinder.Load<AccessDto>(yaml, name);
        return Build(dto, b, registry);
    }

    private static AccessList Build(AccessDto dto, YamlBinder b, SiteRegistry registry)
    {
        if (dto.Version != 1) throw b.Error(dto, nameof(dto.Version), $"version {dto.Version} is not supported (this release reads version 1)");
        var users = new List<Principal>();
        var byHash = new Dictionary<string, Principal>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var u in dto.Users)
        {
            if (!Identifiers.IsValid(u.Name)) throw b.Error(u, nameof(u.Name), $"'{u.Name}' is not a valid name (1–64 of a–z, A–Z, 0–9, '-', '_', '.')");
            if (!names.Add(u.Name)) throw b.Error(u, nameof(u.Name), $"user '{u.Name}' is listed twice");
            var hash = u.TokenSha256.Trim().ToLowerInvariant();
            if (hash.Length != 64 || !hash.All(char.IsAsciiHexDigitLower))
                throw b.Error(u, nameof(u.TokenSha256), "must be the 64-hex-digit SHA-256 of the token (kc-cloud token prints one), never the token itself");
            if (byHash.ContainsKey(hash)) throw b.Error(u, nameof(u.TokenSha256), "is the same token as another user's");
            for (var i = 0; i < u.Sites.Count; i++)
            {
                if (registry.Find(u.Sites[i]) is null) throw b.Error(u, nameof(u.Sites), $"[{i}] site '{u.Sites[i]}' is not in the site registry");
            }
            if (u.Role == Role.Operator && u.Sites.Count != 1) throw b.Error(u, nameof(u.Sites), "an operator works for exactly one site");
            if (u.Role == Role.Auditor && u.Sites.Count == 0) throw b.Error(u, nameof(u.Sites), "an auditor needs the sites they are assigned to");
            if (u.Role == Role.Centre && u.Sites.Count != 0) throw b.Error(u, nameof(u.Sites), "the centre reads every site; leave sites out");
            var p = new Principal(u.Name, u.Role, new HashSet<string>(u.Sites, StringComparer.Ordinal));
            users.Add(p);
            byHash[hash] = p;
        }
        return new AccessList(users, byHash);
    }

    private sealed class AccessDto
    {
        public required int Version { get; set; }
        public List<UserDto> Users { get; set; } = [];
    }

    private sealed class UserDto
    {
        public required string Name { get; set; }
        public required Role Role { get; set; }
        public List<string> Sites { get; set; } = [];
        public required string TokenSha256 { get; set; }
    }
}
