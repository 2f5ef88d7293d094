using System.IO.Ports;
using System.Runtime.CompilerServices;
using KhuyenCong.Edge.Profiles;

namespace KhuyenCong.Edge.Lines;

/// <summary>Serial settings of a plain ASCII device (from the bus, else the profile's <c>serial:</c> defaults).</summary>
public sealed record SerialLineSettings(string Device, int Baud = 9600, Profiles.Parity Parity = Profiles.Parity.None, int DataBits = 8, int StopBits = 1);

/// <summary>What a <see cref="LineReader"/> has seen so far.</summary>
public readonly record struct LineCounters(long Good, long Bad, long Skipped, long Timeouts);

/// <summary>
/// Reads lines from a plain serial ASCII device (or any <see cref="Stream"/>) and parses each with a <see cref="LineFormat"/>.
/// Lines are bounded by the format's max_length: a longer run of bytes is dropped up to the next terminator (so garbage
/// resynchronises on the next line). A read that sees no complete line within <see cref="ReadTimeout"/> returns
/// <see cref="LineStatus.Timeout"/>; a partial line is kept across such timeouts while its bytes are still coming, and
/// dropped (counted bad) once no byte has arrived for a whole <see cref="ReadTimeout"/>. One reader per device;
/// <see cref="ReadAsync"/> must not be called concurrently.
/// </summary>
public sealed class LineReader : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly SerialPort? _port;
    private readonly byte[] _readBuffer = new byte[512];
    private readonly byte[] _line;
    private readonly Queue<LineResult> _ready = new();
    private readonly CancellationTokenSource _life = new();
    private int _readPos;
    private int _readEnd;
    private int _lineLength;
    private bool _discarding;
    private DateTime _lastBytes;
    private Task<int>? _pending;
    private long _good;
    private long _bad;
    private long _skipped;
    private long _timeouts;

    /// <param name="stream">The byte source; disposed with the reader.</param>
    /// <param name="format">The compiled line format.</param>
    /// <param name="readTimeout">Longest wait for a complete line (default: the format's stale_after).</param>
    public LineReader(Stream stream, LineFormat format, TimeSpan? readTimeout = null)
        : this(stream, null, format, readTimeout)
    {
    }

    private LineReader(Stream stream, SerialPort? port, LineFormat format, TimeSpan? readTimeout)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(format);
        _stream = stream;
        _port = port;
        Format = format;
        ReadTimeout = readTimeout ?? format.Spec.StaleAfter;
        if (ReadTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(readTimeout), "must be positive");
        _line = new byte[format.Spec.MaxLength];
    }

    /// <summary>
    /// Opens a serial port by path (a /dev/ttyUSB0, a /dev/serial/by-id link or a pty) and reads it. RTS and DTR are left
    /// alone: setting them fails on a pty, and a receive-only device does not need them.
    /// </summary>
    public static LineReader OpenSerial(SerialLineSettings settings, LineFormat format, TimeSpan? readTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(format);
        var port = new SerialPort(settings.Device, settings.Baud, settings.Parity switch
        {
            Profiles.Parity.Even => System.IO.Ports.Parity.Even,
            Profiles.Parity.Odd => System.IO.Ports.Parity.Odd,
            _ => System.IO.Ports.Parity.None,
        }, settings.DataBits, settings.StopBits == 2 ? StopBits.Two : StopBits.One)
        {
            Handshake = Handshake.None,
        };
        try
        {
            port.Open();
            return new LineReader(port.BaseStream, port, format, readTimeout);
        }
        catch
        {
            port.Dispose();
            throw;
        }
    }

    public LineFormat Format { get; }

    public TimeSpan ReadTimeout { get; }

    public LineCounters Counters => new(Interlocked.Read(ref _good), Interlocked.Read(ref _bad), Interlocked.Read(ref _skipped), Interlocked.Read(ref _timeouts));

    /// <summary>When the last good line arrived (UTC), or null.</summary>
    public DateTimeOffset? LastGood { get; private set; }

    /// <summary>The error of the last bad line, or null.</summary>
    public LineError? LastError { get; private set; }

    /// <summary>
    /// The next line's outcome (good, skipped or bad), or <see cref="LineStatus.Timeout"/> when no complete line arrived
    /// within <see cref="ReadTimeout"/>. A partial line is dropped and counted bad at a timeout only when it has stalled (no
    /// byte for <see cref="ReadTimeout"/>): a line whose bytes straddle the end of one read is completed by the next.
    /// </summary>
    /// <exception cref="EndOfStreamException">The stream ended (the device or adapter went away): reopen it.</exception>
    public async ValueTask<LineResult> ReadAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_life.IsCancellationRequested, this);
        var deadline = DateTime.UtcNow + ReadTimeout;
        while (true)
        {
            if (_ready.TryDequeue(out var result)) return Count(result);
            if (_readPos < _readEnd)
            {
                Scan();
                continue;
            }
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero) return TimedOut();
            _pending ??= _stream.ReadAsync(_readBuffer, _life.Token).AsTask();
            int n;
            try
            {
                n = await _pending.WaitAsync(remaining, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The read stays pending and is picked up by the next call: no byte is lost.
                return TimedOut();
            }
            _pending = null;
            if (n == 0) throw new EndOfStreamException("the serial device closed its stream");
            _readPos = 0;
            _readEnd = n;
            _lastBytes = DateTime.UtcNow;
        }
    }

    /// <summary>Every line's outcome (and timeouts) until <paramref name="ct"/> is cancelled.</summary>
    public async IAsyncEnumerable<LineResult> ReadAllAsync([EnumeratorCancellation] CancellationToken ct)
    {
        while (!ct.IsCancellationRequested) yield return await ReadAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Splits buffered bytes into lines; stops after the first complete line so results stay in order.</summary>
    private void Scan()
    {
        var terminator = Format.TerminatorByte;
        while (_readPos < _readEnd)
        {
            var b = _readBuffer[_readPos++];
            if (b == terminator)
            {
                if (_discarding)
                {
                    _discarding = false;
                    _lineLength = 0;
                    continue;
                }
                var length = _lineLength;
                _lineLength = 0;
                // lf/crlf: drop the '\r' before '\n'; cr: drop a '\n' left from a "\r\n" pair.
                var start = 0;
                if (terminator == (byte)'\n' && length > 0 && _line[length - 1] == (byte)'\r') length--;
                if (terminator == (byte)'\r' && length > 0 && _line[0] == (byte)'\n') start = 1;
                if (length - start <= 0) continue; // blank lines carry nothing
                _ready.Enqueue(Format.Parse(_line.AsSpan(start, length - start)));
                return;
            }
            if (_discarding) continue;
            if (_lineLength == _line.Length)
            {
                _discarding = true;
                var head = System.Text.Encoding.Latin1.GetString(_line, 0, Math.Min(_lineLength, 40));
                _lineLength = 0;
                _ready.Enqueue(LineResult.Bad(head, new LineError(LineErrorKind.TooLong, "max_length", $"no terminator within {_line.Length} bytes: dropped up to the next one")));
                return;
            }
            _line[_lineLength++] = b;
        }
    }

    private LineResult TimedOut()
    {
        // A read's deadline runs from the moment it was called, so bytes of a line may just be arriving when it passes:
        // the partial line is abandoned only when nothing has come for a whole timeout (the sender stopped mid-line).
        if (_lineLength > 0 && !_discarding && DateTime.UtcNow - _lastBytes >= ReadTimeout)
        {
            var partial = System.Text.Encoding.Latin1.GetString(_line, 0, _lineLength);
            _lineLength = 0;
            Count(LineResult.Bad(partial, new LineError(LineErrorKind.Partial, "terminator", $"a line stopped after {partial.Length} bytes without its terminator")));
        }
        Interlocked.Increment(ref _timeouts);
        return LineResult.TimedOut;
    }

    private LineResult Count(LineResult r)
    {
        switch (r.Status)
        {
            case LineStatus.Good:
                Interlocked.Increment(ref _good);
                LastGood = DateTimeOffset.UtcNow;
                break;
            case LineStatus.Bad:
                Interlocked.Increment(ref _bad);
                LastError = r.Error;
                break;
            case LineStatus.Skipped:
                Interlocked.Increment(ref _skipped);
                break;
        }
        return r;
    }

    public async ValueTask DisposeAsync()
    {
        if (_life.IsCancellationRequested) return;
        await _life.CancelAsync().ConfigureAwait(false);
        if (_pending is not null)
        {
            try
            {
                await _pending.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or IOException or ObjectDisposedException)
            {
                // The read ends with the port.
            }
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
        _port?.Dispose();
        _life.Dispose();
    }
}
