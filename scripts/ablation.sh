#!/usr/bin/env bash
# The ablation table of docs/results.md: from the same warm start (data-work/runs/hawkeye-tiny-sft/final),
# GRPO with each part of the Q-Hawkeye recipe switched off or on, then the held-out test split evaluated
# greedily and with K = 8 samples. Run after scripts/train-default.sh (which trains the "full" row, seed 0).
# Each model is also evaluated greedily on the cross-collection LIVE-references set (data-work/live-set, built by
# scripts/train-default.sh). Row "reference": the full recipe with the reference code's hyper-parameters
# (lr 5e-6, gamma0 1e-4); row "unfrozen": the full recipe with the vision tower trainable (train.freeze = []).
# Usage: bash scripts/ablation.sh [--threads N] [--seeds "0 1 2 3 4"] [--rows "sft plain uado perception full reference unfrozen"]
#                                 [--no-k8] [--sft DIR] [--out DIR]
#        --sft: another warm start; --out: where the rows go (default data-work/ablation; give another folder for
#        another warm start, so that the tables of two warm starts never mix)
#        then: python3 scripts/ablation_table.py > docs/results-table.md
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=0
SEEDS="0"
ROWS="sft plain uado perception full"
K8=1
SFT=data-work/runs/hawkeye-tiny-sft/final
OUT=data-work/ablation
while (($#)); do
  case $1 in
    --threads) THREADS=$2; shift 2;;
    --seeds) SEEDS=$2; shift 2;;
    --rows) ROWS=$2; shift 2;;
    --no-k8) K8=0; shift;;
    --sft) SFT=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
HAWKEYE=${HAWKEYE:-./build/hawkeye}  # another build: HAWKEYE=path/to/hawkeye bash scripts/ablation.sh
H() { "$HAWKEYE" --threads "$THREADS" --quiet "$@"; }
WORK=data-work
TEST=$WORK/test-old/test.jsonl
LIVE=$WORK/live-set/test.jsonl
[[ -d $SFT ]] || { echo "run scripts/train-default.sh first ($SFT is missing)" >&2; exit 1; }
mkdir -p "$OUT"

evaluate() { # model dir, out dir
  [[ -f $2/greedy/report.json ]] || H eval --model "$1" --data "$TEST" --out "$2/greedy"
  [[ $K8 == 0 || -f $2/k8/report.json ]] || H eval --model "$1" --data "$TEST" --samples 8 --out "$2/k8"
  [[ ! -f $LIVE || -f $2/live/report.json ]] || H eval --model "$1" --data "$LIVE" --out "$2/live"
}

for row in $ROWS; do
  case $row in
    sft) evaluate "$SFT" "$OUT/sft"; continue;;
    plain) overrides=(loss.uado=false loss.perception=false);;
    uado) overrides=(loss.uado=true loss.perception=false);;
    perception) overrides=(loss.uado=false loss.perception=true);;
    full) overrides=(loss.uado=true loss.perception=true);;
    reference) overrides=(loss.uado=true loss.perception=true train.lr=5e-6 loss.gamma0=1e-4);;
    # the full recipe with the vision tower trained too (does freezing it during GRPO cap the recipe?)
    unfrozen) overrides=(loss.uado=true loss.perception=true 'train.freeze=[]');;
    *) echo "unknown row $row" >&2; exit 2;;
  esac
  for seed in $SEEDS; do
    dir=$OUT/$row-s$seed
    # The full recipe with seed 0 is the shipped model's own GRPO run: not trained twice.
    if [[ $row == full && $seed == 0 && -d $WORK/runs/hawkeye-tiny-grpo/final &&
          $(realpath "$SFT") == $(realpath "$WORK/runs/hawkeye-tiny-sft/final") ]]; then
      mkdir -p "$dir"
      [[ -e $dir/run ]] || ln -s ../../runs/hawkeye-tiny-grpo "$dir/run"
      [[ -f $dir/train.seconds ]] || cp "$WORK/timing/grpo.seconds" "$dir/train.seconds"
      # ... and its evaluations are those of the model card
      [[ -e $dir/greedy || ! -f $WORK/eval/test-old-greedy/report.json ]] || ln -s ../../eval/test-old-greedy "$dir/greedy"
      [[ -e $dir/k8 || ! -f $WORK/eval/test-old-k8/report.json ]] || ln -s ../../eval/test-old-k8 "$dir/k8"
    elif [[ ! -d $dir/run/final ]]; then
      mkdir -p "$dir"
      t0=$(date +%s)
      if ls "$dir"/run/checkpoints/step-* >/dev/null 2>&1; then
        H train --config configs/hawkeye-tiny-grpo.toml --resume "$dir/run" "${overrides[@]}" run.dir="$dir/run" run.seed="$seed" model.init="$SFT"
      else
        H train --config configs/hawkeye-tiny-grpo.toml "${overrides[@]}" run.dir="$dir/run" run.seed="$seed" model.init="$SFT"
      fi
      echo $(( $(date +%s) - t0 )) > "$dir/train.seconds"
    fi
    evaluate "$dir/run/final" "$dir"
  done
done
