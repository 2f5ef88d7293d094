using System.Globalization;
using KhuyenCong.Contracts;
using Microsoft.Data.Sqlite;

namespace KhuyenCong.Edge.Outbox;

/// <summary>
/// The durable outbox: a SQLite file in WAL mode. Readings are collected in memory and committed together every
/// <c>commitInterval</c> (one fsync per batch instead of per reading: SD cards wear by writes). A reading is
/// deleted only after the broker's PUBACK for the message that carried it. A crash loses at most the readings of
/// the last, uncommitted interval; it never corrupts the file (SQLite's WAL is atomic).
/// </summary>
public sealed class SqliteOutbox : IOutbox
{
    private readonly SqliteConnection _db;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly List<(DeviceInfo Device, Reading Reading)> _pending = [];
    private readonly long _maxBytes;
    private readonly Timer _commitTimer;
    private TaskCompletionSource _available = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _depth;
    private long _dropped;
    private long _lastSequence;
    private int _disposed;

    public SqliteOutbox(string path, long maxBytes, TimeSpan commitInterval)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _maxBytes = maxBytes;
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _db.Open();
        Exec("PRAGMA journal_mode=WAL;");
        Exec("PRAGMA synchronous=FULL;");
        Exec("PRAGMA busy_timeout=5000;");
        Exec("""
            CREATE TABLE IF NOT EXISTS readings (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              device TEXT NOT NULL, class TEXT NOT NULL, kiln TEXT, profile TEXT,
              point TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL, quality TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """);
        _depth = Scalar("SELECT COUNT(*) FROM readings");
        _dropped = Scalar("SELECT COALESCE((SELECT value FROM meta WHERE key='dropped'), 0)");
        _lastSequence = Scalar("SELECT COALESCE((SELECT value FROM meta WHERE key='seq'), 0)");
        _commitTimer = new Timer(_ => _ = CommitSafelyAsync(), null, commitInterval, commitInterval);
        if (_depth > 0) _available.TrySetResult();
    }

    public long LastSequence => Interlocked.Read(ref _lastSequence);

    public ValueTask AddAsync(DeviceInfo device, IReadOnlyList<Reading> readings, CancellationToken ct)
    {
        lock (_pending)
        {
            foreach (var r in readings) _pending.Add((device, r));
        }
        return ValueTask.CompletedTask;
    }

    public async Task FlushAsync(CancellationToken ct)
    {
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            CommitPending();
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task CommitSafelyAsync()
    {
        try
        {
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
        }
        catch (SqliteException)
        {
            // The next interval tries again; readings stay in memory meanwhile.
        }
    }

    private void CommitPending()
    {
        List<(DeviceInfo Device, Reading Reading)> batch;
        lock (_pending)
        {
            if (_pending.Count == 0) return;
            batch = [.. _pending];
            _pending.Clear();
        }
        try
        {
            using var tx = _db.BeginTransaction();
            using var cmd = _db.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO readings (device, class, kiln, profile, point, ts, value, unit, quality) VALUES ($d, $c, $k, $p, $pt, $ts, $v, $u, $q)";
            var pd = cmd.Parameters.Add("$d", SqliteType.Text);
            var pc = cmd.Parameters.Add("$c", SqliteType.Text);
            var pk = cmd.Parameters.Add("$k", SqliteType.Text);
            var pp = cmd.Parameters.Add("$p", SqliteType.Text);
            var ppt = cmd.Parameters.Add("$pt", SqliteType.Text);
            var pts = cmd.Parameters.Add("$ts", SqliteType.Integer);
            var pv = cmd.Parameters.Add("$v", SqliteType.Real);
            var pu = cmd.Parameters.Add("$u", SqliteType.Text);
            var pq = cmd.Parameters.Add("$q", SqliteType.Text);
            cmd.Prepare();
            foreach (var (d, r) in batch)
            {
                pd.Value = d.Id;
                pc.Value = d.Class;
                pk.Value = (object?)d.Kiln ?? DBNull.Value;
                pp.Value = (object?)d.Profile ?? DBNull.Value;
                ppt.Value = r.Point;
                pts.Value = r.Timestamp.ToUnixTimeMilliseconds();
                pv.Value = r.Value;
                pu.Value = r.Unit;
                pq.Value = r.Quality;
                cmd.ExecuteNonQuery();
            }
            var dropped = EnforceBudget(tx);
            tx.Commit();
            _depth += batch.Count - dropped;
            _dropped += dropped;
        }
        catch
        {
            lock (_pending) _pending.InsertRange(0, batch);
            throw;
        }
        _available.TrySetResult();
    }

    /// <summary>Drops the oldest readings while the file is over budget; returns how many went.</summary>
    private long EnforceBudget(SqliteTransaction tx)
    {
        var bytes = Bytes(tx);
        if (bytes <= _maxBytes) return 0;
        var rows = Scalar("SELECT COUNT(*) FROM readings", tx);
        if (rows == 0) return 0;
        // Free pages are reused, so dropping rows brings the live size back under budget; aim for 90 %.
        var perRow = Math.Max(1.0, (double)bytes / rows);
        var excess = (long)Math.Ceiling((bytes - _maxBytes * 0.9) / perRow);
        excess = Math.Clamp(excess, 1, rows);
        using var del = _db.CreateCommand();
        del.Transaction = tx;
        del.CommandText = "DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT $n)";
        del.Parameters.AddWithValue("$n", excess);
        var n = del.ExecuteNonQuery();
        using var meta = _db.CreateCommand();
        meta.Transaction = tx;
        meta.CommandText = "INSERT INTO meta (key, value) VALUES ('dropped', $n) ON CONFLICT(key) DO UPDATE SET value = value + $n";
        meta.Parameters.AddWithValue("$n", n);
        meta.ExecuteNonQuery();
        return n;
    }

    private long Bytes(SqliteTransaction? tx = null) =>
        (Scalar("PRAGMA page_count", tx) - Scalar("PRAGMA freelist_count", tx)) * Scalar("PRAGMA page_size", tx);

    public async Task<IReadOnlyList<PendingReading>> PeekAsync(int max, CancellationToken ct)
    {
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT id, device, class, kiln, profile, point, ts, value, unit, quality FROM readings ORDER BY id LIMIT $n";
            cmd.Parameters.AddWithValue("$n", max);
            using var r = cmd.ExecuteReader();
            var list = new List<PendingReading>();
            var devices = new Dictionary<(string, string, string?, string?), DeviceInfo>();
            while (r.Read())
            {
                var key = (r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4));
                if (!devices.TryGetValue(key, out var device))
                    devices[key] = device = new DeviceInfo { Id = key.Item1, Class = key.Item2, Kiln = key.Item3, Profile = key.Item4 };
                list.Add(new PendingReading(r.GetInt64(0), device, new Reading
                {
                    Device = key.Item1,
                    Point = r.GetString(5),
                    Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)),
                    Value = r.GetDouble(7),
                    Unit = r.GetString(8),
                    Quality = r.GetString(9),
                }));
            }
            if (list.Count == 0) Interlocked.Exchange(ref _available, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            return list;
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task AcknowledgeAsync(IReadOnlyList<PendingReading> delivered, long sequence, CancellationToken ct)
    {
        if (delivered.Count == 0) return;
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var tx = _db.BeginTransaction();
            using var del = _db.CreateCommand();
            del.Transaction = tx;
            // Readings leave in id order, so a batch is a contiguous run of ids; the budget may have dropped some already.
            del.CommandText = "DELETE FROM readings WHERE id BETWEEN $a AND $b";
            del.Parameters.AddWithValue("$a", delivered[0].Id);
            del.Parameters.AddWithValue("$b", delivered[^1].Id);
            var n = del.ExecuteNonQuery();
            using var meta = _db.CreateCommand();
            meta.Transaction = tx;
            meta.CommandText = "INSERT INTO meta (key, value) VALUES ('seq', $s) ON CONFLICT(key) DO UPDATE SET value = $s";
            meta.Parameters.AddWithValue("$s", sequence);
            meta.ExecuteNonQuery();
            tx.Commit();
            _depth -= n;
            Interlocked.Exchange(ref _lastSequence, sequence);
        }
        finally
        {
            _lock.Release();
        }
    }

    public OutboxStats Stats()
    {
        _lock.Wait();
        try
        {
            var oldest = Scalar("SELECT COALESCE(MIN(ts), -1) FROM readings WHERE id = (SELECT MIN(id) FROM readings)");
            return new OutboxStats(_depth, oldest < 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(oldest), _dropped, Bytes());
        }
        finally
        {
            _lock.Release();
        }
    }

    public Task WaitForReadingsAsync(CancellationToken ct) => Volatile.Read(ref _available).Task.WaitAsync(ct);

    /// <summary>Runs SQLite's own consistency check; "ok" when the file is sound.</summary>
    public string IntegrityCheck()
    {
        _lock.Wait();
        try
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "PRAGMA integrity_check";
            return Convert.ToString(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) ?? "";
        }
        finally
        {
            _lock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _commitTimer.DisposeAsync().ConfigureAwait(false);
        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            _db.Dispose();
        }
        finally
        {
            _lock.Release();
        }
    }

    private void Exec(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private long Scalar(string sql, SqliteTransaction? tx = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
