"""Per-op overhead: a 1,000-op element-wise chain on a tiny tensor, forward + backward.

The chain cycles add, mul, tanh, sigmoid 250 times on a (16,) float32 tensor and ends with
``.sum().backward()``. With 16 elements the arithmetic is negligible, so the time is what each op
costs to record and to differentiate: Python and framework overhead. Three contenders:

* ours  : autograd Tensors;
* torch : PyTorch CPU eager, the same chain, in the same process;
* numpy : a hand-written NumPy forward and backward of the same chain (the floor: the same
          array calls with no graph at all).

Reported: µs per op (1,000 ops; the final sum is not counted) and the ratios ours/torch
(target <= 1.0) and ours/numpy.

    python benchmarks/bench_op_overhead.py [--threads 2] [--repeat 30] [--json]
"""
from __future__ import annotations

import _common as C  # must come first: sets BLAS threads before NumPy loads

import numpy as np

import autograd as ag

N_CYCLES = 250          # 4 ops per cycle -> 1,000 ops
N_OPS = 4 * N_CYCLES
SIZE = 16


def chain(x):
    """The benchmarked chain; the same code runs on our tensors and on PyTorch's."""
    y = x
    for _ in range(N_CYCLES):
        y = y + 1.0
        y = y * 0.5
        y = y.tanh()
        y = y.sigmoid()
    return y


def step_ours(x):
    x.grad = None
    chain(x).sum().backward()
    return x.grad


def step_torch(x):
    x.grad = None
    chain(x).sum().backward()
    return x.grad


def _np_sigmoid(z):
    # The textbook form (the chain's values stay in (0, 1), so exp(-z) cannot overflow here).
    return 1 / (1 + np.exp(-z))


def step_numpy(x):
    """Forward keeping what backward needs (tanh and sigmoid outputs), then the reverse sweep."""
    y = x
    saved = []
    for _ in range(N_CYCLES):
        y = y + np.float32(1.0)
        y = y * np.float32(0.5)
        t = np.tanh(y)
        y = _np_sigmoid(t)
        saved.append((t, y))
    g = np.ones_like(y)  # d(sum)/dy
    for t, s in reversed(saved):
        g = g * s * (1 - s)        # sigmoid' = s (1 - s)
        g = g * (1 - t * t)        # tanh' = 1 - t^2
        g = g * np.float32(0.5)    # mul by 0.5
        # add 1.0: gradient passes unchanged
    return g


def main(argv=None) -> dict:
    args = C.make_parser(__doc__.splitlines()[0], repeat=30, warmup=5).parse_args(argv)
    C.print_header(f"op overhead: {N_OPS}-op chain (add, mul, tanh, sigmoid) on a ({SIZE},) "
                   "float32 tensor, forward + backward")

    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(SIZE).astype(np.float32)
    x_ours = ag.tensor(x0, requires_grad=True)

    # Same work check: all contenders compute the same gradient.
    g_ours = step_ours(x_ours).numpy()
    g_np = step_numpy(x0.copy())
    assert g_ours.dtype == np.float32, g_ours.dtype
    ok = np.allclose(g_ours, g_np, rtol=1e-5, atol=1e-7)
    print(f"   gradient check ours vs numpy: {'ok' if ok else 'MISMATCH'}"
          f" (max |diff| {np.max(np.abs(g_ours - g_np)):.2e})")
    contenders = {
        "ours": lambda: step_ours(x_ours),
        "numpy (hand-written)": lambda: step_numpy(x0),
    }
    use_torch = C.use_torch(args)
    if use_torch:
        torch = C.torch
        x_t = torch.tensor(x0, requires_grad=True)
        g_t = step_torch(x_t).numpy()
        ok_t = np.allclose(g_ours, g_t, rtol=1e-4, atol=1e-6)
        print(f"   gradient check ours vs torch: {'ok' if ok_t else 'MISMATCH'}"
              f" (max |diff| {np.max(np.abs(g_ours - g_t)):.2e})")
        contenders["torch"] = lambda: step_torch(x_t)

    t = C.interleaved(contenders, repeat=args.repeat, warmup=args.warmup,
                          number=args.number, settle=args.settle)
    C.print_timings(list(t.values()), per=N_OPS, unit="op")
    result = {
        "ours_us_per_op": t["ours"].median / N_OPS * 1e6,
        "numpy_us_per_op": t["numpy (hand-written)"].median / N_OPS * 1e6,
    }
    C.ratio_line("ours / numpy (floor)", t["ours"], t["numpy (hand-written)"],
                 result=result, key="ours/numpy")
    if use_torch:
        result["torch_us_per_op"] = t["torch"].median / N_OPS * 1e6
        C.ratio_line("ours / torch", t["ours"], t["torch"], target=1.0,
                     result=result, key="ours/torch")
    C.emit_result(args, "op_overhead", result)
    return result


if __name__ == "__main__":
    main()
