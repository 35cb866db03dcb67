"""A 100,000-op scalar chain: forward + backward time and peak memory.

    y = x                       # 0-d float64 tensor
    for i in range(50_000):
        y = y * 1.0001
        y = y + 0.0001
    y.backward()                # dy/dx = 1.0001 ** 50_000

This is the deep-graph case: the library's backward is iterative, so the chain must not raise
RecursionError (neither in backward nor when the graph is freed). Timed: building the chain,
backward, and dropping the graph. Contenders: ours and PyTorch CPU eager (same threads).

Memory:
* ours: tracemalloc peak of one forward + backward (a separate, untimed run: tracemalloc slows
  Python allocation down a lot). It counts Python objects and NumPy buffers.
* ours and torch: peak-RSS growth of one forward + backward, each in a fresh child process:
  the kernel's peak mark (VmHWM) is reset after imports and a small warm-up chain, then read
  after the chain (resource.getrusage ru_maxrss where /proc is missing). tracemalloc cannot see
  PyTorch's C++ allocations, so RSS is the like-for-like number.

    python benchmarks/bench_chain.py [--threads 2] [--repeat 5] [--ops 100000] [--json]
"""
from __future__ import annotations

import _common as C  # must come first: sets BLAS threads before NumPy loads

import gc
import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np

import autograd as ag

MUL, ADD = 1.0001, 0.0001


def run_ours(n_ops: int) -> float:
    x = ag.tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(n_ops // 2):
        y = y * MUL
        y = y + ADD
    y.backward()
    del y  # free the graph inside the timed region: it is part of the cost
    return float(x.grad.item())


def run_torch(n_ops: int) -> float:
    torch = C.torch
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(n_ops // 2):
        y = y * MUL
        y = y + ADD
    y.backward()
    del y
    return float(x.grad.item())


def _proc_status_kib(field: str):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) for this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child_memory(which: str, n_ops: int) -> None:
    """Child-process mode: print the peak-RSS growth of one chain as JSON.

    The peak mark is reset after imports and a warm-up chain, so the import of torch (whose own
    peak is far above a chain's) does not hide the chain. Without /proc (not Linux), falls back
    to ru_maxrss, which such an earlier peak can hide.
    """
    fn = run_ours if which == "ours" else run_torch
    fn(1000)  # warm up allocators and lazy imports
    gc.collect()
    if _reset_peak_rss() and _proc_status_kib("VmHWM") is not None:
        before = _proc_status_kib("VmRSS")
        fn(n_ops)
        after = _proc_status_kib("VmHWM")
        how = "VmHWM"
    else:
        import resource

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn(n_ops)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        how = "ru_maxrss"
    print(json.dumps({"rss_delta_mib": (after - before) / 1024, "how": how}))


def rss_in_child(which: str, n_ops: int, threads: int):
    cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(threads),
           "--ops", str(n_ops), "--child-mem", which]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])["rss_delta_mib"]
    except Exception as e:  # noqa: BLE001 - report, do not fail the benchmark
        print(f"   (RSS measurement for {which} failed: {e})")
        return None


def main(argv=None) -> dict:
    p = C.make_parser(__doc__.splitlines()[0], repeat=5, warmup=1)
    p.add_argument("--ops", type=int, default=100_000, help="chain length (default 100000)")
    p.add_argument("--child-mem", choices=("ours", "torch"), help=argparse_suppress())
    p.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    args = p.parse_args(argv)
    if args.child_mem:
        child_memory(args.child_mem, args.ops)
        return {}

    n = args.ops
    C.print_header(f"scalar chain: {n:,} ops (alternating *{MUL}, +{ADD}) on a 0-d float64 "
                   "tensor, forward + backward")
    expected = MUL ** (n // 2)
    result: dict = {}
    try:
        g = run_ours(n)
    except RecursionError as e:
        print(f"   ours: RecursionError on a {n:,}-op chain: {e}")
        result["ours_error"] = "RecursionError"
        C.emit_result(args, "chain", result)
        return result
    ok = np.isclose(g, expected, rtol=1e-9)
    print(f"   gradient check: {'ok' if ok else 'MISMATCH'} (dy/dx = {g:.12g}, "
          f"expected {expected:.12g}); no RecursionError")

    contenders = {"ours": lambda: run_ours(n)}
    use_torch = C.use_torch(args)
    if use_torch:
        g_t = run_torch(n)
        print(f"   torch gradient: {g_t:.12g}")
        contenders["torch"] = lambda: run_torch(n)

    t = C.interleaved(contenders, repeat=args.repeat, warmup=args.warmup,
                          number=args.number, settle=args.settle)
    C.print_timings(list(t.values()), per=n, unit="op")
    result["ours_s"] = t["ours"].median
    result["ours_us_per_op"] = t["ours"].median / n * 1e6
    if use_torch:
        result["torch_s"] = t["torch"].median
        C.ratio_line("ours / torch", t["ours"], t["torch"], result=result, key="ours/torch")

    if not args.no_memory:
        gc.collect()
        tracemalloc.start()
        run_ours(n)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["ours_tracemalloc_mib"] = peak / 2**20
        print(f"   ours  tracemalloc peak       {peak / 2**20:8.1f} MiB "
              f"({peak / n:.0f} bytes/op)")
        rss = rss_in_child("ours", n, C.THREADS)
        if rss is not None:
            result["ours_rss_mib"] = rss
            print(f"   ours  peak-RSS growth        {rss:8.1f} MiB (fresh process)")
        if use_torch:
            rss_t = rss_in_child("torch", n, C.THREADS)
            if rss_t is not None:
                result["torch_rss_mib"] = rss_t
                print(f"   torch peak-RSS growth        {rss_t:8.1f} MiB (fresh process; "
                      "tracemalloc cannot see torch's C++ allocations)")
    C.emit_result(args, "chain", result)
    return result


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
