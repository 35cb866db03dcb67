"""Run every benchmark and print a summary table of the ratios (Markdown, ready for the README).

Each benchmark runs as its own subprocess (so each sets its BLAS threads before NumPy loads),
``--runs`` times; the table shows the median over runs of each script's median numbers.

    python benchmarks/run_all.py [--threads 2] [--runs 3] [--quiet] [--only mlp softmax cnn]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHES = {  # name -> script
    "op_overhead": "bench_op_overhead.py",
    "mlp": "bench_mlp.py",
    "softmax": "bench_softmax.py",
    "chain": "bench_chain.py",
    "rnn": "bench_rnn.py",
    "distributed": "bench_distributed.py",
    "cnn": "bench_cnn.py",
    "transformer": "bench_transformer.py",
}


def run_one(script: str, threads: int, extra: list, quiet: bool) -> dict | None:
    cmd = [sys.executable, os.path.join(HERE, script), "--threads", str(threads), "--json", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if not quiet and not line.startswith("RESULT "):
            print(line)
    if proc.returncode != 0:
        print(f"!! {script} failed with exit status {proc.returncode}:\n{proc.stderr}")
        return None
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    print(f"!! {script} printed no RESULT line")
    return None


def med(results: list, key: str):
    vals = [r[key] for r in results if r and key in r]
    return statistics.median(vals) if vals else None


def f(x, fmt: str, suffix: str = "") -> str:
    return "—" if x is None else format(x, fmt) + suffix


def verdict(r: list, key: str, target=None) -> str:
    """'1.05x (1.02x) ✓': the median ratio, the ratio of minimum times, and the target check."""
    x, xmin = med(r, key), med(r, key + " min")
    if x is None:
        return "—"
    text = f"{x:.2f}x" + ("" if xmin is None else f" ({xmin:.2f}x)")
    if target is not None:
        text += f" {'✓' if x <= target else '✗'} (≤ {target:g})"
    return text


def table(res: dict, runs: int, threads: int, tuned: bool = False) -> str:
    if tuned:
        malloc = ", --tune-malloc"
    elif os.environ.get("AG_KEEP_FREED_MEMORY", "1").strip() in ("0", "false", "no", "off"):
        malloc = ", glibc malloc defaults (AG_KEEP_FREED_MEMORY=0)"
    else:
        malloc = ", malloc as `import autograd` sets it (freed arrays kept for reuse)"
    rows = [
        "| benchmark | ours | hand-written NumPy | PyTorch | ours / NumPy: median (min) | ours / PyTorch: median (min) |",
        "|---|---|---|---|---|---|",
    ]
    r = res.get("op_overhead")
    if r:
        rows.append(
            f"| op overhead: 1,000-op chain on (16,), fwd+bwd | "
            f"{f(med(r, 'ours_us_per_op'), '.2f', ' µs/op')} | {f(med(r, 'numpy_us_per_op'), '.2f', ' µs/op')} | "
            f"{f(med(r, 'torch_us_per_op'), '.2f', ' µs/op')} | {verdict(r, 'ours/numpy')} | "
            f"{verdict(r, 'ours/torch', 1.0)} |"
        )
    r = res.get("mlp")
    if r:
        rows.append(
            f"| MLP step 784-1024-1024-10, batch 512 | {f(med(r, 'ours_ms'), '.1f', ' ms')} | "
            f"{f(med(r, 'numpy_ms'), '.1f', ' ms')} | {f(med(r, 'torch_ms'), '.1f', ' ms')} | "
            f"{verdict(r, 'ours/numpy', 1.10)} | {verdict(r, 'ours/torch')} |"
        )
        rows.append(
            f"| MLP step, same, through F.linear (as nn.Linear) | {f(med(r, 'linear_ms'), '.1f', ' ms')} | "
            f"{f(med(r, 'numpy_ms'), '.1f', ' ms')} | — | {verdict(r, 'linear/numpy', 1.10)} | — |"
        )
    r = res.get("softmax")
    if r:
        rows.append(
            f"| softmax + squared error (1024, 1000), fwd+bwd | {f(med(r, 'ours_ms'), '.2f', ' ms')} | "
            f"{f(med(r, 'numpy_ms'), '.2f', ' ms')} | {f(med(r, 'torch_ms'), '.2f', ' ms')} | "
            f"{verdict(r, 'ours/numpy', 1.10)} | {verdict(r, 'ours/torch')} |"
        )
    r = res.get("chain")
    if r:
        mem = (f"; peak {f(med(r, 'ours_tracemalloc_mib'), '.0f', ' MiB')} traced, "
               f"RSS +{f(med(r, 'ours_rss_mib'), '.0f', ' MiB')} vs torch +{f(med(r, 'torch_rss_mib'), '.0f', ' MiB')}")
        torch_s = med(r, "torch_s")
        rows.append(
            f"| scalar chain, 100,000 ops, fwd+bwd | {f(med(r, 'ours_s'), '.2f', ' s')}{mem} | — | "
            f"{f(torch_s, '.2f', ' s')} | — | {verdict(r, 'ours/torch')} |"
        )
    r = res.get("rnn")
    if r:
        rows.append(
            f"| LSTM step T=64, batch 32, 64 → 256 (nn.LSTM) | {f(med(r, 'ours_ms'), '.1f', ' ms')} | "
            f"{f(med(r, 'numpy_ms'), '.1f', ' ms')} | {f(med(r, 'torch_ms'), '.1f', ' ms')} | "
            f"{verdict(r, 'ours/numpy', 1.10)} | {verdict(r, 'ours/torch')} |"
        )
        rows.append(
            f"| the same LSTM as a graph of per-step ops | {f(med(r, 'graph_ms'), '.1f', ' ms')} | "
            f"{f(med(r, 'numpy_ms'), '.1f', ' ms')} | — | {verdict(r, 'graph/numpy')} | — |"
        )
    r = res.get("cnn")
    if r:
        for case, what in (("small", "CNN step 1→16→32, 28×28, batch 64"),
                           ("large", "CNN step 3→32→64, 32×32, batch 128")):
            rows.append(
                f"| {what} | {f(med(r, case + '_ours_ms'), '.1f', ' ms')} | "
                f"{f(med(r, case + '_numpy_ms'), '.1f', ' ms')} | {f(med(r, case + '_torch_ms'), '.1f', ' ms')} | "
                f"{verdict(r, case + ' ours/numpy', 1.3)} | "
                f"{verdict(r, case + ' ours/torch', 1.0 if case == 'small' else None)} |"
            )
    r = res.get("transformer")
    if r:
        for size, shape in (("small", "batch 16, seq 64, width 128, 4 heads"),
                            ("large", "batch 32, seq 128, width 256, 8 heads")):
            if med(r, f"{size}_ours_ms") is None:
                continue
            rows.append(
                f"| transformer block step, {shape}, float32 | "
                f"{f(med(r, f'{size}_ours_ms'), '.1f', ' ms')} | {f(med(r, f'{size}_numpy_ms'), '.1f', ' ms')} | "
                f"{f(med(r, f'{size}_torch_ms'), '.1f', ' ms')} | {verdict(r, f'{size} ours/numpy', 1.3)} | "
                f"{verdict(r, f'{size} ours/torch', 1.25 if size == 'small' else None)} |"
            )
    note = (f"\nMedians of {runs} run(s), {threads} BLAS/PyTorch threads{malloc}. ✓/✗: the target is met/missed. "
            "Ratios are time ratios (below 1: ours is faster), each the median over runs of that run's ratio "
            "of interleaved timings, so a ratio need not equal the quotient of the time columns; (min) is "
            "the ratio of the fastest rounds, less sensitive to load from other processes.")
    return "\n".join(rows) + "\n" + note + scaling_table(res.get("distributed"))


def scaling_table(r: list) -> str:
    """DistributedDataParallel's weak scaling: its ratios are to one process of ours, so they get
    a table of their own."""
    if not r or med(r, "ddp/one") is None:
        return ""
    rows = [
        "\n\n| MLP step, batch 512 per process, 1 BLAS thread each | step | / 1 process: median (min) |",
        "|---|---|---|",
        f"| 1 process | {f(med(r, 'one_ms'), '.1f', ' ms')} | — |",
        f"| 2 processes, DistributedDataParallel (default 25 MiB buckets) | {f(med(r, 'ddp_ms'), '.1f', ' ms')} | {verdict(r, 'ddp/one', 1.25)} |",
        f"| 2 processes, 1 MiB buckets (overlapping backward) | {f(med(r, 'ddp1_ms'), '.1f', ' ms')} | {verdict(r, 'ddp1/one')} |",
        f"| 2 processes, one all_reduce after backward | {f(med(r, 'after_ms'), '.1f', ' ms')} | {verdict(r, 'after/one')} |",
        f"| 2 processes, no averaging (cost of sharing the machine) | {f(med(r, 'none_ms'), '.1f', ' ms')} | {verdict(r, 'none/one')} |",
        f"| DDP (25 MiB) / no averaging: the communication alone | — | {verdict(r, 'ddp/none')} |",
    ]
    return "\n".join(rows)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=1, help="runs of each benchmark (default 1)")
    p.add_argument("--only", nargs="*", choices=sorted(BENCHES), help="run only these")
    p.add_argument("--quiet", action="store_true", help="print only the summary table")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparisons")
    p.add_argument("--tune-malloc", action="store_true",
                   help="pass --tune-malloc to every benchmark (see README)")
    args = p.parse_args(argv)
    extra = (["--no-torch"] if args.no_torch else []) + (["--tune-malloc"] if args.tune_malloc else [])
    names = args.only or list(BENCHES)
    res: dict = {n: [] for n in names}
    t0 = time.perf_counter()
    for k in range(args.runs):
        for n in names:
            if not args.quiet:
                print(f"\n--- {n} (run {k + 1}/{args.runs})")
            res[n].append(run_one(BENCHES[n], args.threads, extra, args.quiet))
    print(f"\n## Summary ({time.perf_counter() - t0:.0f} s)\n")
    print(table(res, args.runs, args.threads, args.tune_malloc))
    loads = "; ".join(
        f"{n}: " + ", ".join(r.get("other_load", "?").split(" of ")[0] for r in rs if r)
        for n, rs in res.items()
    )
    print(f"\nCPUs kept busy by other processes during each run (of {os.cpu_count()}): {loads}")
    failed = [n for n, rs in res.items() if any(r is None for r in rs)]
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
