"""Activation functions as modules, for use in ``Sequential`` and as model attributes.

Each calls the function of the same name in ``nn.functional`` (where the forward and backward
rules live) with the settings given to its constructor.
"""
from __future__ import annotations


from ..ops._args import axis_arg
from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = [
    "Sigmoid", "Tanh", "ReLU", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "GELU", "SiLU",
    "Softplus",
]


class Sigmoid(Module):
    """σ(z) = 1 / (1 + e^{−z}), element-wise."""

    def forward(self, x: Tensor) -> Tensor:
        """σ(x)."""
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(z), element-wise."""

    def forward(self, x: Tensor) -> Tensor:
        """tanh(x)."""
        return F.tanh(x)


class ReLU(Module):
    """max(z, 0), element-wise."""

    def forward(self, x: Tensor) -> Tensor:
        """max(x, 0)."""
        return F.relu(x)


class Softmax(Module):
    """p_k = e^{z_k} / Σ_j e^{z_j} along ``axis`` (default −1; ``dim=`` is an alias)."""

    def __init__(self, axis: int | None = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = axis_arg(axis, dim, -1)

    def forward(self, x: Tensor) -> Tensor:
        """softmax(x) along ``self.axis``."""
        return F.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """log p_k = z_k − log Σ_j e^{z_j} along ``axis`` (default −1; ``dim=`` is an alias)."""

    def __init__(self, axis: int | None = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = axis_arg(axis, dim, -1)

    def forward(self, x: Tensor) -> Tensor:
        """log_softmax(x) along ``self.axis``."""
        return F.log_softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LeakyReLU(Module):
    """z for z > 0, else negative_slope · z (default slope 0.01)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        """leaky_relu(x)."""
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """z for z > 0, else α (e^z − 1) (default α = 1)."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: Tensor) -> Tensor:
        """elu(x)."""
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """The exact GELU z Φ(z), Φ the standard normal CDF (PyTorch's ``approximate='none'``)."""

    def forward(self, x: Tensor) -> Tensor:
        """gelu(x)."""
        return F.gelu(x)


class SiLU(Module):
    """SiLU (swish): z σ(z)."""

    def forward(self, x: Tensor) -> Tensor:
        """silu(x)."""
        return F.silu(x)


class Softplus(Module):
    """log(1 + e^{βz}) / β (default β = 1), computed without overflow for every z.

    Unlike PyTorch, no ``threshold`` switches to the identity for large βz: the exact value is
    returned (it differs from z by less than e^{−βz})."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = float(beta)

    def forward(self, x: Tensor) -> Tensor:
        """softplus(βx) / β."""
        if self.beta == 1.0:
            return F.softplus(x)
        return F.softplus(x * self.beta) / self.beta

    def extra_repr(self) -> str:
        return f"beta={self.beta}"
