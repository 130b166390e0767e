#!/usr/bin/env bash
# hawkeye serve under load vs hawkeye score, measured in the same run (docs/serve.md has the results).
#
#   bash bench/serve.sh            (needs build/hawkeye; HAWKEYE_BENCH_THREADS=1 torch threads by default)
#
# 1. `hawkeye score --batch 16` on 64 PNGs of 512x384 (the 8 examples, 8 copies each): images/s of the
#    scoring itself (its own log line, model load excluded), and `hawkeye score` on one image (batch 1).
# 2. `hawkeye serve` on 127.0.0.1, a free port; bench/serve_load.py posts the same examples to /v1/score,
#    greedy with reasoning, at concurrency 1, 8 and 32 (bounded in requests and seconds; loopback only):
#    images/s and p50/p95/p99 latency. A warm-up request first.
# 3. `hawkeye score --batch 16` again: the baseline brackets the server's run (the machine may be shared), and
#    the table compares with the mean of the two.
# Prints a Markdown table. Everything runs under `nice -n $HAWKEYE_BENCH_NICE` (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HAWKEYE_BIN:-build/hawkeye}
THREADS=${HAWKEYE_BENCH_THREADS:-1}
MODEL=${HAWKEYE_BENCH_MODEL:-hawkeye-tiny}
NICE=${HAWKEYE_BENCH_NICE:-10}
[[ -x $BIN ]] || { echo "bench/serve.sh: $BIN is not built (cmake --build build --target hawkeye)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/hawkeye-bench-serve.XXXXXX)
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/imgs"
for copy in 1 2 3 4 5 6 7 8; do
  for f in examples/*.png; do cp "$f" "$WORK/imgs/c$copy-$(basename "$f")"; done
done
N_SCORE=$(ls "$WORK/imgs" | wc -l)

rate_of() {  # images/s from `hawkeye score`'s log line
  sed -n 's/.*scored \([0-9]*\) images\{0,1\} in \([0-9.]*\) s (\([0-9.]*\) images\/s.*/\3/p' "$1" | tail -1
}
seconds_of() {
  sed -n 's/.*scored \([0-9]*\) images\{0,1\} in \([0-9.]*\) s .*/\2/p' "$1" | tail -1  # "1 image", "64 images"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "[bench] hawkeye score --batch 16 on $N_SCORE images ($THREADS threads)" >&2
nice -n "$NICE" "$BIN" --threads "$THREADS" score --model "$MODEL" --batch 16 "$WORK/imgs" >/dev/null 2>"$WORK/score.log"
SCORE_RATE=$(rate_of "$WORK/score.log")
echo "[bench] hawkeye score on one image" >&2
ONE=()
for i in 1 2 3; do
  nice -n "$NICE" "$BIN" --threads "$THREADS" score --model "$MODEL" examples/plane-pristine.png >/dev/null 2>"$WORK/one.log"
  ONE+=("$(seconds_of "$WORK/one.log")")
done
ONE_SECONDS=$(printf '%s\n' "${ONE[@]}" | sort -n | sed -n 2p)  # the median of 3

echo "[bench] hawkeye serve" >&2
nice -n "$NICE" "$BIN" --threads "$THREADS" serve --model "$MODEL" --port 0 --max-batch 16 --max-wait-ms 10 --workers 64 \
  >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 600); do
  grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break
  sleep 0.1
done
PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/serve.out")
[[ -n $PORT ]] || { cat "$WORK/serve.log" >&2; echo "bench/serve.sh: the server did not start" >&2; exit 1; }

load() {  # concurrency requests
  nice -n "$NICE" python3 bench/serve_load.py --port "$PORT" --concurrency "$1" --requests "$2" --seconds 600 examples/*.png
}
load 1 1 >/dev/null  # warm-up
R1=$(load 1 16)
R8=$(load 8 64)
R32=$(load 32 128)
python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$PORT/metrics').read().decode())" \
  >"$WORK/metrics.txt" 2>/dev/null || true
kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
echo "[bench] hawkeye score --batch 16 again" >&2
nice -n "$NICE" "$BIN" --threads "$THREADS" score --model "$MODEL" --batch 16 "$WORK/imgs" >/dev/null 2>"$WORK/score2.log"
SCORE_RATE2=$(rate_of "$WORK/score2.log")

echo "load average (1, 5, 15 min) before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores, $THREADS torch thread(s)"
echo
python3 - "$SCORE_RATE" "$SCORE_RATE2" "$ONE_SECONDS" "$R1" "$R8" "$R32" "$WORK/metrics.txt" <<'EOF'
import json, re, sys
before, after, one = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
score_rate = (before + after) / 2
rows = [json.loads(s) for s in sys.argv[4:7]]
metrics = open(sys.argv[7]).read() if len(sys.argv) > 7 else ""
m = re.search(r"hawkeye_batch_size_sum (\S+)\nhawkeye_batch_size_count (\S+)", metrics)
print(f"`hawkeye score --batch 16`: {before:.2f} images/s before the server's run, {after:.2f} after (mean {score_rate:.2f}); "
      f"one image (batch 1): {one:.3f} s\n")
print("| concurrency | requests (200) | images/s | vs `score --batch 16` | p50 s | p95 s | p99 s | p99 / one `score` |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['concurrency']} | {r['requests']} ({r['ok']}) | {r['images_per_second']:.2f} | "
          f"{100 * r['images_per_second'] / score_rate:.0f} % | {r['p50']:.3f} | {r['p95']:.3f} | {r['p99']:.3f} | "
          f"{r['p99'] / one:.2f}× |")
if m:
    print(f"\nmean model batch over the run: {float(m.group(1)) / float(m.group(2)):.1f} images ({m.group(2)} batches)")
EOF
