#!/usr/bin/env bash
# The GPU check: on a machine with one NVIDIA GPU and CuPy, run nnback's CUDA tests (parity with
# NumPy included), the whole test suite on the cupy backend, the GPU benchmark and one end-to-end
# `nnback train --device cuda`, the CUDA-graph probe (can CuPy capture the step, what replay buys,
# PyTorch eager and graphed beside it), and the experimental paths switched on (NNBACK_CUDA_GRAPH,
# NNBACK_CUDA_FUSED), writing everything as JSON/XML/logs into OUTDIR.
# Needs no network: pure-Python wheels missing there (array-api-compat, array-api-strict) can be
# brought in .whl/ (see the device README's pip download line).
#
#   bash benchmarks/gpu_check.sh OUTDIR [all|first|second]     (all: about 4 minutes on an H100)
#
# first: the GPU, the CUDA tests, the graph probe and the two `nnback train` runs (what a short
# device session needs most); second: the whole suite on cupy and the two benchmarks. Two calls of
# at most 10 minutes each can then cover what one might not.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check-results}
part=${2:-all}
case "$part" in all|first|second) ;; *) echo "part must be all, first or second, not '$part'" >&2; exit 2;; esac
mkdir -p "$out"
python=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
  $python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/nnback-site .whl/*.whl
  export PYTHONPATH=/tmp/nnback-site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# No TF32 anywhere: CuPy's default, made explicit, and the same arithmetic for PyTorch.
export CUPY_TF32=0 NVIDIA_TF32_OVERRIDE=0 NNBACK_REQUIRE_GPU=1 PYTHONUNBUFFERED=1
status=0
step() { echo "== $1"; shift; "$@" || { echo "!! failed ($?): $*"; status=1; }; }
# first/second: run the next step only in that part (the GPU's name is recorded in both)
in_part() { [ "$part" = all ] || [ "$part" = "$1" ]; }

step "GPU" bash -c "set -o pipefail; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee '$out/nvidia-smi.csv'"
in_part first && step "CUDA tests" env NNBACK_PARITY_OUT="$out/parity.json" \
  $python -m pytest -q -m cuda -rs --junitxml="$out/cuda-tests.xml" tests
in_part second && step "whole suite on cupy" env NNBACK_TEST_BACKENDS=cupy \
  $python -m pytest -q -m "not slow" -x --junitxml="$out/cupy-suite.xml" tests
in_part second && step "benchmark" $python benchmarks/bench_gpu.py --json "$out/bench_gpu.json"
in_part second && step "benchmark, fused optimizer kernels" env NNBACK_CUDA_FUSED=1 \
  $python benchmarks/bench_gpu.py --cpu-repeats 0 --json "$out/bench_gpu_fused.json"
in_part first && step "CUDA-graph probe" $python benchmarks/graph_probe.py --json "$out/graph_probe.json"
in_part first && step "nnback train --device cuda" $python -m nnback train --device cuda --metrics-out "$out/train_cuda.json"
in_part first && step "the same, steps as CUDA graphs with fused updates" env NNBACK_CUDA_GRAPH=1 NNBACK_CUDA_FUSED=1 \
  $python -m nnback train --device cuda --metrics-out "$out/train_cuda_graph.json"
exit $status
