"""RMSprop (Hinton's lecture notes), with PyTorch's formulas and defaults."""
from __future__ import annotations

from .. import backend as B
from .optimizer import Optimizer, ParamsT

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop with PyTorch's update, for gradient g of parameter θ:

    * weight decay: g ← g + λ θ
    * v ← α v + (1 − α) g²   (v starts at 0)
    * centered: ḡ ← α ḡ + (1 − α) g and the denominator uses v − ḡ² instead of v
    * d = √v (or √(v − ḡ²)) + ε
    * with momentum μ: b ← μ b + g / d and θ ← θ − γ b;  otherwise θ ← θ − γ g / d

    ``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, maximize=False)``.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        if lr < 0:
            raise ValueError(f"invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"invalid epsilon value: {eps}")
        if momentum < 0:
            raise ValueError(f"invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"invalid weight_decay value: {weight_decay}")
        if alpha < 0:
            raise ValueError(f"invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr = self._lr(group)
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        mu = float(group["momentum"])
        for p, g in self._gradients(group):
            st = self._state(p)
            if not st:
                st["step"] = 0
                st["square_avg"] = B.zeros_like(p.data)
                if mu > 0:
                    st["momentum_buffer"] = B.zeros_like(p.data)
                if group["centered"]:
                    st["grad_avg"] = B.zeros_like(p.data)
            self._count_step(st)
            v = st["square_avg"]
            v *= alpha
            v += (1 - alpha) * (g * g)
            if group["centered"]:
                gbar = st.setdefault("grad_avg", B.zeros_like(p.data))
                gbar *= alpha
                gbar += (1 - alpha) * g
                d = B.sqrt(v - gbar * gbar) + eps
            else:
                d = B.sqrt(v) + eps
            if mu > 0:
                buf = st.setdefault("momentum_buffer", B.zeros_like(p.data))
                buf *= mu
                buf += g / d
                p.data -= lr * buf
            else:
                p.data -= lr * (g / d)
