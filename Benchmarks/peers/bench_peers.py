"""modelc vs ONNX Runtime vs PyTorch eager in one process, on the same weights and input.

Driven by bench.sh (which builds modelc, fills the venv and owns the temporary directory):

    python bench_peers.py --modelc BIN --root REPO --work TMPDIR --out OUTDIR
                          --model resnet50="Specs/resnet.yaml --variant 50" [--model ...]
                          [--batches 1 8] [--threads 1 2] [--rounds 3] [--runs 20]
                          [--runs-batched 8] [--warmup 3] [--seed 0]

1. Per model: torchvision.models.NAME(weights=None) under torch.manual_seed(SEED), BatchNorms
   randomized (Benchmarks/interop/check_torchvision.py), eval mode; its state_dict saved with
   safetensors (modelc's --weights) and the same module exported to ONNX (TorchScript exporter,
   opset 17, dynamic batch axis). One seeded N(0, 1) input, sliced to each batch size.
2. Per (threads, batch) and model: `modelc run` on the input, ONNX Runtime and PyTorch on the
   same input; max|diff| / max|output| of modelc and of ONNX Runtime against PyTorch, FAIL above
   1e-4.
3. Then ROUNDS rounds, each timing modelc (`modelc bench --format json`, a subprocess), ONNX
   Runtime, then PyTorch with the same warm-up and timed runs. Per runtime: median of the round
   medians (and their min..max); ratios modelc/ORT and modelc/PyTorch per round, then their
   median (and min..max).

One PyTorch process drives everything, since torch.set_num_interop_threads can be set only once.
Exit status 1 when some outputs disagree, after all timings are printed and written.
"""
import argparse
import datetime
import gc
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ left in Benchmarks/interop
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from check_torchvision import TOLERANCE, randomize_batch_norms  # noqa: E402

RUNTIMES = ("modelc", "ort", "torch")
# Pause before each timed phase so that the previous runtime's idle threads have stopped spinning
# (ONNX Runtime's workers spin 2^20 pause instructions, tens of ms, before they block).
SETTLE_S = 0.2
LABELS = {"modelc": "modelc", "ort": "ORT", "torch": "PyTorch"}


def timed(fn, runs, warmup):
    """Median, p90 and min in ms of `runs` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p90 = times[max(1, -(-9 * len(times) // 10)) - 1]
    return {"median_ms": statistics.median(times), "p90_ms": p90, "min_ms": times[0]}


def agreement(reference, actual):
    """max|actual - reference| / max|reference|, inf when shapes differ or values are not finite."""
    scale = float(np.abs(reference).max())
    if actual.shape != reference.shape or not np.isfinite(actual).all():
        return {"max_abs_diff": None, "max_abs_output": scale, "ratio": float("inf")}
    diff = float(np.abs(reference.astype(np.float64) - actual.astype(np.float64)).max())
    return {"max_abs_diff": diff, "max_abs_output": scale, "ratio": diff / scale if scale > 0 else float("inf")}


def summarize(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def machine():
    info = {"platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        ids = {}
        for line in lines:
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key in ("model name", "cpu family", "model") and key not in ids:
                ids[key] = value
            elif key == "flags" and "flags" not in info:
                flags = value.split()
                info["flags"] = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl",
                                             "avx512_vnni", "avx512_bf16", "hypervisor") if f in flags]
        if "model name" in ids:
            info["cpu"] = f"{ids['model name']} (family {ids.get('cpu family', '?')} model {ids.get('model', '?')})"
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        info["memory_gib"] = round(kib / 2**20, 1)
    except OSError:
        pass
    return info


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"error: {shlex.join(cmd)} exited with {p.returncode}:\n{p.stderr.strip()}")
    return p.stdout


def prepare(name, seed, work, max_batch):
    """The torchvision model (eval), its safetensors and ONNX files."""
    import torch
    import torchvision
    from safetensors.torch import save_file
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None)
    randomize_batch_norms(model, seed)
    model.eval()
    weights = os.path.join(work, f"{name}.safetensors")
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, weights,
              metadata={"format": "pt", "model": name, "torchvision": torchvision.__version__})
    onnx_path = os.path.join(work, f"{name}.onnx")
    example = torch.zeros(min(2, max_batch), 3, 224, 224)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), onnx_path, input_names=["x"], output_names=["y"], opset_version=17,
                          dynamo=False, dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    return model, weights, onnx_path


def ort_session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def fmt_ms(s):
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"


def fmt_ratio(s):
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"


def table(config):
    rows = [f"### batch {config['batch']}, {config['threads']} thread{'s' if config['threads'] > 1 else ''}",
            "",
            f"Median of {config['rounds']} interleaved rounds of {config['runs']} timed runs after {config['warmup']}"
            " warm-up, in ms (min-max of the round medians); ratios per round, then their median (min-max);"
            " below 1 means modelc is faster. Agreement: max|diff| / max|output| against PyTorch.",
            "",
            "| model | modelc ms | ORT ms | PyTorch ms | modelc/ORT | modelc/PyTorch | outputs agree |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for r in config["models"]:
        a = r["agreement"]
        agree = (f"{'yes' if a['pass'] else '**FAIL**'} (modelc {a['modelc']['ratio']:.1e}, "
                 f"ORT {a['ort']['ratio']:.1e})")
        s = r["summary"]
        rows.append(f"| {r['model']} | {fmt_ms(s['modelc'])} | {fmt_ms(s['ort'])} | {fmt_ms(s['torch'])} | "
                    f"{fmt_ratio(s['modelc/ort'])} | {fmt_ratio(s['modelc/torch'])} | {agree} |")
    return "\n".join(rows)


def header(meta):
    m, v = meta["machine"], meta["versions"]
    flags = ", ".join(m.get("flags", []))
    return "\n".join([
        f"## modelc vs ONNX Runtime vs PyTorch eager ({meta['started'][:10]})",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus', '?')} CPUs ({flags}), {m.get('memory_gib', '?')} GiB; "
        f"{m['platform']}. Load average at start {meta['loadavg_start']}, at end {meta.get('loadavg_end', '?')}.",
        "",
        f"modelc {v['modelc']}, onnxruntime {v['onnxruntime']}, torch {v['torch']}, torchvision "
        f"{v['torchvision']}, numpy {v['numpy']}. Same weights for all three (torchvision init, seed "
        f"{meta['settings']['seed']}, BatchNorm randomized; safetensors for modelc, ONNX opset 17 for ORT), "
        "same seeded input. Total time "
        f"{meta.get('elapsed_s', 0) / 60:.1f} min.",
    ])


def modelc_version(binary, root):
    """`modelc --version` and the commit of the repository it runs from (+ "-dirty" with local changes)."""
    version = run([binary, "--version"], root).strip().removeprefix("modelc ")
    try:
        commit = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"], capture_output=True,
                                text=True, check=True).stdout.strip()
        return f"{version} ({commit})"
    except (OSError, subprocess.CalledProcessError):
        return version


def loadavg():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--modelc", required=True)
    p.add_argument("--root", required=True, help="repository root; modelc runs from there (spec paths are relative)")
    p.add_argument("--work", required=True, help="directory for weights, ONNX files, inputs and outputs")
    p.add_argument("--out", required=True, help="directory for results.json and table.md")
    p.add_argument("--model", action="append", required=True, metavar="NAME=SPEC ARGS")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--runs", type=int, default=20, help="timed runs per round at batch 1")
    p.add_argument("--runs-batched", type=int, default=8, help="timed runs per round at batch > 1")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    # SIGTERM (from bench.sh's traps) as an exception, so that subprocess.run kills a running modelc.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for flag in ("batches", "threads"):
        if any(n < 1 for n in getattr(a, flag)):
            p.error(f"--{flag} must be positive")
    if a.rounds < 1 or a.runs < 1 or a.runs_batched < 1:
        p.error("--rounds, --runs and --runs-batched must be positive")
    models = []
    for item in a.model:
        name, _, spec = item.partition("=")
        models.append((name, shlex.split(spec)))

    import onnxruntime as ort
    import torch
    import torchvision
    torch.set_num_interop_threads(1)
    torch.set_num_threads(max(a.threads))
    started = time.time()
    meta = {
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg_start": loadavg(),
        "versions": {"modelc": modelc_version(a.modelc, a.root), "onnxruntime": ort.__version__,
                     "torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "settings": {"models": [n for n, _ in models], "batches": a.batches, "threads": a.threads,
                     "rounds": a.rounds, "runs": a.runs, "runs_batched": a.runs_batched, "warmup": a.warmup,
                     "seed": a.seed, "tolerance": TOLERANCE, "modelc": a.modelc},
    }
    print(f"modelc: {a.modelc} ({meta['versions']['modelc']}); onnxruntime {ort.__version__}; torch {torch.__version__}")
    print(f"load average {meta['loadavg_start']}; work directory {a.work}")

    # The same seeded input for every model, sliced to each batch size.
    x_all = np.random.default_rng(a.seed).standard_normal((max(a.batches), 3, 224, 224)).astype(np.float32)
    inputs = {}
    for b in sorted(set(a.batches)):
        inputs[b] = np.ascontiguousarray(x_all[:b])
        np.save(os.path.join(a.work, f"input-b{b}.npy"), inputs[b])

    prepared = {}
    for name, spec in models:
        t = time.time()
        model, weights, onnx_path = prepare(name, a.seed, a.work, max(a.batches))
        prepared[name] = {"spec": spec, "model": model, "weights": weights, "onnx": onnx_path}
        print(f"prepared {name}: safetensors {os.path.getsize(weights) / 2**20:.0f} MiB, "
              f"ONNX {os.path.getsize(onnx_path) / 2**20:.0f} MiB ({time.time() - t:.1f} s)")

    configs = []
    failed = False
    for threads in a.threads:
        torch.set_num_threads(threads)
        sessions = {}  # new ONNX Runtime sessions for each thread count
        for batch in a.batches:
            runs = a.runs if batch == 1 else a.runs_batched
            tag = f"[batch {batch}, {threads} thread{'s' if threads > 1 else ''}]"
            print(f"\n== {tag} {a.rounds} rounds of {runs} runs after {a.warmup} warm-up")
            config = {"batch": batch, "threads": threads, "runs": runs, "warmup": a.warmup, "rounds": a.rounds,
                      "models": []}
            x = inputs[batch]
            xt = torch.from_numpy(x)
            input_path = os.path.join(a.work, f"input-b{batch}.npy")
            t_config = time.time()
            for name, _ in models:
                pm = prepared[name]
                model = pm["model"]
                if name not in sessions:
                    sessions[name] = ort_session(pm["onnx"], threads)
                sess = sessions[name]
                mc = [a.modelc, *pm["spec"], "--weights", pm["weights"], "--batch", str(batch),
                      "--threads", str(threads)]

                # Outputs on the same input: modelc and ONNX Runtime against PyTorch.
                y_path = os.path.join(a.work, f"{name}-b{batch}-t{threads}.modelc.npy")
                run([mc[0], "run", *mc[1:], "--input", input_path, "--output", y_path], a.root)
                y_modelc = np.load(y_path)
                with torch.inference_mode():
                    y_torch = model(xt).numpy().copy()
                y_ort = sess.run(None, {"x": x})[0]
                agree = {"modelc": agreement(y_torch, y_modelc), "ort": agreement(y_torch, y_ort)}
                agree["pass"] = all(agree[k]["ratio"] <= TOLERANCE for k in ("modelc", "ort"))
                failed |= not agree["pass"]
                print(f"{tag} {name}: max|diff|/max|output| vs PyTorch: modelc {agree['modelc']['ratio']:.2e}, "
                      f"ORT {agree['ort']['ratio']:.2e} (max|output| {agree['modelc']['max_abs_output']:.4g})"
                      f"  {'PASS' if agree['pass'] else 'FAIL'}")

                # Interleaved rounds: modelc, then ONNX Runtime, then PyTorch.
                rounds = []
                for r in range(a.rounds):
                    time.sleep(SETTLE_S)
                    res = json.loads(run([mc[0], "bench", *mc[1:], "--runs", str(runs), "--warmup", str(a.warmup),
                                          "--format", "json"], a.root))
                    macs = res["macs"]
                    one = {"modelc": {k: res[k] for k in ("median_ms", "p90_ms", "min_ms")}}
                    time.sleep(SETTLE_S)
                    one["ort"] = timed(lambda: sess.run(None, {"x": x}), runs, a.warmup)
                    time.sleep(SETTLE_S)
                    with torch.inference_mode():
                        one["torch"] = timed(lambda: model(xt), runs, a.warmup)
                    for k in RUNTIMES:
                        one[k]["gflops"] = 2 * macs * batch / one[k]["median_ms"] / 1e6
                    rounds.append(one)
                    print(f"{tag} {name} round {r + 1}/{a.rounds}: "
                          + "  ".join(f"{LABELS[k]} {one[k]['median_ms']:8.2f} ms" for k in RUNTIMES)
                          + f"  modelc/ORT {one['modelc']['median_ms'] / one['ort']['median_ms']:.2f}"
                          + f"  modelc/PyTorch {one['modelc']['median_ms'] / one['torch']['median_ms']:.2f}")
                summary = {k: summarize([o[k]["median_ms"] for o in rounds]) for k in RUNTIMES}
                for peer in ("ort", "torch"):
                    summary[f"modelc/{peer}"] = summarize([o["modelc"]["median_ms"] / o[peer]["median_ms"]
                                                           for o in rounds])
                config["models"].append({"model": name, "spec": pm["spec"], "macs": macs, "agreement": agree,
                                         "rounds": rounds, "summary": summary})
            config["elapsed_s"] = time.time() - t_config
            configs.append(config)
            print(f"\n{table(config)}\n\n({config['elapsed_s']:.0f} s)")
        del sessions
        gc.collect()

    meta["loadavg_end"] = loadavg()
    meta["elapsed_s"] = time.time() - started
    text = header(meta) + "\n\n" + "\n\n".join(table(c) for c in configs) + "\n"
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({**meta, "configs": configs}, f, indent=2)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(text)
    print("\n" + text)
    print(f"wrote {a.out}/results.json and {a.out}/table.md")
    if failed:
        print(f"FAIL: some outputs disagree with PyTorch by more than {TOLERANCE:g} x max|output|")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
