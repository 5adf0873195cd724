#!/usr/bin/env bash
# modelc bench next to PyTorch and ONNX Runtime on the same models, batch and threads.
#
#   Benchmarks/peers/bench.sh [model ...]   (default: resnet50 mobilenet_v2 efficientnet_b0 alexnet vgg16)
#
# Environment: VENV (default Benchmarks/.venv, created on first use), MODELC (default: a release
# build), THREADS (2), BATCH (1), RUNS (30), WARMUP (3), PEERS=0 to run modelc only.
# Writes out/modelc-MODEL.json and out/peers.json next to this script, prints one table.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/out"
threads="${THREADS:-2}" batch="${BATCH:-1}" runs="${RUNS:-30}" warmup="${WARMUP:-3}"
venv="${VENV:-$root/Benchmarks/.venv}"
if [ $# -gt 0 ]; then models=("$@"); else models=(resnet50 mobilenet_v2 efficientnet_b0 alexnet vgg16); fi
mkdir -p "$out"
rm -f "$out/peers.json"

if [ -z "${MODELC:-}" ]; then
    (cd "$root" && swift build -c release --product modelc >/dev/null)
    MODELC="$(cd "$root" && swift build -c release --show-bin-path)/modelc"
fi

spec_args() {
    case "$1" in
        resnet18|resnet34|resnet50|resnet101|resnet152) echo "Specs/resnet.yaml --variant ${1#resnet}" ;;
        efficientnet_b*) echo "Specs/efficientnet.yaml --variant ${1#efficientnet_}" ;;
        mobilenet_v2|alexnet|vgg16|lenet5|mnist_cnn) echo "Specs/$1.yaml" ;;
        *) echo "unknown model '$1'" >&2; return 1 ;;
    esac
}

echo "== modelc ($MODELC), batch $batch, $threads threads"
for m in "${models[@]}"; do
    read -r -a spec <<<"$(spec_args "$m")"
    (cd "$root" && "$MODELC" bench "${spec[@]}" --batch "$batch" --threads "$threads" --runs "$runs" --warmup "$warmup" \
        --format json) >"$out/modelc-$m.json"
done

if [ "${PEERS:-1}" != 0 ]; then
    if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
    if ! "$venv/bin/python" -c 'import torch, torchvision, onnx, onnxruntime, numpy' 2>/dev/null; then
        "$venv/bin/pip" install --quiet torch torchvision onnx onnxruntime numpy
    fi
    echo "== peers"
    (IFS=,; "$venv/bin/python" "$here/bench_peers.py" --models "${models[*]}" --threads "$threads" --batch "$batch" \
        --runs "$runs" --warmup "$warmup" --json "$out/peers.json")
fi

echo
python3 - "$out" "${models[@]}" <<'PY'
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
peers = json.load(open(f"{out}/peers.json")) if os.path.exists(f"{out}/peers.json") else []
print(f"{'model':<16} {'runtime':<22} {'median ms':>10} {'p90 ms':>10} {'GFLOP/s':>8}")
for m in models:
    r = json.load(open(f"{out}/modelc-{m}.json"))
    print(f"{m:<16} {'modelc':<22} {r['median_ms']:>10.2f} {r['p90_ms']:>10.2f} {r['gflops']:>8.1f}")
    for p in peers:
        if p["model"] == m:
            print(f"{'':<16} {p['runtime']:<22} {p['median_ms']:>10.2f} {p['p90_ms']:>10.2f} {p['gflops']:>8.1f}")
PY
