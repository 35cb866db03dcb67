"""Shared set-up for the benchmark scripts: threads, environment, timing, reporting.

Import this module FIRST, before NumPy (or anything that imports NumPy): the BLAS thread count
and OpenBLAS's tuning variables are read once, when the BLAS library loads, so they must be set
in the environment before that happens.

* ``--threads N`` (default 2) sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
  ``MKL_NUM_THREADS`` to N, and later ``torch.set_num_threads(N)``, so NumPy's BLAS and
  PyTorch use the same number of threads.
* ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are removed from the benchmark process's
  environment: they force OpenBLAS onto a kernel set and cache size that do not match every
  machine, which slows NumPy down, and would make the NumPy floor (and our library, which runs
  on NumPy) look worse than it is.

If NumPy was already imported when this module loads (say, by a wrapper), the process re-executes
itself with the cleaned environment, so the settings always take effect.
"""
from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time

_STRIP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_REEXEC_FLAG = "_AUTOGRAD_BENCH_REEXEC"


def _threads_from_argv(argv: list) -> int:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 2


THREADS = _threads_from_argv(sys.argv)

# --tune-malloc: keep freed large buffers in the process instead of handing them back to the OS.
# By default glibc returns freed multi-megabyte temporaries to the kernel (munmap, or trimming
# the heap top), so the next temporary of that size page-faults again: in the MLP step that is
# thousands of faults per step and a third of its time, for the NumPy floor and for us alike.
# Importing autograd now asks glibc for much the same (autograd.backend.ALLOCATOR says what it
# did; AG_KEEP_FREED_MEMORY=0 turns it off); the flag sets glibc's variables from the start, a
# larger trim threshold included. glibc reads them once, when the process starts: a re-exec.
TUNE_MALLOC = "--tune-malloc" in sys.argv
_MALLOC_VARS = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}


def _environment_is_clean() -> bool:
    if any(v in os.environ for v in _STRIP):
        return False
    if TUNE_MALLOC and any(os.environ.get(k) != v for k, v in _MALLOC_VARS.items()):
        return False
    return all(os.environ.get(v) == str(THREADS) for v in _THREAD_VARS)


def _clean_environment() -> None:
    for v in _STRIP:
        os.environ.pop(v, None)
    for v in _THREAD_VARS:
        os.environ[v] = str(THREADS)
    if TUNE_MALLOC:
        os.environ.update(_MALLOC_VARS)


if not _environment_is_clean():
    _numpy_loaded = "numpy" in sys.modules
    _clean_environment()
    if (_numpy_loaded or TUNE_MALLOC) and not os.environ.get(_REEXEC_FLAG):
        # Too late to change BLAS settings in this process: start again with the clean environment.
        os.environ[_REEXEC_FLAG] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, list(getattr(sys, "orig_argv", [sys.executable] + sys.argv)))
os.environ.pop(_REEXEC_FLAG, None)  # only guards against a re-exec loop; children need not see it

# Make the work tree's package importable when the scripts are run from a checkout.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402  (deliberately after the environment is set)

# ----------------------------------------------------------------------------- torch (optional)
# Not imported at all under --no-torch, so that a profile of our code is not cluttered by it.
torch = None
HAVE_TORCH = False
if "--no-torch" not in sys.argv:
    try:
        import torch  # noqa: E402

        torch.set_num_threads(THREADS)
        HAVE_TORCH = True
    except ImportError:  # pragma: no cover - depends on the environment
        torch = None

TORCH_MISSING = "torch not installed: PyTorch comparison skipped"


def use_torch(args) -> bool:
    """Whether to run the PyTorch contender; says why not when it will not run."""
    if getattr(args, "no_torch", False):
        print("   --no-torch: PyTorch comparison skipped")
        return False
    if not HAVE_TORCH:
        print(f"   {TORCH_MISSING}")
        return False
    return True


# ----------------------------------------------------------------------------- arguments
def make_parser(description: str, repeat: int, warmup: int, settle: float = 0.0, number: int = 1):
    """An argparse parser with the options every benchmark takes."""
    import argparse

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=2,
                   help="BLAS threads for NumPy and threads for PyTorch (default 2)")
    p.add_argument("--repeat", type=int, default=repeat,
                   help=f"timed repetitions per contender (default {repeat})")
    p.add_argument("--warmup", type=int, default=warmup,
                   help=f"untimed warm-up calls per contender (default {warmup})")
    p.add_argument("--number", type=int, default=number,
                   help=f"back-to-back calls per timed round (default {number}); the time per "
                        "call is the round's time divided by this")
    p.add_argument("--settle", type=float, default=settle,
                   help="seconds to sleep (untimed) before each timed round, so that threads a "
                        f"previous contender left spinning go idle (default {settle})")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--tune-malloc", action="store_true",
                   help="keep freed large buffers in the process (glibc MALLOC_MMAP_THRESHOLD_ and "
                        "MALLOC_TRIM_THRESHOLD_), removing page-fault cost from every contender")
    p.add_argument("--json", action="store_true",
                   help="also print one machine-readable line 'RESULT {...}' (run_all.py uses it)")
    return p


# ----------------------------------------------------------------------------- environment report
def _openblas_runtime() -> dict:
    """Ask the OpenBLAS that NumPy loaded for its kernel set and thread count (Linux, best effort)."""
    import ctypes

    info: dict = {}
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return info
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("", "64_", "_64_"):
            for prefix in ("openblas_", "scipy_openblas_"):
                fn = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                if fn is None:
                    continue
                fn.restype = ctypes.c_int
                info["threads"] = fn()
                for key, name in (("corename", "get_corename"), ("config", "get_config")):
                    g = getattr(lib, f"{prefix}{name}{suffix}", None)
                    if g is not None:
                        g.restype = ctypes.c_char_p
                        info[key] = g().decode(errors="replace").strip()
                info["library"] = os.path.basename(path)
                return info
    return info


def _blas_summary() -> str:
    try:
        from threadpoolctl import threadpool_info

        pools = threadpool_info()
        return "; ".join(
            f"{p.get('prefix')} {p.get('version') or ''} {p.get('num_threads')} threads"
            + (f" {p['architecture']}" if p.get("architecture") else "")
            for p in pools
        )
    except ImportError:
        pass
    parts = []
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        parts.append(f"{blas.get('name', '?')} {blas.get('version', '')}".strip())
    except Exception:  # noqa: BLE001 - show_config's format varies between NumPy versions
        pass
    rt = _openblas_runtime()
    if rt:
        parts.append(f"{rt.get('threads')} threads, core {rt.get('corename', '?')}")
    return ", ".join(parts) or "unknown"


def print_header(title: str) -> None:
    """What is being measured, on what: Python, NumPy + BLAS threads, PyTorch threads."""
    print(f"== {title}")
    print(f"   python {sys.version.split()[0]}, numpy {np.__version__} [{_blas_summary()}]")
    env = ", ".join(f"{v}={os.environ.get(v)}" for v in _THREAD_VARS)
    stripped = ", ".join(f"{v} {'unset' if v not in os.environ else 'SET'}" for v in _STRIP)
    malloc = ", ".join(f"{k}={os.environ[k]}" for k in _MALLOC_VARS if k in os.environ)
    from autograd.backend import ALLOCATOR  # what importing autograd did to the allocator

    print(f"   env: {env}; {stripped}; malloc: {malloc or ALLOCATOR}")
    if HAVE_TORCH:
        print(f"   torch {torch.__version__}, {torch.get_num_threads()} threads")
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"   cpus available: {ncpu}; load average (1 min) {load:.2f}")


# ----------------------------------------------------------------------------- machine load
def _cpu_ticks():
    """(busy ticks of the whole machine, ticks this process and its children used), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        t = os.times()
        hz = os.sysconf("SC_CLK_TCK")
        mine = (t.user + t.system + t.children_user + t.children_system) * hz
        return sum(fields[:8]) - idle, mine, sum(fields[:8])
    except (OSError, ValueError, IndexError):
        return None


_START_TICKS = _cpu_ticks()


def other_load() -> str:
    """How busy the machine was with other processes since this script started."""
    end = _cpu_ticks()
    if end is None or _START_TICKS is None:
        return "unknown"
    busy = end[0] - _START_TICKS[0]
    mine = end[1] - _START_TICKS[1]
    total = end[2] - _START_TICKS[2]
    if total <= 0:
        return "unknown"
    ncpu = os.cpu_count() or 1
    others = max(busy - mine, 0) / total * ncpu
    return f"{others:.2f} of {ncpu} CPUs busy with other processes on average"


# ----------------------------------------------------------------------------- timing
class Timing:
    """Repeated wall-clock measurements of one contender, in seconds per call."""

    def __init__(self, name: str, times: list) -> None:
        self.name = name
        self.times = times

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)


def _freeze_heap() -> None:
    """Move every object alive now (modules, functions, torch's and NumPy's import-time objects)
    out of the collector's reach, so that neither the explicit collections between rounds nor the
    automatic ones inside them keep re-scanning them. Otherwise the hundreds of thousands of
    objects PyTorch's import leaves behind would be traversed by every full collection that our
    library's graph objects trigger, a cost no program without torch imported pays."""
    gc.collect()
    gc.freeze()


def measure(name: str, fn, repeat: int, warmup: int, number: int = 1) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` timed rounds of ``number`` calls.

    Returns per-call seconds for each round. A garbage collection runs before every round (not
    inside it), so one round does not pay for the garbage of the previous one; the collector
    stays enabled while timing, as it is in real programs.
    """
    for _ in range(warmup):
        fn()
    _freeze_heap()
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return Timing(name, times)


def interleaved(contenders: dict, repeat: int, warmup: int, number: int = 1,
                settle: float = 0.0) -> dict:
    """Like :func:`measure` for several contenders, taking turns round by round.

    On a busy machine the load changes over seconds; alternating the contenders spreads that
    noise evenly over them instead of penalising whichever happened to run during a spike.

    Before each turn the process sleeps ``settle`` seconds, untimed: after a parallel call,
    OpenBLAS's worker threads busy-wait for more work (about 2^28 cycles, ~0.1 s) and so do
    PyTorch's OpenMP workers. On a 2-core machine those spinning threads take a core from
    whichever contender runs next. Measured on the MLP step: without settling, ours ran at
    21 ms instead of 14 ms right after torch, and torch at 60 ms instead of 27 ms right after
    NumPy; with 0.2 s both matched their stand-alone times. Benchmarks whose contenders make
    multi-threaded calls (MLP, softmax) settle by default; the tiny-op ones do not need to.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    _freeze_heap()
    times: dict = {k: [] for k in contenders}
    for _ in range(repeat):
        for k, fn in contenders.items():
            gc.collect()
            if settle:
                time.sleep(settle)
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times[k].append((time.perf_counter() - t0) / number)
    return {k: Timing(k, v) for k, v in times.items()}


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.3f} s "


def print_timings(timings: list, per: float = 1.0, unit: str = "", extra=None) -> None:
    """One line per contender: median and min per call (and per ``unit`` when ``per`` > 1)."""
    for t in timings:
        line = f"   {t.name:<22} median {fmt_time(t.median)}   min {fmt_time(t.min)}"
        if per != 1.0:
            line += f"   ({t.median / per * 1e6:7.2f} µs/{unit} median)"
        if extra and t.name in extra:
            line += f"   {extra[t.name]}"
        print(line)


def ratio_line(label: str, num: Timing, den: Timing, target: float | None = None,
               result: dict | None = None, key: str | None = None) -> float:
    """Print median and min ratios ``num / den``; returns the median ratio.

    With ``result`` and ``key``, also stores them there as ``key`` and ``key + " min"``.
    """
    r = num.median / den.median
    rmin = num.min / den.min
    line = f"   {label:<34} {r:6.2f}x (median)   {rmin:6.2f}x (min)"
    if target is not None:
        line += f"   target <= {target:.2f}: {'met' if r <= target else 'NOT met'}"
    print(line)
    if result is not None and key is not None:
        result[key] = r
        result[key + " min"] = rmin
    return r


def emit_result(args, bench: str, values: dict) -> None:
    """The machine-readable summary line that run_all.py collects."""
    load = other_load()
    print(f"   machine: {load} during this run")
    if getattr(args, "json", False):
        print("RESULT " + json.dumps({"bench": bench, "other_load": load, **values}))
