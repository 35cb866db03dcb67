"""Normalisation: ``batch_norm``, ``layer_norm``, ``group_norm``.

All three standardise x over some axes, x̂ = (x − μ) / √(σ² + eps) with the biased variance σ²,
then scale and shift by per-channel (batch, group) or per-element (layer) parameters:
y = x̂·γ + β. They differ only in the axes the statistics run over (and group norm views
x (N, C, *) as (N, groups, C/groups · …) for them).

Backward (one rule for the three). With x̂ over n values per statistic, ĝ = G·γ the gradient
reaching x̂, and means taken over those n values:

    ∂x = (ĝ − mean(ĝ) − x̂ · mean(ĝ·x̂)) / √(σ² + eps),   ∂γ = Σ G·x̂,   ∂β = Σ G.

It follows from x̂_i = (x_i − μ)·s with s = (σ² + eps)^(−1/2): ∂μ/∂x_j = 1/n and
∂σ²/∂x_j = 2(x_j − μ)/n, so ∂x̂_i/∂x_j = s (δ_ij − 1/n − x̂_i x̂_j / n); summing ĝ_i times that
over i gives the line above. The rule recomputes x̂ and s from x with the engine's operations
rather than keeping them from the forward pass, so that under ``create_graph`` its result is
connected to x and second derivatives are exact.

With running statistics (``batch_norm`` in evaluation), μ and σ² are constants: y is affine in
x and ∂x = ĝ / √(σ²_running + eps).
"""
from __future__ import annotations

from typing import Any
from collections.abc import Sequence

from .. import backend as B
from ..state import branch, host
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor
from ._windows import integer, same_dtype

__all__ = ["batch_norm", "layer_norm", "group_norm"]


def _standardized(xp, x, axes: tuple, eps: float):
    """(x̂, s, μ, σ²): x standardised over ``axes``, s = 1/√(σ² + eps), the mean μ and the biased
    variance σ² (each statistic with the reduced axes kept as size 1).

    Where (x − μ)² would overflow (|x − μ| beyond ~1e19 in float32) the deviations are first
    divided by their largest magnitude m: √(σ² + eps) = m·√(mean((d/m)²) + eps/m²).
    """
    mu = xp.mean(x, axis=axes, keepdims=True)
    d = x - mu
    with xp.errstate(over="ignore"):
        var = xp.mean(d * d, axis=axes, keepdims=True)
    if var.size and branch(~(xp.max(var) < float("inf")), "an overflowing variance"):
        # also taken for NaN input, which stays NaN either way
        m = xp.max(xp.abs(d), axis=axes, keepdims=True)
        m = xp.where(m > 0, m, 1)
        r = d / m
        with xp.errstate(over="ignore"):
            inv = (1 / m) / xp.sqrt(xp.mean(r * r, axis=axes, keepdims=True) + eps / (m * m))
            var = xp.mean(r * r, axis=axes, keepdims=True) * (m * m)
        return d * inv, inv, mu, var
    inv = 1 / xp.sqrt(var + eps)
    return d * inv, inv, mu, var


class _Saved:
    """What the rule needs: the axes of the statistics (over x viewed in shape ``view``), eps,
    how γ (and β) broadcast against x (``param_shape``) and the axes their gradients sum over,
    and constant statistics (μ, s) when running statistics were used."""

    __slots__ = ("axes", "view", "eps", "param_shape", "param_axes", "has_weight", "stats")

    def __init__(self, axes, view, eps, param_shape, param_axes, has_weight, stats=None) -> None:
        self.axes = axes
        self.view = view
        self.eps = eps
        self.param_shape = param_shape
        self.param_axes = param_axes
        self.has_weight = has_weight
        self.stats = stats


def _normalize(op, x: Tensor, weight, bias, saved: _Saved, stats=None) -> tuple[Tensor, Any, Any]:
    """Standardise x (by its own statistics, or by ``stats`` = (μ, s)), scale, shift, record;
    returns the result and the statistics computed (μ and the variance; None given ``stats``)."""
    data = x.data if saved.view is None else B.reshape(x.data, saved.view)
    if stats is None:
        y, _, mu, var = _standardized(B, data, saved.axes, saved.eps)
    else:
        y = (data - stats[0]) * stats[1]
        mu = var = None
    if saved.view is not None:
        y = B.reshape(y, x.shape)
    if weight is not None:
        y *= B.reshape(weight.data, saved.param_shape)
    if bias is not None:
        y += B.reshape(bias.data, saved.param_shape)
    inputs = (x,) + tuple(p for p in (weight, bias) if p is not None)
    return record(y, op, inputs, saved), mu, var


def _norm_vjp(xp, ctx, g, out, x, *params):
    s = ctx.saved
    view = s.view
    xv = x if view is None else xp.reshape(x, view)
    if s.stats is None:
        xhat, inv, _, _ = _standardized(xp, xv, s.axes, s.eps)
    else:
        xhat = (xv - s.stats[0]) * s.stats[1]
        inv = s.stats[1]
    if view is not None:
        xhat = xp.reshape(xhat, x.shape)
    grads = [None] * (1 + len(params))
    if ctx.needs[0]:
        gh = g if not s.has_weight else g * xp.reshape(params[0], s.param_shape)
        if view is not None:
            gh = xp.reshape(gh, view)
        if s.stats is None:
            mean_g = xp.mean(gh, axis=s.axes, keepdims=True)
            xv_hat = xhat if view is None else xp.reshape(xhat, view)
            mean_gx = xp.mean(gh * xv_hat, axis=s.axes, keepdims=True)
            gx = (gh - mean_g - xv_hat * mean_gx) * inv
        else:
            gx = gh * inv
        grads[0] = gx if view is None else xp.reshape(gx, x.shape)
    for i in range(len(params)):
        if not ctx.needs[i + 1]:
            continue
        is_weight = i == 0 and s.has_weight
        grads[i + 1] = _sum_over(xp, g * xhat if is_weight else g, s.param_axes)
    return tuple(grads)


def _sum_over(xp, a, axes):
    return xp.sum(a, axis=axes) if axes else a


_SHOWS = "∂x = (u − mean u − z·mean(u·z))/σ,  u = γG,  z = (x − μ)/σ"


# ----------------------------------------------------------------------------- batch norm
def batch_norm(x: Any, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Any = None, bias: Any = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of x (N, C, *) per channel C: statistics over the batch and every
    other axis. With ``training=True`` the batch's own mean and biased variance normalise x,
    and ``running_mean``/``running_var`` (when given) are updated in place:
    r ← (1 − momentum)·r + momentum·batch statistic, with the unbiased variance (÷ (n − 1)), as
    PyTorch. With ``training=False`` the running statistics normalise x. ``weight`` γ and
    ``bias`` β have shape (C,). See the module docstring for the backward rule.
    """
    name = "batch_norm"
    x = as_tensor(x)
    weight = None if weight is None else as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    same_dtype(name, x, ("weight", weight), ("bias", bias))
    if x.ndim < 2:
        raise ValueError(f"{name}: expected an input of shape (N, C) or (N, C, *); got shape {x.shape}")
    c = x.shape[1]
    for what, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"{name}: {what} must have shape ({c},) for an input with {c} "
                             f"channels (shape {x.shape}); got {tuple(t.shape)}")
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, c) + (1,) * (x.ndim - 2)
    saved = _Saved(axes, None, float(eps), shape, axes, weight is not None)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(f"{name}: training=False needs running_mean and running_var")
        mean = B.reshape(B.astype(_data(running_mean), x.dtype), shape)
        inv = 1 / B.sqrt(B.reshape(B.astype(_data(running_var), x.dtype), shape) + saved.eps)
        saved.stats = (mean, inv)
        return _normalize(_batch_norm_vjp, x, weight, bias, saved, saved.stats)[0]
    n = x.data.size // c if c else 0
    if n <= 1:
        raise ValueError(f"{name}: training needs more than one value per channel to compute a "
                         f"variance; got an input of shape {x.shape}")
    out, mu, var = _normalize(_batch_norm_vjp, x, weight, bias, saved)
    keep, m = _weights(momentum)
    if running_mean is not None:
        rm = _data(running_mean)
        rm[...] = keep * rm + m * B.reshape(mu, (c,))
        _changed(running_mean)
    if running_var is not None:
        rv = _data(running_var)
        rv[...] = keep * rv + m * (B.reshape(var, (c,)) * (n / (n - 1)))
        _changed(running_var)
    return out


@host
def _weights(momentum: float) -> tuple:
    """(1 − momentum, momentum): the weights of the old running statistic and of the batch's (host
    work, as ``nn.BatchNorm``'s cumulative average changes its momentum every batch)."""
    m = float(momentum)
    return 1 - m, m


def _changed(t: Any) -> None:
    # Updated in place: a node that saved the running statistics must see the change.
    if isinstance(t, Tensor):
        t._written()


def _data(t: Any):
    return t.data if isinstance(t, Tensor) else t


_batch_norm_vjp = defvjp(batch_norm, reads="inputs", shows=_SHOWS)(_norm_vjp)


# ----------------------------------------------------------------------------- layer norm
def layer_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing axes ``normalized_shape`` of x (statistics per
    sample), scaled by ``weight`` and shifted by ``bias`` of shape ``normalized_shape``
    (element-wise). See the module docstring for the backward rule."""
    name = "layer_norm"
    x = as_tensor(x)
    weight = None if weight is None else as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    norm = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(norm)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != norm:
        raise ValueError(f"{name}: the input of shape {x.shape} does not end in "
                         f"normalized_shape {norm}")
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != norm:
            raise ValueError(f"{name}: {what} must have shape normalized_shape {norm}; got {t.shape}")
    same_dtype(name, x, ("weight", weight), ("bias", bias))
    axes = tuple(range(x.ndim - k, x.ndim))
    saved = _Saved(axes, None, float(eps), norm, tuple(range(x.ndim - k)), weight is not None)
    return _normalize(_layer_norm_vjp, x, weight, bias, saved)[0]


_layer_norm_vjp = defvjp(layer_norm, reads="inputs", shows=_SHOWS)(_norm_vjp)


# ----------------------------------------------------------------------------- group norm
def group_norm(x: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalisation of x (N, C, *): the C channels fall into ``num_groups`` groups of
    consecutive channels, and each sample's group is standardised over its channels and every
    other axis; ``weight`` and ``bias`` (C,) act per channel. See the module docstring for the
    backward rule."""
    name = "group_norm"
    x = as_tensor(x)
    weight = None if weight is None else as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    same_dtype(name, x, ("weight", weight), ("bias", bias))
    if x.ndim < 2:
        raise ValueError(f"{name}: expected an input of shape (N, C, *); got shape {x.shape}")
    n, c = x.shape[:2]
    if not integer(num_groups) or num_groups < 1 or c % num_groups:
        raise ValueError(f"{name}: num_groups={num_groups!r} does not divide the {c} channels "
                         f"of the input (shape {x.shape})")
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"{name}: {what} must have shape ({c},), one per channel; got {t.shape}")
    view = (n, num_groups, -1)
    shape = (1, c) + (1,) * (x.ndim - 2)
    saved = _Saved((2,), view, float(eps), shape, (0,) + tuple(range(2, x.ndim)),
                   weight is not None)
    return _normalize(_group_norm_vjp, x, weight, bias, saved)[0]


_group_norm_vjp = defvjp(group_norm, reads="inputs", shows=_SHOWS)(_norm_vjp)
