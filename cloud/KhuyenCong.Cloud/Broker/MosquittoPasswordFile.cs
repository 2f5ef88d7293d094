using System.Security.Cryptography;
using System.Text;
using KhuyenCong.Configuration;

namespace KhuyenCong.Cloud.Broker;

/// <summary>
/// A password file in mosquitto's own format, so one file made with <c>mosquitto_passwd</c> serves mosquitto and the
/// embedded broker alike. Each line is <c>username:hash</c>; the hash is either
/// <c>$7$&lt;iterations&gt;$&lt;salt&gt;$&lt;hash&gt;</c> (PBKDF2-HMAC-SHA512, what mosquitto 2.0 writes) or
/// <c>$6$&lt;salt&gt;$&lt;hash&gt;</c> (SHA-512 of password then salt, mosquitto 1.x), salt 12 bytes and hash 64 bytes, both in
/// base64. Empty lines and lines starting with <c>#</c> are skipped. Plain-text passwords are refused: run
/// <c>mosquitto_passwd -U</c> on such a file first.
/// </summary>
public sealed class MosquittoPasswordFile
{
    private const int SaltBytes = 12;
    private const int HashBytes = 64;
    /// <summary>mosquitto_passwd's default iteration count for <c>$7$</c>.</summary>
    public const int DefaultIterations = 101;

    private readonly Dictionary<string, Entry> _users;

    private MosquittoPasswordFile(string file, Dictionary<string, Entry> users)
    {
        File = file;
        _users = users;
    }

    public string File { get; }

    public IReadOnlyCollection<string> Users => _users.Keys;

    public bool Contains(string user) => _users.ContainsKey(user);

    /// <summary>Reads the file; a malformed line throws a <see cref="ConfigException"/> naming file:line:column (never the hash).</summary>
    public static MosquittoPasswordFile Load(string file)
    {
        file = Path.GetFullPath(file);
        return Parse(System.IO.File.ReadAllText(file), file);
    }

    public static MosquittoPasswordFile Parse(string text, string name)
    {
        var users = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r', ' ', '\t');
            if (line.Length == 0 || line.StartsWith('#')) continue;
            ConfigException Bad(int column, string what) => new(new SourceLocation(name, i + 1, column, "password file"), what);
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) throw Bad(1, "expected username:hash (made with mosquitto_passwd)");
            var user = line[..colon];
            var hash = line[(colon + 1)..];
            if (!hash.StartsWith('$')) throw Bad(colon + 2, $"the password of '{user}' is not hashed: run mosquitto_passwd -U on the file");
            var entry = Entry.TryParse(hash) ?? throw Bad(colon + 2, $"the password hash of '{user}' is not $7$<iterations>$<salt>$<hash> or $6$<salt>$<hash> with a 12-byte salt and 64-byte hash (base64)");
            if (!users.TryAdd(user, entry)) throw Bad(1, $"'{user}' is listed twice");
        }
        return new MosquittoPasswordFile(name, users);
    }

    /// <summary>Whether <paramref name="password"/> is <paramref name="user"/>'s (constant time in the hash comparison).</summary>
    public bool Verify(string? user, string? password)
    {
        if (user is null || password is null || !_users.TryGetValue(user, out var e)) return false;
        return CryptographicOperations.FixedTimeEquals(e.Compute(password), e.Hash);
    }

    /// <summary>A <c>$7$</c> line as <c>mosquitto_passwd</c> writes it (for tools and tests).</summary>
    public static string HashLine(string user, string password, int iterations = DefaultIterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, HashBytes);
        return $"{user}:$7${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    private sealed record Entry(int Iterations, byte[] Salt, byte[] Hash)
    {
        /// <summary>0 iterations marks the older <c>$6$</c> form.</summary>
        public byte[] Compute(string password)
        {
            var bytes = Encoding.UTF8.GetBytes(password);
            if (Iterations > 0) return Rfc2898DeriveBytes.Pbkdf2(bytes, Salt, Iterations, HashAlgorithmName.SHA512, HashBytes);
            return SHA512.HashData([.. bytes, .. Salt]);
        }

        public static Entry? TryParse(string text)
        {
            var parts = text.Split('$');
            // "$7$101$salt$hash" splits into "", "7", "101", "salt", "hash"; "$6$salt$hash" into "", "6", "salt", "hash".
            int iterations;
            string salt, hash;
            if (parts is ["", "7", var it, var s, var h])
            {
                if (!int.TryParse(it, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out iterations) || iterations < 1) return null;
                (salt, hash) = (s, h);
            }
            else if (parts is ["", "6", var s6, var h6])
            {
                (iterations, salt, hash) = (0, s6, h6);
            }
            else
            {
                return null;
            }
            var saltBytes = FromBase64(salt);
            var hashBytes = FromBase64(hash);
            return saltBytes is { Length: SaltBytes } && hashBytes is { Length: HashBytes } ? new Entry(iterations, saltBytes, hashBytes) : null;
        }

        private static byte[]? FromBase64(string s)
        {
            var buffer = new byte[(s.Length * 3 / 4) + 3];
            return Convert.TryFromBase64String(s, buffer, out var n) ? buffer[..n] : null;
        }
    }
}
