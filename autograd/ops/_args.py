"""Argument handling shared by the ops: ``axis``/``dim``, shapes given as ``f(2, 3)`` or
``f((2, 3))``, and dtype promotion."""
from __future__ import annotations

from typing import Any

from .. import backend as B


def axis_arg(axis: Any, dim: Any, default: Any = None) -> Any:
    """The axis argument: NumPy's ``axis``, or PyTorch's ``dim`` when that was given instead
    (giving both is an error); ``default`` when neither was."""
    if dim is not None:
        if axis is not None and axis != default:
            raise TypeError("give axis or dim, not both")
        return dim
    return default if axis is None else axis


def shape_arg(shape: tuple) -> tuple:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``, as PyTorch and NumPy do."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def normalize_axis(axis: int, ndim: int, op: str) -> int:
    """``axis`` as a non-negative int below ``ndim``, or an error naming ``op`` and the bad axis.
    A 0-d tensor accepts axis 0 and −1, as PyTorch's does (both mean "the tensor itself")."""
    a = int(axis)
    if not -max(ndim, 1) <= a < max(ndim, 1):
        raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
    return a % ndim if ndim else 0


def broadcast_shape(*shapes: tuple) -> tuple | None:
    """The shape NumPy's broadcasting gives ``shapes``, or None when they do not broadcast."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(ndim):
        n = 1
        for s in shapes:
            d = s[k - ndim + len(s)] if k - ndim + len(s) >= 0 else 1
            if d != 1:
                if n not in (1, d):
                    return None
                n = d
        out.append(n)
    return tuple(out)


# ----------------------------------------------------------------------------- dtypes
# PyTorch's promotion, which keeps float32 where NumPy's would give float64 (README, "dtype"):
# an integer or bool operand takes the floating operand's dtype; between floating operands a
# tensor with axes decides over a 0-d one; functions defined on real numbers (exp, log, /, ...)
# give the default float32 for integer input.
def promote(da: Any, db: Any) -> tuple:
    """The arrays of two operands, cast as PyTorch would before a binary op (only called when
    their dtypes differ)."""
    fa, fb = da.dtype.kind in "fc", db.dtype.kind in "fc"
    if fa != fb:  # a floating operand with an integer or bool one: the floating dtype
        return (da, db.astype(da.dtype)) if fa else (da.astype(db.dtype), db)
    if fa and (da.ndim == 0) != (db.ndim == 0):  # floats: the tensor with axes decides
        return (da, db.astype(da.dtype)) if da.ndim else (da.astype(db.dtype), db)
    return da, db


def floating(d: Any) -> Any:
    """``d`` itself if it is floating, else as the default float32 (for exp, log, sqrt, ...)."""
    return d if d.dtype.kind in "fc" else d.astype(B.float32)
