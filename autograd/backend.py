"""The array namespace every op computes with.

Op code never imports NumPy directly: it takes its array functions from here, so that another
array library with NumPy's interface (CuPy, say) can be plugged in by changing this one module.
Backward rules receive this module as ``xp`` when no graph of the backward pass is wanted, and
the namespace of differentiable Tensor ops (``autograd.ops.api``) when it is; so every helper a
rule calls must exist, with the same meaning, in both places.
"""
from __future__ import annotations

import math

import numpy as np

ndarray = np.ndarray
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)

# The NumPy functions the ops use, re-exported under NumPy's own names.
asarray = np.asarray
array = np.array
zeros = np.zeros
ones = np.ones
full = np.full
empty = np.empty
arange = np.arange
eye = np.eye
zeros_like = np.zeros_like
ones_like = np.ones_like
add = np.add
subtract = np.subtract
multiply = np.multiply
divide = np.divide
true_divide = np.true_divide
power = np.power
negative = np.negative
exp = np.exp
expm1 = np.expm1
log = np.log
log1p = np.log1p
logaddexp = np.logaddexp
sqrt = np.sqrt
abs = np.abs  # noqa: A001 - NumPy's name on purpose
sign = np.sign
sin = np.sin
cos = np.cos
tanh = np.tanh
maximum = np.maximum
minimum = np.minimum
where = np.where
clip = np.clip
sum = np.sum  # noqa: A001
mean = np.mean
amax = np.max
amin = np.min
argmax = np.argmax
argmin = np.argmin
reshape = np.reshape
transpose = np.transpose
swapaxes = np.swapaxes
expand_dims = np.expand_dims
squeeze = np.squeeze
broadcast_to = np.broadcast_to
broadcast_shapes = np.broadcast_shapes
concatenate = np.concatenate
stack = np.stack
matmul = np.matmul
vdot = np.vdot
greater = np.greater
greater_equal = np.greater_equal
less = np.less
less_equal = np.less_equal
equal = np.equal
not_equal = np.not_equal
isfinite = np.isfinite
isnan = np.isnan
logical_and = np.logical_and
logical_or = np.logical_or
logical_xor = np.logical_xor
logical_not = np.logical_not
errstate = np.errstate
finfo = np.finfo
result_type = np.result_type
issubdtype = np.issubdtype
floating = np.floating
integer = np.integer
bool_ = np.bool_


def astype(x, dtype):
    """``x`` converted to ``dtype``."""
    return x.astype(dtype)


def getitem(x, index):
    """``x[index]`` (a function, so backward rules can index in either namespace)."""
    return x[index]


class _NoValues(np.ndarray):
    """An array that has a shape and a dtype but whose values must not be used: any NumPy
    computation on it raises instead of silently computing with placeholder zeros."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise RuntimeError(_NO_VALUES)

    def __array_function__(self, func, types, args, kwargs):
        raise RuntimeError(_NO_VALUES)


_NO_VALUES = (
    "this tensor's values were not kept in the graph (a ReleasedTensor: no backward rule reads "
    "them); use the tensor you computed, not the stub found in grad_fn.inputs"
)


def no_values(shape: tuple, dtype) -> np.ndarray:
    """A read-only stand-in of ``shape`` and ``dtype`` that stores nothing and cannot be computed
    with (the ``data`` of a ReleasedTensor)."""
    a = np.lib.stride_tricks.as_strided(np.zeros((), dtype=dtype), shape, (0,) * len(shape))
    a = a.view(_NoValues)
    a.flags.writeable = False
    return a


def is_array(x: object) -> bool:
    """True for this backend's array type."""
    return isinstance(x, np.ndarray)


def to_numpy(x: np.ndarray) -> np.ndarray:
    """The host NumPy array behind ``x`` (a no-op for NumPy; a device copy for a GPU library)."""
    return x


try:  # SciPy's erf is exact to double precision and vectorised; use it when it is installed.
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - exercised only where SciPy is absent
    _erf_ufunc = np.frompyfunc(math.erf, 1, 1)

    def _erf(x):
        return np.asarray(_erf_ufunc(x), dtype=np.result_type(x, np.float32))


def erf(x):
    """The error function, element-wise, in the dtype of ``x``."""
    x = np.asarray(x)
    return _erf(x).astype(x.dtype, copy=False)


try:  # SciPy's expit is exact, silent and fast on small arrays (but slower than NumPy on big ones)
    from scipy.special import expit as _expit
except ImportError:  # pragma: no cover - exercised only where SciPy is absent
    _expit = None


def sigmoid(x):
    """σ(x) = 1 / (1 + e^{−x}), exact at both tails and silent.

    For x ≪ 0, e^{−x} overflows to inf and 1 / (1 + inf) is exactly the limit 0, so that overflow
    is expected and its warning suppressed. ``errstate`` costs about 2 µs, which dominates on tiny
    arrays; there SciPy's ``expit`` (same values) is used when SciPy is installed.
    """
    if _expit is not None and x.size <= 1024:
        return _expit(x)
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def scatter_add(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of ``x[index]``.

    Repeated integer indices accumulate (``np.add.at``, linear time); indices that cannot repeat
    (ints, slices, boolean masks) use a plain assignment, which is much faster.
    """
    out = np.zeros(shape, dtype=g.dtype)
    if _may_repeat(index):
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


def _may_repeat(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    for i in items:
        if isinstance(i, np.ndarray) and i.dtype != np.bool_:
            return True
        if isinstance(i, list):
            return True
    return False
