"""Checking backward rules against central finite differences in float64."""
from __future__ import annotations

from typing import Any
from collections.abc import Callable, Sequence

import numpy as _np  # finite differences are a host-side check

from . import engine
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytical and a numerical derivative disagree."""


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float64_inputs(inputs: Sequence[Any]) -> list:
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            y = Tensor(_np.array(x.numpy(), dtype=_np.float64) if x.dtype.kind == "f" else x.numpy().copy(),
                       requires_grad=x.requires_grad and x.dtype.kind == "f")
            y.name = x.name
            out.append(y)
        else:
            out.append(x)
    return out


def _flat_outputs(fn: Callable, args: Sequence[Any]) -> tuple:
    outs = _as_tuple(fn(*args))
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: output {k} of fn is a {type(o).__name__}, not a Tensor")
    return outs


def _analytical(fn: Callable, args: list, wrt: list) -> list:
    """J[i] of shape (input i size, total output size), one backward pass per output element."""
    outs = _flat_outputs(fn, args)
    sizes = [o.data.size for o in outs]
    total = sum(sizes)
    jac = [_np.zeros((args[i].data.size, total)) for i in wrt]
    col = 0
    for k, o in enumerate(outs):
        if not o.requires_grad:
            col += sizes[k]
            continue
        for j in range(sizes[k]):
            seed = _np.zeros(sizes[k])
            seed[j] = 1.0
            grads = engine.grad(o, [args[i] for i in wrt], seed.reshape(o.shape).astype(o.dtype),
                                retain_graph=True, allow_unused=True)
            for r, g in enumerate(grads):
                if g is not None:
                    jac[r][:, col + j] = g.numpy().reshape(-1)
        col += sizes[k]
    return jac


def _numerical(fn: Callable, args: list, wrt: list, eps: float) -> list:
    """J[i] by central differences (f(x + eps) − f(x − eps)) / 2eps, one entry at a time."""
    jac = []
    for i in wrt:
        flat = args[i].data.reshape(-1)  # a view: perturbing it perturbs the input
        cols = []
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = _np.concatenate([o.numpy().reshape(-1) for o in _flat_outputs(fn, args)])
            flat[k] = orig - eps
            minus = _np.concatenate([o.numpy().reshape(-1) for o in _flat_outputs(fn, args)])
            flat[k] = orig
            cols.append((plus.astype(_np.float64) - minus) / (2 * eps))
        jac.append(_np.array(cols).reshape(flat.size, -1))
    return jac


def gradcheck(
    fn: Callable,
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare the gradients backward computes for ``fn(*inputs)`` with central differences.

    Inputs are copied to float64 first. Every input Tensor that requires grad is checked, against
    every element of every output. Returns True, or raises :class:`GradcheckError` naming the
    worst entry (input, element, output element, both values); with ``raise_exception=False`` it
    returns False instead.
    """
    args = _float64_inputs(_as_tuple(inputs))
    wrt = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    analytic = _analytical(fn, args, wrt)
    numeric = _numerical(fn, args, wrt, eps)
    worst = None
    for r, i in enumerate(wrt):
        a, n = analytic[r], numeric[r]
        excess = _np.abs(a - n) - (atol + rtol * _np.abs(n))
        excess = _np.where(_np.isnan(a) != _np.isnan(n), _np.inf, _np.nan_to_num(excess, nan=-1.0))
        if excess.size and excess.max() > 0:
            k, j = _np.unravel_index(int(excess.argmax()), excess.shape)
            if worst is None or excess[k, j] > worst[0]:
                worst = (excess[k, j], i, k, j, a[k, j], n[k, j])
    if worst is None:
        return True
    _, i, k, j, a_val, n_val = worst
    idx = [int(v) for v in _np.unravel_index(k, args[i].shape)] if args[i].ndim else []
    msg = (
        f"gradcheck failed: d(output element {int(j)}) / d(input {i}{idx}) is {float(a_val)!r} by "
        f"backward but {float(n_val)!r} by finite differences (eps={eps}, atol={atol}, rtol={rtol})"
    )
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradgradcheck(
    fn: Callable,
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck of x ↦ (∂⟨fn(x), v⟩/∂x) built with create_graph=True.

    ``v`` is ``grad_outputs``, or fixed random values drawn with ``seed``.
    """
    args = _float64_inputs(_as_tuple(inputs))
    wrt = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    outs = _flat_outputs(fn, args)
    if grad_outputs is None:
        rng = _np.random.default_rng(seed)
        vs = [rng.standard_normal(o.shape) for o in outs]
    else:
        vs = [g.numpy() if isinstance(g, Tensor) else _np.asarray(g, dtype=_np.float64)
              for g in _as_tuple(grad_outputs)]

    def first_derivative(*xs: Any) -> tuple:
        ys = list(_flat_outputs(fn, xs))
        keep = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
        gs = engine.grad([y for y, _ in keep], [xs[i] for i in wrt], [Tensor(v) for _, v in keep],
                         create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(_np.zeros(xs[i].shape)) for g, i in zip(gs, wrt))

    return gradcheck(first_derivative, args, eps=eps, atol=atol, rtol=rtol)
