"""Activation functions, each with the derivative it is known for.

The rules for sigmoid, tanh and softmax follow the derivations in ``docs/derivations.md``: each
derivative is written in terms of the activation's own output, which the forward pass has already
computed, so backward reuses it instead of recomputing anything. The cost those derivations start
from lives in ``loss.py``.

Forward forms are chosen so that no input overflows: exp only ever sees arguments ≤ 0, or the
work is done by NumPy's overflow-free ``logaddexp``.
"""
from __future__ import annotations

import math
from typing import Any

from .. import backend as B
from ..graph import Diagnose, defvjp, record
from ..tensor import Tensor, as_tensor
from ._args import axis_arg, floating

__all__ = [
    "sigmoid", "tanh", "softmax", "log_softmax", "relu", "leaky_relu", "elu", "gelu", "silu",
    "softplus",
]


def sigmoid(x: Any) -> Tensor:
    """σ(z) = e^z / (1 + e^z), the inverse of the logit ln(p / (1 − p)).

    Backward: by the quotient rule σ'(z) = e^z / (1 + e^z)² = p(1 − p) with p = σ(z)
    (docs/derivations.md, "Sigmoid"), so the rule is g · p · (1 − p) on the saved output p.
    """
    x = as_tensor(x)
    return record(B.sigmoid(floating(x.data)), _sigmoid_vjp, (x,))


@defvjp(sigmoid, reads="output", shows="σ' = p(1−p)", xp=("sigmoid",), methods=("sigmoid",),
        diagnose="saturation")
def _sigmoid_vjp(xp, ctx, g, p, x):
    # (1 − p) is a fresh array, so the in-place products reuse it instead of allocating two more
    # (on Tensors, under create_graph, `*=` simply records a new product).
    d = 1 - p
    d *= p
    d *= g
    return (d,)


def tanh(x: Any) -> Tensor:
    """tanh z = sinh z / cosh z.

    Backward: the quotient rule gives tanh'(z) = (cosh² z − sinh² z) / cosh² z = 1 − tanh² z
    (docs/derivations.md, "Hyperbolic tangent"), so the rule is g · (1 − y²) on the saved
    output y.
    """
    x = as_tensor(x)
    return record(B.tanh(floating(x.data)), _tanh_vjp, (x,))


@defvjp(tanh, reads="output", shows="tanh' = 1 − y²", xp=("tanh",), methods=("tanh",),
        diagnose="saturation")
def _tanh_vjp(xp, ctx, g, y, x):
    d = 1 - y * y  # a fresh array, so the product is taken in place (see _sigmoid_vjp)
    d *= g
    return (d,)


def softmax(x: Any, axis: int | None = -1, *, dim: int | None = None) -> Tensor:
    """p_k = e^{z_k} / Σ_j e^{z_j} along ``axis``: the generalisation of the sigmoid to K
    outcomes (with K = 2 and z₁ = 0 it is σ(z₂)). Computed on z − max z, so large logits do not
    overflow.

    Backward: ∂p_i/∂z_j = p_i (δ_ij − p_j), i.e. the Jacobian J = diag(p) − p pᵀ
    (docs/derivations.md, "Softmax"). The rule applies it as a product without forming the K×K
    matrix: (Jᵀ g)_j = p_j (g_j − Σ_i g_i p_i).
    """
    x = as_tensor(x)
    ax = _axis("softmax", x, axis, dim)
    z = floating(x.data)
    with B.errstate(all="ignore"):  # an infinite logit gives NaN (inf − inf), silently
        p = B.exp(z - B.max(z, axis=ax, keepdims=True))
        p /= B.sum(p, axis=ax, keepdims=True)  # in place: one array fewer
    return record(p, _softmax_vjp, (x,), ax)


def _axis(op: str, x: Tensor, axis: int | None, dim: int | None) -> int:
    ax = axis_arg(axis, dim, -1)
    if not -x.ndim <= ax < max(x.ndim, 1):
        raise ValueError(f"{op}: axis {ax} is out of range for a tensor of shape {x.shape}")
    return ax


def _softmax_diagonal(p):
    # The diagonal of J = diag(p) − ppᵀ, which the rule never forms: p_k(1 − p_k).
    return p * (1 - p)


@defvjp(softmax, reads="output", shows="J = diag(p) − p·p^T", methods=("softmax",),
        diagnose=Diagnose("saturation", _softmax_diagonal, "p(1−p)"))
def _softmax_vjp(xp, ctx, g, p, x):
    d = g - xp.sum(g * p, axis=ctx.saved, keepdims=True)  # a fresh array: scaled in place
    d *= p
    return (d,)


def log_softmax(x: Any, axis: int | None = -1, *, dim: int | None = None) -> Tensor:
    """log p_k = z_k − log Σ_j e^{z_j}, computed as (z − m) − log Σ e^{z − m} with m = max z.

    Backward: ∂ log p_i / ∂z_j = δ_ij − p_j, so the rule is g − p · Σ g with p = exp(output)
    (the softmax, recovered from the saved output).
    """
    x = as_tensor(x)
    ax = _axis("log_softmax", x, axis, dim)
    z = floating(x.data)
    with B.errstate(all="ignore"):  # as in softmax
        shifted = z - B.max(z, axis=ax, keepdims=True)
        out = shifted - B.log(B.sum(B.exp(shifted), axis=ax, keepdims=True))
    return record(out, _log_softmax_vjp, (x,), ax)


@defvjp(log_softmax, reads="output", shows="J = I − 1·p^T,  p = exp(y)", methods=("log_softmax",))
def _log_softmax_vjp(xp, ctx, g, y, x):
    return (g - xp.exp(y) * xp.sum(g, axis=ctx.saved, keepdims=True),)


def relu(x: Any) -> Tensor:
    """max(z, 0). Backward: the gradient passes where the output is positive, and at NaN; not at
    z = 0 (PyTorch's conventions)."""
    x = as_tensor(x)
    return record(B.maximum(x.data, 0), _relu_vjp, (x,))


@defvjp(relu, reads="output", shows="relu' = 1[y > 0]", methods=("relu",), diagnose="gate")
def _relu_vjp(xp, ctx, g, y, x):
    # A product with the mask, not where(): NumPy's where branches on every element and is ~8x
    # slower on a mask as unpredictable as a ReLU's. `~(y <= 0)`, not `y > 0`: NaN compares
    # false, so at a NaN input the gradient passes, as in PyTorch. (An inf or NaN gradient at a
    # unit that passes nothing gives NaN there, where PyTorch's where() gives 0.)
    return (g * ~(y <= 0),)


def leaky_relu(x: Any, slope: float = 0.01, *, negative_slope: float | None = None) -> Tensor:
    """z for z > 0, else slope · z (``negative_slope`` is PyTorch's name for ``slope``)."""
    x = as_tensor(x)
    s = float(negative_slope if negative_slope is not None else slope)
    z = floating(x.data)
    return record(B.where(z > 0, z, z * s), _leaky_relu_vjp, (x,), s)


@defvjp(leaky_relu, reads="inputs", shows="f' = 1 (z > 0) else slope", methods=("leaky_relu",))
def _leaky_relu_vjp(xp, ctx, g, y, x):
    return (xp.where(x > 0, g, g * ctx.saved),)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """z for z > 0, else α (e^z − 1) (computed with expm1 on min(z, 0), so large z cannot overflow).

    Backward: 1 for z > 0, else α e^z = y + α (reusing the output y).
    """
    x = as_tensor(x)
    a = float(alpha)
    z = floating(x.data)
    neg = B.expm1(B.minimum(z, 0)) * a
    return record(B.where(z > 0, z, neg), _elu_vjp, (x,), a)


@defvjp(elu, shows="f' = 1 (z > 0) else y + α", methods=("elu",))
def _elu_vjp(xp, ctx, g, y, x):
    return (xp.where(x <= 0, g * (y + ctx.saved), g),)  # at NaN: 1, as PyTorch


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu(x: Any) -> Tensor:
    """The exact GELU: z Φ(z) with Φ(z) = ½ (1 + erf(z / √2)) the standard normal CDF.

    Backward: (z Φ(z))' = Φ(z) + z φ(z), with φ(z) = e^{−z²/2} / √(2π) the normal density.
    Forward keeps Φ(z) for the rule: erf is the dearest part of both passes, and a transformer
    applies GELU to its widest activations.
    """
    x = as_tensor(x)
    z = floating(x.data)
    cdf = B.erf(z * _INV_SQRT2)
    cdf += 1
    cdf *= 0.5
    return record(z * cdf, _gelu_vjp, (x,), cdf)


def _normal_cdf(xp, x):
    return (xp.erf(x * _INV_SQRT2) + 1) * 0.5


@defvjp(gelu, reads="inputs", shows="f' = Φ(z) + z·φ(z)", methods=("gelu",))
def _gelu_vjp(xp, ctx, g, y, x):
    # φ(x) is built in one fresh array, in place: this rule runs on the widest activations.
    # φ(x) underflows to 0 long before |x| = 40; clipping keeps x² from overflowing at huge x.
    d = xp.clip(x, -40.0, 40.0)
    d *= d
    d *= -0.5
    d = xp.exp(d)
    d *= _INV_SQRT_2PI
    d *= x
    d += xp.reuse(ctx.saved, lambda: _normal_cdf(xp, x))
    d *= g
    return (d,)


def silu(x: Any) -> Tensor:
    """SiLU (swish): z σ(z). Backward: σ(z) + z σ(z)(1 − σ(z)), from the product rule and the
    sigmoid's p(1 − p)."""
    x = as_tensor(x)
    z = floating(x.data)
    return record(z * B.sigmoid(z), _silu_vjp, (x,))


@defvjp(silu, reads="inputs", shows="f' = σ(z)(1 + z(1 − σ(z)))", methods=("silu",))
def _silu_vjp(xp, ctx, g, y, x):
    s = xp.sigmoid(x)
    return (g * (s + x * s * (1 - s)),)


def softplus(x: Any) -> Tensor:
    """log(1 + e^z), as NumPy's overflow-free ``logaddexp(0, z)``. Backward: its derivative is
    e^z / (1 + e^z) = σ(z)."""
    x = as_tensor(x)
    with B.errstate(invalid="ignore"):  # NaN in, NaN out, silently (logaddexp warns on NaN)
        out = B.logaddexp(0, floating(x.data))
    return record(out, _softplus_vjp, (x,))


@defvjp(softplus, reads="inputs", shows="f' = σ(z)", methods=("softplus",))
def _softplus_vjp(xp, ctx, g, y, x):
    return (g * xp.sigmoid(x),)
