"""Learning-rate schedules (``optim.lr_scheduler``), with PyTorch's formulas.

A scheduler rewrites ``group["lr"]`` of its optimizer each time ``step()`` is called (usually
once per epoch, after ``optimizer.step()``). Like PyTorch's, the formulas are applied
recursively to the current ``lr``, and constructing a scheduler records each group's
``initial_lr`` and makes an initial step that leaves the rates unchanged.
"""
from __future__ import annotations

import math
from typing import Any

from ..state import host
from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR"]


class LRScheduler:
    """Base class: subclasses define ``get_lr()``, the rates for epoch ``self.last_epoch``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(optimizer.param_groups):
                if "initial_lr" not in g:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                        f"scheduler with last_epoch >= 0"
                    )
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    @host
    def step(self) -> None:
        """Advance one epoch and write the new rates into the optimizer's groups (host work: a
        compiled step runs it again at every replay)."""
        self._step_count += 1
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (which has its own ``state_dict``)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    lr_e = initial_lr · γ^⌊e / step_size⌋ (applied as one multiplication at each multiple of
    step_size, as PyTorch does)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """γ · lr at multiples of step_size, else lr unchanged."""
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        # As PyTorch: only epoch 0 is exempt, so a scheduler resumed at a multiple of
        # step_size (last_epoch=5 -> epoch 6) decays on construction.
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from initial_lr η_max down to ``eta_min`` η_min over ``T_max`` epochs:
    η_e = η_min + ½ (η_max − η_min)(1 + cos(π e / T_max)).

    As PyTorch, it is applied recursively, η_{e} = η_min + (η_{e−1} − η_min) ·
    (1 + cos(π e / T_max)) / (1 + cos(π (e − 1) / T_max)), and at e − 1 = (2k + 1) T_max (where
    that ratio is 0/0) as η_e = η_{e−1} + (η_max − η_min)(1 − cos(π / T_max)) / 2; past T_max the
    rate rises again (a cosine of period 2 T_max).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive integer, got {T_max}")
        self.T_max = int(T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The rates for epoch ``last_epoch`` by the recursion above."""
        groups = self.optimizer.param_groups
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:  # PyTorch's CosineAnnealingLR keeps the rate on construction
            return [g["lr"] for g in groups]
        if (e - 1 - T) % (2 * T) == 0:
            return [g["lr"] + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, g in zip(self.base_lrs, groups)]
        ratio = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
        return [ratio * (g["lr"] - lo) + lo for g in groups]
