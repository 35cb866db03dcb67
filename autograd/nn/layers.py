"""Layers with parameters or modes: ``Linear``, ``Embedding``, ``LayerNorm``, ``Dropout``, and the
shape helpers ``Identity`` and ``Flatten``.

Each forward is written with the engine's differentiable ops (``LayerNorm`` with
``F.layer_norm``), so its gradient needs no rule of its own.
"""
from __future__ import annotations

import math
from typing import Any
from collections.abc import Sequence

from .. import backend as B
from ..ops.linalg import linear
from ..ops.nn import dropout, embedding
from ..ops.norm import layer_norm
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = ["Identity", "Flatten", "Linear", "Dropout", "Embedding", "LayerNorm"]


def _dtype(dtype: Any):
    return B.float32 if dtype is None else B.asarray(0, dtype=dtype).dtype


class Identity(Module):
    """Returns its input unchanged (a placeholder where a layer is optional)."""

    def forward(self, x: Any) -> Any:
        """``x`` itself."""
        return x


class Flatten(Module):
    """Merges axes ``start_dim`` .. ``end_dim`` into one: (N, 8, 8) → (N, 64) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        """``x`` reshaped with the axes start_dim..end_dim merged."""
        n = x.ndim
        if n == 0:  # as torch.flatten: a 0-d tensor becomes one element
            return x.reshape(1)
        s, e = self.start_dim % n, self.end_dim % n
        shape = x.shape[:s] + (-1,) + x.shape[e + 1:]
        return x.reshape(shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Linear(Module):
    """An affine map y = x Wᵀ + b, with ``weight`` W of shape (out_features, in_features) and
    ``bias`` b of shape (out_features,).

    Initialised as PyTorch does: W and b uniform in (−1/√in_features, 1/√in_features) (for W
    this is ``kaiming_uniform_`` with a = √5). float32 unless ``dtype`` says otherwise.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dt = _dtype(dtype)
        self.weight = Parameter(B.empty((self.out_features, self.in_features), dtype=dt))
        if bias:
            self.bias = Parameter(B.empty((self.out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights: U(−1/√in, 1/√in) for W and b (0 everywhere if in_features is 0)."""
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """x Wᵀ + b over the last axis of ``x`` (any leading batch axes)."""
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the kept ones by
    1/(1 − p), so the expected output equals the input; in evaluation mode (``eval()``), the
    identity. The mask is drawn from the generator seeded by ``ag.manual_seed``."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` times a random keep-mask scaled by 1/(1 − p) (training), or ``x`` (eval):
        ``F.dropout(x, p, training)``."""
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Embedding(Module):
    """A lookup table: row ``i`` of ``weight`` (num_embeddings, embedding_dim) for each integer
    index ``i``. The gradient of a row is the sum of the gradients of the places it was read.

    ``weight`` starts N(0, 1), as in PyTorch. With ``padding_idx`` that row starts at zero and
    receives no gradient (its value is still returned).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for {num_embeddings} rows")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(B.empty((self.num_embeddings, self.embedding_dim), dtype=_dtype(dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh N(0, 1) rows (zero at ``padding_idx``)."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0
            self.weight._written()

    def forward(self, idx: Any) -> Tensor:
        """``weight[idx]``: shape idx.shape + (embedding_dim,) (``F.embedding``; the row at
        ``padding_idx`` gets no gradient)."""
        return embedding(idx, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


class LayerNorm(Module):
    """Normalise over the trailing axes ``normalized_shape``:
    y = (x − mean) / √(var + eps) · weight + bias, with the biased variance (divide by N), as
    PyTorch. ``weight`` starts at ones and ``bias`` at zeros (absent without
    ``elementwise_affine``; ``bias=False`` drops only the bias)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = _dtype(dtype)
        if self.elementwise_affine:
            self.weight = Parameter(B.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(B.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        """The normalised ``x`` (same shape), scaled and shifted when affine (``F.layer_norm``)."""
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
