#!/usr/bin/env bash
# Short libFuzzer run of every target in fuzz/ (tokenizer.json loader, answer parser, safetensors header, image
# decoder, TOML configs), for CI.
# Builds them with clang + ASan/UBSan in their own build directory, then runs each for SECONDS seconds,
# starting from the seeds in fuzz/corpus/<target>. Exit status: 0 = no finding (or skipped: no clang),
# 1 = a crash, leak, timeout or failed build (the reproducer is in $BUILD_DIR/fuzz-artifacts/).
# Usage: bash scripts/fuzz-smoke.sh [SECONDS]      (default 25; env HAWKEYE_FUZZ_BUILD_DIR, default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-25}
BUILD_DIR=${HAWKEYE_FUZZ_BUILD_DIR:-build-fuzz}
say() { printf '[fuzz] %s\n' "$*" >&2; }

if ! command -v clang++ >/dev/null 2>&1; then
  say "skipped: clang++ not found (scripts/setup.sh installs clang and libclang-rt-14-dev)"
  exit 0
fi
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DHAWKEYE_BUILD_FUZZ=ON -DHAWKEYE_WITH_TORCH=OFF -DHAWKEYE_BUILD_TESTS=OFF -DHAWKEYE_BUILD_BENCH=OFF >/dev/null ||
    { say "cmake configure failed"; exit 1; }
fi
TARGETS=(tokenizer_loader answer_parser safetensors_header image_decoder toml_config)
cmake --build "$BUILD_DIR" --target "${TARGETS[@]/#/fuzz_}" || { say "build failed"; exit 1; }

status=0
mkdir -p "$BUILD_DIR/fuzz-artifacts"
for t in "${TARGETS[@]}"; do
  corpus="$BUILD_DIR/fuzz-corpus/$t"   # grows between runs; the seeds in fuzz/corpus stay untouched
  mkdir -p "$corpus"
  dict=()
  case $t in
    tokenizer_loader) dict=(-dict=fuzz/tokenizer.dict);;
    answer_parser) dict=(-dict=fuzz/answer.dict);;
  esac
  say "running fuzz_$t for ${SECONDS_EACH}s"
  if ! "$BUILD_DIR/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$BUILD_DIR/fuzz-artifacts/$t-" "${dict[@]}" \
      "$corpus" "fuzz/corpus/$t" >"$BUILD_DIR/fuzz-$t.log" 2>&1; then
    say "fuzz_$t found a problem; log: $BUILD_DIR/fuzz-$t.log"
    tail -40 "$BUILD_DIR/fuzz-$t.log" >&2
    status=1
  else
    say "fuzz_$t: $(grep -E '^stat::number_of_executed_units' "$BUILD_DIR/fuzz-$t.log" | awk '{print $2}') runs, no finding"
  fi
done
exit $status
