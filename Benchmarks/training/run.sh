#!/usr/bin/env bash
# Training throughput of modelc vs PyTorch CPU eager, side by side on the same machine, same
# nets (Specs/mnist_cnn.yaml, Specs/lenet5.yaml), batch and thread count.
#
#   Benchmarks/training/run.sh [DATA_DIR]        (default ../shared/datasets/mnist)
#
# Environment: VENV=path of a Python venv with torch (default: .venv-bench in this folder,
# created with CPU torch if missing), THREADS (2), BATCH (64), STEPS (modelc: images =
# STEPS x BATCH; PyTorch: STEPS timed steps after 10 warm-up steps), NETS ("mnist_cnn lenet5"),
# ROUNDS (2: the runs alternate, modelc then PyTorch, and each is reported), MODELC (a built
# modelc binary; default: swift build -c release here).
# modelc's number is the images/s of `modelc train --epochs 1` over the subset (data filling,
# forward, loss, backward, optimizer; test evaluation and checkpoints excluded), PyTorch's the
# same loop in torch_train.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${1:-$root/../shared/datasets/mnist}"
threads="${THREADS:-2}"; batch="${BATCH:-64}"; steps="${STEPS:-150}"; rounds="${ROUNDS:-2}"
nets="${NETS:-mnist_cnn lenet5}"
venv="${VENV:-$here/.venv-bench}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --index-url https://download.pytorch.org/whl/cpu torch || "$venv/bin/pip" install --quiet torch
fi
modelc="${MODELC:-}"
if [ -z "$modelc" ]; then
    (cd "$root" && swift build -c release --product modelc >/dev/null)
    modelc="$root/.build/release/modelc"
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
printf "%-10s %-6s %14s %14s %8s\n" net round "modelc img/s" "pytorch img/s" ratio
for net in $nets; do
    for r in $(seq 1 "$rounds"); do
        out="$tmp/$net-$r"
        "$modelc" train "$root/Specs/$net.yaml" --data "$data" --epochs 1 --batch "$batch" --threads "$threads" \
            --limit-train $((steps * batch)) --limit-test 100 --out "$out" >/dev/null
        m=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['images_per_second'])" "$out/metrics.jsonl")
        p=$("$venv/bin/python" "$here/torch_train.py" --net "$net" --data "$data" --batch "$batch" --threads "$threads" --steps "$steps" \
            | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['images_per_second'])")
        printf "%-10s %-6s %14.0f %14.0f %8.2f\n" "$net" "$r" "$m" "$p" "$(python3 -c "print($m/$p)")"
    done
done
