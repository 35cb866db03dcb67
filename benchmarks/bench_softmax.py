"""Softmax + squared-error cost on a (1024, 1000) float32 batch, forward + backward.

    p = F.softmax(z, axis=-1)
    E = F.squared_error(p, t)          # E = 1/2 * sum (p - t)^2
    E.backward()                       # dE/dz into z.grad

The cost and the softmax Jacobian (diag(p) - p p^T, applied as a product) are the ones the
derivation in docs/derivations.md gives. Contenders:

* ours  : the above;
* numpy : hand-written NumPy: e = exp(z - max z); p = e / sum e; d = p - t; E = d.d / 2;
          dE/dz = p * (d - sum(d * p)). Target: ours / numpy <= 1.10;
* torch : torch.softmax and 0.5 * ((p - t) ** 2).sum(), same threads.

The gradients are checked to match once before timing.

    python benchmarks/bench_softmax.py [--threads 2] [--repeat 15] [--json]
"""
from __future__ import annotations

import _common as C  # must come first: sets BLAS threads before NumPy loads

import numpy as np

import autograd as ag
import autograd.nn.functional as F

SHAPE = (1024, 1000)


def step_ours(z, t):
    z.grad = None
    E = F.squared_error(F.softmax(z, axis=-1), t)
    E.backward()
    return z.grad


def step_numpy(z, t):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    d = p - t
    E = np.vdot(d, d) * 0.5  # noqa: F841 - computed, as the forward pass must
    # dE/dp = d; through the softmax: (J^T d)_j = p_j (d_j - sum_i d_i p_i)
    return p * (d - (d * p).sum(axis=-1, keepdims=True))


def step_torch(z, t):
    z.grad = None
    p = C.torch.softmax(z, dim=-1)
    E = 0.5 * ((p - t) ** 2).sum()
    E.backward()
    return z.grad


def main(argv=None) -> dict:
    args = C.make_parser(__doc__.splitlines()[0], repeat=15, warmup=3, settle=0.2, number=10).parse_args(argv)
    C.print_header(f"softmax + squared error on {SHAPE} float32, forward + backward")
    rng = np.random.default_rng(0)
    z0 = (rng.standard_normal(SHAPE) * 3).astype(np.float32)
    t0 = np.zeros(SHAPE, dtype=np.float32)
    t0[np.arange(SHAPE[0]), rng.integers(0, SHAPE[1], SHAPE[0])] = 1  # one-hot targets

    z = ag.tensor(z0, requires_grad=True)
    t = ag.tensor(t0)
    g_ours = step_ours(z, t).numpy()
    g_np = step_numpy(z0, t0)
    assert g_ours.dtype == np.float32, g_ours.dtype
    ok = np.allclose(g_ours, g_np, rtol=1e-4, atol=1e-7)
    print(f"   gradient check ours vs numpy: {'ok' if ok else 'MISMATCH'} "
          f"(max |diff| {np.max(np.abs(g_ours - g_np)):.1e})")
    contenders = {
        "ours": lambda: step_ours(z, t),
        "numpy (hand-written)": lambda: step_numpy(z0, t0),
    }
    use_torch = C.use_torch(args)
    if use_torch:
        torch = C.torch
        z_t = torch.tensor(z0, requires_grad=True)
        t_t = torch.from_numpy(t0)
        g_t = step_torch(z_t, t_t).numpy()
        ok_t = np.allclose(g_ours, g_t, rtol=1e-3, atol=1e-6)
        print(f"   gradient check ours vs torch: {'ok' if ok_t else 'MISMATCH'} "
              f"(max |diff| {np.max(np.abs(g_ours - g_t)):.1e})")
        contenders["torch"] = lambda: step_torch(z_t, t_t)

    tm = C.interleaved(contenders, repeat=args.repeat, warmup=args.warmup,
                          number=args.number, settle=args.settle)
    C.print_timings(list(tm.values()))
    result = {"ours_ms": tm["ours"].median * 1e3, "numpy_ms": tm["numpy (hand-written)"].median * 1e3}
    C.ratio_line("ours / numpy (floor)", tm["ours"], tm["numpy (hand-written)"], target=1.10,
                 result=result, key="ours/numpy")
    if use_torch:
        result["torch_ms"] = tm["torch"].median * 1e3
        C.ratio_line("ours / torch", tm["ours"], tm["torch"], result=result, key="ours/torch")
    C.emit_result(args, "softmax", result)
    return result


if __name__ == "__main__":
    main()
