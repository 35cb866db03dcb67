"""Matrix multiplication."""
from __future__ import annotations

from typing import Any

from .. import backend as B
from ..engine import record
from ..tensor import Tensor, lift


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b with NumPy's rules: 1-d operands are vectors, leading axes broadcast as batches."""
    if not isinstance(a, Tensor):
        a = lift(a, b)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension; got shapes {a.shape} and {b.shape}")
    try:
        out = B.matmul(a.data, b.data)
    except ValueError:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned (inner sizes "
            f"{a.shape[-1]} and {b.shape[-2] if b.ndim > 1 else b.shape[0]} differ, or the batch "
            f"shapes do not broadcast)"
        ) from None
    return record(out, "matmul", (a, b), _matmul_vjp)


def rmatmul(a: Any, b: Any) -> Tensor:
    return matmul(b, a)


def _matmul_vjp(xp, node, g, out, a, b):
    # For C = A B: dA = dC Bᵀ and dB = Aᵀ dC. A 1-d operand is a row (left) or column (right)
    # vector whose added axis the forward dropped, so the rule puts it back around the product;
    # batch axes the forward broadcast are summed by the engine.
    need_a, need_b = node.inputs[0].requires_grad, node.inputs[1].requires_grad
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:
        ga = g * b if need_a else None
        gb = g * a if need_b else None
    elif a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
        if need_a:
            ga = xp.squeeze(xp.matmul(xp.expand_dims(g, -2), xp.swapaxes(b, -1, -2)), -2)
        if need_b:
            gb = xp.matmul(xp.expand_dims(a, -1), xp.expand_dims(g, -2))
    elif b.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
        if need_a:
            ga = xp.matmul(xp.expand_dims(g, -1), xp.expand_dims(b, -2))
        if need_b:
            gb = xp.squeeze(xp.matmul(xp.swapaxes(a, -1, -2), xp.expand_dims(g, -1)), -1)
    else:
        if need_a:
            ga = xp.matmul(g, xp.swapaxes(b, -1, -2))
        if need_b:
            gb = xp.matmul(xp.swapaxes(a, -1, -2), g)
    return ga, gb
