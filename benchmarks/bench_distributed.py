"""Weak scaling of DistributedDataParallel: the MLP step of bench_mlp.py on 1 and on 2 processes.

Every process runs the large MLP training step of ``bench_mlp.py`` (784-1024-1024-10, batch 512
per process, float32, tanh/sigmoid, cross-entropy, ``p.data -= lr * p.grad.data``) on its own
batch, with one BLAS thread; on 2 processes the gradients (7.1 MiB) are averaged across them.
With perfect scaling a step takes as long on 2 processes as on 1 (twice the work done in the
same time); the ratio is the cost of communication and synchronisation. Target: <= 1.25.

Contenders, each its own ``mpiexec`` job, taking turns run by run (so load from other processes
falls on all of them):

* ``1 process``            the step, wrapped in DistributedDataParallel in a world of one
                           process (which adds nothing: no hooks, no communication);
* ``2 proc, DDP 25 MiB``   the default: every gradient fits one bucket, whose sum starts when
                           the last gradient (the first layer's) is final, i.e. after backward;
* ``2 proc, DDP 1 MiB``    small buckets: the last layers' sums start while backward computes
                           the first layer's gradients (overlap);
* ``2 proc, after``        no hooks: after backward, the gradients are packed into one array
                           and averaged with one blocking ``dist.all_reduce`` (what a user
                           would write by hand);
* ``2 proc, no averaging`` a diagnostic, not a way to train: both processes run the step and
                           never communicate, so its ratio is what two processes sharing the
                           machine (cores, memory bandwidth) cost before any communication.

Reported: the median step time of each (the slower rank's, step by step) and the ratios to one
process. Needs the mpi extra (mpi4py, and mpiexec next to this Python or on PATH).

    python benchmarks/bench_distributed.py [--runs 3] [--steps 20] [--json]
"""
from __future__ import annotations

import _common as C  # must come first: sets BLAS threads before NumPy loads

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import autograd as ag
import autograd.distributed as dist
import autograd.nn.functional as F
from autograd import nn

SIZES = (784, 1024, 1024, 10)
BATCH = 512
LR = 0.01
CONTENDERS = {  # name -> (processes, mode, bucket_cap_mb)
    "1 process": (1, "ddp", 25),
    "2 proc, DDP 25 MiB": (2, "ddp", 25),
    "2 proc, DDP 1 MiB": (2, "ddp", 1),
    "2 proc, after": (2, "after", 25),
    "2 proc, no averaging": (2, "none", 25),
}


# ----------------------------------------------------------------------------- worker
class MLP(nn.Module):
    """bench_mlp.py's network, its weights stored (in, out) as there."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        for i, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
            w = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
            setattr(self, f"W{i}", nn.Parameter(w))
            setattr(self, f"b{i}", nn.Parameter(np.zeros(fan_out, dtype=np.float32)))

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        h1 = (x @ self.W1 + self.b1).tanh()
        h2 = (h1 @ self.W2 + self.b2).sigmoid()
        return h2 @ self.W3 + self.b3


def average_after_backward(params: list) -> None:
    """The no-overlap contender: one blocking all-reduce of every gradient, after backward."""
    flat = ag.Tensor(np.concatenate([p.grad.data.reshape(-1) for p in params]))
    dist.all_reduce(flat, "mean")
    start = 0
    for p in params:
        p.grad.data[...] = flat.data[start:start + p.grad.data.size].reshape(p.shape)
        start += p.grad.data.size


def worker(mode: str, cap: float, steps: int, warmup: int) -> None:
    rank = dist.rank()
    rng = np.random.default_rng(100 + rank)  # each process its own batch
    x = ag.Tensor(rng.standard_normal((BATCH, SIZES[0])).astype(np.float32))
    labels = rng.integers(0, SIZES[-1], size=BATCH).astype(np.int64)
    model = MLP()
    net = dist.DistributedDataParallel(model, bucket_cap_mb=cap) if mode == "ddp" else model
    params = list(model.parameters())

    def step() -> None:
        loss = F.cross_entropy(net(x), labels)
        loss.backward()
        if mode == "after":
            average_after_backward(params)
        for p in params:
            p.data -= LR * p.grad.data
            p.grad = None

    for _ in range(warmup):
        step()
    dist.barrier()
    times = np.zeros(steps)
    for k in range(steps):
        t0 = time.perf_counter()
        step()
        times[k] = time.perf_counter() - t0
    slowest = dist.all_reduce(ag.Tensor(times), "max").numpy()  # each step: the slower rank's
    # Every process must end with the same weights (a check that the averaging happened); the
    # copies (ag.tensor) keep the weights themselves out of the reduction.
    hi = dist.all_reduce(ag.tensor(model.W1.data), "max").numpy()
    lo = dist.all_reduce(ag.tensor(model.W1.data), "min").numpy()
    spread = float((hi - lo).max())
    pieces = communication_pieces(params) if mode == "ddp" and dist.world_size() > 1 else {}
    if rank == 0:
        buckets = len(getattr(net, "_buckets", []))
        print("RESULT " + json.dumps({"times": slowest.tolist(), "buckets": buckets,
                                      "weights_spread": spread, "blas": C._blas_summary(),
                                      **pieces}))


def communication_pieces(params: list, repeat: int = 10) -> dict:
    """What averaging adds to a step, timed alone: one sum of all the gradients' bytes across
    processes, and one copy of them (DDP copies each gradient into its bucket, and writes the
    average back with a division, about the same again)."""
    n = sum(p.data.size for p in params)
    flat = ag.Tensor(np.ones(n, dtype=np.float32))
    other = np.empty(n, dtype=np.float32)
    reduce_t, copy_t = [], []
    for _ in range(repeat):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(flat)
        reduce_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.copyto(other, flat.data)
        copy_t.append(time.perf_counter() - t0)
    return {"allreduce_ms": statistics.median(reduce_t) * 1e3, "copy_ms": statistics.median(copy_t) * 1e3,
            "grad_mib": n * 4 / 2**20}


# ----------------------------------------------------------------------------- driver
def mpiexec_path():
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def run_job(exe: str, n: int, mode: str, cap: float, args) -> dict:
    cmd = [exe, "-n", str(n), sys.executable, os.path.abspath(__file__), "--worker", mode,
           "--cap", str(cap), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> dict:
    p = C.make_parser(__doc__.splitlines()[0], repeat=3, warmup=3)
    p.add_argument("--runs", type=int, default=3, help="turns of every contender (default 3)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per job (default 20)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--cap", type=float, default=25, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.cap, args.steps, args.warmup)
        return {}

    exe = mpiexec_path()
    if exe is None or importlib.util.find_spec("mpi4py") is None:
        print("   mpi4py or mpiexec not found: benchmark skipped (pip install -e '.[mpi]')")
        C.emit_result(args, "distributed", {})
        return {}
    print(f"== {__doc__.splitlines()[0]}")
    print(f"   per process: batch {BATCH}, 1 BLAS thread; {args.runs} runs x {args.steps} steps; "
          f"mpiexec {exe}")
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"   cpus available: {ncpu}; load average (1 min) {os.getloadavg()[0]:.2f}")
    per_run: dict = {name: [] for name in CONTENDERS}
    info: dict = {}
    for _ in range(args.runs):
        for name, (n, mode, cap) in CONTENDERS.items():
            r = run_job(exe, n, mode, cap, args)
            per_run[name].append((statistics.median(r["times"]), min(r["times"])))
            info[name] = r
    print(f"   BLAS in each process: {info['1 process']['blas']}")
    pieces = info["2 proc, DDP 25 MiB"]
    print(f"   pieces, timed alone on 2 processes: sum of {pieces['grad_mib']:.1f} MiB of gradients "
          f"{pieces['allreduce_ms']:.2f} ms, one copy of them {pieces['copy_ms']:.2f} ms (last run)")
    for name, runs in per_run.items():
        med = statistics.median(m for m, _ in runs)
        low = min(m for _, m in runs)
        r = info[name]
        extra = f"{r['buckets']} bucket(s)" if "DDP" in name else ""
        if name not in ("1 process", "2 proc, no averaging"):
            extra += f"{', ' if extra else ''}weights equal on both ranks: {r['weights_spread'] == 0}"
        print(f"   {name:<22} median {C.fmt_time(med)}   min {C.fmt_time(low)}   {extra}")
    base = per_run["1 process"]
    result: dict = {"one_ms": statistics.median(m for m, _ in base) * 1e3,
                    "allreduce_ms": pieces["allreduce_ms"], "copy_ms": pieces["copy_ms"]}
    for name, key in (("2 proc, DDP 25 MiB", "ddp/one"), ("2 proc, DDP 1 MiB", "ddp1/one"),
                      ("2 proc, after", "after/one"), ("2 proc, no averaging", "none/one")):
        ratios = [a[0] / b[0] for a, b in zip(per_run[name], base)]  # run by run
        mins = min(m for _, m in per_run[name]) / min(m for _, m in base)
        result[key] = statistics.median(ratios)
        result[key + " min"] = mins
        result[key.split("/")[0] + "_ms"] = statistics.median(m for m, _ in per_run[name]) * 1e3
        target = "   target <= 1.25: " + ("met" if result[key] <= 1.25 else "NOT met") if key == "ddp/one" else ""
        print(f"   {name + ' / 1 process':<34} {result[key]:6.2f}x (median)   {mins:6.2f}x (min){target}")
    # Two processes that never communicate share the machine just as the DDP pair does: this
    # ratio leaves out what sharing cores and memory costs, i.e. it is the communication alone.
    ratios = [a[0] / b[0] for a, b in zip(per_run["2 proc, DDP 25 MiB"], per_run["2 proc, no averaging"])]
    result["ddp/none"] = statistics.median(ratios)
    print(f"   {'2 proc, DDP 25 MiB / no averaging':<34} {result['ddp/none']:6.2f}x (median)   "
          "(communication alone)")
    C.emit_result(args, "distributed", result)
    return result


if __name__ == "__main__":
    main()
