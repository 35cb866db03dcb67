"""Losses: the squared error of docs/derivations.md, MSE, and the cross-entropy family.

``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``, as in PyTorch. Targets must have
the prediction's shape: a silent broadcast of, say, (N,) against (N, 1) gives a wrong loss, so
it is an error here.
"""
from __future__ import annotations

from typing import Any

from .. import backend as B
from ..graph import composite, defvjp, record
from ..state import require
from ..tensor import Tensor, as_tensor, lift
from .activation import log_softmax
from .reduce import mean, sum
from .shape import getitem

__all__ = [
    "squared_error", "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "nll_loss",
]


def _pair(name: str, pred: Any, target: Any) -> tuple:
    pred = as_tensor(pred)
    target = lift(target, pred)
    if pred.shape != target.shape:
        raise ValueError(f"{name}: prediction shape {pred.shape} and target shape {target.shape} differ")
    return pred, target


def _reduce(name: str, losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return mean(losses)
    if reduction == "sum":
        return sum(losses)
    if reduction == "none":
        return losses
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def squared_error(pred: Any, target: Any) -> Tensor:
    """E = ½ Σ_k (pred_k − t_k)², the squared-error cost of backpropagation.

    Backward: ∂E/∂pred_k = pred_k − t_k. Chained through pred = g(z) and z_k = Σ_j x_j w_{j,k},
    this gives ∂E/∂w_{j,k} = (g(z_k) − t_k) g'(z_k) x_j (docs/derivations.md, "The cost").
    Forward keeps pred − t for the rule, which then only scales it.
    """
    pred, target = _pair("squared_error", pred, target)
    d = pred.data - target.data
    flat = B.reshape(d, (-1,))
    return record(B.vecdot(flat, flat) * 0.5, _squared_error_vjp, (pred, target), d)


@defvjp(squared_error, reads="inputs", shows="∂E/∂p = p − t")
def _squared_error_vjp(xp, ctx, g, out, pred, target):
    d = xp.reuse(ctx.saved, lambda: pred - target) * g  # forward's p − t, kept (backend.reuse)
    return d, (-d if ctx.needs[1] else None)


def mse_loss(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum, or per-element) squared error (pred − target)²."""
    pred, target = _pair("mse_loss", pred, target)
    d = pred - target
    return _reduce("mse_loss", d * d, reduction)


composite(mse_loss)


_LOG_FLOOR = -100.0  # PyTorch clamps log p at −100 so that p = 0 or 1 gives a finite loss


def _probability_error(p: Any) -> ValueError:
    return ValueError(
        f"binary_cross_entropy: probabilities must lie in [0, 1]; got values in "
        f"[{B.min(p)}, {B.max(p)}] (use binary_cross_entropy_with_logits for logits)")


def binary_cross_entropy(p: Any, target: Any, reduction: str = "mean") -> Tensor:
    """−[t log p + (1 − t) log(1 − p)] for probabilities p ∈ [0, 1], with each log clamped at −100.

    Backward: ∂/∂p = (p − t) / (p (1 − p)), with the denominator kept ≥ 1e-12 as PyTorch does;
    ∂/∂t = log(1 − p) − log p.
    """
    p, target = _pair("binary_cross_entropy", p, target)
    pd = p.data
    require((pd >= 0) & (pd <= 1), _probability_error, pd)
    t = target.data
    tiny = B.finfo(p.dtype).smallest_subnormal  # log(tiny) < −100, and log never sees 0
    log_p = B.maximum(B.log(B.maximum(p.data, tiny)), _LOG_FLOOR)
    log_q = B.maximum(B.log(B.maximum(1 - p.data, tiny)), _LOG_FLOOR)
    losses = -(t * log_p + (1 - t) * log_q)
    out = record(losses, _bce_vjp, (p, target), tiny)
    return _reduce("binary_cross_entropy", out, reduction)


@defvjp(binary_cross_entropy, reads="inputs", shows="∂/∂p = (p − t) / (p(1 − p))")
def _bce_vjp(xp, ctx, g, out, p, t):
    need_p, need_t = ctx.needs
    gp = g * (p - t) / xp.maximum(p * (1 - p), 1e-12) if need_p else None
    gt = None
    if need_t:
        tiny = ctx.saved
        log_p = xp.maximum(xp.log(xp.maximum(p, tiny)), _LOG_FLOOR)
        log_q = xp.maximum(xp.log(xp.maximum(1 - p, tiny)), _LOG_FLOOR)
        gt = g * (log_q - log_p)
    return gp, gt


def binary_cross_entropy_with_logits(z: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of σ(z) against t, computed from the logits z without forming σ(z):
    log(1 + e^z) − t z, with log(1 + e^z) as the overflow-free ``logaddexp(0, z)``.

    Backward: ∂/∂z = σ(z) − t; ∂/∂t = −z.
    """
    z, target = _pair("binary_cross_entropy_with_logits", z, target)
    losses = B.logaddexp(0, z.data) - target.data * z.data
    out = record(losses, _bce_logits_vjp, (z, target))
    return _reduce("binary_cross_entropy_with_logits", out, reduction)


@defvjp(binary_cross_entropy_with_logits, name="bce_with_logits", reads="inputs",
        shows="∂/∂z = σ(z) − t")
def _bce_logits_vjp(xp, ctx, g, out, z, t):
    need_z, need_t = ctx.needs
    return (g * (xp.sigmoid(z) - t) if need_z else None), (-(g * z) if need_t else None)


def _labels(name: str, labels: Any, n_classes: int, batch_shape: tuple):
    arr = labels.data if isinstance(labels, Tensor) else B.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: class labels must be integers; got dtype {arr.dtype}")
    if arr.shape != batch_shape:
        raise ValueError(f"{name}: labels of shape {arr.shape} do not match the batch shape {batch_shape}")
    def out_of_range(labels: Any) -> IndexError:
        flat = int(((labels < 0) | (labels >= n_classes)).reshape(-1).argmax())
        return IndexError(
            f"{name}: label {int(labels.reshape(-1)[flat])} (at position {flat}) is out of range "
            f"for {n_classes} classes; labels must lie in 0..{n_classes - 1}"
        )

    require((arr >= 0) & (arr < n_classes), out_of_range, arr)
    return arr


def nll_loss(log_probs: Any, labels: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood −log p[label] of integer class labels, given log-probabilities of
    shape (N, C) (or (C,) with a single label). Its gradient is −1 at each label's entry."""
    log_probs = as_tensor(log_probs)
    if log_probs.ndim == 1:
        lab = _labels("nll_loss", labels, log_probs.shape[0], ())
        return _reduce("nll_loss", -getitem(log_probs, int(lab)), reduction)
    if log_probs.ndim != 2:
        raise ValueError(f"nll_loss: expected log-probabilities of shape (N, C) or (C,); got {log_probs.shape}")
    n, c = log_probs.shape
    lab = _labels("nll_loss", labels, c, (n,))
    picked = getitem(log_probs, (B.arange(n), lab))
    return _reduce("nll_loss", -picked, reduction)


composite(nll_loss)


def cross_entropy(logits: Any, labels: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of logits (N, C) (or (C,)) against integer class labels, as
    −log_softmax(z)[label]; the log-softmax keeps large logits finite. Given float targets of
    the logits' shape instead, it is −Σ_c t_c log_softmax(z)_c (soft labels)."""
    logits = as_tensor(logits)
    logp = log_softmax(logits, axis=-1)
    targets = labels.data if isinstance(labels, Tensor) else B.asarray(labels)
    if targets.dtype.kind == "f":
        if targets.shape == logits.shape[:-1]:
            raise TypeError(
                f"cross_entropy: labels of shape {targets.shape} have float dtype {targets.dtype}; "
                f"class labels must be integers (e.g. ag.tensor(labels, dtype=ag.int64)), and "
                f"soft targets must have the logits' shape {logits.shape}"
            )
        t = lift(labels, logits)
        if t.shape != logits.shape:
            raise ValueError(f"cross_entropy: soft targets of shape {t.shape} differ from logits {logits.shape}")
        return _reduce("cross_entropy", -sum(t * logp, axis=-1), reduction)
    return _named_nll("cross_entropy", logp, labels, reduction)


def _named_nll(name: str, logp: Tensor, labels: Any, reduction: str) -> Tensor:
    try:
        return nll_loss(logp, labels, reduction)
    except (IndexError, ValueError, TypeError) as e:
        raise type(e)(str(e).replace("nll_loss", name, 1)) from None


composite(cross_entropy)
