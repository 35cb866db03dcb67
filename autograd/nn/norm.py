"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``GroupNorm`` (``LayerNorm`` lives in
layers.py), with PyTorch's arguments, parameter and buffer names.

Batch norm's running statistics are buffers, so ``state_dict()`` saves them as ``running_mean``,
``running_var`` and ``num_batches_tracked`` beside ``weight`` and ``bias``, and a PyTorch state
dict of the same layer loads as it is.
"""
from __future__ import annotations

from typing import Any

from .. import backend as B
from ..ops.norm import batch_norm, group_norm
from ..state import host
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm"]


def _dtype(dtype: Any):
    return B.float32 if dtype is None else B.asarray(0, dtype=dtype).dtype


def _affine_parameters(module: Module, affine: bool, bias: bool, n: int, dtype) -> None:
    """``weight`` (ones) and ``bias`` (zeros) of n channels, or empty slots."""
    module.register_parameter("weight", Parameter(B.ones((n,), dtype=dtype)) if affine else None)
    module.register_parameter("bias", Parameter(B.zeros((n,), dtype=dtype)) if affine and bias else None)


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Batch normalisation per channel (see ``F.batch_norm``).

    In training mode (``train()``, the default) each batch is normalised by its own mean and
    biased variance, and with ``track_running_stats`` the running statistics move towards the
    batch's: r ← (1 − momentum)·r + momentum·statistic (the variance unbiased), or, with
    ``momentum=None``, their cumulative average over all batches so far. In evaluation mode
    (``eval()``) the running statistics normalise instead. ``affine``: learn a per-channel scale
    ``weight`` (starts at 1) and shift ``bias`` (starts at 0; ``bias=False`` leaves it out).
    Without ``track_running_stats`` there are no buffers and batch statistics are used in both
    modes.
    """

    _dims: tuple = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = _dtype(dtype)
        _affine_parameters(self, self.affine, bias, self.num_features, dt)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(B.zeros((self.num_features,), dtype=dt)))
            self.register_buffer("running_var", Tensor(B.ones((self.num_features,), dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(B.asarray(0, dtype=B.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, and weight = 1, bias = 0."""
        self.reset_running_stats()
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` normalised per channel (batch statistics in training, running ones in eval)."""
        if x.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected an input of shape {self._layout}; "
                             f"got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): the input of shape "
                             f"{x.shape} has {x.shape[1]} channels, not {self.num_features}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:  # the cumulative average of every batch so far
                factor = _cumulative(self.num_batches_tracked)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of x (N, C) or (N, C, L) per channel C (see ``_BatchNorm``)."""

    _dims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of x (N, C, H, W) per channel C (see ``_BatchNorm``)."""

    _dims = (4,)
    _layout = "(N, C, H, W)"


class GroupNorm(Module):
    """Group normalisation: each sample's ``num_channels`` channels fall into ``num_groups``
    groups, each standardised over its channels and positions (``F.group_norm``), then, with
    ``affine``, scaled by ``weight`` (starts at 1) and shifted by ``bias`` (starts at 0) per
    channel (``bias=False`` leaves the shift out). The same in training and evaluation."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by "
                             f"num_groups={num_groups}")
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = float(eps)
        self.affine = bool(affine)
        _affine_parameters(self, self.affine, bias, self.num_channels, _dtype(dtype))

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (N, C, *) normalised per sample and group."""
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


@host
def _cumulative(count: Tensor) -> float:
    """1 / (batches so far): the weight of the newest batch in a cumulative average (host work:
    a compiled step computes it afresh at every replay)."""
    return 1.0 / float(count.data)
