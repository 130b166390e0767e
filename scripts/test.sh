#!/usr/bin/env bash
# Builds what changed and runs every test (fast and slow labels) with CTest. Exit status non-zero on any failure.
# Pass CTest arguments through, e.g.: bash scripts/test.sh -L fast
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${HAWKEYE_BUILD_DIR:-build}
HAWKEYE_SKIP_APT=1 bash scripts/setup.sh
JOBS=$(nproc)
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
