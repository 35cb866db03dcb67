"""Arguments of the sliding-window ops (convolution, pooling): sizes given as an int or one per
spatial axis, padding as PyTorch spells it, and the window geometry with its error messages."""
from __future__ import annotations

from itertools import product
from numbers import Integral
from typing import Any, NamedTuple

from ..tensor import Tensor

_AXES = {1: "L", 2: "H, W", 3: "D, H, W"}


def layout(d: int, lead: str = "N, C") -> str:
    """How a batch of d-dimensional inputs is laid out: ``(N, C, H, W)`` for d = 2."""
    return f"({lead}, {_AXES[d]})"


def integer(v: Any) -> bool:
    """Whether ``v`` is an integer (Python's or NumPy's), not a bool."""
    return isinstance(v, Integral) and not isinstance(v, bool)


def ntuple(value: Any, d: int, what: str, op: str, minimum: int = 1) -> tuple:
    """``value`` (an int, or a sequence of ``d`` ints) as a tuple of ``d`` ints ≥ ``minimum``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * d
    if len(items) != d or not all(integer(v) for v in items):
        raise ValueError(f"{op}: {what} must be an int or {d} ints; got {value!r}")
    if any(v < minimum for v in items):
        raise ValueError(f"{op}: {what} must be at least {minimum}; got {value!r}")
    return tuple(int(v) for v in items)


class Geometry(NamedTuple):
    """Where the windows of a sliding-window op lie: ``kernel``, ``stride`` and ``dilation`` per
    spatial axis, ``padding`` as (before, after) per axis, and the number of windows ``out``."""

    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out: tuple

    @property
    def args(self) -> tuple:
        """(kernel, stride, padding, dilation): the arguments of ``im2col``/``col2im``."""
        return self.kernel, self.stride, self.padding, self.dilation


def geometry(op: str, spatial: tuple, kernel: tuple, stride: tuple, padding: tuple,
             dilation: tuple) -> Geometry:
    """The windows of ``kernel`` over ``spatial`` padded by ``padding`` (pairs), or an error that
    says the (dilated) kernel does not fit."""
    out = []
    for s, k, st, (lo, hi), dl in zip(spatial, kernel, stride, padding, dilation):
        span = dl * (k - 1) + 1
        if s + lo + hi < span:
            size = "×".join(str(n + a + b) for n, (a, b) in zip(spatial, padding))
            reach = "×".join(str(dl_ * (k_ - 1) + 1) for k_, dl_ in zip(kernel, dilation))
            raise ValueError(
                f"{op}: the kernel {'×'.join(map(str, kernel))} (spanning {reach} with dilation "
                f"{dilation}) is larger than the padded input {size} (input "
                f"{'×'.join(map(str, spatial))}, padding {padding_text(padding)})"
            )
        out.append((s + lo + hi - span) // st + 1)
    return Geometry(kernel, stride, padding, dilation, tuple(out))


def padding_text(pairs: tuple) -> str:
    if all(lo == hi for lo, hi in pairs):
        return str(tuple(lo for lo, _ in pairs))
    return str(pairs)


def conv_padding(padding: Any, d: int, kernel: tuple, stride: tuple, dilation: tuple, op: str) -> tuple:
    """A convolution's ``padding`` as (before, after) pairs: an int, ``d`` ints, ``'valid'`` (none)
    or ``'same'`` (the output keeps the input's size; an odd total puts the extra element at the
    end, as PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' needs stride 1 (got stride {stride}), as in PyTorch")
            total = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise ValueError(f"{op}: padding must be an int, {d} ints, 'valid' or 'same'; got {padding!r}")
    try:
        return tuple((p, p) for p in ntuple(padding, d, "padding", op, minimum=0))
    except ValueError:
        raise ValueError(
            f"{op}: padding must be an int, {d} ints, 'valid' or 'same'; got {padding!r}"
        ) from None


def same_dtype(op: str, x: Tensor, *others: Any) -> None:
    """Inputs and parameters must share one floating dtype: mixing float32 and float64 would
    silently promote (PyTorch refuses too)."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point; got dtype {x.dtype}")
    for name, t in others:
        if t is not None and t.dtype != x.dtype:
            raise TypeError(
                f"{op}: input is {x.dtype} but {name} is {t.dtype}; convert one of them "
                f"(.float() or .double())"
            )


def offsets(geo: Geometry):
    """For each kernel offset, in order (the first axis slowest), the strided slices over the
    padded spatial axes that read that element of every window."""
    ranges = [range(k) for k in geo.kernel]
    for k in product(*ranges):
        yield tuple(slice(i * dl, i * dl + st * (o - 1) + 1, st)
                    for i, dl, st, o in zip(k, geo.dilation, geo.stride, geo.out))
