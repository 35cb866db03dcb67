"""``square``: the most common power, as one op with its own rule (``pow`` itself, for any
exponent, is in ``elementwise.py``)."""
from __future__ import annotations

from typing import Any

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor

__all__ = ["square"]


def square(x: Any) -> Tensor:
    """x², element-wise. Backward: (x²)' = 2x, without the general power rule's logarithm and
    its special cases."""
    x = as_tensor(x)
    return record(B.square(x.data), _square_vjp, (x,))


@defvjp(square, reads="inputs", xp=("square",), methods=("square",), shows="f' = 2x")
def _square_vjp(xp, ctx, g, out, x):
    d = x * 2  # a fresh array, so the product is taken in place
    d *= g
    return (d,)
