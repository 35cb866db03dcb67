"""Shape ops: reshape, transpose, squeeze/unsqueeze, broadcast, indexing, concatenate, stack,
split and chunk.

These move values without changing them, so each backward rule moves the gradient back: the
inverse reshape, the inverse permutation, the sum over broadcast axes (done by the engine), the
scatter of an indexed gradient into zeros. Six of them record nodes of their own
(``reshape``, ``transpose``, ``expand``, ``getitem`` and its adjoint ``scatter_add``,
``concatenate``); the others (``split`` and ``chunk`` among them) are compositions of these.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Sequence

from .. import backend as B
from ..graph import composite, defvjp, record
from ..tensor import Tensor, as_tensor, normalize_index
from ._args import axis_arg, normalize_axis, shape_arg

__all__ = [
    "reshape", "transpose", "permute", "squeeze", "unsqueeze", "flatten", "broadcast_to",
    "expand", "concatenate", "cat", "stack", "split", "chunk", "clone",
]


def reshape(x: Any, *shape: Any) -> Tensor:
    """The same values in a new shape (one entry may be −1)."""
    x = as_tensor(x)
    shape = shape_arg(shape)
    try:
        out = B.reshape(x.data, shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}") from None
    return record(out, _reshape_vjp, (x,), view_of=x)


@defvjp(reshape, reads="nothing", xp=("reshape",), methods=("reshape", "view"))
def _reshape_vjp(xp, ctx, g, out, x):
    return (xp.reshape(g, x.shape),)


def permute_dims(x: Any, axes: Sequence[int]) -> Tensor:
    """The axes of ``x`` reordered by the permutation ``axes`` (the array API's name)."""
    x = as_tensor(x)
    return record(B.permute_dims(x.data, tuple(axes)), _transpose_vjp, (x,), tuple(axes), view_of=x)


@defvjp(permute_dims, name="transpose", reads="nothing", xp=("permute_dims",))
def _transpose_vjp(xp, ctx, g, out, x):
    perm = ctx.saved
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return (xp.permute_dims(g, tuple(inverse)),)


def transpose(x: Any, *axes: Any) -> Tensor:
    """Permute axes, serving NumPy and PyTorch habits alike.

    No axes: reverse them (``x.T``). Two axes: swap those two, as PyTorch's ``transpose(d0, d1)``
    (on a matrix this is also NumPy's ``transpose(1, 0)``). As many axes as ``x`` has: that
    permutation, as NumPy's ``transpose(axes)``.
    """
    x = as_tensor(x)
    axes = shape_arg(axes)
    if not axes:
        return permute_dims(x, tuple(range(x.ndim))[::-1])
    if len(axes) == 2:
        return swapaxes(x, *axes)
    return permute(x, axes)


def permute(x: Any, *dims: Any) -> Tensor:
    """Reorder all axes by the permutation ``dims`` (PyTorch's name)."""
    x = as_tensor(x)
    dims = shape_arg(dims)
    nd = x.ndim
    if len(dims) != nd or sorted(d % nd for d in dims) != list(range(nd)):
        raise ValueError(f"permute: {dims} is not a permutation of the axes of shape {x.shape}")
    return permute_dims(x, tuple(d % nd for d in dims))


def swapaxes(x: Any, a: int, b: int) -> Tensor:
    """Exchange axes ``a`` and ``b``."""
    x = as_tensor(x)
    nd = x.ndim
    if not (-nd <= a < nd and -nd <= b < nd):
        raise ValueError(f"transpose: axes ({a}, {b}) are out of range for shape {x.shape}")
    perm = list(range(nd))
    perm[a], perm[b] = perm[b], perm[a]
    return permute_dims(x, tuple(perm))


def matrix_transpose(x: Any) -> Tensor:
    """Swap the last two axes (the array API's name; ``x.mT``)."""
    return swapaxes(x, -1, -2)


composite(transpose, methods=("transpose",))
composite(permute, methods=("permute",))
composite(swapaxes, methods=("swapaxes",))
composite(matrix_transpose, xp=("matrix_transpose",))


def expand_dims(x: Any, axis: int) -> Tensor:
    """Insert a size-1 axis at ``axis`` (PyTorch: ``unsqueeze``)."""
    x = as_tensor(x)
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"unsqueeze: axis {axis} is out of range for a result with {nd} dimensions")
    axis %= nd
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def unsqueeze(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Insert a size-1 axis at ``axis`` (``dim`` accepted)."""
    axis = axis_arg(axis, dim)
    if axis is None:
        raise TypeError("unsqueeze() needs the axis at which to insert the new axis")
    return expand_dims(x, axis)


def squeeze(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Remove size-1 axes: all of them, or those named by ``axis`` (which must have size 1)."""
    x = as_tensor(x)
    axis = axis_arg(axis, dim)
    if axis is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        given = axis if isinstance(axis, (tuple, list)) else (axis,)
        axes = {normalize_axis(a, x.ndim, "squeeze") for a in given}
        for a in axes:
            if x.ndim and x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return reshape(x, shape)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` (inclusive) into one, as PyTorch's ``flatten``."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    n = 1
    for k in x.shape[s : e + 1]:
        n *= k
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1 :])


composite(expand_dims, xp=("expand_dims",))
composite(unsqueeze, methods=("unsqueeze",))
composite(squeeze, xp=("squeeze",), methods=("squeeze",))
composite(flatten, methods=("flatten",))


def broadcast_to(x: Any, *shape: Any) -> Tensor:
    """``x`` broadcast to ``shape`` (a read-only view, no copy)."""
    x = as_tensor(x)
    shape = shape_arg(shape)
    try:
        out = B.broadcast_to(x.data, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return record(out, _broadcast_vjp, (x,), view_of=x)


@defvjp(broadcast_to, name="expand", reads="nothing", xp=("broadcast_to",),
        methods=("broadcast_to",))
def _broadcast_vjp(xp, ctx, g, out, x):
    # The adjoint of broadcasting is summing over the broadcast axes, which the engine does for
    # every op: returning the output-shaped gradient is enough.
    return (g,)


def expand(x: Any, *sizes: Any) -> Tensor:
    """PyTorch's ``expand``: broadcast to ``sizes``, where −1 keeps that axis's size."""
    x = as_tensor(x)
    sizes = shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if any(s == -1 for s in sizes[:lead]):
        raise ValueError(f"expand: -1 is not allowed for the new leading axes in {sizes}")
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


composite(expand, methods=("expand",))


def clone(x: Any) -> Tensor:
    """A copy of ``x`` with its own memory, recorded in the graph (its gradient passes through)."""
    x = as_tensor(x)
    return record(B.asarray(x.data, copy=True), _clone_vjp, (x,))


@defvjp(clone, reads="nothing", methods=("clone",))
def _clone_vjp(xp, ctx, g, out, x):
    return (g,)


# ----------------------------------------------------------------------------- indexing
def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]``: basic slicing and integer-array (or boolean) indexing, as NumPy."""
    x = as_tensor(x)
    index = normalize_index(index)
    try:
        out = x.data[index]
    except IndexError as e:
        raise IndexError(f"index {index!r} into a tensor of shape {x.shape}: {e}") from None
    return record(out, _getitem_vjp, (x,), _own(index), view_of=x)


def _own(index: Any) -> Any:
    """``index`` with any integer or boolean arrays copied: backward reads them, and the caller
    may change theirs in the meantime."""
    if isinstance(index, tuple):
        return tuple(_own(i) for i in index)
    return B.asarray(index, copy=True) if B.is_array(index) else index


@defvjp(getitem, reads="nothing", xp=("getitem",), methods=("__getitem__",))
def _getitem_vjp(xp, ctx, g, out, x):
    # x[index] copies some entries; its adjoint adds each gradient entry back where it was read
    # from, accumulating where an index repeats.
    return (xp.scatter_add(g, ctx.saved, x.shape),)


def scatter_add(g: Any, index: Any, shape: tuple) -> Tensor:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    g = as_tensor(g)
    return record(B.scatter_add(g.data, index, tuple(shape)), _scatter_vjp, (g,), index)


@defvjp(scatter_add, reads="nothing", xp=("scatter_add",))
def _scatter_vjp(xp, ctx, g, out, src):
    # Adding src into positions `index` is linear; its adjoint reads those positions back.
    return (xp.getitem(g, ctx.saved),)


# ----------------------------------------------------------------------------- joining
def concatenate(tensors: Sequence[Any], axis: int = 0, *, dim: Any = None) -> Tensor:
    """Join tensors along an existing axis."""
    axis = axis_arg(axis, dim, 0)
    ts = tuple(as_tensor(t) for t in tensors)
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    if any(t.ndim == 0 for t in ts):
        raise ValueError("concatenate: 0-d tensors have no axis to join along; use stack")
    try:
        out = B.concat([t.data for t in ts], axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"concatenate: shapes {shapes} do not match off axis {axis}") from None
    axis = axis % ts[0].ndim
    bounds = [0]
    for t in ts:
        bounds.append(bounds[-1] + t.shape[axis])
    return record(out, _concatenate_vjp, ts, (axis, bounds))


@defvjp(concatenate, reads="nothing", xp=("concat",))
def _concatenate_vjp(xp, ctx, g, out, *inputs):
    axis, bounds = ctx.saved
    lead = (slice(None),) * axis
    return tuple(
        xp.getitem(g, lead + (slice(bounds[i], bounds[i + 1]),)) if need else None
        for i, need in enumerate(ctx.needs)
    )


cat = concatenate


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: Any = None) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    axis = axis_arg(axis, dim, 0)
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need one shape; got {', '.join(map(str, shapes))}")
    return concatenate([expand_dims(t, axis) for t in ts], axis=axis)


composite(stack, xp=("stack",))


# ----------------------------------------------------------------------------- splitting
def split(x: Any, split_size_or_sections: Any, axis: int = 0, *, dim: Any = None) -> tuple:
    """Cut ``x`` into pieces along ``axis``, as PyTorch's ``split``: an int is the size of every
    piece (the last one may be smaller), a list gives the size of each piece (they must add up
    to the axis's length). Returns a tuple of tensors, each a slice of ``x``."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("split: a 0-d tensor has no axis to split along")
    axis = normalize_axis(axis_arg(axis, dim, 0), x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(
                f"split: section sizes {sizes} must be non-negative and add up to {n}, the length "
                f"of axis {axis} of shape {x.shape}"
            )
    else:
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n > 0):
            raise ValueError(
                f"split: split_size must be positive (0 only for an empty axis), got {size} for "
                f"axis {axis} of shape {x.shape}"
            )
        sizes = [min(size, n - start) for start in range(0, n, size)] if n else [0]
    lead = (slice(None),) * axis
    pieces, start = [], 0
    for s in sizes:
        pieces.append(getitem(x, lead + (slice(start, start + s),)))
        start += s
    return tuple(pieces)


def chunk(x: Any, chunks: int, axis: int = 0, *, dim: Any = None) -> tuple:
    """Cut ``x`` into at most ``chunks`` pieces along ``axis``, as PyTorch's ``chunk``: every
    piece has ⌈n / chunks⌉ elements except the last, which may be smaller, so there can be fewer
    than ``chunks`` pieces (5 elements in 4 chunks give sizes 2, 2, 1). An empty axis gives
    ``chunks`` empty pieces."""
    x = as_tensor(x)
    chunks = int(chunks)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    if x.ndim == 0:
        raise ValueError("chunk: a 0-d tensor has no axis to split along")
    axis = normalize_axis(axis_arg(axis, dim, 0), x.ndim, "chunk")
    n = x.shape[axis]
    if n == 0:
        return split(x, [0] * chunks, axis)
    return split(x, -(-n // chunks), axis)


composite(split, methods=("split",))
composite(chunk, methods=("chunk",))
