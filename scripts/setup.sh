#!/usr/bin/env bash
# hawkeye setup: installs every Debian 12 package the project needs (as root, idempotent), pins the
# OpenMP OpenBLAS, then configures and builds hawkeye in ./build (Release, ccache, PCH).
# Usage: bash scripts/setup.sh            (install + build what scoring needs: the hawkeye target)
#        HAWKEYE_SKIP_APT=1 bash scripts/setup.sh   (build only)
#        HAWKEYE_BUILD_TARGETS=all bash scripts/setup.sh   (also every test and benchmark; scripts/test.sh does this)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${HAWKEYE_BUILD_DIR:-$ROOT/build}

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libtorch-dev libopenblas0-openmp libopenblas-openmp-dev libgloo-dev
  libopencv-dev libopencv-contrib-dev opencv-data
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libpcre2-dev libutf8proc-dev libtomlplusplus-dev libcairo2-dev libopenjp2-7-dev
  flatbuffers-compiler libflatbuffers-dev
  clang libclang-rt-14-dev
  python3 python3-torch python3-numpy
  libcpp-httplib-dev chromium
  python3-dev pybind11-dev python3-pytest python3-pil
)

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

if [[ "${HAWKEYE_SKIP_APT:-0}" != 1 ]]; then
  [[ -r /etc/debian_version ]] || die "this script expects Debian 12 (bookworm); install the packages listed in it by hand elsewhere"
  mapfile -t MISSING < <(missing_packages)
  # Node.js + npm run the reference tokenizer in the tests. A nodesource nodejs ships its own npm and
  # conflicts with Debian's npm package, so only ask for npm when no npm is on the PATH.
  command -v node >/dev/null 2>&1 || MISSING+=(nodejs)
  command -v npm >/dev/null 2>&1 || MISSING+=(npm)
  if ((${#MISSING[@]})); then
    [[ $(id -u) == 0 ]] || die "missing packages (${MISSING[*]}); run this script as root or install them with apt-get"
    say "installing ${#MISSING[@]} packages: ${MISSING[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed (no network or no Debian mirror?)"
    apt-get install -y -qq --no-install-recommends "${MISSING[@]}" >/tmp/hawkeye-apt.log 2>&1 ||
      { tail -30 /tmp/hawkeye-apt.log >&2; die "apt-get install failed (log: /tmp/hawkeye-apt.log)"; }
  else
    say "all packages present"
  fi
  # Never let the pthread OpenBLAS (or netlib BLAS) serve libtorch: pin the OpenMP variant.
  if [[ $(id -u) == 0 ]]; then
    A=/usr/lib/x86_64-linux-gnu
    update-alternatives --set libblas.so.3-x86_64-linux-gnu "$A/openblas-openmp/libblas.so.3" >/dev/null
    update-alternatives --set liblapack.so.3-x86_64-linux-gnu "$A/openblas-openmp/liblapack.so.3" >/dev/null
    update-alternatives --set libopenblas.so.0-x86_64-linux-gnu "$A/openblas-openmp/libopenblas.so.0" >/dev/null
  fi
  case $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3) in
    *openblas-openmp*) say "BLAS: OpenBLAS (OpenMP)";;
    *) say "warning: libblas.so.3 is not the OpenMP OpenBLAS; torch will be slow (run this script as root)";;
  esac
fi

export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
JOBS=${HAWKEYE_JOBS:-$(nproc)}
# Torch translation units take ~1.1 GB each: cap parallel compiles by memory.
MEM_GB=$(awk '/MemAvailable/ {print int($2/1048576)}' /proc/meminfo)
(( MEM_GB > 0 && JOBS > MEM_GB )) && JOBS=$MEM_GB
(( JOBS < 1 )) && JOBS=1

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  say "configuring $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${HAWKEYE_CMAKE_ARGS:-} ||
    die "cmake configure failed"
fi
# The first command of the README only scores: build the hawkeye executable and its program library, and the
# Python module (build/python, docs/python.md); the tests and benchmarks are built by the test command
# (scripts/test.sh).
TARGETS=${HAWKEYE_BUILD_TARGETS:-hawkeye hawkeye_python}
say "building $TARGETS with $JOBS jobs"
start=$(date +%s)
# shellcheck disable=SC2086  # TARGETS is a space-separated list of targets
cmake --build "$BUILD_DIR" -j "$JOBS" --target $TARGETS || die "build failed"
say "built in $(( $(date +%s) - start )) s: $BUILD_DIR/hawkeye"
