#!/usr/bin/env bash
# One command to check the CUDA backend whenever a GPU is at hand:
#
#   bash bench/gpu_check.sh [build-dir]        (default: build-gpu)
#   HQLT_PREBUILT=.prebuilt bash bench/gpu_check.sh   (binaries from bench/gpu_deps.sh --prebuilt)
#   GPU_CHECK_BENCH_OPS='--op delta_rule --T 4096' ... (fewer fused-op benchmarks, when time is short)
#   GPU_CHECK_RACECHECK='*hybrid*' ...                  (racecheck these tests instead of the list below)
#
# Builds hqlt with CUDA (Release, for this card's architecture only), prints nvidia-smi,
# runs the cuda-labelled tests, runs compute-sanitizer memcheck and racecheck on them, runs
# the GPU benchmarks, and prints a summary; everything is also written to
# <build-dir>/gpu_check.log. Every step has its own time limit. The last measured run took
# about 9 minutes with the build on one H100/H200 with 16 cores (7 with prebuilt binaries;
# racecheck is the longest step); the fused ops' tests on every device (and their memcheck)
# came after it and are not yet timed on a card. Exits non-zero when any step fails, and at
# once (exit 2) when no GPU is present: nothing here can be checked without one.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD="${1:-build-gpu}"
mkdir -p "$BUILD"
LOG="$BUILD/gpu_check.log"
# On the lent device machine $OUT is the folder that comes back: keep a copy of the log there.
if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then
  exec > >(tee "$LOG" "$OUT/gpu_check.log") 2>&1
else
  exec > >(tee "$LOG") 2>&1
fi

export PATH="/usr/local/cuda/bin:$PATH"
START=$(date +%s)
declare -a SUMMARY=()
FAILED=0

# run_step NAME SECONDS COMMAND...: runs the command under a time limit, records the result.
run_step() {
  local name="$1" limit="$2"
  shift 2
  echo
  echo "==== $name (limit ${limit}s) ===="
  local t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  local dt=$(($(date +%s) - t0))
  local status="ok"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    status="TIMEOUT"
  elif [ "$rc" -ne 0 ]; then
    status="FAIL (exit $rc)"
  fi
  [ "$status" = "ok" ] || FAILED=1
  SUMMARY+=("$(printf '%-34s %-16s %4ss' "$name" "$status" "$dt")")
  return "$rc"
}

echo "hqlt gpu_check: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), log: $LOG"

# ---- 0. A GPU, or stop here ---------------------------------------------------------
if ! command -v nvidia-smi > /dev/null 2>&1; then
  echo "gpu_check: FAILED: nvidia-smi not found; no NVIDIA driver on this machine, so no GPU to check." >&2
  exit 2
fi
if ! GPUS=$(timeout 30 nvidia-smi -L 2>&1) || ! grep -q '^GPU ' <<< "$GPUS"; then
  echo "gpu_check: FAILED: nvidia-smi lists no GPU:" >&2
  echo "$GPUS" >&2
  exit 2
fi
if ! command -v nvcc > /dev/null 2>&1; then
  echo "gpu_check: FAILED: nvcc not found (looked in PATH and /usr/local/cuda/bin)" >&2
  exit 2
fi
timeout 30 nvidia-smi
# Build for this card only (sm_90 for H100/H200): halves nvcc's time.
CC=$(timeout 30 nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
ARCH="${CC:-90}"
echo "compute capability: $ARCH; nvcc: $(nvcc --version | tail -1)"

# ---- 1. Build (or take binaries built elsewhere) -----------------------------------------
# HQLT_PREBUILT=DIR: use DIR/hqlt_tests and DIR/hqlt, built on another machine with
# -DHQLT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=<this card's>, when they load here (two minutes
# of device time saved); otherwise build. DIR/lib, if present, goes on the library path.
TESTS=""
if [ -n "${HQLT_PREBUILT:-}" ] && [ -x "$HQLT_PREBUILT/hqlt_tests" ]; then
  export LD_LIBRARY_PATH="/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
  [ -d "$HQLT_PREBUILT/lib" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$PWD/$HQLT_PREBUILT/lib"
  if "$HQLT_PREBUILT/hqlt_tests" -ts=cuda -ltc > /dev/null 2>&1; then
    TESTS="$HQLT_PREBUILT/hqlt_tests"
    HQLT="$HQLT_PREBUILT/hqlt"
    echo "using the prebuilt $TESTS"
    SUMMARY+=("$(printf '%-34s %-16s' 'build' 'prebuilt')")
  else
    echo "the prebuilt $HQLT_PREBUILT/hqlt_tests does not load here; building instead:"
    ldd "$HQLT_PREBUILT/hqlt_tests" | grep 'not found' || true
  fi
fi
if [ -z "$TESTS" ]; then
  # A machine that cannot install doctest/stb gets them from .deps/ (bench/gpu_deps.sh).
  DEPS_FLAGS=()
  if [ -d .deps ]; then
    DEPS_FLAGS=(-Ddoctest_DIR="$PWD/.deps/lib/cmake/doctest" -DCMAKE_CXX_FLAGS="-I$PWD/.deps/include")
  fi
  run_step "configure (CUDA on, sm_$ARCH)" 90 \
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHQLT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" "${DEPS_FLAGS[@]}"
  if ! run_step "build hqlt hqlt_tests" 270 cmake --build "$BUILD" -j "$(nproc)" --target hqlt hqlt_tests; then
    echo "gpu_check: FAILED: the build failed; nothing else can run." >&2
    printf '%s\n' "${SUMMARY[@]}"
    exit 1
  fi
  TESTS="$BUILD/hqlt_tests"
  HQLT="$BUILD/hqlt"
fi

# ---- 2. cuda tests ---------------------------------------------------------------------
# Every test of the cuda suites (TEST_SUITE = CTest label), run by the test binary itself.
# On a GPU machine a skipped cuda test means the GPU was not seen: that is a failure here.
TEST_OUT="$BUILD/gpu_check_tests.txt"
run_step "cuda tests" 120 bash -o pipefail -c "'$TESTS' -ts=cuda,cuda_bench 2>&1 | tee '$TEST_OUT'"
# The fused ops have one test body for every device (tests/devices.h): their
# reference tests run the GPU kernels too when a GPU is present.
DEVICE_TESTS="*delta_rule*,*linear_attention*,*hybrid_chunk*,attention fused matches reference*,conv2d matches*"
run_step "fused ops on every device" 180 bash -o pipefail -c \
  "'$TESTS' -ts=reference '-tc=$DEVICE_TESTS' 2>&1 | tee -a '$TEST_OUT'"
if grep -q 'HQLT-SKIPPED' "$TEST_OUT"; then
  echo "gpu_check: FAILED: cuda tests were skipped on a machine with a GPU:"
  grep 'HQLT-SKIPPED' "$TEST_OUT" | sort | uniq -c
  FAILED=1
  SUMMARY+=("$(printf '%-34s %-16s' 'no cuda test skipped' 'FAIL')")
fi

# ---- 3. compute-sanitizer on the cuda tests ---------------------------------------------
# memcheck on every cuda test; racecheck (which slows shared-memory kernels by orders of
# magnitude) on the small shapes of the fused kernels, which run the same code paths.
SANITIZER=$(command -v compute-sanitizer || true)
RACECHECK_TESTS="*attention fused matches reference: grouped-query*,*delta_rule options against the reference*"
RACECHECK_TESTS+=",*linear_attention matches the reference with strided inputs*"
RACECHECK_TESTS+=",*hybrid_chunk matches the reference with the FW block and the chunk apart*"
RACECHECK_TESTS+=",*rms_norm*,*softmax*,*cross_entropy matches*,*sum mean and max*"
if [ -z "$SANITIZER" ]; then
  echo "gpu_check: FAILED: compute-sanitizer not found (it ships with the CUDA toolkit)"
  FAILED=1
  SUMMARY+=("$(printf '%-34s %-16s' 'compute-sanitizer' 'FAIL (missing)')")
else
  # The training tests are left out of memcheck: they launch thousands of small kernels
  # (slow under the tool) that the kernel tests above already cover one by one.
  run_step "compute-sanitizer memcheck" 120 \
    "$SANITIZER" --tool memcheck --error-exitcode 1 "$TESTS" -ts=cuda "-tce=*training*"
  run_step "compute-sanitizer memcheck, fused ops" 180 \
    "$SANITIZER" --tool memcheck --error-exitcode 1 "$TESTS" -ts=reference "-tc=$DEVICE_TESTS"
  run_step "compute-sanitizer racecheck" 240 \
    "$SANITIZER" --tool racecheck --error-exitcode 1 "$TESTS" -ts=cuda,reference \
    "-tc=${GPU_CHECK_RACECHECK:-$RACECHECK_TESTS}"
fi

# ---- 4. Benchmarks -----------------------------------------------------------------------
echo
echo "==== benchmarks ===="
# Training tokens/s of the paper's 340M Synchronous HQLT (chunk 64, dynamic vector mixing)
# at T = 2048, full steps (forward, loss, backward, AdamW) on the GPU, f32 and TF32 GEMMs.
CONFIG_340M=models/configs/sync_hqlt_ch64_dynamic-vector-mixing_noconv_340M.json
run_step "340M sync HQLT training, f32" 120 \
  "$HQLT" bench train --config "$CONFIG_340M" --batch 4 --seq-len 2048 --device cuda --budget 8
run_step "340M sync HQLT training, TF32" 120 \
  "$HQLT" bench train --config "$CONFIG_340M" --batch 4 --seq-len 2048 --device cuda --tf32 --budget 8
# The fused kernels, forward and forward+backward, f32, B=8, H=16, d=64 and 128,
# T=1k/4k/16k, against their plain references up to T=1k: ms, TFLOP/s of the fused
# algorithm and peak memory (cli/bench_ops_command.cpp, the same table as on the CPU).
run_step "fused ops (hqlt bench ops --device cuda)" 240 \
  "$HQLT" bench ops --device cuda --budget 0.5 ${GPU_CHECK_BENCH_OPS:-}
# The cuBLAS GEMM ceiling (f32 and TF32; tests/cuda/bench_gemm_cuda.cpp): what the fused
# kernels' TFLOP/s compare against on this card.
run_step "cuBLAS ceiling" 120 env HQLT_BENCH=full "$TESTS" -ts=cuda_bench

# ---- Summary -----------------------------------------------------------------------------
echo
echo "==== summary ($(($(date +%s) - START))s in all) ===="
printf '%s\n' "${SUMMARY[@]}"
if [ "$FAILED" -ne 0 ]; then
  echo "gpu_check: FAILED (see above; full log in $LOG)"
  exit 1
fi
echo "gpu_check: all steps passed"
