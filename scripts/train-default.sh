#!/usr/bin/env bash
# Trains the shipped default model models/hawkeye-tiny end to end with hawkeye's own commands:
#   1. scripts/default-data.sh — KADID-style sets from ~1,250 pristine photos, split by reference, whole
#                        collections held out (train: a sample of type x level per reference; val, test-old,
#                        test-new: every type x level)
#   2. hawkeye pairs  — a degraded twin per training image (perception loss)
#   3. hawkeye sft    — vision grounding   (configs/hawkeye-tiny-vision.toml: the ImageNet MobileNetV2 backbone,
#                       fine-tuned, under a new projector and an auxiliary head; no language-model pass)
#   3b. hawkeye sft   — the same on whole 512x384 images, one epoch (configs/hawkeye-tiny-vision-full.toml)
#   3c. a copy of 3b's model with vision_config.quality_embedding switched on (zero at the start: the same model)
#   4. hawkeye sft    — warm start         (configs/hawkeye-tiny-sft.toml: language model and quality embedding,
#                                           vision frozen; answers = the auxiliary head's score, 30 % think noise)
#   5. hawkeye train  — Q-Hawkeye GRPO     (configs/hawkeye-tiny-grpo.toml)
#   6. hawkeye eval   — the held-out test sets: test-old greedy and K = 8 samples, test-new greedy
#   7. writes models/hawkeye-tiny/ (model directory + MODEL_CARD.md + split files + evaluation reports)
# Usage: bash scripts/train-default.sh [--threads N] [--out models/hawkeye-tiny] [--train-sample 8] [--jpeg2000 opencv53]
#                                     [--seed 0] [--work data-work] [--architecture configs/hawkeye-tiny.json]
# (--jpeg2000: type 9's coder of the train and val sets, scripts/default-data.sh; the shipped model: opencv53)
# (--seed: run.seed of every training stage — initialisation, batch order, rollouts; the data sets keep seed 0)
# (--architecture: the model created by the vision stage, e.g. configs/hawkeye-tiny-photometric.json; the later
#  stages start from the previous stage's model and keep it)
# (--work: the folder of the data sets, runs, evaluations and stage times; another seed of the same data can use
#  its own folder holding links to data-work/{refs,train,val,test-old,test-new}, so no data set is built twice)
# (HAWKEYE=path/to/hawkeye selects another build of the binary; default ./build/hawkeye)
# Every stage is skipped when its output exists (delete data-work/ to start over); a stage that was
# interrupted resumes from its last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=0
OUT=models/hawkeye-tiny
TRAIN_SAMPLE=8
JPEG2000=opencv53
SEED=0
WORK=data-work
ARCH=
while (($#)); do
  case $1 in
    --threads) THREADS=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    --train-sample) TRAIN_SAMPLE=$2; shift 2;;
    --jpeg2000) JPEG2000=$2; shift 2;;
    --seed) SEED=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    --architecture) ARCH=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
HAWKEYE=${HAWKEYE:-./build/hawkeye}  # another build of hawkeye: HAWKEYE=path/to/hawkeye bash scripts/train-default.sh
[[ -x $HAWKEYE ]] || { echo "build hawkeye first: bash scripts/setup.sh" >&2; exit 1; }
# (OpenMP's wait policy: the hawkeye executable chooses a passive one itself; docs/cli.md.)
mkdir -p "$WORK/timing"
now() { date +%s; }
stage() { # name, command...
  local name=$1; shift
  local t0; t0=$(now)
  echo "[train-default] $name: $*" >&2
  # An interrupted stage records the time it ran so far; resuming adds to it.
  local before=0
  [[ -f $WORK/timing/$name.partial ]] && before=$(cat "$WORK/timing/$name.partial")
  trap 'echo "$(( before + $(now) - t0 ))" > "$WORK/timing/$name.partial"' INT TERM
  "$@" || { echo "$(( before + $(now) - t0 ))" > "$WORK/timing/$name.partial"; return 1; }
  trap - INT TERM
  echo "$(( before + $(now) - t0 ))" > "$WORK/timing/$name.seconds"
  rm -f "$WORK/timing/$name.partial"
  echo "[train-default] $name done in $(cat "$WORK/timing/$name.seconds") s" >&2
}
H() { "$HAWKEYE" --threads "$THREADS" --quiet "$@"; }

T0=$(now)
if [[ ! -f $WORK/train/synth.json || ! -f $WORK/val/synth.json || ! -f $WORK/test-old/synth.json || ! -f $WORK/test-new/synth.json ]]; then
  stage synth bash scripts/default-data.sh --threads "$THREADS" --work "$WORK" --train-sample "$TRAIN_SAMPLE" --jpeg2000 "$JPEG2000"
fi
if [[ ! -f $WORK/train/train.pairs.jsonl ]]; then
  # --force: twins an interrupted run of this stage left behind are its own, and are made again
  stage pairs H pairs --data "$WORK/train/train.jsonl" --out "$WORK/train" --force --json
fi

run_stage() { # name, kind (sft|train), config, run dir, [key=value overrides of the config]
  local name=$1 kind=$2 config=$3 dir=$4
  shift 4
  # The configs name data-work's folders; --work moves every one of them.
  set -- "run.seed=$SEED" "run.dir=$dir" "data.train=$WORK/train/train.pairs.jsonl" "data.val=$WORK/val/val.jsonl" "$@"
  if [[ -d $dir/final ]]; then return; fi
  if ls "$dir"/checkpoints/step-* >/dev/null 2>&1; then
    stage "$name" H "$kind" --config "$config" --resume "$dir" "$@"
  else
    stage "$name" H "$kind" --config "$config" "$@"
  fi
}
run_stage vision sft configs/hawkeye-tiny-vision.toml "$WORK/runs/hawkeye-tiny-vision" ${ARCH:+"model.architecture=$ARCH"}
run_stage vision-full sft configs/hawkeye-tiny-vision-full.toml "$WORK/runs/hawkeye-tiny-vision-full" \
  "model.init=$WORK/runs/hawkeye-tiny-vision/final"
# 3c: the warm start reads the auxiliary head's outputs through the quality embedding (docs/results.md).
QDIR=$WORK/runs/hawkeye-tiny-vision-full-q
if [[ ! -f $QDIR/config.json ]]; then
  rm -rf "$QDIR.tmp"
  cp -r "$WORK/runs/hawkeye-tiny-vision-full/final" "$QDIR.tmp"
  python3 - "$QDIR.tmp/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
config["vision_config"]["quality_embedding"] = True
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY
  mv "$QDIR.tmp" "$QDIR"
fi
run_stage sft sft configs/hawkeye-tiny-sft.toml "$WORK/runs/hawkeye-tiny-sft" "model.init=$QDIR"
run_stage grpo train configs/hawkeye-tiny-grpo.toml "$WORK/runs/hawkeye-tiny-grpo" \
  "model.init=$WORK/runs/hawkeye-tiny-sft/final"

FINAL=$WORK/runs/hawkeye-tiny-grpo/final
evaluate() { # stage name, out dir, manifest, [eval options]
  local name=$1 out=$2 data=$3
  shift 3
  [[ -f $out/report.json ]] || stage "$name" H eval --model "$FINAL" --data "$data" --out "$out" "$@"
}
evaluate eval "$WORK/eval/test-old-greedy" "$WORK/test-old/test.jsonl"
evaluate eval_k8 "$WORK/eval/test-old-k8" "$WORK/test-old/test.jsonl" --samples 8
evaluate eval_new "$WORK/eval/test-new-greedy" "$WORK/test-new/test.jsonl"
# Training time = the sum of the stage times up to GRPO; evaluation is reported on its own.
# (synth: the sum of the four sets' build times that scripts/default-data.sh records in data-*.seconds.)
(cat "$WORK"/timing/data-{train,val,test-old,test-new}.seconds 2>/dev/null || true) | awk '{s+=$1} END {print s+0}' > "$WORK/timing/synth.seconds"
TOTAL=$( (cat "$WORK"/timing/{synth,pairs,vision,vision-full,sft,grpo}.seconds 2>/dev/null || true) | awk '{s+=$1} END {print s+0}')
echo "$TOTAL" > "$WORK/timing/total.seconds"

# The shipped model directory: the trained weights + card + split file + evaluation report.
python3 scripts/write_model_card.py --final "$FINAL" --out "$OUT" --work "$WORK" --stages vision,vision-full,sft,grpo
echo "[train-default] wrote $OUT in $TOTAL s" >&2
