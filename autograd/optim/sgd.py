"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from .optimizer import Optimizer, ParamsT

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with PyTorch's update, for gradient g_t of parameter θ at step t:

    * weight decay:  g ← g + λ θ
    * momentum μ:    b_1 = g (the first step copies g, without dampening);
      b_t = μ b_{t−1} + (1 − τ) g, with dampening τ
    * Nesterov:      g ← g + μ b_t;  otherwise g ← b_t
    * update:        θ ← θ − γ g  (θ + γ g with ``maximize``)

    ``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
    maximize=False)``; Nesterov needs momentum > 0 and zero dampening.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if lr < 0:
            raise ValueError(f"invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr = self._lr(group)
        mu = float(group["momentum"])
        damp = float(group["dampening"])
        for p, g in self._gradients(group):
            if mu != 0:
                st = self._state(p)
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = g.copy()
                else:
                    buf *= mu
                    buf += (1 - damp) * g
                g = g + mu * buf if group["nesterov"] else buf
            p.data -= lr * g
