"""Padding: ``pad(x, pad, mode='constant', value=None)``, PyTorch's ``F.pad``.

``pad`` lists (before, after) amounts for the last axes, last axis first: (left, right) pads the
last axis, (left, right, top, bottom) the last two. Modes: ``'constant'`` (``value``, default 0;
negative amounts crop), ``'reflect'`` (mirror without repeating the edge: 2 1 | 0 1 2 3 | 2 1),
``'replicate'`` (repeat the edge: 0 0 | 0 1 2 3 | 3 3) and ``'circular'`` (wrap around:
2 3 | 0 1 2 3 | 0 1).

The three copying modes read every output element from one input element, so the forward is one
gather with an index array per padded axis, and its adjoint is the scatter-add of the gradient
through the same indices (an edge element read several times collects each of those gradients).
"""
from __future__ import annotations

from typing import Any
from collections.abc import Sequence

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor
from ._windows import integer

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _amounts(x: Tensor, pad: Sequence[int]) -> list:
    """(axis, before, after) for each axis ``pad`` names, from the last axis backwards."""
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or not all(integer(p) for p in pad):
        raise ValueError(f"pad: pad must be a tuple of ints of even length (before, after per "
                         f"axis, last axis first); got {pad!r}")
    pad = [int(p) for p in pad]
    if len(pad) > 2 * x.ndim:
        raise ValueError(f"pad: pad {tuple(pad)} names {len(pad) // 2} axes but the input of "
                         f"shape {x.shape} has {x.ndim}")
    return [(x.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]


def _source_index(mode: str, n: int, before: int, after: int):
    """For each padded position along an axis of size ``n``, the input position it copies."""
    i = B.arange(-before, n + after)
    if mode == "replicate":
        return B.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    period = 2 * (n - 1)  # reflect: 0 1 2 3 2 1 | 0 1 2 3 2 1 | ...
    j = i % period if period else i * 0
    return B.where(j < n, j, period - j)


def pad(x: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """``x`` padded by ``pad`` (see the module docstring); the result has the input's dtype.

    Backward: constant padding copies x into a block of the output, so the gradient is that
    block of G (zeros where negative amounts cropped x away). The other modes gather each output
    element from an input element through index arrays, so the gradient is G scatter-added back
    through them.
    """
    x = as_tensor(x)
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, _MODES))}; got {mode!r}")
    amounts = _amounts(x, pad)
    if mode == "constant":
        fill = 0 if value is None else value
        dst, src, shape = [slice(None)] * x.ndim, [slice(None)] * x.ndim, list(x.shape)
        for axis, lo, hi in amounts:
            n = x.shape[axis]
            shape[axis] = n + lo + hi
            if shape[axis] < 0:
                raise ValueError(f"pad: {lo} and {hi} would crop axis {axis} of size {n} below zero")
            src[axis] = slice(max(-lo, 0), n - max(-hi, 0))
            dst[axis] = slice(max(lo, 0), max(lo, 0) + max(n - max(-lo, 0) - max(-hi, 0), 0))
        out = B.full(tuple(shape), fill, dtype=x.dtype)
        out[tuple(dst)] = x.data[tuple(src)]
        full = all(s == slice(None) or (s.start == 0 and s.stop == n)
                   for s, n in zip(src, x.shape))
        return record(out, _pad_vjp, (x,), ("constant", tuple(dst), None if full else tuple(src)))
    if value not in (None, 0):
        raise ValueError(f"pad: value={value!r} applies only to mode='constant', not {mode!r}")
    first = min(axis for axis, _, _ in amounts) if amounts else x.ndim
    index = [slice(None)] * first
    ranges = {axis: (lo, hi) for axis, lo, hi in amounts}
    for axis in range(first, x.ndim):
        lo, hi = ranges.get(axis, (0, 0))
        n = x.shape[axis]
        if lo < 0 or hi < 0:
            raise ValueError(f"pad: mode {mode!r} needs amounts ≥ 0; got {tuple(pad)}")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) of axis {axis} must be smaller "
                             f"than its size {n}")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: circular padding ({lo}, {hi}) of axis {axis} must be at most "
                             f"its size {n}")
        if n == 0 and (lo or hi):
            raise ValueError(f"pad: cannot pad the empty axis {axis} in mode {mode!r}")
        # An open mesh: each index array along its own axis, broadcasting against the others.
        along = _source_index(mode, n, lo, hi)
        index.append(B.reshape(along, (-1,) + (1,) * (x.ndim - 1 - axis)))
    where = tuple(index)
    return record(x.data[where], _pad_vjp, (x,), (mode, where, None))


@defvjp(pad, reads="nothing", shows="∂x = G cropped (copied edges added back)")
def _pad_vjp(xp, ctx, g, out, x):
    mode, index, crop = ctx.saved
    if mode != "constant":
        return (xp.scatter_add(g, index, x.shape),)
    gx = xp.getitem(g, index)
    return (gx if crop is None else xp.scatter_add(gx, crop, x.shape),)
