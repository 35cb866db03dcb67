"""Layer ops with no weights of their own to speak of: ``dropout`` (a random mask),
``embedding`` (rows of a table, by index) and ``one_hot`` (indices as indicator vectors).

Dropout draws its mask from the generator that ``ag.manual_seed`` seeds, so a seeded program
drops the same elements every run.
"""
from __future__ import annotations

from typing import Any

from .. import backend as B
from .. import creation
from ..graph import defvjp, nondifferentiable, record
from ..state import require
from ..tensor import Tensor, as_tensor

__all__ = ["dropout", "embedding", "one_hot"]


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element of ``x`` with probability ``p`` and scale the others by 1/(1 − p), so
    that the expected output is ``x`` (PyTorch's ``F.dropout``). With ``training=False`` or
    ``p = 0`` it returns ``x`` itself; with ``p = 1``, zeros.

    The mask is drawn from ``ag.manual_seed``'s generator. Backward: the output is x times a
    constant (the scaled mask m / (1 − p)), so the gradient is g times the same constant.
    """
    x = as_tensor(x)
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if x.dtype.kind != "f":
        raise TypeError(f"dropout: needs a floating-point tensor, got dtype {x.dtype}")
    # float32 draws: half the random bits of float64, and 2⁻²⁴ is resolution enough for p.
    keep = creation.draw("random", x.shape, dtype=B.float32) >= p
    scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    out = x.data * keep
    out *= scale
    return record(out, _dropout_vjp, (x,), (keep, scale))


@defvjp(dropout, reads="nothing", shows="∂x = G·mask/(1−p)")
def _dropout_vjp(xp, ctx, g, out, x):
    keep, scale = ctx.saved
    d = g * keep  # a fresh array, scaled in place
    d *= scale
    return (d,)


def _indices(op: str, idx: Any):
    arr = idx.data if isinstance(idx, Tensor) else B.asarray(idx)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: indices must be integers, got dtype {arr.dtype} (build them with "
            f"dtype=ag.int64, or from a NumPy integer array)"
        )
    return arr


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """Row ``i`` of ``weight`` (num_embeddings, embedding_dim) for each integer index ``i`` in
    ``input``: a result of shape input.shape + (embedding_dim,) (PyTorch's ``F.embedding``).
    With ``padding_idx`` that row is returned like any other but receives no gradient.

    Backward: each output row is a copy of one weight row, so a row's gradient is the sum of
    the gradients of every place it was read (scatter-add), zero at ``padding_idx``.
    """
    arr = _indices("embedding", input)
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-d (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    n = weight.shape[0]

    def out_of_range(idx: Any) -> IndexError:
        bad = idx.min() if idx.min() < 0 else idx.max()
        return IndexError(f"embedding: index {int(bad)} is out of range for {n} rows "
                          f"(indices must lie in 0..{n - 1})")

    # a check on values (a compiled step makes it again at every replay)
    require((arr >= 0) & (arr < n), out_of_range, arr)
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {n} rows")
        padding_idx = int(padding_idx) % n
    return record(weight.data[arr], _embedding_vjp, (weight,), (arr, padding_idx))


@defvjp(embedding, reads="nothing", shows="∂W[i] = Σ_{idx = i} G")
def _embedding_vjp(xp, ctx, g, out, w):
    idx, pad = ctx.saved
    if pad is not None:
        g = xp.where((idx != pad)[..., None], g, 0)
    return (xp.scatter_add(g, idx, w.shape),)


def one_hot(labels: Any, num_classes: int = -1) -> Tensor:
    """Integer class labels as indicator vectors: shape labels.shape + (num_classes,), int64,
    1 at each label's position (PyTorch's ``F.one_hot``). ``num_classes=-1`` takes one more
    than the largest label. Not differentiable (its input is integers)."""
    arr = _indices("one_hot", labels)
    n = int(num_classes)
    require(arr >= 0, _negative_class, arr)
    if n == -1:
        if not arr.size:
            raise ValueError("one_hot: cannot infer num_classes from empty labels; pass it")
        n = int(arr.max()) + 1
    elif n < 0:
        raise ValueError(f"one_hot: num_classes must be -1 or non-negative, got {n}")
    else:
        require(arr < n, _class_too_large, arr, n)
    return Tensor(B.astype(arr[..., None] == B.arange(n), B.int64))


def _negative_class(labels: Any) -> ValueError:
    return ValueError(f"one_hot: class values must be non-negative; got {int(labels.min())}")


def _class_too_large(labels: Any, n: int) -> ValueError:
    return ValueError(f"one_hot: class value {int(labels.max())} is out of range for "
                      f"num_classes={n} (values must be below it)")


nondifferentiable(one_hot)
