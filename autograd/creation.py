"""Tensor constructors: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``eye``, random."""
from __future__ import annotations

from typing import Any

import numpy as _np  # the random generator is a host-side concern

from . import backend as B
from .state import host
from .tensor import Tensor

float16 = B.float16
float32 = B.float32
float64 = B.float64
int32 = B.int32
int64 = B.int64
bool_ = B.bool

_rng = _np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind ``randn``/``rand`` (and ``nn`` initialisation), for reproducibility."""
    global _rng
    _rng = _np.random.default_rng(seed)


def generator() -> _np.random.Generator:
    """The generator seeded by :func:`manual_seed`."""
    return _rng


@host
def draw(method: str, shape: tuple, *args: Any, **kwargs: Any) -> Any:
    """``generator().<method>(*args, size=shape, **kwargs)``: a draw from the seeded generator, made again at
    every replay of a compiled step (so that it draws what an eager step would)."""
    return getattr(_rng, method)(*args, size=shape, **kwargs)


def _shape(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _make(data: Any, requires_grad: bool, dtype: Any, name: str | None) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """A new tensor holding a copy of ``data`` (same dtype policy as ``Tensor``)."""
    if isinstance(data, Tensor):
        data = data.data
    if B.is_array(data):
        data = data.copy()
    return _make(data, requires_grad, dtype, name)


def zeros(*shape: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise)."""
    return _make(B.zeros(_shape(shape), dtype=dtype or float32), requires_grad, None, name)


def ones(*shape: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """A tensor of ones (float32 unless ``dtype`` says otherwise)."""
    return _make(B.ones(_shape(shape), dtype=dtype or float32), requires_grad, None, name)


def full(shape: Any, fill_value: float, requires_grad: bool = False, dtype: Any = None,
         name: str | None = None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (float32 unless ``dtype`` says otherwise)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _make(B.full(shape, fill_value, dtype=dtype or float32), requires_grad, None, name)


def zeros_like(t: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Zeros with the shape (and, unless ``dtype`` is given, the dtype) of ``t``."""
    d = t.data if isinstance(t, Tensor) else B.asarray(t)
    return _make(B.zeros(d.shape, dtype=dtype or d.dtype), requires_grad, None, None)


def ones_like(t: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Ones with the shape (and, unless ``dtype`` is given, the dtype) of ``t``."""
    d = t.data if isinstance(t, Tensor) else B.asarray(t)
    return _make(B.ones(d.shape, dtype=dtype or d.dtype), requires_grad, None, None)


def arange(start: float, end: float | None = None, step: float = 1, requires_grad: bool = False,
           dtype: Any = None, name: str | None = None) -> Tensor:
    """Evenly spaced values in [start, end). As in PyTorch, all-integer arguments give int64 and
    any float argument gives float32, unless ``dtype`` says otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, int) for v in (start, end, step)) else float32
    return _make(B.arange(start, end, step, dtype=dtype), requires_grad, None, name)


def eye(n: int, m: int | None = None, requires_grad: bool = False, dtype: Any = None,
        name: str | None = None) -> Tensor:
    """The n×m identity matrix (float32 unless ``dtype`` says otherwise)."""
    return _make(B.eye(n, m, dtype=dtype or float32), requires_grad, None, name)


def randn(*shape: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """Standard normal samples (float32 unless ``dtype`` says otherwise)."""
    data = draw("standard_normal", _shape(shape)).astype(dtype or float32)
    return _make(B.asarray(data), requires_grad, None, name)


def rand(*shape: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """Uniform samples from [0, 1) (float32 unless ``dtype`` says otherwise)."""
    data = draw("random", _shape(shape)).astype(dtype or float32)
    return _make(B.asarray(data), requires_grad, None, name)
