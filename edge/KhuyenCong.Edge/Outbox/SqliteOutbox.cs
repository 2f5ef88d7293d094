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
    private readonly List<(DeviceInfo Device, Reading Reading, ClockMark Mark)> _pendingHeld = [];
    private readonly long _maxBytes;
    private readonly Timer _commitTimer;
    private TaskCompletionSource _available = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _depth;
    private long _dropped;
    private long _lastSequence;
    private long _held;
    private long _unrecoverable;
    private long _newest = long.MinValue;
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
            CREATE TABLE IF NOT EXISTS held (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              device TEXT NOT NULL, class TEXT NOT NULL, kiln TEXT, profile TEXT,
              point TEXT NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL, quality TEXT NOT NULL,
              boot TEXT NOT NULL, mono_ms INTEGER NOT NULL);
            """);
        _depth = Scalar("SELECT COUNT(*) FROM readings");
        _dropped = Scalar("SELECT COALESCE((SELECT value FROM meta WHERE key='dropped'), 0)");
        _lastSequence = Scalar("SELECT COALESCE((SELECT value FROM meta WHERE key='seq'), 0)");
        _held = Scalar("SELECT COUNT(*) FROM held");
        _unrecoverable = Scalar("SELECT COALESCE((SELECT value FROM meta WHERE key='unrecoverable'), 0)");
        _newest = Scalar($"SELECT COALESCE((SELECT value FROM meta WHERE key='newest'), (SELECT MAX(ts) FROM readings), {long.MinValue})");
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
        List<(DeviceInfo Device, Reading Reading, ClockMark Mark)> held;
        lock (_pending)
        {
            if (_pending.Count == 0 && _pendingHeld.Count == 0) return;
            batch = [.. _pending];
            _pending.Clear();
            held = [.. _pendingHeld];
            _pendingHeld.Clear();
        }
        try
        {
            using var tx = _db.BeginTransaction();
            var newest = Insert(tx, batch);
            InsertHeld(tx, held);
            if (newest > _newest) SetMeta(tx, "newest", newest);
            var dropped = EnforceBudget(tx);
            tx.Commit();
            _depth += batch.Count - dropped.Readings;
            _held += held.Count - dropped.Held;
            _dropped += dropped.Readings + dropped.Held;
            if (newest > _newest) _newest = newest;
        }
        catch
        {
            lock (_pending)
            {
                _pending.InsertRange(0, batch);
                _pendingHeld.InsertRange(0, held);
            }
            throw;
        }
        if (batch.Count > 0) _available.TrySetResult();
    }

    /// <summary>Inserts readings ready to publish; returns the newest timestamp among them (ms).</summary>
    private long Insert(SqliteTransaction tx, IEnumerable<(DeviceInfo Device, Reading Reading)> batch)
    {
        var newest = long.MinValue;
        using var cmd = PrepareInsert(tx, "readings", ("ts", SqliteType.Integer));
        foreach (var (d, r) in batch)
        {
            var ms = r.Timestamp.ToUnixTimeMilliseconds();
            Bind(cmd, d, r);
            cmd.Parameters[8].Value = ms;
            cmd.ExecuteNonQuery();
            if (ms > newest) newest = ms;
        }
        return newest;
    }

    /// <summary>Inserts readings held for the clock: their wall-clock stamp is worthless, the boot and monotonic time are kept instead.</summary>
    private void InsertHeld(SqliteTransaction tx, List<(DeviceInfo Device, Reading Reading, ClockMark Mark)> held)
    {
        if (held.Count == 0) return;
        using var cmd = PrepareInsert(tx, "held", ("boot", SqliteType.Text), ("mono_ms", SqliteType.Integer));
        foreach (var (d, r, mark) in held)
        {
            Bind(cmd, d, r);
            cmd.Parameters[8].Value = mark.Boot;
            cmd.Parameters[9].Value = mark.MonotonicMs;
            cmd.ExecuteNonQuery();
        }
    }

    private static readonly string[] ReadingColumns = ["device", "class", "kiln", "profile", "point", "value", "unit", "quality"];

    /// <summary>A prepared INSERT of the columns every reading has, then <paramref name="extra"/> (parameters 8, 9 …).</summary>
    private SqliteCommand PrepareInsert(SqliteTransaction tx, string table, params (string Name, SqliteType Type)[] extra)
    {
        var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        var columns = ReadingColumns.Concat(extra.Select(e => e.Name)).ToList();
        cmd.CommandText = $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select(c => "$" + c))})";
        foreach (var c in ReadingColumns) cmd.Parameters.Add("$" + c, c == "value" ? SqliteType.Real : SqliteType.Text);
        foreach (var (name, type) in extra) cmd.Parameters.Add("$" + name, type);
        cmd.Prepare();
        return cmd;
    }

    private static void Bind(SqliteCommand cmd, DeviceInfo d, Reading r)
    {
        var p = cmd.Parameters;
        p[0].Value = d.Id;
        p[1].Value = d.Class;
        p[2].Value = (object?)d.Kiln ?? DBNull.Value;
        p[3].Value = (object?)d.Profile ?? DBNull.Value;
        p[4].Value = r.Point;
        p[5].Value = r.Value;
        p[6].Value = r.Unit;
        p[7].Value = r.Quality;
    }

    private void SetMeta(SqliteTransaction tx, string key, long value)
    {
        using var meta = _db.CreateCommand();
        meta.Transaction = tx;
        meta.CommandText = "INSERT INTO meta (key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = $v";
        meta.Parameters.AddWithValue("$k", key);
        meta.Parameters.AddWithValue("$v", value);
        meta.ExecuteNonQuery();
    }

    public ValueTask HoldAsync(DeviceInfo device, IReadOnlyList<Reading> readings, ClockMark takenAt, CancellationToken ct)
    {
        lock (_pending)
        {
            foreach (var r in readings) _pendingHeld.Add((device, r, takenAt));
        }
        return ValueTask.CompletedTask;
    }

    public async Task<(long Released, long Unrecoverable)> ReleaseHeldAsync(Func<ClockMark, string, DateTimeOffset?> trueTime, CancellationToken ct)
    {
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // Readings added before this call are older than the held ones' release; commit them first to keep order.
            CommitPending();
            if (_held == 0) return (0, 0);
            var released = new List<(DeviceInfo Device, Reading Reading)>();
            long lost = 0;
            using (var cmd = _db.CreateCommand())
            {
                cmd.CommandText = "SELECT device, class, kiln, profile, point, value, unit, boot, mono_ms FROM held ORDER BY id";
                using var r = cmd.ExecuteReader();
                var devices = new Dictionary<(string, string, string?, string?), DeviceInfo>();
                while (r.Read())
                {
                    if (trueTime(new ClockMark(r.GetString(7), r.GetInt64(8)), r.GetString(0)) is not { } ts)
                    {
                        lost++;
                        continue;
                    }
                    var key = (r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3));
                    if (!devices.TryGetValue(key, out var device))
                        devices[key] = device = new DeviceInfo { Id = key.Item1, Class = key.Item2, Kiln = key.Item3, Profile = key.Item4 };
                    released.Add((device, new Reading
                    {
                        Device = key.Item1,
                        Point = r.GetString(4),
                        Timestamp = ts,
                        Value = r.GetDouble(5),
                        Unit = r.GetString(6),
                        Quality = Qualities.Uncertain,
                    }));
                }
            }
            using var tx = _db.BeginTransaction();
            var newest = Insert(tx, released);
            using (var del = _db.CreateCommand())
            {
                del.Transaction = tx;
                del.CommandText = "DELETE FROM held";
                del.ExecuteNonQuery();
            }
            if (newest > _newest) SetMeta(tx, "newest", newest);
            if (lost > 0) SetMeta(tx, "unrecoverable", _unrecoverable + lost);
            tx.Commit();
            _depth += released.Count;
            _held = 0;
            _unrecoverable += lost;
            if (newest > _newest) _newest = newest;
            if (released.Count > 0) _available.TrySetResult();
            return (released.Count, lost);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Drops the oldest readings while the file is over budget: first those ready to publish, then held ones (taken
    /// later, while the clock was untrusted). Returns how many went from each table.
    /// </summary>
    private (long Readings, long Held) EnforceBudget(SqliteTransaction tx)
    {
        long fromReady = 0, fromHeld = 0;
        // Free pages are reused, so dropping rows brings the live size back under budget; aim for 90 %. A page is
        // freed only when all its rows are gone, so one estimate may fall short: go round until it fits.
        for (var bytes = Bytes(tx); bytes > _maxBytes; bytes = Bytes(tx))
        {
            var readyRows = Scalar("SELECT COUNT(*) FROM readings", tx);
            var heldRows = Scalar("SELECT COUNT(*) FROM held", tx);
            var rows = readyRows + heldRows;
            if (rows == 0) break;
            var perRow = Math.Max(1.0, (double)bytes / rows);
            var excess = Math.Clamp((long)Math.Ceiling((bytes - _maxBytes * 0.9) / perRow), 1, rows);
            var ready = DeleteOldest(tx, "readings", Math.Min(excess, readyRows));
            fromReady += ready;
            fromHeld += DeleteOldest(tx, "held", Math.Min(excess - ready, heldRows));
        }
        if (fromReady + fromHeld == 0) return (0, 0);
        using var meta = _db.CreateCommand();
        meta.Transaction = tx;
        meta.CommandText = "INSERT INTO meta (key, value) VALUES ('dropped', $n) ON CONFLICT(key) DO UPDATE SET value = value + $n";
        meta.Parameters.AddWithValue("$n", fromReady + fromHeld);
        meta.ExecuteNonQuery();
        return (fromReady, fromHeld);
    }

    private long DeleteOldest(SqliteTransaction tx, string table, long n)
    {
        if (n <= 0) return 0;
        using var del = _db.CreateCommand();
        del.Transaction = tx;
        del.CommandText = $"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT $n)";
        del.Parameters.AddWithValue("$n", n);
        return del.ExecuteNonQuery();
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
            return new OutboxStats(_depth, oldest < 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(oldest), _dropped, Bytes(),
                _held + PendingHeld(), _unrecoverable, _newest == long.MinValue ? null : DateTimeOffset.FromUnixTimeMilliseconds(_newest));
        }
        finally
        {
            _lock.Release();
        }
    }

    private int PendingHeld()
    {
        lock (_pending) return _pendingHeld.Count;
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
