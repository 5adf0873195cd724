"""Latency of the same models in PyTorch (eager, eval, no grad) and ONNX Runtime (CPU), for
comparison with `modelc bench`: batch N, T intra-op threads, seeded random weights and input,
warm-up then timed runs; median and p90 in ms, GFLOP/s from torchvision-counted MACs.

    python bench_peers.py [--models resnet50,mobilenet_v2,...] [--threads 2] [--batch 1]
                          [--runs 30] [--warmup 3] [--json OUT.json] [--no-onnx]

ONNX export uses the TorchScript-based exporter (dynamo=False), which needs only `onnx`.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

MODELS = ["resnet50", "mobilenet_v2", "efficientnet_b0", "alexnet", "vgg16"]


def macs(model, size):
    import torch
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            total += output.numel() * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return total


def timed(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    p90 = times[min(len(times), max(1, -(-9 * len(times) // 10))) - 1]
    return statistics.median(times) * 1000, p90 * 1000, times[0] * 1000


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json")
    p.add_argument("--no-onnx", action="store_true")
    a = p.parse_args()

    import torch
    import torchvision
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    results = []
    for name in [m for m in a.models.split(",") if m]:
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.from_numpy(np.random.default_rng(0).standard_normal((a.batch, 3, 224, 224)).astype(np.float32))
        flops = 2 * macs(model, 224) * a.batch
        with torch.no_grad():
            med, p90, best = timed(lambda: model(x), a.runs, a.warmup)
        results.append({"model": name, "runtime": f"pytorch {torch.__version__}", "batch": a.batch, "threads": a.threads,
                         "median_ms": med, "p90_ms": p90, "min_ms": best, "gflops": flops / (med / 1000) / 1e9})
        print(f"{name:<16} pytorch       median {med:9.3f} ms  p90 {p90:9.3f} ms  {flops / (med / 1000) / 1e9:6.1f} GFLOP/s", flush=True)
        if a.no_onnx:
            continue
        try:
            import onnxruntime as ort
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, f"{name}.onnx")
                with torch.no_grad():
                    torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["y"], opset_version=17, dynamo=False)
                so = ort.SessionOptions()
                so.intra_op_num_threads = a.threads
                so.inter_op_num_threads = 1
                so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                xn = x.numpy()
                med, p90, best = timed(lambda: sess.run(None, {"x": xn}), a.runs, a.warmup)
            results.append({"model": name, "runtime": f"onnxruntime {ort.__version__}", "batch": a.batch, "threads": a.threads,
                            "median_ms": med, "p90_ms": p90, "min_ms": best, "gflops": flops / (med / 1000) / 1e9})
            print(f"{name:<16} onnxruntime   median {med:9.3f} ms  p90 {p90:9.3f} ms  {flops / (med / 1000) / 1e9:6.1f} GFLOP/s", flush=True)
        except Exception as e:  # a peer that cannot run a model is reported, not fatal
            print(f"{name:<16} onnxruntime   skipped: {type(e).__name__}: {e}", file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
