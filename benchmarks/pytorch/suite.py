#!/usr/bin/env python3
"""PyTorch anchor of cnngen's benchmark suite (benchmarks/suite).

Runs the suite's six networks in PyTorch 1.13 (Debian's python3-torch) and
prints one JSON record per figure, every other line starting with "#":

    /usr/bin/python3 benchmarks/pytorch/suite.py                  # 1 and 2 threads, all networks
    /usr/bin/python3 benchmarks/pytorch/suite.py --quick --nets lenet5,resnet8
    /usr/bin/python3 benchmarks/pytorch/suite.py --export-onnx DIR   # also write DIR/<net>.onnx

The networks are those of examples/ (digits, lenet5, resnet8, dscnn,
mobilenet_vww, autoencoder) as internal/onnxparity/export.py and bench.py
define them in PyTorch, without their final softmax: cnngen's Frozen.Forward
returns logits and its training loss takes logits, as nn.CrossEntropyLoss
does. Metrics, each at 1 and 2 threads:

  train_step_ms     model.train(), forward, the recipe's loss (cross-entropy,
                    or MSE against the input for the autoencoder, with the
                    recipe's reduction), backward and a plain SGD step
                    (foreach=True, zero_grad(set_to_none=True)), at batch 64
                    and at the recipe's batch; cnngen's side uses plain SGD
                    too, so that the optimizer is the same on both sides;
  infer_batch_ms    batch-256 inference;
  infer_latency_us  one sample;

inference in eval mode, the best of eager (inference_mode), a frozen
TorchScript trace and that trace through optimize_for_inference (named in
the record's "variant"; training records say "eager"). Data is synthetic
and seeded: uniform [0, 1) inputs, uniform labels. Each thread count runs
in a child process with the environment of bench.py (OMP/OpenBLAS thread
counts, OPENBLAS_CORETYPE, OMP_WAIT_POLICY=PASSIVE, malloc thresholds; see
benchmarks/README.md), printed on a "#" line; a "# warning:" line says
when torch runs on the reference BLAS (libblas3 without
libopenblas0-pthread), which makes dense layers several times slower. "version" is the Debian package's upstream version (1.13.1; its
torch.__version__ says 1.13.0a0).

--export-onnx DIR (in the first thread count's child) writes each network,
freshly initialised (batch norm's running statistics 0 and 1), with
torch.onnx.export (opset 13, eval mode, a dynamic batch axis on "input" and
"output") for the ONNX Runtime anchor, benchmarks/ort/bench.js, and
DIR/<net>.check.json: a seeded batch of 2 inputs and PyTorch's outputs,
which bench.js compares with its own before timing.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "internal", "onnxparity"))

import bench  # noqa: E402  (bench.py: thread settings, timing helpers)

# name: (recipe's batch, loss, reduction, input shape without the batch).
NETS = {
    "digits": (1617, "cross_entropy", "sum", (1, 8, 8)),
    "lenet5": (64, "cross_entropy", "mean", (1, 28, 28)),
    "dscnn": (100, "cross_entropy", "mean", (1, 49, 10)),
    "mobilenet_vww": (32, "cross_entropy", "mean", (3, 96, 96)),
    "resnet8": (32, "cross_entropy", "mean", (3, 32, 32)),
    "autoencoder": (512, "mse", "mean", (640,)),
}
INFER_BATCH = 256
ENV_SHOWN = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_CORETYPE",
             "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")
LEARNING_RATE = 1e-5


def build(torch, name):
    """Returns the network in training mode, its final softmax removed."""
    if name == "digits":
        model = bench.build_model(torch, 1)
    else:
        import export  # internal/onnxparity/export.py: the MLPerf Tiny models and LeNet-5
        classes = {m[0]: m[2] for m in export.MODELS}
        torch.manual_seed(1)
        model = classes[name]()
    for parent in list(model.modules()):
        for child_name, child in parent.named_children():
            if isinstance(child, torch.nn.Softmax):
                setattr(parent, child_name, torch.nn.Identity())
    return model.train()


def synthetic(torch, name, batch):
    """Returns seeded inputs and targets: labels, or the input itself (autoencoder)."""
    _, loss, _, shape = NETS[name]
    gen = torch.Generator().manual_seed(batch)
    x = torch.rand((batch, *shape), generator=gen)
    if loss == "mse":
        return x, x
    classes = 2 if name == "mobilenet_vww" else 12 if name == "dscnn" else 10
    return x, torch.randint(0, classes, (batch,), generator=gen)


def train_step(torch, model, name, x, y):
    _, loss, reduction, _ = NETS[name]
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, foreach=True)
    loss_fn = torch.nn.MSELoss(reduction=reduction) if loss == "mse" else torch.nn.CrossEntropyLoss(reduction=reduction)

    def step():
        optimizer.zero_grad(set_to_none=True)
        out = loss_fn(model(x), y)
        out.backward()
        optimizer.step()

    return step


def calls_for(seconds_per_call, budget):
    """Returns how many calls fill budget seconds per repeat (1 to 1000)."""
    return max(1, min(1000, int(budget / max(seconds_per_call, 1e-7))))


def eager_seconds(torch, model, x):
    """Returns the seconds of one eager inference call, after one call to warm up."""
    with torch.inference_mode():
        model(x)
        start = time.perf_counter()
        model(x)
        return time.perf_counter() - start


def run_child(args):
    threads = int(args.threads)
    import numpy  # noqa: F401  (before torch, as bench.py does)
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.set_flush_denormal(True)
    version = torch_version(torch)
    if args.header:
        print(f"# PyTorch suite anchor, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; cpu: {bench.cpu_model()}; "
              f"torch {torch.__version__} (Debian python3-torch {bench.debian_version('python3-torch')}); "
              f"cpu_capability={bench.cpu_capability(torch)}; load average {bench.load_average()}")
        print("# training: plain SGD, the recipe's loss and reduction, synthetic data; "
              "inference: eval mode, best of eager / frozen trace / optimized frozen trace")
    env = " ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in ENV_SHOWN)
    print(f"# [{threads} thread(s)] torch.get_num_threads()={torch.get_num_threads()} {env}")
    print(f"# [{threads} thread(s)] blas: {bench.blas_info()}")
    libs = blas_libraries(torch)
    reference = [lib for lib in libs or [] if "/blas/" in lib]  # Debian's libblas3: /usr/lib/<triplet>/blas/
    if libs is not None and (reference or not any("openblas" in lib or "mkl" in lib for lib in libs)):
        print(f"# warning: torch's BLAS is {', '.join(reference or libs) or 'not found'}, not OpenBLAS: "
              "the reference BLAS makes dense layers several times slower (apt-get install -y libopenblas0-pthread)")
    warmup, repeats, budget = (2, 3, 0.05) if args.quick else (5, 7, 0.3)

    def emit(**record):
        print(json.dumps({"impl": "pytorch", "version": version, "threads": threads, **record}), flush=True)

    for name in args.nets.split(","):
        recipe_batch = NETS[name][0]
        for batch in sorted({64, recipe_batch}):
            model = build(torch, name)
            x, y = synthetic(torch, name, batch)
            step = train_step(torch, model, name, x, y)
            for _ in range(warmup):
                step()
            start = time.perf_counter()
            step()
            sec = bench.median_time(step, calls_for(time.perf_counter() - start, budget), repeats)
            emit(net=name, metric="train_step_ms", batch=batch, variant="eager", value=round(sec * 1e3, 4))
        model = build(torch, name).eval()
        for batch, metric, scale in ((INFER_BATCH, "infer_batch_ms", 1e3), (1, "infer_latency_us", 1e6)):
            x, _ = synthetic(torch, name, batch)
            calls = calls_for(eager_seconds(torch, model, x), budget)
            times = bench.measure_inference(torch, model, x, calls=calls, repeats=repeats, warmup=warmup)
            model.eval()
            best = min(times, key=times.get)
            detail = ", ".join(f"{k} {v * scale:.4g}" for k, v in times.items())
            print(f"# [{threads} thread(s)] {name} {metric} batch {batch}: {detail}")
            emit(net=name, metric=metric, batch=batch, variant=best, value=round(times[best] * scale, 4))
        if args.export_onnx:
            export_onnx(torch, model, name, args.export_onnx)
    print(f"# [{threads} thread(s)] load average at the end {bench.load_average()}")
    return 0


def torch_version(torch):
    """Returns torch's version: Debian's python3-torch 1.13.1 calls itself 1.13.0a0, so
    the package's upstream version when torch is Debian's, else torch.__version__."""
    if torch.__file__.startswith("/usr/lib/python3/"):
        deb = bench.debian_version("python3-torch")
        if deb[:1].isdigit():
            return deb.split(":")[-1].split("+")[0].split("-")[0]
    return torch.__version__.split("+")[0]


def blas_libraries(torch):
    """Returns the BLAS libraries mapped into this process (symlinks resolved), after a
    matrix product has made sure torch loaded its BLAS; None without /proc (not Linux)."""
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if "blas" in os.path.basename(path) or "mkl" in os.path.basename(path):
                    libs.add(path)
    except OSError:
        return None
    return sorted(libs)


def export_onnx(torch, model, name, out_dir):
    """Writes out_dir/<name>.onnx (dynamic batch) and <name>.check.json."""
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    x, _ = synthetic(torch, name, 2)
    path = os.path.join(out_dir, name + ".onnx")
    with torch.no_grad():
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, do_constant_folding=True)
        out = model(x)
    with open(os.path.join(out_dir, name + ".check.json"), "w") as f:
        json.dump({"shape": list(x.shape), "input": x.flatten().tolist(), "output": out.flatten().tolist()}, f)
    print(f"# exported {path} ({os.path.getsize(path)} bytes)")


def run_parent(args):
    python = bench.torch_python()
    if python is None:
        print("# skipped: torch not installed (Debian: apt-get install -y python3-torch python3-numpy)")
        return 0
    for name in args.nets.split(","):
        if name not in NETS:
            print(f"suite.py: unknown network {name!r} (have {', '.join(NETS)})", file=sys.stderr)
            return 2
    first = True
    for threads in [int(t) for t in args.threads.split(",")]:
        env = dict(os.environ)
        env.update(bench.MALLOC_ENV)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        env["OMP_WAIT_POLICY"] = "PASSIVE"
        coretype = bench.openblas_coretype("auto")
        if coretype:
            env["OPENBLAS_CORETYPE"] = coretype
        cmd = [python, os.path.abspath(__file__), "--child", "--threads", str(threads), "--nets", args.nets]
        if args.quick:
            cmd.append("--quick")
        if first:
            # The first child writes the header and the ONNX files (one export is enough).
            cmd.append("--header")
            if args.export_onnx:
                cmd += ["--export-onnx", os.path.abspath(args.export_onnx)]
            first = False
        if subprocess.run(cmd, env=env).returncode != 0:
            print(f"# child for {threads} thread(s) failed")
            return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--nets", default=",".join(NETS), help="comma-separated networks (default all)")
    parser.add_argument("--quick", action="store_true", help="few, short repeats")
    parser.add_argument("--export-onnx", default="", help="also export each network to DIR/<net>.onnx")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--header", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    return run_child(args) if args.child else run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
