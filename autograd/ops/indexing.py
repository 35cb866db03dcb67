"""Ops that keep some elements of a tensor and replace the others: ``tril``, ``triu`` (by
position relative to a diagonal) and ``masked_fill`` (by a boolean mask).

Each output element is either an input element or a constant, so each backward rule passes the
gradient through where the input was kept and gives zeros where it was replaced.
"""
from __future__ import annotations

import math
from typing import Any

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor
from ._args import broadcast_shape

__all__ = ["tril", "triu", "masked_fill"]


def _matrix(op: str, x: Any) -> Tensor:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: needs a tensor with at least 2 dimensions (a matrix or a batch of "
                         f"them); got shape {x.shape}")
    return x


def tril(x: Any, diagonal: int = 0, *, k: int | None = None) -> Tensor:
    """The lower triangle of the last two axes: x[..., i, j] where j − i ≤ ``diagonal``, else 0
    (``diagonal`` > 0 keeps diagonals above the main one, < 0 drops more; ``k`` is the array
    API's name for it). Backward: the same triangle of the gradient, since the kept entries pass
    unchanged and the others are constants."""
    x = _matrix("tril", x)
    k = int(diagonal if k is None else k)
    return record(B.tril(x.data, k=k), _tril_vjp, (x,), k)


@defvjp(tril, reads="nothing", xp=("tril",), methods=("tril",), shows="∂x = tril(G)")
def _tril_vjp(xp, ctx, g, out, x):
    return (xp.tril(g, k=ctx.saved),)


def triu(x: Any, diagonal: int = 0, *, k: int | None = None) -> Tensor:
    """The upper triangle of the last two axes: x[..., i, j] where j − i ≥ ``diagonal``, else 0
    (``k``: the array API's name for ``diagonal``). Backward: the same triangle of the
    gradient."""
    x = _matrix("triu", x)
    k = int(diagonal if k is None else k)
    return record(B.triu(x.data, k=k), _triu_vjp, (x,), k)


@defvjp(triu, reads="nothing", xp=("triu",), methods=("triu",), shows="∂x = triu(G)")
def _triu_vjp(xp, ctx, g, out, x):
    return (xp.triu(g, k=ctx.saved),)


def masked_fill(x: Any, mask: Any, value: Any) -> Tensor:
    """``x`` with ``value`` wherever the boolean ``mask`` is True (PyTorch's ``masked_fill``).

    ``mask`` must broadcast to x's shape (the result has x's shape); ``value`` is a number or a
    0-d tensor, which then receives the sum of the gradient over the filled positions.
    Backward: x gets the gradient where the mask is False, zeros where it is True.
    """
    x = as_tensor(x)
    m = mask.data if isinstance(mask, Tensor) else B.asarray(mask)
    if m.dtype != B.bool:
        raise TypeError(f"masked_fill: the mask must be boolean, got dtype {m.dtype} (compare to "
                        f"build one, e.g. x > 0)")
    if broadcast_shape(m.shape, x.shape) != x.shape:
        raise ValueError(f"masked_fill: a mask of shape {m.shape} does not broadcast to the "
                         f"tensor's shape {x.shape}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got a tensor "
                             f"of shape {value.shape}")
        v = value.data.astype(x.dtype) if x.dtype.kind == "f" else value.data
        return record(B.where(m, v, x.data), _masked_fill_vjp, (x, value), m)
    if x.dtype.kind == "f" and isinstance(value, (int, float)) and math.isfinite(value):
        # A finite value too large for float32 becomes ±inf there, as the cast would give,
        # without NumPy's overflow warning.
        with B.errstate(over="ignore"):
            v = B.asarray(value, dtype=x.dtype)
    else:
        v = B.asarray(value, dtype=x.dtype)
    return record(B.where(m, v, x.data), _masked_fill_vjp, (x,), m)


@defvjp(masked_fill, reads="nothing", methods=("masked_fill",),
        shows="∂x = G·[¬mask],  ∂value = Σ G·[mask]")
def _masked_fill_vjp(xp, ctx, g, out, x, value=None):
    m = ctx.saved
    gx = xp.where(m, 0, g) if ctx.needs[0] else None
    if value is None:
        return (gx,)
    # The engine sums this output-shaped gradient down to the 0-d value.
    return gx, (xp.where(m, g, 0) if ctx.needs[1] else None)
