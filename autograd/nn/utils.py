"""Gradient utilities (``nn.utils``): clipping by global norm and by value, in place."""
from __future__ import annotations

import math
from collections.abc import Iterable

from .. import backend as B
from ..state import require
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]

_Params = Tensor | Iterable[Tensor]


def _grads(parameters: _Params) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(a, p: float):
    """The p-norm of ``a`` (flattened), as a 0-d array of its dtype."""
    a = B.abs(B.reshape(a, (-1,)))
    if p == math.inf:
        return B.max(a) if a.size else B.zeros((), dtype=a.dtype)
    if p == 0:
        return B.astype(B.sum(a != 0), a.dtype)
    if p == 2:
        return B.sqrt(B.vecdot(a, a))
    return B.sum(a**p) ** (1.0 / p)


def clip_grad_norm_(parameters: _Params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their global norm is at most ``max_norm``.

    The global norm is the ``norm_type``-norm of the vector of the per-parameter gradient norms
    (which equals the norm of all gradients concatenated). Every gradient is multiplied by
    min(1, max_norm / (total_norm + 1e-6)), computed in the gradients' dtype as PyTorch does.
    Returns the total norm before clipping, as a 0-d Tensor; raises on a non-finite norm if
    ``error_if_nonfinite``. (Array arithmetic only, so that a compiled step can replay it.)
    """
    grads = _grads(parameters)
    p = float(norm_type)
    if not grads:
        return Tensor(B.asarray(0.0, dtype=B.float32))
    dtype = B.result_type(*[g.dtype for g in grads])
    norms = B.stack([_vector_norm(g.data.astype(dtype, copy=False), p) for g in grads])
    total = _vector_norm(norms, p)
    if error_if_nonfinite:
        require(B.isfinite(total), lambda total: RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total}; pass error_if_nonfinite=False to clip anyway"), total)
    coef = B.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g.data *= coef
        g._written()
    return Tensor(total)


def clip_grad_value_(parameters: _Params, clip_value: float) -> None:
    """Clamp every gradient entry into [−clip_value, clip_value], in place."""
    c = float(clip_value)
    for g in _grads(parameters):
        B.clip(g.data, -c, c, out=g.data)
        g._written()
