#!/usr/bin/env python3
"""What influxd saw on the wire: for each database written during a benchmark run, from a tcpdump capture of influxd's
HTTP port, how long it held 0, 1, 2… complete write requests (body fully arrived, not yet answered), how long request
bodies took to arrive (first to last packet) and how long influxd took to answer after a body's last byte.

usage: wire.py CAPTURE.pcap INFLUXD_PORT      (capture with a snap length of at least 110 bytes)

Only the last burst of writes of each database is counted (writes closer than 1 s to each other): the timed drain or
ceiling, not the warm-up before it. The last figure is the writer's side: from an answer to the next write sent on the
same connection."""
import collections
import struct
import sys


def packets(path):
    with open(path, 'rb') as f:
        head = f.read(24)
        magic = struct.unpack('<I', head[:4])[0]
        if magic not in (0xa1b2c3d4, 0xa1b23c4d):
            sys.exit(f"{path}: not a little-endian pcap file")
        scale = 1e9 if magic == 0xa1b23c4d else 1e6
        link = struct.unpack('<I', head[20:24])[0]
        skip = {1: 14, 113: 16}.get(link)
        if skip is None:
            sys.exit(f"{path}: link type {link} (expected Ethernet or Linux cooked)")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, incl, _ = struct.unpack('<IIII', h)
            data = f.read(incl)
            ip = data[skip:]
            if len(ip) < 20 or ip[0] >> 4 != 4:
                continue
            ihl = (ip[0] & 15) * 4
            total = struct.unpack('>H', ip[2:4])[0]
            tcp = ip[ihl:]
            sport, dport = struct.unpack('>HH', tcp[:4])
            thl = (tcp[12] >> 4) * 4
            length = total - ihl - thl
            if length > 0:
                yield sec + frac / scale, sport, dport, tcp[thl:thl + 40]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    port = int(sys.argv[2])
    requests, current = [], {}
    for t, sport, dport, payload in packets(sys.argv[1]):
        if dport == port:
            if payload.startswith(b'POST /write'):
                query = payload.split(b'db=', 1)
                db = query[1].split(b'&', 1)[0].split(b' ', 1)[0].decode(errors='replace') if len(query) == 2 else '(no db= in the first bytes)'
                current[sport] = [db, t, t, None, sport]
                requests.append(current[sport])
            elif sport in current and current[sport][3] is None:
                current[sport][2] = t
        elif sport == port and payload.startswith(b'HTTP/1.1') and dport in current and current[dport][3] is None:
            current[dport][3] = t
    by_db = collections.defaultdict(list)
    for r in requests:
        if r[3] is not None:
            by_db[r[0]].append(r)
    for db, rs in by_db.items():
        rs.sort(key=lambda r: r[1])
        start = 0
        for i in range(1, len(rs)):
            if rs[i][1] - max(r[3] for r in rs[:i]) > 1.0:
                start = i
        rs = rs[start:]
        if len(rs) < 10:
            continue
        t0, t1 = rs[0][1], max(r[3] for r in rs)
        edges = sorted([(r[2], 1) for r in rs] + [(r[3], -1) for r in rs])
        held, n, prev = [0.0] * 6, 0, t0
        for t, d in edges:
            held[min(n, 5)] += t - prev
            prev, n = t, n + d
        held[0] += t1 - prev
        # Over the drain, slice by slice: how much of each 100 ms influxd held at least one complete request.
        slices = [0.0] * (int((t1 - t0) / 0.1) + 1)
        n, prev = 0, t0
        for t, d in edges:
            if n > 0:
                for k in range(int((prev - t0) / 0.1), min(int((t - t0) / 0.1), len(slices) - 1) + 1):
                    slices[k] += max(0.0, min(t, t0 + (k + 1) * 0.1) - max(prev, t0 + k * 0.1))
            prev, n = t, n + d
        arrive = sorted((r[2] - r[1]) * 1000 for r in rs)
        answer = sorted((r[3] - r[2]) * 1000 for r in rs)
        # The writer's side: from an answer to the next write on the same connection.
        by_conn = collections.defaultdict(list)
        for r in rs:
            by_conn[r[4]].append(r)
        react = sorted((b[1] - a[3]) * 1000 for c in by_conn.values() for a, b in zip(c, c[1:]))
        print(f"{db}: {len(rs)} writes in {t1 - t0:.2f} s; influxd holding 0/1/2/3/4/5+ complete requests: "
              + " / ".join(f"{x:.2f}" for x in held)
              + f" s; body first to last packet ms p50 {arrive[len(arrive) // 2]:.1f} p90 {arrive[len(arrive) * 9 // 10]:.1f}"
              + f"; last byte to answer ms p50 {answer[len(answer) // 2]:.0f} p90 {answer[len(answer) * 9 // 10]:.0f}"
              + (f"; answer to the next write on its connection ms p50 {react[len(react) // 2]:.1f} p90 {react[len(react) * 9 // 10]:.1f}" if react else ""))
        print(f"  {db}, per 100 ms from its first write: % of it with a complete request at influxd: "
              + " ".join(f"{x * 1000:.0f}" for x in slices))


main()
