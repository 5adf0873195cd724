#!/usr/bin/env bash
# modelc vs ONNX Runtime vs PyTorch eager, side by side in one run, on the same weights and input.
#
#   Benchmarks/peers/bench.sh
#   MODELS="resnet50 vgg16" BATCHES=1 THREADS_LIST=2 ROUNDS=5 Benchmarks/peers/bench.sh
#
# For each model: torchvision's model (seeded random init, randomized BatchNorm) is saved as
# safetensors (read by modelc) and exported to ONNX (read by ONNX Runtime); the three outputs on
# one seeded input are compared, then the three runtimes are timed in interleaved rounds. Prints
# progress, then one markdown table per (batch, threads); writes out/results.json and
# out/table.md next to this script. Exit status 1 when some outputs disagree (after all timings).
#
# Environment (defaults in parentheses):
#   MODELS        models to run ("resnet50 mobilenet_v2 efficientnet_b0 alexnet vgg16")
#   BATCHES       batch sizes ("1 8")
#   THREADS_LIST  intra-op thread counts ("1 2")
#   ROUNDS        interleaved rounds per model and configuration (3)
#   RUNS          timed runs per round at batch 1 (20)
#   RUNS_BATCH8   timed runs per round at any batch > 1 (8)
#   WARMUP        untimed runs before each round's timed runs (3)
#   SEED          seed of the weights and the input (0)
#   VENV          a virtualenv with torch, torchvision, onnx, onnxruntime, safetensors, numpy
#                 (Benchmarks/.venv, created and filled with pip when the imports fail)
#   MODELC        a modelc binary (a release build of this repository)
#   KEEP=1        keep the temporary directory (weights, ONNX files, inputs, outputs)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/out"
models="${MODELS:-resnet50 mobilenet_v2 efficientnet_b0 alexnet vgg16}"
batches="${BATCHES:-1 8}"
threads_list="${THREADS_LIST:-1 2}"
venv="${VENV:-$root/Benchmarks/.venv}"

# The spec (and variant) of each model, which is also the torchvision.models function's name.
spec_args() {
    case "$1" in
        resnet18|resnet34|resnet50|resnet101|resnet152) echo "Specs/resnet.yaml --variant ${1#resnet}" ;;
        efficientnet_b[0-7]) echo "Specs/efficientnet.yaml --variant ${1#efficientnet_}" ;;
        mobilenet_v2|alexnet|vgg16) echo "Specs/$1.yaml" ;;
        *) return 1 ;;
    esac
}

model_args=()
for m in $models; do
    if ! spec="$(spec_args "$m")"; then
        echo "error: unknown model '$m' (known: resnet18 resnet34 resnet50 resnet101 resnet152" \
            "efficientnet_b0..efficientnet_b7 mobilenet_v2 alexnet vgg16)" >&2
        exit 2
    fi
    model_args+=(--model "$m=$spec")
done
if [ ${#model_args[@]} -eq 0 ]; then echo "error: MODELS is empty" >&2; exit 2; fi
for n in $batches $threads_list ${ROUNDS:-3} ${RUNS:-20} ${RUNS_BATCH8:-8} ${WARMUP:-3} ${SEED:-0}; do
    case "$n" in
        ''|*[!0-9]*) echo "error: '$n' is not a non-negative integer (BATCHES, THREADS_LIST, ROUNDS, RUNS, RUNS_BATCH8, WARMUP, SEED)" >&2; exit 2 ;;
    esac
done

# Python side: torch, torchvision, onnx (the exporter), onnxruntime, safetensors, numpy.
if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv"
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import torch, torchvision, onnx, onnxruntime, safetensors, numpy' 2>/dev/null; then
    echo "installing torch torchvision onnx onnxruntime safetensors numpy into $venv"
    "$venv/bin/pip" install --quiet torch torchvision onnx onnxruntime safetensors numpy
fi

# modelc side: a release build of this repository.
if [ -z "${MODELC:-}" ]; then
    echo "building modelc (release)"
    (cd "$root" && swift build -c release --product modelc >/dev/null)
    MODELC="$(cd "$root" && swift build -c release --show-bin-path)/modelc"
fi
if [ ! -x "$MODELC" ]; then echo "error: MODELC=$MODELC is not an executable" >&2; exit 2; fi

work="$(mktemp -d "${TMPDIR:-/tmp}/modelc-peers.XXXXXX")"
py_pid=
cleanup() {
    if [ -n "$py_pid" ]; then kill -TERM "$py_pid" 2>/dev/null || true; wait "$py_pid" 2>/dev/null || true; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$out"

# In the background so that a signal to this script stops it (and, through it, modelc) at once.
# shellcheck disable=SC2086  # word splitting of the lists is intended
"$venv/bin/python" -u "$here/bench_peers.py" \
    --modelc "$MODELC" --root "$root" --work "$work" --out "$out" "${model_args[@]}" \
    --batches $batches --threads $threads_list --rounds "${ROUNDS:-3}" --runs "${RUNS:-20}" \
    --runs-batched "${RUNS_BATCH8:-8}" --warmup "${WARMUP:-3}" --seed "${SEED:-0}" &
py_pid=$!
status=0
wait "$py_pid" || status=$?
py_pid=
exit "$status"
