#!/usr/bin/env bash
# How hawkeye behaves when it shares the cores with other work (the issue "Fast beside other work").
#   bash bench/contention.sh [--hawkeye build/hawkeye] [--model models/hawkeye-tiny] [--repeats 2]
#                            [--variants "default legacy t1"] [--conditions "idle busy1 busy2 torch2"]
#                            [--workloads "score grpo"] [--grpo-steps 2] [--timeout 180] [--work DIR]
# Workloads (the shipped model, greedy, with reasoning):
#   score  `hawkeye score --batch 16` of 48 images (the 8 README examples, 512x384, six times each);
#          the time is the command's wall time, model load included
#   grpo   one Q-Hawkeye GRPO step of configs/hawkeye-tiny-grpo.toml (8 images x K = 4 rollouts, reference
#          KL and perception twins, vision frozen) from the shipped model: `time_step` of the last of --grpo-steps
#          steps in metrics.jsonl (default 2; step 1 holds one-off allocations)
# Conditions (what runs beside it; every neighbour is started by this script and killed by its PID):
#   idle    nothing
#   busy1   one process spinning on one core     busy2   two such processes
#   torch2  a 2-thread torch job: `hawkeye --threads 2 score` in a loop with libgomp's own spin default
#           (GOMP_SPINCOUNT=300000), i.e. a neighbour that does not yield either
#   late1, late2  one / two busy processes that start once the run is under way: score, 1 s after its start;
#           grpo, once step 1 is in metrics.jsonl (use --grpo-steps 3: a count that follows the load sees the
#           neighbours from the step after their arrival)
# Variants (how hawkeye is started):
#   default   `hawkeye` as a user runs it (no environment, no --threads: score follows the machine's load
#             with up to every core, training uses every core)
#   fixed     `--threads 0`: every core, fixed (score's default before it followed the load)
#   auto      `--threads auto` (score: the same as default; training refuses it)
#   legacy    the same with GOMP_SPINCOUNT=300000: libgomp's built-in default, what hawkeye did before it
#             chose its own wait policy (apps/hawkeye/main.cpp)
#   t1        `--threads 1`
#   passive   OMP_WAIT_POLICY=PASSIVE          spin:N   GOMP_SPINCOUNT=N
#   env:K=V   the default with the environment variable K set to V
# Prints one table per workload: median (min-max) seconds over the repeats; a run that exceeds --timeout
# counts as the timeout. Runs are interleaved (variant after variant, repeat after repeat) under each
# condition. Results and the table: bench/README.md, "Contention".
set -euo pipefail
cd "$(dirname "$0")/.."
HAWKEYE=build/hawkeye
MODEL=models/hawkeye-tiny
REPEATS=2
VARIANTS="default legacy t1"
CONDITIONS="idle busy1 busy2 torch2"
WORKLOADS="score grpo"
TIMEOUT=180
GRPO_STEPS=2
WORK=""
while (($#)); do
  case $1 in
    --hawkeye) HAWKEYE=$2; shift 2;;
    --model) MODEL=$2; shift 2;;
    --repeats) REPEATS=$2; shift 2;;
    --variants) VARIANTS=$2; shift 2;;
    --conditions) CONDITIONS=$2; shift 2;;
    --workloads) WORKLOADS=$2; shift 2;;
    --timeout) TIMEOUT=$2; shift 2;;
    --grpo-steps) GRPO_STEPS=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    -h|--help) sed -n '2,31p' "$0"; exit 0;;
    *) echo "contention.sh: unknown argument $1" >&2; exit 2;;
  esac
done
[[ -x $HAWKEYE ]] || { echo "contention.sh: no hawkeye binary at $HAWKEYE (bash scripts/setup.sh builds it)" >&2; exit 2; }
[[ -f $MODEL/config.json ]] || { echo "contention.sh: no model directory at $MODEL" >&2; exit 2; }
[[ -n $WORK ]] || WORK=$(mktemp -d /tmp/hawkeye-contention.XXXXXX)
mkdir -p "$WORK"

NEIGHBOURS=()
cleanup() {
  local pid
  for pid in "${NEIGHBOURS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${NEIGHBOURS[@]}"; do wait "$pid" 2>/dev/null || true; done
  NEIGHBOURS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

IMAGES=()
for _ in 1 2 3 4 5 6; do IMAGES+=(examples/*.png); done
((${#IMAGES[@]} == 48)) || { echo "contention.sh: expected the 8 README example images in examples/" >&2; exit 2; }

# The GRPO step's data: the two pristine examples x 3 types x 3 levels, their perception twins.
if [[ $WORKLOADS == *grpo* && ! -f $WORK/set/train.pairs.jsonl ]]; then
  "$HAWKEYE" --threads 1 --quiet synth --refs examples/parrots-pristine.png examples/plane-pristine.png \
    --out "$WORK/set" --size 512x384 --types 1,10,16 --levels 1,3,5 --split train=1 >/dev/null
  "$HAWKEYE" --threads 1 --quiet pairs --data "$WORK/set/train.jsonl" --out "$WORK/set" --force >/dev/null
fi

start_neighbours() { # condition
  case $1 in
    idle|late*) ;;
    busy1|busy2)
      local n=${1#busy} i
      for ((i = 0; i < n; ++i)); do
        setsid bash -c 'while :; do :; done' & NEIGHBOURS+=($!)
      done;;
    torch2)
      setsid env GOMP_SPINCOUNT=300000 bash -c 'while :; do "$0" --threads 2 --quiet score --model "$1" --no-reasoning "${@:2}" >/dev/null 2>&1; done' \
        "$HAWKEYE" "$MODEL" "${IMAGES[@]:0:16}" & NEIGHBOURS+=($!)
      sleep 2;;  # let it get past its model load
    *) echo "contention.sh: unknown condition $1" >&2; exit 2;;
  esac
}

# late1/late2: starts the busy neighbours once the run in the background (PID $1) is under way (score: after 1 s;
# grpo: once step 1 is logged), then waits for the run; its status is the run's.
late_neighbours() { # pid condition workload
  local pid=$1 n=${2#late} i
  if [[ $3 == score ]]; then
    sleep 1
  else
    while kill -0 "$pid" 2>/dev/null && ! grep -qs '"step":1,' "$WORK/run/metrics.jsonl"; do sleep 0.05; done
  fi
  for ((i = 0; i < n; ++i)); do
    setsid bash -c 'while :; do :; done' & NEIGHBOURS+=($!)
  done
  local rc=0
  wait "$pid" || rc=$?
  cleanup
  return "$rc"
}

run_variant() { # variant workload condition -> prints seconds
  local variant=$1 workload=$2 condition=$3
  local -a env_args=(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT) threads=()
  case $variant in
    default) ;;
    fixed) threads=(--threads 0);;
    auto) threads=(--threads auto);;
    legacy) env_args+=(GOMP_SPINCOUNT=300000);;
    t1) threads=(--threads 1);;
    passive) env_args+=(OMP_WAIT_POLICY=PASSIVE);;
    spin:*) env_args+=(GOMP_SPINCOUNT="${variant#spin:}");;
    env:*=*) env_args+=("${variant#env:}");;
    *) echo "contention.sh: unknown variant $variant" >&2; exit 2;;
  esac
  local t0 t1 rc=0
  case $workload in
    score)
      t0=$(date +%s.%N)
      "${env_args[@]}" timeout "$TIMEOUT" "$HAWKEYE" "${threads[@]}" --quiet score --model "$MODEL" --batch 16 \
        "${IMAGES[@]}" >/dev/null 2>"$WORK/last.err" &
      if [[ $condition == late* ]]; then late_neighbours $! "$condition" score || rc=$?; else wait $! || rc=$?; fi
      t1=$(date +%s.%N)
      if ((rc == 124)); then echo "$TIMEOUT"; elif ((rc != 0)); then cat "$WORK/last.err" >&2; exit 1;
      else awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'; fi;;
    grpo)
      rm -rf "$WORK/run"
      "${env_args[@]}" timeout "$TIMEOUT" "$HAWKEYE" "${threads[@]}" --quiet train \
        --config configs/hawkeye-tiny-grpo.toml model.init="$MODEL" run.dir="$WORK/run" \
        data.train="$WORK/set/train.pairs.jsonl" train.steps="$GRPO_STEPS" train.warmup_steps=0 \
        train.checkpoint_every=0 run.log_every=1 >/dev/null 2>"$WORK/last.err" &
      if [[ $condition == late* ]]; then late_neighbours $! "$condition" grpo || rc=$?; else wait $! || rc=$?; fi
      if ((rc == 124)); then echo "$TIMEOUT"; elif ((rc != 0)); then cat "$WORK/last.err" >&2; exit 1;
      else /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("%.3f" % [r for r in rows if r.get("step") == int(sys.argv[2]) and "time_step" in r][0]["time_step"])' \
        "$WORK/run/metrics.jsonl" "$GRPO_STEPS"; fi;;
    *) echo "contention.sh: unknown workload $workload" >&2; exit 2;;
  esac
}

declare -A RESULT
echo "hawkeye: $HAWKEYE; model: $MODEL; $(nproc) cores; repeats $REPEATS; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for condition in $CONDITIONS; do
  start_neighbours "$condition"
  for workload in $WORKLOADS; do
    for ((r = 0; r < REPEATS; ++r)); do
      for variant in $VARIANTS; do
        s=$(run_variant "$variant" "$workload" "$condition")
        RESULT[$workload,$condition,$variant]+="$s "
        echo "  $workload $condition $variant: $s s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
      done
    done
  done
  cleanup
done

for workload in $WORKLOADS; do
  echo
  echo "$workload: median (min-max) seconds over $REPEATS runs"
  printf '| condition |'; for v in $VARIANTS; do printf ' %s |' "$v"; done; echo
  printf '|---|'; for _ in $VARIANTS; do printf -- '---|'; done; echo
  for condition in $CONDITIONS; do
    printf '| %s |' "$condition"
    for variant in $VARIANTS; do
      printf ' %s |' "$(tr ' ' '\n' <<<"${RESULT[$workload,$condition,$variant]}" | grep . | sort -g |
        awk '{v[NR] = $1} END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                                printf (NR > 1 ? "%.2f (%.2f-%.2f)" : "%.2f"), m, v[1], v[NR] }')"
    done
    echo
  done
done
