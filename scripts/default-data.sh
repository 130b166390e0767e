#!/usr/bin/env bash
# The data of the default model (stage 1 of scripts/train-default.sh): KADID-style synthetic sets from the
# pristine photographs that scripts/get-data.sh fetches (into data-work/refs, checking every SHA-256; from the
# shared data folder ../shared/data when it exists), split by reference, with whole collections held out.
# HAWKEYE_SHARED_DATA=DIR reads the photographs from DIR as they are instead.
#
#   test-old  the 15 test references of the first default models (12 Wikipedia photos + 3 Kodak), every
#             type x level: the same 1,800 images as before (same ids, same seed), so old numbers compare
#   test-new  new test references, every type x level: the whole sun_hays80 collection (80 scenes never used
#             in training: a held-out collection) and the first 70 of BSDS500's "val" photos
#   val       the 6 old validation references and the next 14 BSDS500 "val" photos, every type x level
#   train     everything else (the 52 old training references, the rest of BSDS500, the ImageNet samples):
#             each reference gets TRAIN_SAMPLE of the 24 x 5 type x level combinations (seeded, spread over
#             the types: `hawkeye synth --train-sample`)
#
#   train-tone  (only when asked for with --sets) the training references again, TONE_SAMPLE (--tone-sample, 2)
#             combinations each of the six global tone types only (7, 8, 16, 17, 18, 25): the tone-weighted mix
#             of the fifteenth session's experiment (scripts/tone_probe.py mix; docs/results.md); not in the recipe
#   --jpeg2000 CODER  type 9's coder for the train and val sets (hawkeye synth --jpeg2000: opencv53 (default, what
#             the shipped model saw), 9/7, both); the test sets always use opencv53, so old numbers compare
#
# Usage: bash scripts/default-data.sh [--threads N] [--work data-work] [--train-sample 8] [--jpeg2000 opencv53]
#                                     [--sets "train val test-old test-new"] [--tone-sample 2]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=0
WORK=data-work
TRAIN_SAMPLE=8
TONE_SAMPLE=2
TONE_TYPES=7,8,16,17,18,25
SETS="train val test-old test-new"
JPEG2000=opencv53
while (($#)); do
  case $1 in
    --threads) THREADS=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    --train-sample) TRAIN_SAMPLE=$2; shift 2;;
    --tone-sample) TONE_SAMPLE=$2; shift 2;;
    --sets) SETS=$2; shift 2;;
    --jpeg2000) JPEG2000=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
HAWKEYE=${HAWKEYE:-./build/hawkeye}
[[ -x $HAWKEYE ]] || { echo "build hawkeye first: bash scripts/setup.sh" >&2; exit 1; }
todo=0
for set in $SETS; do [[ -f $WORK/$set/synth.json ]] || todo=1; done
((todo)) || exit 0  # every set is built: nothing to fetch
if [[ -n ${HAWKEYE_SHARED_DATA:-} ]]; then
  SHARED=$HAWKEYE_SHARED_DATA
else
  bash scripts/get-data.sh || { echo "the photographs could not all be fetched (above); see docs/data.md" >&2; exit 1; }
  SHARED=data-work/refs
fi
for d in kodak wikipedia photos/bsds500 photos/imagenet_samples photos/sun_hays80; do
  [[ -d $SHARED/$d ]] || { echo "$SHARED/$d is needed" >&2; exit 1; }
done

# Reference lists (sorted globs: the same lists on every machine).
old_test=() old_val=() old_train=()
for f in "$SHARED"/kodak/*.png "$SHARED"/wikipedia/*.png; do
  case $(basename "$f" .png) in
    001|010|011|018|020|029|036|037|040|045|047|048|kodim11|kodim20|kodim23) old_test+=("$f");;
    032|033|044|kodim01|kodim06|kodim19) old_val+=("$f");;
    *) old_train+=("$f");;
  esac
done
mapfile -t bsds_val < <(ls "$SHARED"/photos/bsds500/val_*.jpg | sort)
mapfile -t bsds_rest < <(ls "$SHARED"/photos/bsds500/{train,test}_*.jpg | sort)
mapfile -t imagenet < <(ls "$SHARED"/photos/imagenet_samples/*.jpg | sort)
mapfile -t sun < <(ls "$SHARED"/photos/sun_hays80/*.jpg | sort)
((${#old_test[@]} == 15 && ${#old_val[@]} == 6 && ${#bsds_val[@]} >= 84)) || { echo "unexpected reference counts in $SHARED" >&2; exit 1; }
new_test=("${sun[@]}" "${bsds_val[@]:0:70}")
new_val=("${bsds_val[@]:70:14}")
train=("${old_train[@]}" "${bsds_val[@]:84}" "${bsds_rest[@]}" "${imagenet[@]}")

H() { "$HAWKEYE" --threads "$THREADS" --quiet "$@"; }
build() { # name, split spec, extra args..., -- refs...
  local name=$1 split=$2
  shift 2
  local extra=()
  while [[ $1 != -- ]]; do extra+=("$1"); shift; done
  shift
  local out=$WORK/$name
  if [[ -f $out/synth.json ]]; then
    # A set built earlier is kept only when it was built with the JPEG 2000 coder asked for now.
    local want=opencv53 have i
    for ((i = 0; i < ${#extra[@]}; i++)); do [[ ${extra[i]} == --jpeg2000 ]] && want=${extra[i + 1]}; done
    case $want in 5/3) want=opencv53;; 9/7) want=wavelet97;; esac
    have=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("jpeg2000", "opencv53"))' "$out/synth.json")
    [[ $have == "$want" ]] && return
    echo "[default-data] $out was built with --jpeg2000 $have, not $want: remove it (or $WORK) to rebuild it" >&2
    exit 1
  fi
  rm -rf "$out"
  local t0; t0=$(date +%s)
  H synth --refs "$@" --out "$out" --size 512x384 --types "${TYPES:-all}" --levels 1-5 --split "$split" --seed 0 "${extra[@]}" --json > /dev/null
  mkdir -p "$WORK/timing"
  echo $(( $(date +%s) - t0 )) > "$WORK/timing/data-$name.seconds"
  echo "[default-data] $name: $(( $(date +%s) - t0 )) s, $(grep -o '"images": [0-9]*' "$out/synth.json")" >&2
}
for set in $SETS; do
  case $set in
    train) build train train=1 --train-sample "$TRAIN_SAMPLE" --jpeg2000 "$JPEG2000" -- "${train[@]}";;
    train-tone) TYPES=$TONE_TYPES build train-tone train=1 --train-sample "$TONE_SAMPLE" -- "${train[@]}";;
    val) build val val=1 --jpeg2000 "$JPEG2000" -- "${old_val[@]}" "${new_val[@]}";;
    test-old) build test-old test=1 -- "${old_test[@]}";;
    test-new) build test-new test=1 -- "${new_test[@]}";;
    *) echo "unknown set $set" >&2; exit 2;;
  esac
done
