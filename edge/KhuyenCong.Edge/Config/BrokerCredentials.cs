using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KhuyenCong.Configuration;

namespace KhuyenCong.Edge.Config;

/// <summary>
/// What the gateway shows the broker: a user name and password, a CA to trust for the broker's certificate, and a
/// client certificate. Read from the files and environment variable the config names, once, before the agent starts,
/// so a missing or unreadable file is a configuration error that names the file, line and key — not a connect loop.
/// The password is kept here only; nothing prints it (<see cref="ToString"/> hides it).
/// </summary>
public sealed class BrokerCredentials
{
    private BrokerCredentials(string? username, string? password, X509Certificate2Collection? trustChain, X509Certificate2? clientCertificate)
    {
        Username = username;
        Password = password;
        TrustChain = trustChain;
        ClientCertificate = clientCertificate;
    }

    public string? Username { get; }
    public string? Password { get; }
    /// <summary>The CA certificates the broker's certificate must chain to; null: the system trust store.</summary>
    public X509Certificate2Collection? TrustChain { get; }
    public X509Certificate2? ClientCertificate { get; }

    public override string ToString() =>
        $"user {Username ?? "(none)"}, password {(Password is null ? "(none)" : "(hidden)")}, CA {(TrustChain is null ? "from the system trust store" : TrustChain[0].Subject)}, client certificate {ClientCertificate?.Subject ?? "(none)"}";

    /// <summary>Reads the password, CA and client certificate a gateway config names. Paths are relative to the config file.</summary>
    public static BrokerCredentials Load(LoadedGateway gateway)
    {
        var m = gateway.Config.Mqtt;
        var b = gateway.Binder;
        var dir = gateway.Dir;

        // The password would not be sent without a user name (MQTT sends both or neither).
        if ((m.PasswordFile ?? m.PasswordEnv) is not null && string.IsNullOrEmpty(m.Username))
            throw b.Error(m, m.PasswordFile is not null ? nameof(m.PasswordFile) : nameof(m.PasswordEnv), "a password needs a username (mqtt.username)");

        string? password = null;
        if (m.PasswordFile is { } pf)
        {
            var path = ExistingFile(b, m, nameof(m.PasswordFile), pf, dir, "password file");
            try
            {
                password = File.ReadLines(path).FirstOrDefault()?.Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw b.Error(m, nameof(m.PasswordFile), $"cannot read the password file {path}: {ex.Message}");
            }
            if (string.IsNullOrEmpty(password)) throw b.Error(m, nameof(m.PasswordFile), $"the password file {path} is empty (the password is its first line)");
        }
        else if (m.PasswordEnv is { } env)
        {
            password = Environment.GetEnvironmentVariable(env);
            if (string.IsNullOrEmpty(password)) throw b.Error(m, nameof(m.PasswordEnv), $"the environment variable {env} is not set or empty (systemd: set it in the unit's EnvironmentFile)");
        }

        X509Certificate2Collection? chain = null;
        X509Certificate2? client = null;
        if (m.Tls is { } tls)
        {
            if (tls.CaFile is { } ca)
            {
                var path = ExistingFile(b, tls, nameof(tls.CaFile), ca, dir, "CA file");
                chain = [];
                try
                {
                    chain.ImportFromPemFile(path);
                }
                catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
                {
                    throw b.Error(tls, nameof(tls.CaFile), $"cannot read {path} as PEM certificates: {ex.Message}");
                }
                if (chain.Count == 0) throw b.Error(tls, nameof(tls.CaFile), $"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
            }
            if (tls.CertFile is { } cert)
            {
                var certPath = ExistingFile(b, tls, nameof(tls.CertFile), cert, dir, "client certificate");
                var keyPath = tls.KeyFile is null ? null : ExistingFile(b, tls, nameof(tls.KeyFile), tls.KeyFile, dir, "client key");
                try
                {
                    client = X509Certificate2.CreateFromPemFile(certPath, keyPath);
                }
                catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
                {
                    // The key's content never goes into the message, only its path and what is wrong with it.
                    throw b.Error(tls, keyPath is null ? nameof(tls.CertFile) : nameof(tls.KeyFile),
                        $"cannot load the client certificate {certPath} with its key {keyPath ?? "(in the same file)"}: {ex.Message}");
                }
                if (!client.HasPrivateKey) throw b.Error(tls, nameof(tls.CertFile), $"{certPath} has no private key: give key_file");
            }
        }
        return new BrokerCredentials(m.Username, password, chain, client);
    }

    private static string ExistingFile(YamlBinder b, object owner, string property, string file, string dir, string what)
    {
        var path = Path.GetFullPath(file, dir);
        if (!File.Exists(path)) throw b.Error(owner, property, $"{what} {path} does not exist");
        return path;
    }
}
