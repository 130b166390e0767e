#!/usr/bin/env bash
# The one prepared run for a machine with an NVIDIA GPU, python3, PyTorch 2.x and transformers. From the
# repository root, with an empty folder in $OUT whose files are kept:
#
#   bash tests/parity/run_on_gpu.sh
#
# 1. tests/parity/make_qwen_fixture.py builds the tiny random Qwen2.5-VL with transformers and writes the
#    parity fixture -> $OUT/qwen2_5_vl_tiny.tar.gz (unpack into tests/parity/fixtures/), $OUT/fixture.log
# 2. builds tests/parity/qwen_cuda_check.cpp with this machine's CUDA libtorch through cmake/HawkeyeCuda.cmake
#    (plain g++ when CMake cannot configure) and checks the fixture on CPU, CUDA float32 and CUDA bf16, then
#    one Q-Hawkeye training step (losses + AdamW; gradients on CUDA float32 = CPU's, bf16 reported)
#    -> $OUT/cuda_check.json ("train_step"), $OUT/build.log
# 3. times a random Qwen2.5-VL-7B-shaped model in bf16 with transformers -> $OUT/perf_transformers.json
# 4. times the same shape with hawkeye's C++ code on the GPU -> $OUT/cuda_check.json ("perf_7b_hawkeye")
# SKIP_PERF=1 stops after step 2. Everything is printed too (run.log). Stages have their own time limits; the whole run stays under ~9.5 min.
set -u
OUT=${OUT:-/tmp/hawkeye-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
START=$(date +%s)
left() { echo $((570 - ($(date +%s) - START))); }
say() { echo "[run_on_gpu $(($(date +%s) - START))s] $*"; }
WORK=$(mktemp -d /tmp/hawkeye-gpu.XXXXXX)

say "machine"; nvidia-smi -L; nproc; g++ --version | head -1; cmake --version | head -1
python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, torch.cuda.get_device_name(0))"

say "1. fixture"
timeout 180 python3 tests/parity/make_qwen_fixture.py --out "$WORK/fixture" 2>&1 | tee "$OUT/fixture.log"
cp "$WORK/fixture/qwen2_5_vl_tiny.tar.gz" "$OUT/" 2>/dev/null || say "no fixture made"
FIX="$WORK/fixture/qwen2_5_vl_tiny"

say "2. C++ build against this machine's CUDA libtorch"
TORCH_DIR=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")
EXTRA=""
[ -f /usr/include/nlohmann/json.hpp ] || EXTRA="$PWD/.qwen-carry/include"
BIN=""
{
  if timeout 150 cmake -S tests/parity/cuda_check -B "$WORK/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
       -DCMAKE_PREFIX_PATH="$TORCH_DIR/share/cmake" -DHAWKEYE_EXTRA_INCLUDE="$EXTRA" &&
     timeout 200 cmake --build "$WORK/cmake" -j "$(nproc)"; then
    echo "CMAKE_BUILD=ok"
  else
    echo "CMAKE_BUILD=failed; trying plain g++"
    ABI=$(python3 -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")
    mkdir -p "$WORK/gxx"
    FLAGS="-O2 -std=c++20 -D_GLIBCXX_USE_CXX11_ABI=$ABI -DHAWKEYE_CUDA=1 -Iinclude -Isrc -isystem $TORCH_DIR/include -isystem $TORCH_DIR/include/torch/csrc/api/include"
    [ -n "$EXTRA" ] && FLAGS="$FLAGS -isystem $EXTRA"
    SRCS="tests/parity/qwen_cuda_check.cpp src/core/error.cpp src/core/random.cpp src/core/safetensors.cpp src/core/fs.cpp src/model/decoder.cpp src/model/policy.cpp src/model/weights.cpp src/model/generate.cpp src/model/qwen2_5_vl.cpp src/model/qwen_image_processor.cpp src/model/device.cpp src/model/init.cpp src/rl/losses.cpp src/rl/optim.cpp"
    echo $SRCS | tr ' ' '\n' | xargs -P "$(nproc)" -I{} sh -c "g++ $FLAGS -c {} -o $WORK/gxx/\$(basename {}).o" &&
      g++ -o "$WORK/gxx/qwen_cuda_check" "$WORK"/gxx/*.o -L"$TORCH_DIR/lib" -Wl,-rpath,"$TORCH_DIR/lib" \
        -Wl,--no-as-needed -ltorch -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 -Wl,--as-needed -lpthread &&
      echo "GXX_BUILD=ok"
  fi
} > "$OUT/build.log" 2>&1
tail -25 "$OUT/build.log"
[ -x "$WORK/cmake/qwen_cuda_check" ] && BIN="$WORK/cmake/qwen_cuda_check"
[ -z "$BIN" ] && [ -x "$WORK/gxx/qwen_cuda_check" ] && BIN="$WORK/gxx/qwen_cuda_check"

if [ -n "$BIN" ] && [ -d "$FIX" ]; then
  say "2b. parity of the CUDA build"
  timeout 90 "$BIN" "$FIX" "$OUT/cuda_check.json" 2>&1 | tail -20
fi

if [ -n "${SKIP_PERF:-}" ]; then say "SKIP_PERF set: no timings"; ls -la "$OUT"; exit 0; fi
say "3. transformers: random 7B-shaped Qwen2.5-VL in bf16"
timeout 170 python3 -c "import sys; sys.path.insert(0, 'tests/parity'); import make_qwen_fixture as m; m.perf_7b('$OUT/perf_transformers.json')" 2>&1 | tail -15

if [ -n "$BIN" ] && [ -d "$FIX" ] && [ "$(left)" -gt 60 ]; then
  say "4. hawkeye C++: random 7B-shaped Qwen2.5-VL in bf16 ($(left) s left)"
  timeout "$(left)" "$BIN" "$FIX" "$OUT/cuda_check.json" --perf-7b 2>&1 | tail -25
fi
say "done"
ls -la "$OUT"
