#!/usr/bin/env python3
"""Load generator for `hawkeye serve` (bench/serve.sh runs it): POST /v1/score at a fixed concurrency.

Bounded: at most --requests requests and --seconds seconds, and only ever to 127.0.0.1 (the port is the only
choice). Prints one JSON object: requests sent, answered 200, other statuses, wall seconds, images/s, and
latency percentiles (p50/p95/p99, nearest rank) in seconds.

  python3 bench/serve_load.py --port 8080 --concurrency 8 --requests 64 --seconds 120 IMG.png [IMG.png ...]
"""
import argparse
import http.client
import json
import math
import os
import threading
import time
import uuid

HOST = "127.0.0.1"  # never anything else


def multipart(name, data):
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    return boundary, head + data + f"\r\n--{boundary}--\r\n".encode()


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--concurrency", type=int, required=True)
    ap.add_argument("--requests", type=int, required=True, help="at most this many requests (1..10000)")
    ap.add_argument("--seconds", type=float, default=300, help="stop sending after this long (at most 3600)")
    ap.add_argument("--query", default="samples=0&reasoning=1")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    if not (1 <= a.requests <= 10000 and 0 < a.seconds <= 3600 and 1 <= a.concurrency <= 256 and 0 < a.port < 65536):
        ap.error("requests 1..10000, seconds (0, 3600], concurrency 1..256, a port")
    bodies = []
    for path in a.images:
        with open(path, "rb") as f:
            bodies.append(multipart(os.path.basename(path), f.read()))

    lock = threading.Lock()
    next_index = [0]
    latencies, statuses = [], {}
    deadline = time.monotonic() + a.seconds

    def worker():
        conn = http.client.HTTPConnection(HOST, a.port, timeout=300)
        while True:
            with lock:
                i = next_index[0]
                if i >= a.requests or time.monotonic() > deadline:
                    break
                next_index[0] += 1
            boundary, body = bodies[i % len(bodies)]
            t0 = time.monotonic()
            try:
                conn.request("POST", f"/v1/score?{a.query}", body=body,
                             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                status = "connection_error"
                conn.close()
                conn = http.client.HTTPConnection(HOST, a.port, timeout=300)
            dt = time.monotonic() - t0
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status == 200:
                    latencies.append(dt)
        conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    latencies.sort()
    ok = statuses.get("200", 0)
    print(json.dumps({
        "concurrency": a.concurrency, "requests": next_index[0], "ok": ok, "statuses": statuses,
        "seconds": round(wall, 3), "images_per_second": round(ok / wall, 3) if wall > 0 else None,
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
    }))


if __name__ == "__main__":
    main()
