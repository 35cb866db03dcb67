"""Shape ops: reshape, transpose, squeeze/unsqueeze, broadcast, indexing, concatenate, stack.

These move values without changing them, so each backward rule moves the gradient back: the
inverse reshape, the inverse permutation, the sum over broadcast axes (done by the engine), the
scatter of an indexed gradient into zeros.
"""
from __future__ import annotations

from typing import Any, Sequence

from .. import backend as B
from ..engine import reads, record
from ..tensor import Tensor
from .elementwise import _t


def _shape_arg(shape: tuple) -> tuple:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``, as PyTorch and NumPy do."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x: Any, *shape: Any) -> Tensor:
    """The same values in a new shape (one entry may be −1)."""
    x = _t(x)
    shape = _shape_arg(shape)
    try:
        out = B.reshape(x.data, shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}") from None
    return record(out, "reshape", (x,), _reshape_vjp)


@reads(inputs=False, output=False)
def _reshape_vjp(xp, node, g, out, x):
    return (xp.reshape(g, x.shape),)


view = reshape


def transpose(x: Any, *axes: Any) -> Tensor:
    """Permute axes, serving NumPy and PyTorch habits alike.

    No axes: reverse them (``x.T``). Two axes: swap those two, as PyTorch's ``transpose(d0, d1)``
    (on a matrix this is also NumPy's ``transpose(1, 0)``). As many axes as ``x`` has: that
    permutation, as NumPy's ``transpose(axes)``.
    """
    x = _t(x)
    axes = _shape_arg(axes)
    if not axes:
        return _permute(x, tuple(range(x.ndim))[::-1])
    if len(axes) == 2:
        return swapaxes(x, *axes)
    return permute(x, axes)


def permute(x: Any, *dims: Any) -> Tensor:
    """Reorder all axes by the permutation ``dims`` (PyTorch's name)."""
    x = _t(x)
    dims = _shape_arg(dims)
    nd = x.ndim
    if len(dims) != nd or sorted(d % nd for d in dims) != list(range(nd)):
        raise ValueError(f"permute: {dims} is not a permutation of the axes of shape {x.shape}")
    return _permute(x, tuple(d % nd for d in dims))


def swapaxes(x: Any, a: int, b: int) -> Tensor:
    """Exchange axes ``a`` and ``b``."""
    x = _t(x)
    nd = x.ndim
    if not (-nd <= a < nd and -nd <= b < nd):
        raise ValueError(f"transpose: axes ({a}, {b}) are out of range for shape {x.shape}")
    perm = list(range(nd))
    perm[a], perm[b] = perm[b], perm[a]
    return _permute(x, tuple(perm))


def _permute(x: Tensor, perm: tuple) -> Tensor:
    return record(B.transpose(x.data, perm), "transpose", (x,), _transpose_vjp, perm)


@reads(inputs=False, output=False)
def _transpose_vjp(xp, node, g, out, x):
    perm = node.saved
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return (xp.transpose(g, tuple(inverse)),)


def expand_dims(x: Any, axis: int) -> Tensor:
    """Insert a size-1 axis at ``axis`` (PyTorch: ``unsqueeze``)."""
    x = _t(x)
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"unsqueeze: axis {axis} is out of range for a result with {nd} dimensions")
    axis %= nd
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def unsqueeze(x: Any, axis: int = None, *, dim: int = None) -> Tensor:  # type: ignore[assignment]
    """Insert a size-1 axis at ``axis`` (``dim`` accepted)."""
    if axis is None and dim is None:
        raise TypeError("unsqueeze() needs the axis at which to insert the new axis")
    return expand_dims(x, dim if dim is not None else axis)


def squeeze(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Remove size-1 axes: all of them, or those named by ``axis`` (which must have size 1)."""
    x = _t(x)
    axis = dim if dim is not None else axis
    if axis is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        axes = {a % x.ndim for a in axes}
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return reshape(x, shape)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` (inclusive) into one, as PyTorch's ``flatten``."""
    x = _t(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    n = 1
    for k in x.shape[s : e + 1]:
        n *= k
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1 :])


def broadcast_to(x: Any, *shape: Any) -> Tensor:
    """``x`` broadcast to ``shape`` (a read-only view, no copy)."""
    x = _t(x)
    shape = _shape_arg(shape)
    try:
        out = B.broadcast_to(x.data, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return record(out, "expand", (x,), _broadcast_vjp)


@reads(inputs=False, output=False)
def _broadcast_vjp(xp, node, g, out, x):
    # The adjoint of broadcasting is summing over the broadcast axes, which the engine does for
    # every op: returning the output-shaped gradient is enough.
    return (g,)


def expand(x: Any, *sizes: Any) -> Tensor:
    """PyTorch's ``expand``: broadcast to ``sizes``, where −1 keeps that axis's size."""
    x = _t(x)
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if any(s == -1 for s in sizes[:lead]):
        raise ValueError(f"expand: -1 is not allowed for the new leading axes in {sizes}")
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


# ----------------------------------------------------------------------------- indexing
def normalize_index(index: Any) -> Any:
    """Tensors and lists inside an index become arrays, so NumPy applies its indexing rules."""
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return B.asarray(index)
    return index


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]``: basic slicing and integer-array (or boolean) indexing, as NumPy."""
    x = _t(x)
    index = normalize_index(index)
    try:
        out = x.data[index]
    except IndexError as e:
        raise IndexError(f"index {index!r} into a tensor of shape {x.shape}: {e}") from None
    return record(out, "getitem", (x,), _getitem_vjp, index)


@reads(inputs=False, output=False)
def _getitem_vjp(xp, node, g, out, x):
    # x[index] copies some entries; its adjoint adds each gradient entry back where it was read
    # from, accumulating where an index repeats.
    return (xp.scatter_add(g, node.saved, x.shape),)


def scatter_add(g: Any, index: Any, shape: tuple) -> Tensor:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    g = _t(g)
    return record(B.scatter_add(g.data, index, tuple(shape)), "scatter_add", (g,), _scatter_vjp, index)


@reads(inputs=False, output=False)
def _scatter_vjp(xp, node, g, out, src):
    # Adding src into positions `index` is linear; its adjoint reads those positions back.
    return (xp.getitem(g, node.saved),)


# ----------------------------------------------------------------------------- joining
def concatenate(tensors: Sequence[Any], axis: int = 0, *, dim: int = None) -> Tensor:
    """Join tensors along an existing axis."""
    if dim is not None:
        axis = dim
    ts = tuple(_t(t) for t in tensors)
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    if any(t.ndim == 0 for t in ts):
        raise ValueError("concatenate: 0-d tensors have no axis to join along; use stack")
    try:
        out = B.concatenate([t.data for t in ts], axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"concatenate: shapes {shapes} do not match off axis {axis}") from None
    axis = axis % ts[0].ndim
    bounds = [0]
    for t in ts:
        bounds.append(bounds[-1] + t.shape[axis])
    return record(out, "concatenate", ts, _concatenate_vjp, (axis, bounds))


@reads(inputs=False, output=False)
def _concatenate_vjp(xp, node, g, out, *inputs):
    axis, bounds = node.saved
    lead = (slice(None),) * axis
    return tuple(
        xp.getitem(g, lead + (slice(bounds[i], bounds[i + 1]),)) if p.requires_grad else None
        for i, p in enumerate(node.inputs)
    )


cat = concatenate


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int = None) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    if dim is not None:
        axis = dim
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need one shape; got {', '.join(map(str, shapes))}")
    return concatenate([expand_dims(t, axis) for t in ts], axis=axis)


def numpy_transpose(x: Any, axes: Any = None) -> Tensor:
    """NumPy's ``transpose(x, axes)``: ``axes`` is always a full permutation (None reverses)."""
    x = _t(x)
    return _permute(x, tuple(range(x.ndim))[::-1] if axes is None else tuple(axes))
