"""Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), with PyTorch's formulas."""
from __future__ import annotations

import math

from .. import backend as B
from ..state import host
from .optimizer import Optimizer, ParamsT

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with PyTorch's update, for gradient g_t of parameter θ at step t = 1, 2, ...:

    * weight decay (L2, added to the gradient): g ← g + λ θ
    * m_t = β₁ m_{t−1} + (1 − β₁) g;  v_t = β₂ v_{t−1} + (1 − β₂) g²   (m_0 = v_0 = 0)
    * with ``amsgrad``, v̂ = max(v̂, v_t) is used in place of v_t below
    * θ ← θ − (γ / (1 − β₁ᵗ)) · m_t / (√v_t / √(1 − β₂ᵗ) + ε)

    ``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    maximize=False)``; ``maximize`` ascends (g ← −g first).
    """

    _decoupled = False

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        if lr < 0:
            raise ValueError(f"invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"invalid epsilon value: {eps}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"invalid beta parameter at index {i}: {b}")
        if weight_decay < 0:
            raise ValueError(f"invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr = self._lr(group)
        b1, b2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        for p, g in self._gradients(group, l2=not self._decoupled):  # Adam: L2 penalty in g
            if wd != 0 and self._decoupled:
                p.data *= _decay(lr, wd)  # AdamW: decay the weights directly
            st = self._state(p)
            if not st:
                st["step"] = 0
                st["exp_avg"] = B.zeros_like(p.data)
                st["exp_avg_sq"] = B.zeros_like(p.data)
                if group["amsgrad"]:
                    st["max_exp_avg_sq"] = B.zeros_like(p.data)
            step_size, bias2 = _corrections(self._count_step(st), lr, b1, b2)
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            if group["amsgrad"]:
                if "max_exp_avg_sq" not in st:
                    st["max_exp_avg_sq"] = B.zeros_like(p.data)
                B.maximum(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
                v = st["max_exp_avg_sq"]
            denom = B.sqrt(v) / bias2 + eps
            p.data -= step_size * (m / denom)


@host
def _corrections(t: int, lr: float, b1: float, b2: float) -> tuple:
    """Adam's bias corrections at step t: the step size γ / (1 − β₁ᵗ) and √(1 − β₂ᵗ) (host work:
    a compiled step computes them afresh at every replay)."""
    return lr / (1 - b1**t), math.sqrt(1 - b2**t)


@host
def _decay(lr: float, wd: float) -> float:
    """AdamW's weight-decay factor 1 − γλ (host work, as the learning rate may change)."""
    return 1 - lr * wd


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's AdamW): each step first shrinks the
    parameter, θ ← θ (1 − γ λ), then applies Adam's update with the plain gradient.

    ``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    maximize=False)``.
    """

    _decoupled = True

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
