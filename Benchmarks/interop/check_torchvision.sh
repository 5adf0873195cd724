#!/usr/bin/env bash
# Runs torchvision and modelc on the same weights and input and compares the outputs.
#
#   Benchmarks/interop/check_torchvision.sh [model ...]     (default: all four)
#
# Environment:
#   VENV=/path/to/venv   reuse a virtualenv that has torch, torchvision, safetensors and numpy
#                        (default: Benchmarks/.venv, created and filled with pip on first use)
#   MODELC=path          a modelc binary (default: a release build, `swift build -c release`)
#   SEED=N               seed of the weights and the input (default 0)
#   REFERENCE=0          skip the second modelc run with --reference (the naive interpreter)
#   THREADS=T            modelc threads (default 2)
# Exit status: 0 when every comparison passes, 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/out"
seed="${SEED:-0}"
threads="${THREADS:-2}"
venv="${VENV:-$root/Benchmarks/.venv}"

if [ $# -gt 0 ]; then models=("$@"); else models=(resnet18 resnet50 mobilenet_v2 efficientnet_b0); fi

# Python side: a virtualenv with torch, torchvision, safetensors and numpy.
if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv"
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import torch, torchvision, safetensors, numpy' 2>/dev/null; then
    echo "installing torch, torchvision, safetensors, numpy into $venv"
    "$venv/bin/pip" install --quiet torch torchvision safetensors numpy
fi
py="$venv/bin/python"

# modelc side: a release build.
if [ -z "${MODELC:-}" ]; then
    (cd "$root" && swift build -c release --product modelc >/dev/null)
    MODELC="$(cd "$root" && swift build -c release --show-bin-path)/modelc"
fi

spec_args() {
    case "$1" in
        resnet18) echo "Specs/resnet.yaml --variant 18" ;;
        resnet34) echo "Specs/resnet.yaml --variant 34" ;;
        resnet50) echo "Specs/resnet.yaml --variant 50" ;;
        resnet101) echo "Specs/resnet.yaml --variant 101" ;;
        mobilenet_v2) echo "Specs/mobilenet_v2.yaml" ;;
        efficientnet_b*) echo "Specs/efficientnet.yaml --variant ${1#efficientnet_}" ;;
        alexnet) echo "Specs/alexnet.yaml" ;;
        vgg16) echo "Specs/vgg16.yaml" ;;
        *) echo "unknown model '$1'" >&2; return 1 ;;
    esac
}

mkdir -p "$out"
echo "== torchvision: exporting weights, inputs and outputs (seed $seed) to $out"
(IFS=,; "$py" "$here/check_torchvision.py" export "$out" --models "${models[*]}" --seed "$seed")

status=0
results=()
# check MODEL LABEL OUTPUT [modelc run flags...]: one modelc run and its comparison.
check() {
    local m="$1" label="$2" output="$3"
    shift 3
    local spec
    read -r -a spec <<<"$(spec_args "$m")"
    if ! (cd "$root" && "$MODELC" run "${spec[@]}" --weights "$out/$m.safetensors" --input "$out/$m.input.npy" \
            --output "$output" "$@"); then
        results+=("$label: FAIL: modelc run exited with an error")
        status=1
        return
    fi
    local line
    if ! line="$("$py" "$here/check_torchvision.py" compare "$out/$m.torch.npy" "$output" --label "$label")"; then status=1; fi
    results+=("$line")
}

echo "== modelc: $MODELC"
for m in "${models[@]}"; do
    check "$m" "$m" "$out/$m.modelc.npy" --threads "$threads"
    if [ "${REFERENCE:-1}" != 0 ]; then
        check "$m" "$m (--reference)" "$out/$m.reference.npy" --reference
    fi
done

echo
echo "== results (PASS: max|diff| <= 1e-4 x max|output|)"
printf '%s\n' "${results[@]}"
exit $status
