#!/usr/bin/python3
"""PyTorch baseline of cnngen's benchmarks: the tutorial digits network and recipe.

Network (as in the brief): input 1x8x8 -> conv 3x3, 32 filters, SAME (pad 1), +bias,
ReLU -> max pool 2x2 stride 2 -> flatten 512 -> dense 300 +bias, ReLU -> dense 10 +bias.
Recipe: cross-entropy SUMMED over the batch, plain SGD lr 1e-4, full batch of 1617,
init Normal(0, sigma) for weights and biases, sigma = 1/sqrt(64) conv, 1/sqrt(512) and
1/sqrt(300) dense. Data: datasets/digits.csv.gz (64 pixel columns 0..16, then the
label), pixels/16, seeded 90/10 split (1617 train / 180 test).

Figures, for each thread count (default 1 and 2):
  infer_latency_us     one-sample inference, best of eager / frozen TorchScript trace /
                       frozen trace + optimize_for_inference (median of repeats)
  infer_throughput_sps batch-1617 inference, samples/s, best of the same variants
  train_step_ms        one SGD step (zero_grad, forward, summed loss, backward, step)
                       at batch 1617, 256, 32 and 1 (median of repeats)
  tutorial_run_s       the 2000-step full-batch tutorial run end to end
  tutorial_test_accuracy  its final test accuracy

Every thread count runs in a fresh child process, because the thread and malloc
settings below must be in the environment before the process (and torch) starts:
  OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = N, torch.set_num_threads(N),
  torch.set_num_interop_threads(1), MALLOC_TRIM_THRESHOLD_ = 64 GiB (no trimming),
  MALLOC_MMAP_THRESHOLD_ = 32 MiB (glibc's maximum: no mmap/munmap per batch, and no
  dynamic threshold), OMP_WAIT_POLICY=PASSIVE (see --omp-wait-policy), OPENBLAS_CORETYPE
  named for the CPU (see --openblas-coretype), torch.set_flush_denormal(True), autograd off + inference_mode for
  inference. Warm-up runs precede every measurement.

Output: lines starting with '{' are JSON records, e.g.
  {"impl": "pytorch", "threads": 1, "metric": "train_step_ms", "batch": 1617, "value": 42.8}
every other line starts with '#' (settings header and a human table).

Usage:
  /usr/bin/python3 benchmarks/pytorch/bench.py                 # all figures, 1 and 2 threads
  /usr/bin/python3 benchmarks/pytorch/bench.py --quick         # seconds, for a smoke test
  /usr/bin/python3 benchmarks/pytorch/bench.py --accuracy-seeds 1,2,3,4,5
When torch is not installed it prints "skipped: torch not installed" and exits 0
(Debian: apt-get install -y python3-torch python3-numpy).
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "datasets", "digits.csv.gz"))

LEARNING_RATE = 1e-4
TUTORIAL_STEPS = 2000
TRAIN_BATCHES = (1617, 256, 32, 1)
INFER_BATCH = 1617

# glibc malloc: never give memory back to the OS (trim threshold far above any heap
# here) and serve every allocation below glibc's 32 MiB mmap maximum from the heap.
MALLOC_ENV = {"MALLOC_TRIM_THRESHOLD_": str(64 << 30), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}
BLAS_DIRS = {
    "system": None,
    "openblas-pthread": "/usr/lib/x86_64-linux-gnu/openblas-pthread",
    "openblas-openmp": "/usr/lib/x86_64-linux-gnu/openblas-openmp",
}


def has_torch(python):
    """Reports whether the interpreter at path python can import torch."""
    if python == sys.executable:
        return importlib.util.find_spec("torch") is not None
    try:
        return subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0
    except OSError:
        return False


def torch_python():
    """Returns an interpreter that has torch: this one, else Debian's /usr/bin/python3."""
    for python in (sys.executable, "/usr/bin/python3"):
        if has_torch(python):
            return python
    return None


# ---------------------------------------------------------------------------------------
# Parent: one child process per thread count.


def run_parent(args):
    python = torch_python()
    if python is None:
        print("skipped: torch not installed (Debian: apt-get install -y python3-torch python3-numpy)")
        return 0
    thread_counts = [int(t) for t in args.threads.split(",")]
    records = []
    first = True
    for threads in thread_counts:
        env = dict(os.environ)
        env.update(MALLOC_ENV)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
        if args.unset_openblas_coretype:
            env.pop("OPENBLAS_CORETYPE", None)
            env.pop("OPENBLAS_L2_SIZE", None)
        if args.omp_wait_policy != "default":
            env["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
        coretype = openblas_coretype(args.openblas_coretype)
        if coretype:
            env["OPENBLAS_CORETYPE"] = coretype
        if BLAS_DIRS[args.blas]:
            env["LD_LIBRARY_PATH"] = BLAS_DIRS[args.blas] + (
                ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        cmd = [python, os.path.abspath(__file__), "--child", "--threads", str(threads),
               "--data", args.data, "--seed", str(args.seed), "--blas", args.blas,
               "--openblas-coretype", args.openblas_coretype, "--omp-wait-policy", args.omp_wait_policy]
        if args.quick:
            cmd.append("--quick")
        if args.accuracy_seeds:
            cmd += ["--accuracy-seeds", args.accuracy_seeds]
        if args.skip_tutorial:
            cmd.append("--skip-tutorial")
        if not first:
            cmd.append("--no-header")
        first = False
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.startswith("{"):
                records.append(json.loads(line))
        if proc.wait() != 0:
            print(f"# child for {threads} thread(s) failed with exit code {proc.returncode}")
            return 1
    print_table(records)
    return 0


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_coretype(choice):
    """Returns the OPENBLAS_CORETYPE to set for choice ("auto", "keep" or a name), or None to leave it.

    OpenBLAS 0.3.21 (Debian 12) does not recognise recent CPUs (e.g. Xeon model 207) and
    falls back to its generic Prescott (SSE3) kernels; "auto" names the widest kernel
    family the CPU's flags support instead.
    """
    if choice == "keep":
        return None
    if choice != "auto":
        return choice
    flags = cpu_flags()
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def print_table(records):
    """Prints the records as a human table: one row per metric and batch, one column per thread count."""
    if not records:
        return
    threads = sorted({r["threads"] for r in records})
    rows = []
    for r in records:
        key = (r["metric"], r.get("batch"), r.get("seed"))
        if key not in rows:
            rows.append(key)
    print("#")
    header = f"# {'metric':<24} {'batch':>6} {'seed':>4} " + " ".join(f"{f'{t} thread(s)':>14}" for t in threads)
    print(header)
    for metric, batch, seed in rows:
        cells = []
        for t in threads:
            vals = [r["value"] for r in records if r["threads"] == t and r["metric"] == metric
                    and r.get("batch") == batch and r.get("seed") == seed]
            cells.append(f"{vals[0]:>14.4g}" if vals else f"{'-':>14}")
        print(f"# {metric:<24} {batch if batch is not None else '':>6} {seed if seed is not None else '':>4} "
              + " ".join(cells))


# ---------------------------------------------------------------------------------------
# Child: the measurements, with torch imported after the environment is set.


def emit(**record):
    record = {"impl": "pytorch", **record}
    print(json.dumps(record), flush=True)


def load_digits(path, seed):
    import numpy as np
    data = np.loadtxt(path, delimiter=",", dtype=np.float32)
    if data.shape != (1797, 65):
        raise SystemExit(f"{path}: shape {data.shape}, want (1797, 65)")
    images = (data[:, :64] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    labels = data[:, 64].astype(np.int64)
    perm = np.random.RandomState(seed).permutation(len(labels))
    n_train = len(labels) * 9 // 10
    train, test = perm[:n_train], perm[n_train:]
    return images[train], labels[train], images[test], labels[test]


def build_model(torch, seed):
    nn = torch.nn

    class DigitsNet(nn.Module):
        """conv 3x3x32 SAME + ReLU -> max pool 2x2 -> dense 300 + ReLU -> dense 10."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 32, 3, padding=1)
            self.pool = nn.MaxPool2d(2, 2)
            self.hidden = nn.Linear(512, 300)
            self.out = nn.Linear(300, 10)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv(x)))
            x = torch.relu(self.hidden(torch.flatten(x, 1)))
            return self.out(x)

    torch.manual_seed(seed)
    model = DigitsNet()
    with torch.no_grad():
        for layer, sigma in ((model.conv, 1 / 8), (model.hidden, 512 ** -0.5), (model.out, 300 ** -0.5)):
            layer.weight.normal_(0.0, sigma)
            layer.bias.normal_(0.0, sigma)
    return model


def median_time(fn, calls, repeats):
    """Returns the median over repeats of the mean seconds per call of fn (calls per repeat)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def inference_variants(torch, model, x):
    """Returns (name, callable) for eager, frozen trace and frozen trace optimized for inference."""
    model.eval()
    variants = []

    def eager():
        with torch.inference_mode():
            return model(x)

    variants.append(("eager", eager))
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(model, x))
    variants.append(("frozen_trace", lambda: frozen(x)))
    try:
        with torch.no_grad():
            optimized = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
        variants.append(("frozen_trace_optimized", lambda: optimized(x)))
    except Exception as exc:  # optimize_for_inference is best-effort; say so and go on
        print(f"# optimize_for_inference failed: {exc!r}")
    return variants


def measure_inference(torch, model, x, calls, repeats, warmup):
    """Returns {variant: seconds per call} for the inference variants on batch x."""
    results = {}
    with torch.no_grad():
        reference = model.eval()(x)
    for name, fn in inference_variants(torch, model, x):
        with torch.no_grad():
            for _ in range(warmup):
                out = fn()
            if not torch.allclose(out, reference, rtol=1e-4, atol=1e-4):
                raise SystemExit(f"inference variant {name} disagrees with eager")
            results[name] = median_time(fn, calls, repeats)
    model.train()
    return results


def train_step_fn(torch, model, x, y):
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, foreach=True)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def accuracy(torch, model, x, y):
    with torch.inference_mode():
        return (model(x).argmax(1) == y).float().mean().item()


def tutorial_run(torch, data, seed, steps, log):
    """Trains a fresh model for steps full-batch steps; returns (seconds, test accuracy)."""
    x_train, y_train, x_test, y_test = data
    model = build_model(torch, seed)
    step = train_step_fn(torch, model, x_train, y_train)
    logged = {0, 100, 500, 1000, steps - 1}
    start = time.perf_counter()
    for i in range(steps):
        loss = step()
        if log and i in logged:
            # Logging (one extra forward) is part of the tutorial run, as in its log.
            print(f"#   step {i:>4}: cost/sample {loss.item() / len(y_train):.4f}, "
                  f"train acc {accuracy(torch, model, x_train, y_train):.3f}", flush=True)
    seconds = time.perf_counter() - start
    return seconds, accuracy(torch, model, x_test, y_test)


def run_child(args):
    threads = args.threads_count
    import numpy as np  # noqa: F401  (imported before torch, as torch's own numpy bridge does)
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.set_grad_enabled(True)
    torch.set_flush_denormal(True)

    data_np = load_digits(args.data, args.seed)
    data = tuple(torch.from_numpy(a) for a in data_np)
    x_train, y_train = data[0], data[1]

    if not args.no_header:
        print_header(torch, args)
    env = " ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in
                   ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_CORETYPE"))
    print(f"# [{threads} thread(s)] torch.get_num_threads()={torch.get_num_threads()} {env}; blas: {blas_info()}")

    if args.accuracy_seeds:
        accs = []
        for seed in [int(s) for s in args.accuracy_seeds.split(",")]:
            seed_data = tuple(torch.from_numpy(a) for a in load_digits(args.data, seed))
            seconds, acc = tutorial_run(torch, seed_data, seed, TUTORIAL_STEPS, log=False)
            accs.append(acc)
            emit(threads=threads, metric="tutorial_test_accuracy", batch=1617, seed=seed, value=round(acc, 4))
            emit(threads=threads, metric="tutorial_run_s", batch=1617, seed=seed, value=round(seconds, 3))
        print(f"# seeds {args.accuracy_seeds}: test accuracy min {min(accs):.4f} max {max(accs):.4f} "
              f"mean {statistics.mean(accs):.4f}")
        return 0

    quick = args.quick
    warmup = 3 if quick else 20
    repeats = 3 if quick else 7

    # One-sample inference latency.
    model = build_model(torch, args.seed)
    lat = measure_inference(torch, model, x_train[:1], calls=20 if quick else 500, repeats=repeats, warmup=warmup)
    best = min(lat, key=lat.get)
    for name, sec in lat.items():
        print(f"# [{threads} thread(s)] one-sample inference, {name}: {sec * 1e6:.2f} us")
    emit(threads=threads, metric="infer_latency_us", batch=1, variant=best, value=round(lat[best] * 1e6, 3))

    # Batched inference throughput.
    xb = x_train[:INFER_BATCH]
    thr = measure_inference(torch, model, xb, calls=2 if quick else 10, repeats=repeats, warmup=warmup // 2 + 1)
    best = min(thr, key=thr.get)
    for name, sec in thr.items():
        print(f"# [{threads} thread(s)] batch-{INFER_BATCH} inference, {name}: {INFER_BATCH / sec:.0f} samples/s")
    emit(threads=threads, metric="infer_throughput_sps", batch=INFER_BATCH, variant=best,
         value=round(INFER_BATCH / thr[best], 1))

    # Training step at each batch size (a fixed batch: the first B training samples).
    for batch in TRAIN_BATCHES:
        model = build_model(torch, args.seed)
        step = train_step_fn(torch, model, x_train[:batch], y_train[:batch])
        for _ in range(warmup):
            step()
        calls = max(2, min(200, int(0.3 / (batch * 25e-6 + 1e-4)))) if not quick else 2
        sec = median_time(step, calls, repeats)
        emit(threads=threads, metric="train_step_ms", batch=batch, value=round(sec * 1e3, 4))

    print(f"# [{threads} thread(s)] load average after the step timings: {load_average()}")

    # The tutorial run end to end.
    if not args.skip_tutorial:
        steps = 20 if quick else TUTORIAL_STEPS
        print(f"# [{threads} thread(s)] tutorial run, {steps} full-batch steps, seed {args.seed}:", flush=True)
        seconds, acc = tutorial_run(torch, data, args.seed, steps, log=True)
        emit(threads=threads, metric="tutorial_run_s", batch=1617, steps=steps, value=round(seconds, 3))
        emit(threads=threads, metric="tutorial_test_accuracy", batch=1617, steps=steps, value=round(acc, 4))
        print(f"# [{threads} thread(s)] load average after the tutorial run: {load_average()}")
    return 0


def print_header(torch, args):
    print(f"# PyTorch baseline, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"# cpu: {cpu_model()}; {os.cpu_count()} logical CPUs; {platform.platform()}")
    print(f"# niceness {os.nice(0)}; load average at start {load_average()} (other processes on these "
          f"cores distort timings, the 2-thread ones most: an OpenMP barrier waits for a descheduled thread)")
    print(f"# python {platform.python_version()} ({sys.executable}), torch {torch.__version__} "
          f"(Debian python3-torch {debian_version('python3-torch')}, libopenblas0 {debian_version('libopenblas0-pthread')}), "
          f"numpy {__import__('numpy').__version__}")
    print(f"# torch: num_threads={torch.get_num_threads()} interop_threads={torch.get_num_interop_threads()} "
          f"mkldnn={torch.backends.mkldnn.is_available()} cpu_capability={cpu_capability(torch)} "
          f"flush_denormal=True")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_",
                 "MALLOC_MMAP_THRESHOLD_", "OMP_WAIT_POLICY", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LD_LIBRARY_PATH"):
        print(f"# env {name}={os.environ.get(name, '(unset)')}")
    print(f"# blas selection: {args.blas}, OPENBLAS_CORETYPE choice: {args.openblas_coretype}; "
          f"loaded: {blas_info()}")
    if args.accuracy_seeds:
        mode = f"accuracy mode: one 2000-step run per seed {args.accuracy_seeds} (seed = split and init seed)"
    elif args.quick:
        mode = f"split and init seed {args.seed}; quick mode (few repeats, 20-step tutorial run)"
    else:
        mode = f"split and init seed {args.seed}; median of 7 repeats after warm-up"
    print(f"# data: {args.data}; {mode}")


def debian_version(package):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
    except OSError:
        return "n/a"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "not installed"


def load_average():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_capability(torch):
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        return "n/a"


def blas_info():
    """Names the BLAS torch has loaded and, for OpenBLAS, the kernel family it picked."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (Debian: python3-threadpoolctl)"
    parts = []
    for info in threadpool_info():
        desc = f"{info.get('internal_api')} {info.get('version') or ''} threads={info.get('num_threads')}"
        if info.get("architecture"):
            desc += f" kernel={info['architecture']}"
        desc += f" ({info.get('filepath')})"
        parts.append(desc.replace("  ", " "))
    return "; ".join(parts) or "none found"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--data", default=DEFAULT_DATA, help="digits CSV (gzip)")
    parser.add_argument("--seed", type=int, default=1, help="split and init seed (default 1)")
    parser.add_argument("--quick", action="store_true", help="few repeats and a 20-step tutorial run")
    parser.add_argument("--skip-tutorial", action="store_true", help="leave out the 2000-step run")
    parser.add_argument("--accuracy-seeds", default="",
                        help="only run the 2000-step tutorial for these comma-separated seeds and report test accuracy")
    parser.add_argument("--blas", choices=sorted(BLAS_DIRS), default="system",
                        help="BLAS for torch: the system's libblas.so.3 alternative, or an OpenBLAS variant")
    parser.add_argument("--unset-openblas-coretype", action="store_true",
                        help="remove OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE from the children's environment")
    parser.add_argument("--openblas-coretype", default="auto",
                        help="OPENBLAS_CORETYPE for the children: auto (SkylakeX with AVX-512, Haswell with "
                             "AVX2+FMA), keep (leave the environment alone) or a kernel name (default auto)")
    parser.add_argument("--omp-wait-policy", choices=("passive", "active", "default"), default="passive",
                        help="OMP_WAIT_POLICY for the children (default passive: on a machine shared with other "
                             "work, spinning OpenMP threads wait for descheduled ones and a 2-thread step "
                             "got about 20x slower here; default leaves it unset)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.threads_count = int(args.threads)
        return run_child(args)
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
