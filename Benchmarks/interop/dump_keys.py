"""Writes the state_dict key lists (name and shape) of torchvision models, the fixtures that
Tests/SpecTests/KeyListTests.swift compares the shipped specs against, and counts MACs with
forward hooks (conv and linear weights only) as a cross-check of modelc's counting.

    python3 -m venv .venv && .venv/bin/pip install torch torchvision
    .venv/bin/python Benchmarks/interop/dump_keys.py Tests/SpecTests/Fixtures/keys
"""
import sys
import torch
import torchvision
from torchvision import models


def macs(model, size):
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            total += output.numel() * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return total


def main(out_dir):
    for name in ["resnet18", "mobilenet_v2", "efficientnet_b0"]:
        model = getattr(models, name)()
        with open(f"{out_dir}/{name}.txt", "w") as f:
            f.write(f"# state_dict keys of torchvision {torchvision.__version__} models.{name}() (num_batches_tracked omitted)\n")
            for key, value in model.state_dict().items():
                if not key.endswith("num_batches_tracked"):
                    f.write(f"{key} {list(value.shape)}\n")
    small = models.mobilenet_v2(width_mult=0.5)
    print("mobilenet_v2 width 0.5: params", sum(p.numel() for p in small.parameters()), "MACs at 160", macs(small, 160))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
