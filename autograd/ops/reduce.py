"""Reductions: sum, mean, max/min, var/std, logsumexp, argmax/argmin.

Every reduction takes ``axis`` (NumPy's word; ``dim`` is accepted as an alias), which may be
None, an int, negative, or a tuple, and ``keepdims`` (``keepdim`` accepted). A reduction's
backward first gives the incoming gradient back the reduced axes as size-1 axes (``_kept``),
then spreads it over the input.
"""
from __future__ import annotations

import builtins
from typing import Any, Optional

from .. import backend as B
from ..engine import reads, record
from ..tensor import Tensor
from .elementwise import _t


def resolve_axis(axis: Any, dim: Any) -> Any:
    """``axis``, or PyTorch's ``dim`` when that was given instead."""
    if dim is not None:
        if axis is not None:
            raise TypeError("give axis or dim, not both")
        return dim
    return axis


def _norm_axes(axis: Any, ndim: int) -> tuple:
    """``axis`` as a sorted tuple of non-negative ints (all axes for None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis} repeats an axis")
    return tuple(sorted(out))


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    """``shape`` with the reduced ``axes`` as 1s: where keepdims=True would leave them."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _kept(xp, g, node):
    """The output gradient reshaped to keepdims form, so it broadcasts against the input."""
    kept = node.saved[0]
    return g if g.shape == kept else xp.reshape(g, kept)


def _reduce_args(x: Any, axis: Any, dim: Any, keepdims: Any, keepdim: Any):
    x = _t(x)
    axes = _norm_axes(resolve_axis(axis, dim), x.ndim)
    keep = bool(keepdims or keepdim)
    return x, axes, keep, _kept_shape(x.shape, axes)


def sum(  # noqa: A001
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Optional[bool] = None
) -> Tensor:
    """Σ x over ``axis`` (all axes by default)."""
    x, axes, keep, kept = _reduce_args(x, axis, dim, keepdims, keepdim)
    return record(B.sum(x.data, axis=axes, keepdims=keep), "sum", (x,), _sum_vjp, (kept,))


@reads(inputs=False, output=False)
def _sum_vjp(xp, node, g, out, x):
    # ∂(Σ x)/∂x_i = 1: every summed element receives the output's gradient.
    return (xp.broadcast_to(_kept(xp, g, node), x.shape),)


def mean(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Optional[bool] = None
) -> Tensor:
    """The mean of x over ``axis``."""
    x, axes, keep, kept = _reduce_args(x, axis, dim, keepdims, keepdim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    if n:
        out = B.mean(x.data, axis=axes, keepdims=keep)
    else:  # the mean of nothing is NaN (0/0), silently, as in PyTorch
        with B.errstate(invalid="ignore"):
            out = B.sum(x.data, axis=axes, keepdims=keep) / n
    return record(out, "mean", (x,), _mean_vjp, (kept, n))


@reads(inputs=False, output=False)
def _mean_vjp(xp, node, g, out, x):
    n = node.saved[1]
    return (xp.broadcast_to(_kept(xp, g, node) / n, x.shape),)


def _extreme(name: str, f, x, axis, dim, keepdims, keepdim) -> Tensor:
    x, axes, keep, kept = _reduce_args(x, axis, dim, keepdims, keepdim)
    if x.data.size == 0:
        raise ValueError(f"{name}() of an empty tensor of shape {x.shape}")
    return record(f(x.data, axis=axes, keepdims=keep), name, (x,), _extreme_vjp, (kept, axes))


def max(  # noqa: A001
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Optional[bool] = None
) -> Tensor:
    """The largest element over ``axis``. Ties share the gradient evenly (documented choice:
    the result is symmetric in the tied inputs, as PyTorch's full reduction is)."""
    return _extreme("max", B.amax, x, axis, dim, keepdims, keepdim)


def min(  # noqa: A001
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Optional[bool] = None
) -> Tensor:
    """The smallest element over ``axis``; ties share the gradient evenly."""
    return _extreme("min", B.amin, x, axis, dim, keepdims, keepdim)


def _extreme_vjp(xp, node, g, out, x):
    # The derivative of max is the indicator of the arg-max; with k tied winners each gets 1/k.
    out_k = _kept(xp, out, node)
    winners = x == out_k
    if B.isnan(out.data if isinstance(out, Tensor) else out).any():  # NaN wins, as in PyTorch
        winners = winners | (xp.isnan(x) & xp.isnan(out_k))
    count = xp.astype(xp.sum(winners, axis=node.saved[1], keepdims=True), x.dtype)
    return (xp.where(winners, _kept(xp, g, node) / count, 0),)


def _spread_args(x, axis, dim, keepdims, keepdim, correction, ddof, unbiased):
    """var/std's arguments, plus the divisor N − correction (PyTorch's ``correction``, default 1;
    NumPy's ``ddof``; PyTorch's older ``unbiased``)."""
    x, axes, keep, kept = _reduce_args(x, axis, dim, keepdims, keepdim)
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
    correction: Optional[float] = None,
    ddof: Optional[float] = None,
    unbiased: Optional[bool] = None,
    dim: Any = None,
    keepdim: Optional[bool] = None,
) -> Tensor:
    """Variance over ``axis``: Σ (x − mean)² / (N − correction).

    ``correction`` defaults to 1 (the unbiased estimate), as in PyTorch; NumPy's ``ddof=`` and
    PyTorch's older ``unbiased=`` are accepted. Built from differentiable ops, so every order of
    derivative follows from theirs.
    """
    x, axes, keep, _, denom = _spread_args(x, axis, dim, keepdims, keepdim, correction, ddof, unbiased)
    d = x - mean(x, axis=axes, keepdims=True)
    return sum(d * d, axis=axes, keepdims=keep) / denom


def std(
    x: Any,
    axis: Any = None,
    keepdims: bool = False,
    *,
    correction: Optional[float] = None,
    ddof: Optional[float] = None,
    unbiased: Optional[bool] = None,
    dim: Any = None,
    keepdim: Optional[bool] = None,
) -> Tensor:
    """Standard deviation s = √var (same arguments as :func:`var`).

    Backward: ∂s/∂x_i = (x_i − mean) / ((N − correction) s); the mean's own dependence on x_i
    cancels because the deviations sum to zero. Where s = 0 (a constant slice) the gradient is
    taken as 0, as PyTorch does, instead of the 0/0 that √ composed with var would give.
    """
    x, axes, keep, kept, denom = _spread_args(x, axis, dim, keepdims, keepdim, correction, ddof, unbiased)
    d = x.data - B.mean(x.data, axis=axes, keepdims=True)
    out = B.sqrt(B.sum(d * d, axis=axes, keepdims=keep) / denom)
    return record(out, "std", (x,), _std_vjp, (kept, axes, denom))


def _std_vjp(xp, node, g, out, x):
    _, axes, denom = node.saved
    s = _kept(xp, out, node)
    zero = s == 0
    d = x - xp.mean(x, axis=axes, keepdims=True)
    return (xp.where(zero, 0, _kept(xp, g, node) * d / (xp.where(zero, 1, s) * denom)),)


def logsumexp(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Optional[bool] = None
) -> Tensor:
    """log Σ exp(x) over ``axis``, computed as m + log Σ exp(x − m) with m the max, so large
    inputs neither overflow nor lose precision."""
    x, axes, keep, kept = _reduce_args(x, axis, dim, keepdims, keepdim)
    m = B.amax(x.data, axis=axes, keepdims=True)
    m = B.where(B.isfinite(m), m, 0)
    with B.errstate(divide="ignore"):  # a slice of only −inf has logsumexp log 0 = −inf
        s = B.log(B.sum(B.exp(x.data - m), axis=axes, keepdims=True)) + m
    out = s if keep else B.reshape(s, tuple(n for i, n in enumerate(x.shape) if i not in axes))
    return record(out, "logsumexp", (x,), _logsumexp_vjp, (kept,))


def _logsumexp_vjp(xp, node, g, out, x):
    # ∂/∂x_i log Σ e^x = e^{x_i} / Σ e^x = softmax(x)_i = exp(x_i − out).
    out_k = _kept(xp, out, node)
    return (_kept(xp, g, node) * xp.exp(x - out_k),)


def argmax(x: Any, axis: Optional[int] = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
    """Index of the largest element (flattened when axis is None); not differentiable."""
    x = _t(x)
    return Tensor(B.argmax(x.data, axis=resolve_axis(axis, dim), keepdims=keepdims))


def argmin(x: Any, axis: Optional[int] = None, keepdims: bool = False, *, dim: Any = None) -> Tensor:
    """Index of the smallest element (flattened when axis is None); not differentiable."""
    x = _t(x)
    return Tensor(B.argmin(x.data, axis=resolve_axis(axis, dim), keepdims=keepdims))


