using System.Text;
using KhuyenCong.Cloud.Sites;
using KhuyenCong.Contracts;

namespace KhuyenCong.Cloud.Broker;

/// <summary>
/// Who may publish and subscribe to what, from the site registry: a gateway (its MQTT username is its gateway id) may
/// publish only its own telemetry, status and health topics and subscribe to nothing; the ingestor users may subscribe
/// to every gateway's messages and publish nothing; anyone else may do neither. The embedded broker applies these rules
/// on every publish and subscription, and <see cref="MosquittoAcl"/> writes the same rules as a mosquitto ACL file.
/// </summary>
public sealed class TopicAccess(SiteRegistry registry, IReadOnlyCollection<string> ingestorUsers)
{
    /// <summary>The message kinds a gateway publishes, each under kc/v1/&lt;site&gt;/&lt;gateway&gt;/.</summary>
    public static readonly IReadOnlyList<string> GatewayKinds = ["telemetry", "status", "health"];

    /// <summary>The topic filter the ingestor users may read (and nothing outside it).</summary>
    public const string IngestorFilter = Topics.Prefix + "/#";

    public SiteRegistry Registry { get; } = registry;
    public IReadOnlyCollection<string> IngestorUsers { get; } = ingestorUsers;

    public bool IsIngestor(string? user) => user is not null && IngestorUsers.Contains(user);

    /// <summary>Why <paramref name="user"/> may not publish to <paramref name="topic"/>, or null when it may.</summary>
    public string? PublishRefusal(string? user, string topic)
    {
        if (string.IsNullOrEmpty(user)) return "anonymous clients may not publish";
        if (IsIngestor(user)) return $"'{user}' is an ingestor user, which only reads";
        if (!Topics.TryParse(topic, out var site, out var gateway, out var kind) || !GatewayKinds.Contains(kind))
            return $"'{topic}' is not a gateway topic kc/v1/<site>/<gateway>/{{{string.Join(',', GatewayKinds)}}}";
        if (!string.Equals(gateway, user, StringComparison.Ordinal)) return $"user '{user}' may publish only as gateway '{user}', not '{gateway}'";
        return Registry.WriteRefusal(site, gateway);
    }

    /// <summary>Why <paramref name="user"/> may not subscribe to <paramref name="filter"/>, or null when it may.</summary>
    public string? SubscribeRefusal(string? user, string filter)
    {
        if (!IsIngestor(user)) return $"only the ingestor users ({string.Join(", ", IngestorUsers)}) may subscribe";
        // A shared subscription ($share/<group>/<filter>) reads what its filter reads.
        if (filter.StartsWith("$share/", StringComparison.Ordinal))
        {
            var slash = filter.IndexOf('/', 7);
            if (slash < 0) return $"'{filter}' is not $share/<group>/<filter>";
            filter = filter[(slash + 1)..];
        }
        return filter == IngestorFilter || filter.StartsWith(Topics.Prefix + "/", StringComparison.Ordinal) ? null : $"'{filter}' is outside {IngestorFilter}";
    }
}

/// <summary>The mosquitto ACL file that enforces <see cref="TopicAccess"/>'s rules (<c>kc-cloud mosquitto-acl</c>).</summary>
public static class MosquittoAcl
{
    public static string Generate(SiteRegistry registry, IReadOnlyList<string> ingestorUsers)
    {
        foreach (var user in ingestorUsers)
        {
            if (!Identifiers.IsValid(user)) throw new ArgumentException($"ingestor user '{user}' is not a plain name (letters, digits, '-', '_', '.')");
            if (registry.SiteOfGateway(user) is { } site) throw new ArgumentException($"ingestor user '{user}' is also a gateway of site '{site.Id}'");
        }
        var s = new StringBuilder();
        s.Append("# mosquitto ACL, generated from the site registry (").Append(Path.GetFileName(registry.File)).Append(") by\n");
        s.Append("#   kc-cloud mosquitto-acl --registry <sites.yaml> --ingestor-user ").Append(string.Join(',', ingestorUsers)).Append('\n');
        s.Append("# Do not edit it by hand: change the registry and generate it again, then reload mosquitto (SIGHUP).\n");
        s.Append("# Usernames are gateway ids. A user or anonymous client not listed here may neither publish nor subscribe.\n");
        s.Append("# A gateway writes only its own site's topics and reads nothing; the ingestor reads every gateway and writes nothing.\n");
        foreach (var user in ingestorUsers)
        {
            s.Append("\n# ingestor\nuser ").Append(user).Append('\n');
            s.Append("topic read ").Append(TopicAccess.IngestorFilter).Append('\n');
        }
        foreach (var site in registry.Sites)
        {
            foreach (var g in site.Gateways)
            {
                s.Append("\n# site ").Append(site.Id).Append('\n');
                s.Append("user ").Append(g.Id).Append('\n');
                foreach (var kind in TopicAccess.GatewayKinds) s.Append("topic write ").Append(Topics.Prefix).Append('/').Append(site.Id).Append('/').Append(g.Id).Append('/').Append(kind).Append('\n');
            }
        }
        return s.ToString();
    }
}
