#!/usr/bin/env bash
# Builds what changed and runs every test (fast and slow labels) with CTest. Exit status non-zero on any failure.
# Pass CTest arguments through, e.g.: bash scripts/test.sh -L fast
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${HAWKEYE_BUILD_DIR:-build}
HAWKEYE_SKIP_APT=1 HAWKEYE_BUILD_TARGETS=all bash scripts/setup.sh
JOBS=$(nproc)
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
# Then a short fuzzing smoke run of the parsers that read untrusted files (tokenizer.json, safetensors
# headers, model answers): clang + ASan/UBSan in build-fuzz/, 20 s per target. HAWKEYE_FUZZ_SECONDS=0 skips it.
if [[ ${HAWKEYE_FUZZ_SECONDS:-20} != 0 && $# == 0 ]]; then
  bash scripts/fuzz-smoke.sh "${HAWKEYE_FUZZ_SECONDS:-20}"
fi
