"""Losses as modules: ``criterion = nn.CrossEntropyLoss(); loss = criterion(logits, labels)``.

Each calls the function of the same name in ``nn.functional`` (where the formulas and their
gradients live), with the ``reduction`` given to its constructor: ``'mean'`` (default), ``'sum'``
or ``'none'``.
"""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["SquaredError", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"]

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, not {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class SquaredError(Module):
    """E = ½ Σ (pred − target)², the cost of docs/derivations.md (no reduction option: it is
    always this sum)."""

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        """½ Σ (pred − target)²."""
        return F.squared_error(pred, target)


class MSELoss(_Loss):
    """Mean (or sum, or per-element) of (pred − target)²."""

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        """The reduced squared differences."""
        return F.mse_loss(pred, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy −[t log p + (1 − t) log(1 − p)] of probabilities p ∈ [0, 1]."""

    def forward(self, p: Tensor, target: Any) -> Tensor:
        """The reduced binary cross-entropy."""
        return F.binary_cross_entropy(p, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of σ(z) against t, computed stably from the logits z."""

    def forward(self, z: Tensor, target: Any) -> Tensor:
        """The reduced log(1 + e^z) − t z."""
        return F.binary_cross_entropy_with_logits(z, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy −log softmax(z)[label] of logits (N, C) against integer labels (N,)
    (or soft targets of the logits' shape)."""

    def forward(self, logits: Tensor, labels: Any) -> Tensor:
        """The reduced cross-entropy."""
        return F.cross_entropy(logits, labels, reduction=self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood −log_probs[label] of log-probabilities (N, C) and integer labels."""

    def forward(self, log_probs: Tensor, labels: Any) -> Tensor:
        """The reduced negative log-likelihood."""
        return F.nll_loss(log_probs, labels, reduction=self.reduction)
