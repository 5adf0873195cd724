"""Interop check against torchvision: the same weights and input through torchvision and modelc.

    python check_torchvision.py export  OUT_DIR [--models m1,m2] [--seed N]
    python check_torchvision.py compare OUT_DIR/MODEL.torch.npy OUT_DIR/MODEL.modelc.npy [--label L]

`export` writes, for each model, into OUT_DIR:
  MODEL.safetensors   the state_dict (safetensors.torch.save_file; num_batches_tracked included)
  MODEL.input.npy     a seeded N(0, 1) input, float32 [1, 3, 224, 224]
  MODEL.torch.npy     torchvision's output on it, float32 [1, 1000] (eval mode, no grad)
The models are built with random init (torch.manual_seed), and every BatchNorm's running_mean,
running_var, weight and bias are randomized (seeded) so that BN folding is really exercised:
running_mean ~ N(0, 0.1^2), running_var ~ U(0.5, 1.5), weight ~ U(0.5, 1.5), bias ~ N(0, 0.1^2).

`compare` prints max|diff|, max|output|, their ratio and PASS when max|diff| <= 1e-4 * max|output|;
the exit status is 1 on FAIL. check_torchvision.sh drives both around `modelc run`.
"""
import argparse
import sys

import numpy as np

MODELS = ["resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0"]
TOLERANCE = 1e-4


def randomize_batch_norms(model, seed):
    import torch
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                # As after some training, so the counters are not all zero.
                m.num_batches_tracked.fill_(1000)


def export(out_dir, names, seed):
    import os
    import torch
    import torchvision
    from safetensors.torch import save_file
    torch.set_num_threads(max(1, min(os.cpu_count() or 1, 4)))
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        torch.manual_seed(seed)
        model = getattr(torchvision.models, name)(weights=None)
        randomize_batch_norms(model, seed)
        model.eval()
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, f"{out_dir}/{name}.safetensors", metadata={"format": "pt", "model": name,
                                                                    "torchvision": torchvision.__version__})
        x = np.random.default_rng(seed).standard_normal((1, 3, 224, 224)).astype(np.float32)
        np.save(f"{out_dir}/{name}.input.npy", x)
        with torch.no_grad():
            y = model(torch.from_numpy(x)).numpy().astype(np.float32)
        np.save(f"{out_dir}/{name}.torch.npy", y)
        print(f"{name}: {len(state)} tensors, output {list(y.shape)}, max|output| {np.abs(y).max():.4g}"
              f" (torch {torch.__version__}, torchvision {torchvision.__version__})")


def compare(expected_path, actual_path, label):
    expected = np.load(expected_path)
    actual = np.load(actual_path)
    if expected.shape != actual.shape:
        print(f"{label}: FAIL: shape {list(actual.shape)}, torchvision {list(expected.shape)}")
        return 1
    diff = float(np.abs(expected.astype(np.float64) - actual.astype(np.float64)).max())
    scale = float(np.abs(expected).max())
    ratio = diff / scale if scale > 0 else float("inf")
    ok = np.isfinite(actual).all() and diff <= TOLERANCE * scale
    top = "same" if expected.argmax() == actual.argmax() else "DIFFERENT"
    print(f"{label:<30} max|diff| {diff:.3e}  max|output| {scale:.4g}  ratio {ratio:.2e}  top-1 {top}"
          f"  {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export")
    e.add_argument("out_dir")
    e.add_argument("--models", default=",".join(MODELS))
    e.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("compare")
    c.add_argument("expected")
    c.add_argument("actual")
    c.add_argument("--label", default="")
    a = p.parse_args()
    if a.command == "export":
        export(a.out_dir, [m for m in a.models.split(",") if m], a.seed)
        return 0
    return compare(a.expected, a.actual, a.label or a.actual)


if __name__ == "__main__":
    sys.exit(main())
