"""Running reductions along an axis: ``cumsum``."""
from __future__ import annotations

from typing import Any

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor
from ._args import axis_arg, normalize_axis

__all__ = ["cumsum"]


def cumsum(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Running sums along ``axis``: y_i = Σ_{j ≤ i} x_j (PyTorch's ``cumsum``; the axis is
    required, as there). A 0-d tensor is its own running sum.

    Backward: x_j contributes to every y_i with i ≥ j, so ∂L/∂x_j = Σ_{i ≥ j} g_i, the running
    sum of the gradient taken from the far end: reverse, cumsum, reverse.
    """
    x = as_tensor(x)
    ax = axis_arg(axis, dim)
    if ax is None:
        raise TypeError("cumsum() needs the axis to sum along (axis= or dim=)")
    if x.ndim == 0:
        normalize_axis(ax, 1, "cumsum")  # a 0-d tensor accepts axis 0 or −1, as in PyTorch
        return record(B.asarray(x.data, copy=True), _cumsum_vjp, (x,), None)
    ax = normalize_axis(ax, x.ndim, "cumsum")
    return record(B.cumulative_sum(x.data, axis=ax), _cumsum_vjp, (x,), ax)


@defvjp(cumsum, reads="nothing", xp=("cumulative_sum",), methods=("cumsum",),
        shows="∂x_j = Σ_{i≥j} G_i")
def _cumsum_vjp(xp, ctx, g, out, x):
    ax = ctx.saved
    if ax is None:  # the 0-d case: the identity
        return (g,)
    backwards = (slice(None),) * ax + (slice(None, None, -1),)
    return (xp.getitem(xp.cumulative_sum(xp.getitem(g, backwards), axis=ax), backwards),)
