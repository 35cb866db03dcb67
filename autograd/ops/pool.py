"""Pooling: ``max_pool1d``/``max_pool2d``, ``avg_pool1d``/``avg_pool2d``, ``adaptive_avg_pool2d``.

Each pools every (N, C) plane of an (N, C, *spatial) input (or an unbatched (C, *spatial) one)
over sliding windows. The forward passes read the windows as kernel-offset-many strided slices of
the (padded) input, one slice per offset, and combine them element-wise (a running maximum, a
running sum), never copying the windows out. Each backward rule hands every window's gradient to
the window's elements and adds the pieces back with ``col2im``, the adjoint of the window copy (an
assignment when the windows tile the input, as a 2×2 pool with stride 2 does).
"""
from __future__ import annotations

from typing import Any

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor
from ._windows import geometry, integer, layout, ntuple, offsets
from .conv import _prod

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d"]


def _pool_args(op: str, d: int, x: Any, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any, ceil_mode: bool):
    x = as_tensor(x)
    if x.ndim not in (d + 1, d + 2):
        raise ValueError(f"{op}: expected an input of shape {layout(d)} (or unbatched "
                         f"{layout(d, 'C')}); got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point; got dtype {x.dtype}")
    if ceil_mode:
        raise NotImplementedError(f"{op}: ceil_mode=True is not supported (windows are counted "
                                  f"as with ceil_mode=False)")
    kernel = ntuple(kernel_size, d, "kernel_size", op)
    stride = kernel if stride is None or stride == [] else ntuple(stride, d, "stride", op)
    dilation = ntuple(dilation, d, "dilation", op)
    pad = ntuple(padding, d, "padding", op, minimum=0)
    if any(p > k // 2 for p, k in zip(pad, kernel)):
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size "
                         f"{kernel_size} along each axis (as in PyTorch)")
    geo = geometry(op, x.shape[-d:], kernel, stride, tuple((p, p) for p in pad), dilation)
    return x, geo


def _padded(a, geo, fill):
    """``a`` with its trailing spatial axes padded by ``fill`` (a copy only when there is padding)."""
    d = len(geo.kernel)
    if not any(lo or hi for lo, hi in geo.padding):
        return a
    shape = a.shape[:-d] + tuple(s + lo + hi for s, (lo, hi) in zip(a.shape[-d:], geo.padding))
    out = B.full(shape, fill, dtype=a.dtype)
    out[(...,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(a.shape[-d:], geo.padding))] = a
    return out


def _spread(xp, pieces, geo, x_shape):
    """Gradient pieces per kernel offset, (Πkernel, *lead, *out), added back into an input of
    ``x_shape`` (*lead, *spatial) with col2im (each plane pooled on its own: one channel)."""
    d = len(geo.kernel)
    planes = _prod(x_shape[:-d])
    cols = xp.reshape(pieces, (1,) + geo.kernel + (planes,) + geo.out)
    gx = xp.col2im(cols, (planes, 1) + tuple(x_shape[-d:]), *geo.args)
    return xp.reshape(gx, x_shape)


# ----------------------------------------------------------------------------- max
def _max_pool(op, name: str, d: int, x: Any, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool, return_indices: bool) -> Tensor:
    if return_indices:
        raise NotImplementedError(f"{name}: return_indices=True is not supported")
    x, geo = _pool_args(name, d, x, kernel_size, stride, padding, dilation, ceil_mode)
    src = _padded(x.data, geo, float("-inf"))
    index = B.int8 if _prod(geo.kernel) < 128 else B.int32
    best: Any = None  # arrays from the first window on (there is always one)
    arg: Any = None
    for k, window in enumerate(offsets(geo)):
        s = src[(Ellipsis,) + window]
        if best is None:
            best = B.asarray(s, copy=True)
            arg = B.zeros(best.shape, dtype=index)
            continue
        # The first maximum of a window wins (a later tie does not replace it), so one element
        # per window receives the gradient; maximum() propagates NaN, as PyTorch does. Offsets
        # come in increasing order, so "offset k if s is larger, else the earlier winner" is
        # max(arg, k·[s > best]): arithmetic, which NumPy runs far faster than where().
        arg = B.maximum(arg, (s > best) * B.asarray(k, dtype=index))
        best = B.maximum(best, s)
    which = B.reshape(B.arange(_prod(geo.kernel), dtype=index), (-1,) + (1,) * arg.ndim)
    return record(best, op, (x,), (geo, arg, which))


def max_pool1d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """The largest element of each window of x (N, C, L) (see :func:`max_pool2d`)."""
    return _max_pool(_max_pool1d_vjp, "max_pool1d", 1, x, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """The largest element of each kernel_size window of x (N, C, H, W), windows ``stride``
    apart (default: ``kernel_size``, so they do not overlap), over the input padded with −inf
    (``padding`` at most half the kernel), elements ``dilation`` apart.

    Backward: max is piecewise the identity on the winning element, so each window's gradient
    goes to the element that won it. On ties the first winner in row-major order takes all of
    it (one element per window, as PyTorch), so a sum of gradients is never counted twice; an
    element that wins several overlapping windows collects each of theirs.
    """
    return _max_pool(_max_pool2d_vjp, "max_pool2d", 2, x, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def _max_pool_vjp(xp, ctx, g, out, x):
    geo, arg, which = ctx.saved
    # G times the one-hot of each window's winner, one slice per kernel offset (a product rather
    # than where(), which NumPy runs ~6x slower on such a mask; equal for any finite G).
    return (_spread(xp, g * (arg == which), geo, x.shape),)


_MAX_SHOWS = "∂x = G at each window's arg-max"
_max_pool1d_vjp = defvjp(max_pool1d, reads="nothing", shows=_MAX_SHOWS)(_max_pool_vjp)
_max_pool2d_vjp = defvjp(max_pool2d, reads="nothing", shows=_MAX_SHOWS)(_max_pool_vjp)


# ----------------------------------------------------------------------------- average
def _divisor_counts(geo, spatial: tuple):
    """How many real (not padding) elements each window holds, as an array of shape ``out``."""
    per_axis = []
    for s, k, st, (lo, _), o in zip(spatial, geo.kernel, geo.stride, geo.padding, geo.out):
        starts = B.arange(o) * st - lo
        per_axis.append(B.minimum(starts + k, s) - B.maximum(starts, 0))
    counts = per_axis[0]
    for c in per_axis[1:]:
        counts = B.reshape(counts, counts.shape + (1,)) * c
    return counts


def _avg_pool(op, name: str, d: int, x: Any, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: int | None) -> Tensor:
    x, geo = _pool_args(name, d, x, kernel_size, stride, padding, 1, ceil_mode)
    k = _prod(geo.kernel)
    if divisor_override is not None:
        if not integer(divisor_override) or divisor_override < 1:
            raise ValueError(f"{name}: divisor_override must be a positive int; got {divisor_override!r}")
        scale: Any = 1.0 / divisor_override
    elif count_include_pad or not any(lo for lo, _ in geo.padding):
        scale = 1.0 / k
    else:  # the mean of the real elements of each window
        scale = B.astype(1.0 / _divisor_counts(geo, x.shape[-d:]), x.dtype)
    src = _padded(x.data, geo, 0)
    # Each slice is scaled by 1/k before it is added, so that a sum of huge values cannot overflow.
    acc = None
    for window in offsets(geo):
        part = src[(Ellipsis,) + window] * (1.0 / k)
        if acc is None:
            acc = part
        else:
            acc += part
    if not (isinstance(scale, float) and scale == 1.0 / k):
        acc *= scale * k
    return record(acc, op, (x,), (geo, scale))


def avg_pool1d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """The mean of each window of x (N, C, L) (see :func:`avg_pool2d`)."""
    return _avg_pool(_avg_pool1d_vjp, "avg_pool1d", 1, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """The mean of each kernel_size window of x (N, C, H, W), windows ``stride`` apart (default
    ``kernel_size``), over the input zero-padded by ``padding``. As in PyTorch the padding
    counts in the divisor (kH·kW) unless ``count_include_pad=False``; ``divisor_override``
    replaces the divisor.

    Backward: each window's mean gives each of its elements 1/divisor of the window's gradient;
    col2im adds these shares up where windows overlap.
    """
    return _avg_pool(_avg_pool2d_vjp, "avg_pool2d", 2, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _avg_pool_vjp(xp, ctx, g, out, x):
    geo, scale = ctx.saved
    share = g * scale
    pieces = xp.broadcast_to(share, (_prod(geo.kernel),) + tuple(share.shape))
    return (_spread(xp, pieces, geo, x.shape),)


_AVG_SHOWS = "∂x = col2im(G / divisor)"
_avg_pool1d_vjp = defvjp(avg_pool1d, reads="nothing", shows=_AVG_SHOWS)(_avg_pool_vjp)
_avg_pool2d_vjp = defvjp(avg_pool2d, reads="nothing", shows=_AVG_SHOWS)(_avg_pool_vjp)


# ----------------------------------------------------------------------------- adaptive
def _averaging(n_in: int, n_out: int, dtype):
    """The (n_out, n_in) matrix of PyTorch's adaptive windows along one axis: row i averages
    elements ⌊i·n_in/n_out⌋ .. ⌈(i+1)·n_in/n_out⌉ − 1."""
    i = B.arange(n_out)
    start = (i * n_in) // n_out
    stop = -((-(i + 1) * n_in) // n_out)
    j = B.arange(n_in)
    inside = (j >= B.reshape(start, (-1, 1))) & (j < B.reshape(stop, (-1, 1)))
    return B.astype(inside, dtype) / B.astype(B.reshape(stop - start, (-1, 1)), dtype)


def _rows(xp, a, m):
    """a·mᵀ over the last axis of ``a``: one matrix product for the whole batch."""
    flat = xp.reshape(a, (-1, a.shape[-1]))
    return xp.reshape(xp.matmul(flat, xp.matrix_transpose(m)), tuple(a.shape[:-1]) + (m.shape[0],))


def adaptive_avg_pool2d(x: Any, output_size: Any) -> Tensor:
    """Average-pool x (N, C, H, W) to ``output_size`` (an int, or a pair whose ``None`` keeps that
    size) with PyTorch's adaptive windows: output row i averages input rows
    ⌊i·H/H_out⌋ .. ⌈(i+1)·H/H_out⌉ − 1, likewise columns.

    The windows are rectangles, so the pooling is separable: y = A_h·x·A_wᵀ per plane, with
    A_h (H_out, H) and A_w (W_out, W) the averaging matrices of each axis. Backward:
    ∂x = A_hᵀ·G·A_w.
    """
    name = "adaptive_avg_pool2d"
    x = as_tensor(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected an input of shape {layout(2)} (or unbatched "
                         f"{layout(2, 'C')}); got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point; got dtype {x.dtype}")
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise ValueError(f"{name}: output_size must be an int or a pair; got {output_size!r}")
    sizes = tuple(x.shape[-2 + i] if s is None else s for i, s in enumerate(sizes))
    ntuple(sizes, 2, "output_size", name)
    if any(s > n for s, n in zip(sizes, x.shape[-2:])):
        raise ValueError(f"{name}: output_size {sizes} is larger than the input's {x.shape[-2:]}")
    a_h = _averaging(x.shape[-2], sizes[0], x.dtype)
    a_w = _averaging(x.shape[-1], sizes[1], x.dtype)
    out = _separable(B, x.data, a_h, a_w)
    return record(out, _adaptive_avg_pool2d_vjp, (x,), (a_h, a_w))


def _separable(xp, a, rows, cols):
    """rows·a·colsᵀ over the last two axes of ``a``."""
    t = _rows(xp, a, cols)  # (..., H, W_out)
    return xp.matrix_transpose(_rows(xp, xp.matrix_transpose(t), rows))


@defvjp(adaptive_avg_pool2d, reads="nothing", shows="∂x = A_h^T·G·A_w")
def _adaptive_avg_pool2d_vjp(xp, ctx, g, out, x):
    a_h, a_w = ctx.saved
    return (_separable(xp, g, a_h.T, a_w.T),)
