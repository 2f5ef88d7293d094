using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;

namespace KhuyenCong.TestSupport;

/// <summary>
/// A throwaway certificate authority made with the openssl command line in a temp directory: a CA, a broker
/// certificate for 127.0.0.1/localhost signed by it, client certificates, and a second, unrelated CA (to prove that a
/// broker signed by someone else is refused). Nothing here is committed; the directory is deleted on dispose.
/// Keys are EC P-256 (fast to make) and world-readable, because mosquitto started as root reads them as its own user.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    public const string Executable = "/usr/bin/openssl";

    private readonly TempDirectory _dir = new("kc-pki");

    private TestCertificates()
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_dir.Path, (UnixFileMode)0x1ED); // 0755
    }

    public string Dir => _dir.Path;
    public string CaFile => _dir.File("ca.pem");
    public string ServerCertFile => _dir.File("server.pem");
    public string ServerKeyFile => _dir.File("server.key");
    /// <summary>A CA that signed nothing here: trusting it instead of <see cref="CaFile"/> must fail.</summary>
    public string OtherCaFile => _dir.File("other-ca.pem");

    /// <summary>The test CA as a TLS client's trust chain.</summary>
    public X509Certificate2Collection Ca() => TrustChain(CaFile);

    /// <summary>The unrelated CA as a TLS client's trust chain: a broker signed by the test CA must be refused with it.</summary>
    public X509Certificate2Collection OtherCa() => TrustChain(OtherCaFile);

    private static X509Certificate2Collection TrustChain(string pemFile)
    {
        var c = new X509Certificate2Collection();
        c.ImportFromPemFile(pemFile);
        return c;
    }

    /// <summary>Makes the CA, the broker certificate and the unrelated CA.</summary>
    public static async Task<TestCertificates> CreateAsync()
    {
        if (!File.Exists(Executable)) throw new InvalidOperationException($"{Executable} not found: apt-get install openssl");
        var pki = new TestCertificates();
        try
        {
            await pki.MakeCaAsync("ca", "kc-test-ca");
            await pki.MakeCaAsync("other-ca", "kc-test-other-ca");
            await pki.IssueAsync("server", "localhost", "serverAuth", "subjectAltName=IP:127.0.0.1,DNS:localhost");
            return pki;
        }
        catch
        {
            pki.Dispose();
            throw;
        }
    }

    /// <summary>Issues a client certificate with common name <paramref name="commonName"/>; returns (certificate, key) paths.</summary>
    public async Task<(string Cert, string Key)> IssueClientAsync(string name, string commonName)
    {
        await IssueAsync(name, commonName, "clientAuth", null);
        return (_dir.File($"{name}.pem"), _dir.File($"{name}.key"));
    }

    private async Task MakeCaAsync(string name, string cn)
    {
        await OpenSslAsync("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", $"{name}.key", "-out", $"{name}.pem", "-days", "2", "-subj", $"/CN={cn}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        Readable(name);
    }

    private async Task IssueAsync(string name, string cn, string usage, string? san)
    {
        await OpenSslAsync("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", $"{name}.key", "-out", $"{name}.csr", "-subj", $"/CN={cn}");
        var ext = _dir.File($"{name}.ext");
        await File.WriteAllTextAsync(ext, $"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n{(san is null ? "" : san + "\n")}");
        await OpenSslAsync("x509", "-req", "-in", $"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", $"{name}.pem", "-days", "2", "-extfile", ext);
        Readable(name);
    }

    private void Readable(string name)
    {
        foreach (var f in new[] { $"{name}.pem", $"{name}.key" })
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_dir.File(f), (UnixFileMode)0x1A4); // 0644: throwaway keys, read by mosquitto's own user
    }

    private async Task OpenSslAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(Executable)
        {
            WorkingDirectory = _dir.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start openssl");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0) throw new InvalidOperationException($"openssl {string.Join(' ', args)} failed ({p.ExitCode}): {await stderr}{await stdout}");
    }

    public void Dispose() => _dir.Dispose();
}
