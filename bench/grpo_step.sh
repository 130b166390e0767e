#!/usr/bin/env bash
# hawkeye's own GRPO step time at the default hawkeye-tiny size (random init): B = 8 images x K = 4 rollouts
# x 64 new tokens, grad_accum 1, reference KL + perception twins (bench/grpo_step.toml).
#   bench/grpo_step.sh [HAWKEYE_BINARY] [WORK_DIR]
# Env: THREADS (default 1), NICE (default 10), STEPS (default 6), SYNTH_THREADS (default 1).
# Builds a small synthetic set (2 Kodak references x 3 types x 3 levels = 18 images at 512x384, hawkeye synth)
# and its twins (hawkeye pairs) in WORK_DIR (default: a new temporary directory), runs `hawkeye train` under
# /usr/bin/time -v (peak RSS) and prints every step's time_* fields of metrics.jsonl and their mean over
# steps 2..N (step 1 includes one-off allocations).
set -euo pipefail
cd "$(dirname "$0")/.."
HAWKEYE=${1:-build-bench/hawkeye}
WORK=${2:-$(mktemp -d /tmp/hawkeye-bench-grpo.XXXXXX)}
THREADS=${THREADS:-1}
NICE=${NICE:-10}
STEPS=${STEPS:-6}
KODAK=${KODAK:-data-work/refs/kodak}  # scripts/get-data.sh fills data-work/refs
[[ -x "$HAWKEYE" ]] || { echo "grpo_step.sh: no hawkeye binary at $HAWKEYE (build it: cmake --build build-bench --target hawkeye)" >&2; exit 2; }
[[ -f "$KODAK/kodim01.png" ]] || { echo "grpo_step.sh: $KODAK/kodim01.png not found" >&2; exit 3; }

if [[ ! -f "$WORK/set/train.pairs.jsonl" ]]; then
  nice -n "$NICE" "$HAWKEYE" --threads "${SYNTH_THREADS:-1}" --quiet synth --refs "$KODAK/kodim01.png" "$KODAK/kodim02.png" \
    --out "$WORK/set" --size 512x384 --types 1,10,16 --levels 1,3,5 --split train=1
  nice -n "$NICE" "$HAWKEYE" --threads "${SYNTH_THREADS:-1}" --quiet pairs --data "$WORK/set/train.jsonl" --out "$WORK/set" --force
fi
rm -rf "$WORK/run"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
nice -n "$NICE" /usr/bin/time -v -o "$WORK/time.txt" "$HAWKEYE" --threads "$THREADS" --quiet train \
  --config bench/grpo_step.toml run.dir="$WORK/run" data.train="$WORK/set/train.pairs.jsonl" train.steps="$STEPS"
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E "Maximum resident set size|Elapsed \(wall clock\)|User time|System time" "$WORK/time.txt"
/usr/bin/python3 - "$WORK/run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if "time_step" in r]
keys = ["time_step", "time_load", "time_rollout", "time_logprob_forward", "time_backward", "time_optimizer"]
print("step " + " ".join(f"{k[5:]:>16}" for k in keys) + "   rollout_tok/s  completion_tokens_mean  gamma")
for r in rows:
    print(f"{r['step']:4d} " + " ".join(f"{r[k]:16.3f}" for k in keys) +
          f"   {r.get('rollout_tokens_per_s', 0):13.1f}  {r.get('completion_tokens_mean', 0):22.1f}  {r.get('gamma', 0):.4f}")
rest = rows[1:] or rows
mean = {k: sum(r[k] for r in rest) / len(rest) for k in keys}
print("mean " + " ".join(f"{mean[k]:16.3f}" for k in keys) + f"   (steps {rest[0]['step']}..{rest[-1]['step']})")
other = mean["time_step"] - sum(mean[k] for k in keys[1:])
print(f"rollout share {mean['time_rollout'] / mean['time_step']:.1%}; step without image loading "
      f"{mean['time_step'] - mean['time_load']:.3f} s; unaccounted (rewards, bookkeeping) {other:.3f} s")
print("JSON " + json.dumps({"bench": "hawkeye_grpo_step", "steps": len(rest), **{k + "_mean": v for k, v in mean.items()},
                            "completion_tokens_mean": sum(r.get("completion_tokens_mean", 0) for r in rest) / len(rest)}))
PY
