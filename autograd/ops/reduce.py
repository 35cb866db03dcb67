"""Reductions: sum, mean, max/min, var/std, logsumexp, argmax/argmin.

Every reduction takes ``axis`` (NumPy's word; ``dim`` is accepted as an alias), which may be
None, an int, negative, or a tuple, and ``keepdims`` (``keepdim`` accepted). A reduction's
backward first gives the incoming gradient back the reduced axes as size-1 axes (``_kept``),
then spreads it over the input.
"""
from __future__ import annotations

import builtins
from typing import Any

from .. import backend as B
from ..graph import composite, defvjp, nondifferentiable, record
from ..tensor import Tensor, as_tensor
from ._args import axis_arg, normalize_axis

__all__ = ["sum", "mean", "max", "min", "var", "std", "logsumexp", "argmax", "argmin"]


def _norm_axes(axis: Any, ndim: int, op: str) -> tuple:
    """``axis`` as a sorted tuple of non-negative ints (all axes for None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = [normalize_axis(a, ndim, op) for a in axes]
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis} repeats an axis")
    return tuple(sorted(out)) if ndim else ()  # reducing a 0-d tensor leaves it as it is


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    """``shape`` with the reduced ``axes`` as 1s: where keepdims=True would leave them."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _kept(xp, g, ctx):
    """The output gradient reshaped to keepdims form, so it broadcasts against the input."""
    kept = ctx.saved[0]
    return g if g.shape == kept else xp.reshape(g, kept)


def _reduce_args(op: str, x: Any, axis: Any, dim: Any, keepdims: Any, keepdim: Any):
    x = as_tensor(x)
    axes = _norm_axes(axis_arg(axis, dim), x.ndim, op)
    keep = bool(keepdims or keepdim)
    return x, axes, keep, _kept_shape(x.shape, axes)


def sum(  # noqa: A001
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None
) -> Tensor:
    """Σ x over ``axis`` (all axes by default)."""
    x, axes, keep, kept = _reduce_args("sum", x, axis, dim, keepdims, keepdim)
    return record(B.sum(x.data, axis=axes, keepdims=keep), _sum_vjp, (x,), (kept,))


@defvjp(sum, reads="nothing", xp=("sum",), methods=("sum",))
def _sum_vjp(xp, ctx, g, out, x):
    # ∂(Σ x)/∂x_i = 1: every summed element receives the output's gradient.
    return (xp.broadcast_to(_kept(xp, g, ctx), x.shape),)


def mean(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None
) -> Tensor:
    """The mean of x over ``axis``."""
    x, axes, keep, kept = _reduce_args("mean", x, axis, dim, keepdims, keepdim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    if n:
        out = B.mean(x.data, axis=axes, keepdims=keep)
    else:  # the mean of nothing is NaN (0/0), silently, as in PyTorch
        with B.errstate(invalid="ignore"):
            out = B.sum(x.data, axis=axes, keepdims=keep) / n
    return record(out, _mean_vjp, (x,), (kept, n))


@defvjp(mean, reads="nothing", xp=("mean",), methods=("mean",))
def _mean_vjp(xp, ctx, g, out, x):
    n = ctx.saved[1]
    return (xp.broadcast_to(_kept(xp, g, ctx) / n, x.shape),)


def _extreme(op, f, x, axis, dim, keepdims, keepdim) -> Tensor:
    x, axes, keep, kept = _reduce_args(op.name, x, axis, dim, keepdims, keepdim)
    empty = [a for a in axes if x.shape[a] == 0]
    if empty or (x.data.size == 0 and not axes and x.ndim):
        raise ValueError(
            f"{op.name}(): cannot reduce over axis {empty[0] if empty else axis} of length 0 of a "
            f"tensor of shape {x.shape} ({op.name} of nothing has no value); reduce over an "
            f"axis that has elements"
        )
    return record(f(x.data, axis=axes, keepdims=keep), op, (x,), (kept, axes))


def max(  # noqa: A001
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None
) -> Tensor:
    """The largest element over ``axis``. Ties share the gradient evenly (documented choice:
    the result is symmetric in the tied inputs, as PyTorch's full reduction is)."""
    return _extreme(_max_vjp, B.max, x, axis, dim, keepdims, keepdim)


def min(  # noqa: A001
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None
) -> Tensor:
    """The smallest element over ``axis``; ties share the gradient evenly."""
    return _extreme(_min_vjp, B.min, x, axis, dim, keepdims, keepdim)


@defvjp(max, xp=("max",), methods=("max",), shows="to the arg-max; ties split")
def _max_vjp(xp, ctx, g, out, x):
    # The derivative of max is the indicator of the arg-max; with k tied winners each gets 1/k.
    # A NaN wins, as in PyTorch: it is "equal" to the NaN output.
    out_k = _kept(xp, out, ctx)
    winners = (x == out_k) | (xp.isnan(x) & xp.isnan(out_k))
    count = xp.astype(xp.sum(winners, axis=ctx.saved[1], keepdims=True), x.dtype)
    return (xp.where(winners, _kept(xp, g, ctx) / count, 0),)


assert _max_vjp.rule is not None  # min shares max's rule
_min_vjp = defvjp(min, xp=("min",), methods=("min",), shows="to the arg-min; ties split")(
    _max_vjp.rule)


def _spread_args(op, x, axis, dim, keepdims, keepdim, correction, ddof, unbiased):
    """var/std's arguments, plus the divisor N − correction (PyTorch's ``correction``, default 1;
    NumPy's ``ddof``; PyTorch's older ``unbiased``)."""
    x, axes, keep, kept = _reduce_args(op, x, axis, dim, keepdims, keepdim)
    c = 1.0
    if unbiased is not None:
        c = 1.0 if unbiased else 0.0
    elif correction is not None or ddof is not None:
        c = float(correction if correction is not None else ddof)
    n = 1
    for a in axes:
        n *= x.shape[a]
    return x, axes, keep, kept, builtins.max(n - c, 0)


def var(
    x: Any,
    axis: Any = None,
    keepdims: bool = False,
    *,
    correction: float | None = None,
    ddof: float | None = None,
    unbiased: bool | None = None,
    dim: Any = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Variance over ``axis``: Σ (x − mean)² / (N − correction).

    ``correction`` defaults to 1 (the unbiased estimate), as in PyTorch; NumPy's ``ddof=`` and
    PyTorch's older ``unbiased=`` are accepted. Built from differentiable ops, so every order of
    derivative follows from theirs.
    """
    x, axes, keep, _, denom = _spread_args("var", x, axis, dim, keepdims, keepdim, correction, ddof,
                                           unbiased)
    d = x - mean(x, axis=axes, keepdims=True)
    return sum(d * d, axis=axes, keepdims=keep) / denom


composite(var, methods=("var",))


def std(
    x: Any,
    axis: Any = None,
    keepdims: bool = False,
    *,
    correction: float | None = None,
    ddof: float | None = None,
    unbiased: bool | None = None,
    dim: Any = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Standard deviation s = √var (same arguments as :func:`var`).

    Backward: ∂s/∂x_i = (x_i − mean) / ((N − correction) s); the mean's own dependence on x_i
    cancels because the deviations sum to zero. Where s = 0 (a constant slice) the gradient is
    taken as 0, as PyTorch does, instead of the 0/0 that √ composed with var would give.
    """
    x, axes, keep, kept, denom = _spread_args("std", x, axis, dim, keepdims, keepdim, correction,
                                              ddof, unbiased)
    with B.errstate(all="ignore"):  # N − correction = 0 gives 0/0 = NaN, silently, as PyTorch
        d = x.data - B.mean(x.data, axis=axes, keepdims=True)
        out = B.sqrt(B.sum(d * d, axis=axes, keepdims=keep) / denom)
    return record(out, _std_vjp, (x,), (kept, axes, denom))


@defvjp(std, methods=("std",), shows="∂s/∂x = (x − μ) / ((N − c)·s)")
def _std_vjp(xp, ctx, g, out, x):
    _, axes, denom = ctx.saved
    s = _kept(xp, out, ctx)
    zero = s == 0
    d = x - xp.mean(x, axis=axes, keepdims=True)
    return (xp.where(zero, 0, _kept(xp, g, ctx) * d / (xp.where(zero, 1, s) * denom)),)


def logsumexp(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None
) -> Tensor:
    """log Σ exp(x) over ``axis``, computed as m + log Σ exp(x − m) with m the max, so large
    inputs neither overflow nor lose precision."""
    x, axes, keep, kept = _reduce_args("logsumexp", x, axis, dim, keepdims, keepdim)
    if any(x.shape[a] == 0 for a in axes):  # the log of an empty sum: −inf, as PyTorch
        m = B.zeros(kept, dtype=x.dtype)
    else:
        m = B.max(x.data, axis=axes, keepdims=True)
        m = B.where(B.isfinite(m), m, 0)
    with B.errstate(all="ignore"):  # a slice of only −inf has logsumexp log 0 = −inf
        s = B.log(B.sum(B.exp(x.data - m), axis=axes, keepdims=True)) + m
    out = s if keep else B.reshape(s, tuple(n for i, n in enumerate(x.shape) if i not in axes))
    return record(out, _logsumexp_vjp, (x,), (kept,))


@defvjp(logsumexp, methods=("logsumexp",), shows="∂/∂z = softmax(z)")
def _logsumexp_vjp(xp, ctx, g, out, x):
    # ∂/∂x_i log Σ e^x = e^{x_i} / Σ e^x = softmax(x)_i = exp(x_i − out).
    out_k = _kept(xp, out, ctx)
    return (_kept(xp, g, ctx) * xp.exp(x - out_k),)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
    """Index of the largest element (flattened when axis is None); not differentiable."""
    return _arg("argmax", B.argmax, x, axis_arg(axis, dim), keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
    """Index of the smallest element (flattened when axis is None); not differentiable."""
    return _arg("argmin", B.argmin, x, axis_arg(axis, dim), keepdims)


def _arg(name: str, f, x: Any, axis: Any, keepdims: bool) -> Tensor:
    x = as_tensor(x)
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, name)
        if x.ndim == 0:
            axis = None  # the only element of a 0-d tensor: index 0
    if x.data.size == 0 and (axis is None or x.shape[axis] == 0):
        raise ValueError(f"{name}(): a tensor of shape {x.shape} has no elements along "
                         f"{'any axis' if axis is None else f'axis {axis}'} to choose from")
    return Tensor(f(x.data, axis=axis, keepdims=keepdims and axis is not None))


nondifferentiable(argmax, xp=("argmax",), methods=("argmax",))
nondifferentiable(argmin, xp=("argmin",), methods=("argmin",))
