"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d``, with PyTorch's arguments,
parameter names and default initialisation.

Initialisation, as PyTorch: the weight is ``kaiming_uniform_(a=√5)``, i.e. U(−1/√fan_in,
1/√fan_in), and the bias U(−1/√fan_in, 1/√fan_in), with fan_in computed from the weight's shape
as ``nn.init`` does (its second axis times the kernel size): (in_channels/groups)·Πkernel for a
convolution, whose weight is (out, in/groups, *kernel), and (out_channels/groups)·Πkernel for a
transposed one, whose weight is (in, out/groups, *kernel).
"""
from __future__ import annotations

import math
from typing import Any
from collections.abc import Sequence

from .. import backend as B
from ..ops.conv import conv1d, conv2d, conv_transpose2d
from ..ops.pad import pad
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _dtype(dtype: Any):
    return B.float32 if dtype is None else B.asarray(0, dtype=dtype).dtype


def _tuple(value: Any, d: int, what: str, cls: str) -> tuple:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * d
    if len(items) != d or not all(isinstance(v, int) for v in items):
        raise ValueError(f"{cls}: {what} must be an int or {d} ints; got {value!r}")
    return items


class _ConvNd(Module):
    """What the convolution layers share: arguments, parameters, initialisation, repr."""

    _d = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool, padding_mode: str,
                 output_padding: Any, dtype: Any) -> None:
        super().__init__()
        cls, d = type(self).__name__, self._d
        if groups < 1 or in_channels % groups:
            raise ValueError(f"{cls}: in_channels={in_channels} must be divisible by groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{cls}: out_channels={out_channels} must be divisible by groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{cls}: padding_mode must be one of {', '.join(map(repr, _PADDING_MODES))}; "
                             f"got {padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f"{cls}: only padding_mode='zeros' is supported, as in PyTorch")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _tuple(kernel_size, d, "kernel_size", cls)
        self.stride = _tuple(stride, d, "stride", cls)
        self.dilation = _tuple(dilation, d, "dilation", cls)
        if isinstance(padding, str):
            if padding not in ("valid", "same") or self._transposed:
                allowed = "an int or a tuple" if self._transposed else "an int, a tuple, 'valid' or 'same'"
                raise ValueError(f"{cls}: padding must be {allowed}; got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{cls}: padding='same' needs stride 1 (got stride {self.stride})")
            self.padding: str | tuple = padding
        else:
            self.padding = _tuple(padding, d, "padding", cls)
        self.output_padding = _tuple(output_padding, d, "output_padding", cls)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (self.in_channels, self.out_channels // groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // groups) + self.kernel_size
        dt = _dtype(dtype)
        self.weight = Parameter(B.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(B.empty((self.out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh parameters: weight ``kaiming_uniform_(a=√5)``, bias U(−1/√fan_in, 1/√fan_in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = init._fans(self.weight)[0]
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _pad_amounts(self) -> tuple:
        """F.pad's amounts (last axis first) for a padding_mode other than zeros."""
        if isinstance(self.padding, tuple):  # an amount per axis
            per_axis = [(p, p) for p in self.padding]
        elif self.padding == "same":
            totals = [dl * (k - 1) for k, dl in zip(self.kernel_size, self.dilation)]
            per_axis = [(t // 2, t - t // 2) for t in totals]
        else:  # "valid"
            per_axis = [(0, 0)] * self._d
        return tuple(a for lo_hi in reversed(per_axis) for a in lo_hi)

    def extra_repr(self) -> str:
        d = self._d
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _conv = staticmethod(conv2d)

    def forward(self, x: Tensor) -> Tensor:
        """The convolution of ``x`` (N, C_in, *spatial), or of an unbatched (C_in, *spatial)."""
        if self.padding_mode != "zeros":
            return self._conv(pad(x, self._pad_amounts(), mode=self.padding_mode), self.weight,
                              self.bias, self.stride, 0, self.dilation, self.groups)
        return self._conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                          self.groups)


class Conv1d(_Conv):
    """1-d convolution over x (N, C_in, L) with ``weight`` (out_channels, in_channels/groups, k)
    and ``bias`` (out_channels,): ``F.conv1d`` with these settings. ``padding`` is an int,
    'valid' or 'same'; ``padding_mode`` 'zeros' (default), 'reflect', 'replicate' or 'circular'.
    Initialised as PyTorch (module docstring)."""

    _d = 1
    _conv = staticmethod(conv1d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, dtype)


class Conv2d(_Conv):
    """2-d convolution over x (N, C_in, H, W) with ``weight`` (out_channels, in_channels/groups,
    kH, kW) and ``bias`` (out_channels,): ``F.conv2d`` with these settings. ``kernel_size``,
    ``stride``, ``dilation``: an int or a pair; ``padding``: an int, a pair, 'valid' or 'same';
    ``padding_mode`` 'zeros' (default), 'reflect', 'replicate' or 'circular'. Initialised as
    PyTorch (module docstring)."""

    _d = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, dtype)


class ConvTranspose2d(_ConvNd):
    """2-d transposed convolution over x (N, C_in, H, W) with ``weight`` (in_channels,
    out_channels/groups, kH, kW) and ``bias`` (out_channels,): ``F.conv_transpose2d`` with
    these settings. ``forward(x, output_size=None)``: ``output_size`` (the wanted (H_out, W_out),
    or with the batch and channel sizes in front) picks the output_padding. Initialised as
    PyTorch (module docstring)."""

    _d = 2
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, dtype)

    def forward(self, x: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        """The transposed convolution of ``x``; see the class docstring for ``output_size``."""
        extra = self.output_padding
        if output_size is not None:
            extra = self._output_padding(x, output_size)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, extra,
                                self.groups, self.dilation)

    def _output_padding(self, x: Tensor, output_size: Sequence[int]) -> tuple:
        size = tuple(output_size)[-2:]
        extra = []
        for i, want in enumerate(size):
            n = x.shape[x.ndim - 2 + i]
            least = ((n - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            if not least <= want < least + self.stride[i]:
                raise ValueError(
                    f"ConvTranspose2d: output_size {tuple(output_size)} is not reachable from an "
                    f"input of shape {x.shape}: each size must lie in [{least}, "
                    f"{least + self.stride[i] - 1}] along axis {i}"
                )
            extra.append(want - least)
        return tuple(extra)
