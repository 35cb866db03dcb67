"""Matrix multiplication, and the affine map of a linear layer."""
from __future__ import annotations

from typing import Any

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, lift
from ._args import promote

__all__ = ["matmul"]


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b with NumPy's rules: 1-d operands are vectors, leading axes broadcast as batches."""
    if not isinstance(a, Tensor):
        a = lift(a, b)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension; got shapes {a.shape} and {b.shape}")
    da, db = a.data, b.data
    if da.dtype is not db.dtype:
        da, db = promote(da, db)
    try:
        out = B.matmul(da, db)
    except ValueError:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned (inner sizes "
            f"{a.shape[-1]} and {b.shape[-2] if b.ndim > 1 else b.shape[0]} differ, or the batch "
            f"shapes do not broadcast)"
        ) from None
    return record(out, _matmul_vjp, (a, b))


@defvjp(matmul, reads="inputs", xp=("matmul",), methods=("__matmul__", "matmul"),
        reflected=("__rmatmul__",), shows="∂A = G·B^T,  ∂B = A^T·G")
def _matmul_vjp(xp, ctx, g, out, a, b):
    # For C = A B: dA = dC Bᵀ and dB = Aᵀ dC. A 1-d operand is a row (left) or column (right)
    # vector whose added axis the forward dropped, so the rule puts it back around the product;
    # batch axes the forward broadcast are summed by the engine.
    need_a, need_b = ctx.needs
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:
        ga = g * b if need_a else None
        gb = g * a if need_b else None
    elif a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
        if need_a:
            ga = xp.squeeze(xp.matmul(xp.expand_dims(g, -2), xp.matrix_transpose(b)), -2)
        if need_b:
            gb = xp.matmul(xp.expand_dims(a, -1), xp.expand_dims(g, -2))
    elif b.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
        if need_a:
            ga = xp.matmul(xp.expand_dims(g, -1), xp.expand_dims(b, -2))
        if need_b:
            gb = xp.squeeze(xp.matmul(xp.matrix_transpose(a), xp.expand_dims(g, -1)), -1)
    else:
        if need_a:
            ga = xp.matmul(g, xp.matrix_transpose(b))
        if need_b:
            gb = xp.matmul(xp.matrix_transpose(a), g)
    return ga, gb


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x Wᵀ + b over the last axis of x (PyTorch's ``F.linear``; W has shape (out, in)).

    One op instead of a transpose, a matmul and an add: the bias is added in place into the
    product's fresh buffer, so a layer makes one output array instead of two, and backward has
    one node to run.
    """
    x = x if isinstance(x, Tensor) else lift(x, weight)
    weight = weight if isinstance(weight, Tensor) else lift(weight, x)
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit a weight of shape {weight.shape} "
            f"(out_features, in_features)"
        )
    xd, wd = x.data, weight.data
    if xd.dtype is not wd.dtype:
        xd, wd = promote(xd, wd)
    out = B.matmul(xd, B.matrix_transpose(wd))
    if bias is None:
        return record(out, _linear_vjp, (x, weight))
    bias = bias if isinstance(bias, Tensor) else lift(bias, x)
    if bias.shape not in ((weight.shape[0],), ()):
        raise ValueError(f"linear: bias of shape {bias.shape} for {weight.shape[0]} outputs")
    if out.dtype == B.result_type(out, bias.data):
        out += bias.data
    else:
        out = out + bias.data
    return record(out, _linear_vjp, (x, weight, bias))


@defvjp(linear, reads="inputs", shows="∂x = G·W,  ∂W = G^T·x,  ∂b = Σ G")
def _linear_vjp(xp, ctx, g, out, x, w, b=None):
    # y = x Wᵀ + b: dx = g W, dW = gᵀ x summed over every batch axis, db = g (the engine sums
    # it over the batch axes, as for any broadcast add).
    needs = ctx.needs
    gx = xp.matmul(g, w) if needs[0] else None
    gw = None
    if needs[1]:
        g2 = xp.reshape(g, (-1, w.shape[0]))
        x2 = xp.reshape(x, (-1, w.shape[1]))
        gw = xp.matmul(xp.matrix_transpose(g2), x2)
    if b is None:
        return gx, gw
    return gx, gw, (g if needs[2] else None)
