using System.Globalization;
using KhuyenCong.Analytics.Firings;
using Microsoft.Data.Sqlite;

namespace KhuyenCong.Cloud.Production;

/// <summary>
/// The production ledger on disk: what operators entered per firing (kg of ware, pieces, product type), append-only in
/// a SQLite file. A correction is a new entry that names the one it supersedes; nothing is ever updated or deleted, so
/// the history of who entered what, and when, stays for the auditor. Safe to share between threads; several cloud
/// instances need one shared file system path or one instance that owns the API.
/// </summary>
public sealed class ProductionStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly Lock _lock = new();

    public ProductionStore(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _db.Open();
        Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;");
        Exec("""
            CREATE TABLE IF NOT EXISTS production (
              entry_id TEXT PRIMARY KEY, site TEXT NOT NULL, kiln TEXT NOT NULL, firing_at INTEGER NOT NULL,
              recorded_at INTEGER NOT NULL, recorded_by TEXT NOT NULL, ware_kg REAL NOT NULL, pieces INTEGER NOT NULL,
              product_type TEXT NOT NULL, supersedes TEXT, note TEXT);
            CREATE INDEX IF NOT EXISTS production_site ON production(site, kiln, firing_at);
            """);
    }

    /// <summary>Appends an entry. Its <see cref="ProductionEntry.EntryId"/> must be new (a retried request with the same id is refused).</summary>
    public void Append(ProductionEntry e)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = """
                INSERT INTO production (entry_id, site, kiln, firing_at, recorded_at, recorded_by, ware_kg, pieces, product_type, supersedes, note)
                VALUES ($id, $site, $kiln, $firing, $recorded, $by, $kg, $pieces, $product, $supersedes, $note)
                """;
            cmd.Parameters.AddWithValue("$id", e.EntryId);
            cmd.Parameters.AddWithValue("$site", e.Site);
            cmd.Parameters.AddWithValue("$kiln", e.Kiln);
            cmd.Parameters.AddWithValue("$firing", e.FiringAt.ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$recorded", e.RecordedAt.ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$by", e.RecordedBy);
            cmd.Parameters.AddWithValue("$kg", e.WareKg);
            cmd.Parameters.AddWithValue("$pieces", e.Pieces);
            cmd.Parameters.AddWithValue("$product", e.ProductType);
            cmd.Parameters.AddWithValue("$supersedes", (object?)e.Supersedes ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$note", (object?)e.Note ?? DBNull.Value);
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>Every entry of a site (optionally one kiln), in the order they were recorded.</summary>
    public IReadOnlyList<ProductionEntry> Entries(string site, string? kiln = null)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT entry_id, site, kiln, firing_at, recorded_at, recorded_by, ware_kg, pieces, product_type, supersedes, note FROM production WHERE site = $site"
                + (kiln is null ? "" : " AND kiln = $kiln") + " ORDER BY recorded_at, rowid";
            cmd.Parameters.AddWithValue("$site", site);
            if (kiln is not null) cmd.Parameters.AddWithValue("$kiln", kiln);
            using var r = cmd.ExecuteReader();
            var list = new List<ProductionEntry>();
            while (r.Read())
            {
                list.Add(new ProductionEntry(
                    r.GetString(0), r.GetString(1), r.GetString(2),
                    DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
                    r.GetString(5), r.GetDouble(6), r.GetInt32(7), r.GetString(8),
                    r.IsDBNull(9) ? null : r.GetString(9), r.IsDBNull(10) ? null : r.GetString(10)));
            }
            return list;
        }
    }

    /// <summary>The ledger of a site, as the analytics resolve it per firing (latest correction wins).</summary>
    public ProductionLedger Ledger(string site) => new(Entries(site));

    public bool Exists(string entryId)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*) FROM production WHERE entry_id = $id";
            cmd.Parameters.AddWithValue("$id", entryId);
            return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
        }
    }

    private void Exec(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public void Dispose() => _db.Dispose();
}
