#!/usr/bin/env bash
# The GPU check: on a machine with one NVIDIA GPU and CuPy, run nnback's CUDA tests (every test
# with a cupy backend, parity with NumPy included), the CUDA-graph probe (can CuPy capture the
# step, what replay buys, PyTorch eager and graphed beside it), `nnback train --device cuda` plain
# and with the experimental paths switched on (NNBACK_CUDA_GRAPH, NNBACK_CUDA_FUSED), and the GPU
# benchmark with and without fused updates, writing JSON/XML and the log into OUTDIR and all of it
# into one archive OUTDIR.tgz (a device call brings back only a few files).
# Needs no network: pure-Python wheels missing there (array-api-compat, array-api-strict) can be
# brought in .whl/ (see the device README's pip download line).
#
#   bash benchmarks/gpu_check.sh OUTDIR [all|first|second]
#
# first: the GPU, the CUDA tests, the graph probe and the two trainings (what a short device
# session needs most); second: the two benchmarks. Each step has a time limit, so a hang costs
# that step, not the call.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check-results}
part=${2:-all}
case "$part" in all|first|second) ;; *) echo "part must be all, first or second, not '$part'" >&2; exit 2;; esac
mkdir -p "$out"
exec > >(tee -a "$out/log") 2>&1
python=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
  $python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/nnback-site .whl/*.whl
  export PYTHONPATH=/tmp/nnback-site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# No TF32 anywhere: CuPy's default, made explicit, and the same arithmetic for PyTorch.
export CUPY_TF32=0 NVIDIA_TF32_OVERRIDE=0 NNBACK_REQUIRE_GPU=1 PYTHONUNBUFFERED=1
status=0
# step LIMIT_S NAME COMMAND...: run COMMAND for at most LIMIT_S seconds; a failure is reported, not fatal
step() {
  local limit=$1 name=$2; shift 2
  echo "== $name ($(date -u +%H:%M:%S), limit ${limit}s)"
  timeout "$limit" "$@" || { echo "!! failed ($?): $name"; status=1; }
}
in_part() { [ "$part" = all ] || [ "$part" = "$1" ]; }

step 30 "GPU" bash -c "set -o pipefail; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee '$out/nvidia-smi.csv'"
in_part first && step 200 "CUDA tests" env NNBACK_PARITY_OUT="$out/parity.json" \
  $python -m pytest -q -m cuda -rs --junitxml="$out/cuda-tests.xml" tests
in_part first && step 120 "CUDA-graph probe" $python benchmarks/graph_probe.py --json "$out/graph_probe.json"
in_part first && step 120 "nnback train --device cuda" \
  $python -m nnback train --device cuda --metrics-out "$out/train_cuda.json"
in_part first && step 120 "the same, steps as CUDA graphs with fused updates" env NNBACK_CUDA_GRAPH=1 NNBACK_CUDA_FUSED=1 \
  $python -m nnback train --device cuda --metrics-out "$out/train_cuda_graph.json"
in_part second && step 240 "benchmark" $python benchmarks/bench_gpu.py --json "$out/bench_gpu.json"
in_part second && step 180 "benchmark, fused optimizer kernels" env NNBACK_CUDA_FUSED=1 \
  $python benchmarks/bench_gpu.py --cpu-repeats 0 --json "$out/bench_gpu_fused.json"
echo "== done ($(date -u +%H:%M:%S)), status $status; archive $out.tgz"
tar czf "$out.tgz" -C "$(dirname "$out")" "$(basename "$out")"
exit $status
