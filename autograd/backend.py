"""The array namespace every op computes with: the one place another array library plugs in.

Op code never imports NumPy: it takes its array functions from here, as ``B.exp``, ``B.sum``, ...
Everything it may use is listed below, in two groups.

* ``STANDARD`` and ``DTYPES``: the functions and dtypes of the array API standard
  (data-apis.org/array-api, 2023.12), under the standard's names and signatures. NumPy 2.1
  implements each of them; so do CuPy, PyTorch (through array-api-compat) and JAX. A new op that
  needs one of them finds it here already.
* ``EXTRAS``: the short list of things the standard lacks, each written out here in a few lines
  so that another library's version is easy to supply: error-state handling, two special
  functions, the adjoint of indexing, indexing as a function, Einstein summation, the sliding
  windows of a convolution (im2col) and their adjoint (col2im), the placeholder array of the
  memory model, reuse of a value the forward pass kept, and host interop.

Backward rules receive this module as ``xp`` when no graph of the backward pass is wanted, and a
namespace of differentiable ops with the same names when it is (``create_graph=True``, see
``graph.py``), so a rule written once in these terms serves both.
"""
from __future__ import annotations

import builtins as _builtins
import math
import warnings
import sys as _sys
import threading as _threading

import numpy as np

# What NumPy would warn about inside this package (an overflow in a product of huge values, the
# sine of inf) is IEEE arithmetic giving inf or nan, which the package returns silently, as
# PyTorch does; the common cases (log 0, 1/0, exp overflow, 0/0) are computed under `quiet`.
# This filter covers the rest, for warnings raised in this package's modules only.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"autograd(\..*)?$")

# ----------------------------------------------------------------------------- the standard
#: The array API standard's functions (2023.12), by the standard's own grouping. NumPy 2.1 and
#: later implement every one under this name and signature; each is an attribute of this module.
STANDARD = (
    # element-wise
    "abs", "acos", "acosh", "add", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and",
    "bitwise_left_shift", "bitwise_invert", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "ceil", "clip", "conj", "copysign", "cos", "cosh", "divide", "equal", "exp", "expm1", "floor",
    "floor_divide", "greater", "greater_equal", "hypot", "imag", "isfinite", "isinf", "isnan",
    "less", "less_equal", "log", "log1p", "log2", "log10", "logaddexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "maximum", "minimum", "multiply", "negative",
    "not_equal", "positive", "pow", "real", "remainder", "round", "sign", "signbit", "sin", "sinh",
    "square", "sqrt", "subtract", "tan", "tanh", "trunc",
    # creation
    "arange", "asarray", "empty", "empty_like", "eye", "full", "full_like", "linspace",
    "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like",
    # data types
    "astype", "can_cast", "finfo", "iinfo", "isdtype", "result_type",
    # manipulation
    "broadcast_arrays", "broadcast_to", "concat", "expand_dims", "flip", "moveaxis",
    "permute_dims", "repeat", "reshape", "roll", "squeeze", "stack", "tile", "unstack",
    # searching, sorting, sets
    "argmax", "argmin", "nonzero", "searchsorted", "where", "argsort", "sort", "unique_values",
    # statistics and utilities
    "cumulative_sum", "max", "mean", "min", "prod", "std", "sum", "var", "all", "any",
    # linear algebra and indexing
    "matmul", "matrix_transpose", "tensordot", "vecdot", "take",
)
for _name in STANDARD:
    globals()[_name] = getattr(np, _name)

#: The standard's dtypes, as dtype objects.
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64")
bool = np.dtype(np.bool_)  # noqa: A001 - the standard's name
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)


def __getattr__(name: str):
    # Only reached for a name outside the lists: say what the backend offers.
    raise AttributeError(
        f"the backend has no {name!r}: it offers the array API standard's functions (STANDARD), "
        f"its dtypes (DTYPES) and a short list of extras (EXTRAS)"
    )


# ----------------------------------------------------------------------------- the extras
EXTRAS = (
    "float16", "ndarray", "is_array", "to_numpy", "errstate", "quiet", "erf", "sigmoid", "getitem",
    "scatter_add",
    "no_values", "NoValuesError", "reuse", "einsum",
    # sliding windows and their adjoint: the standard has no windowed view and no strided scatter
    "im2col", "col2im",
)

float16 = np.dtype(np.float16)  # half precision, which the standard leaves out
ndarray = np.ndarray  # the array type, for isinstance checks on the hot path
errstate = np.errstate  # scoped floating-point error handling: a formula may overflow on purpose


try:  # NumPy 2 keeps its floating-point error state in a context variable
    # private NumPy API, absent from NumPy's type stubs (the except below covers its absence)
    from numpy._core._ufunc_config import _extobj_contextvar as _fp_state  # type: ignore[attr-defined]

    with np.errstate(all="ignore"):
        _SILENT = _fp_state.get()
except (ImportError, AttributeError):  # pragma: no cover - another NumPy layout
    _fp_state = None


def quiet(f, *args):
    """``f(*args)`` with NumPy's floating-point warnings off: log 0, 1/0, exp(1000), 0/0 give
    IEEE's −inf, inf, nan silently, as PyTorch does. Setting NumPy's error-state context variable
    directly costs a fifth of entering ``np.errstate``, which matters for small arrays."""
    if _fp_state is None:  # pragma: no cover
        with np.errstate(all="ignore"):
            return f(*args)
    token = _fp_state.set(_SILENT)
    try:
        return f(*args)
    finally:
        _fp_state.reset(token)


def is_array(x: object) -> _builtins.bool:  # `bool` here is the standard's dtype
    """True for this backend's array type."""
    return isinstance(x, np.ndarray)


def to_numpy(x: np.ndarray) -> np.ndarray:
    """The host NumPy array behind ``x`` (a no-op for NumPy; a device copy for a GPU library)."""
    return x


def einsum(subscripts, *operands):
    """``numpy.einsum`` with explicit subscripts (the standard has only single contractions,
    ``tensordot``/``vecdot``). With two or more operands the contraction order is optimised,
    which also hands pairwise contractions to BLAS."""
    return np.einsum(subscripts, *operands, optimize=len(operands) > 1)


def getitem(x, index):
    """``x[index]``, as a function, so that backward rules can index in either namespace."""
    return x[index]


def scatter_add(g, index, shape, out=None):
    """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of ``x[index]`` (into ``out``,
    zeroed first, when given).

    Repeated integer indices accumulate (``np.add.at``); indices that cannot repeat (ints,
    slices, boolean masks) use a plain assignment, which is much faster.
    """
    if out is None:
        out = np.zeros(shape, dtype=g.dtype)
    else:
        out.fill(0)
    if _may_repeat(index):
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


def _may_repeat(index) -> _builtins.bool:
    items = index if isinstance(index, tuple) else (index,)
    for i in items:
        if isinstance(i, np.ndarray) and i.dtype != np.bool_:
            return True
        if isinstance(i, list):
            return True
    return False


# Window buffers are kept for reuse. A training loop asks for buffers of the same few shapes
# every step; glibc hands freed multi-megabyte arrays back to the kernel, so each step's buffers
# page-fault their memory in again (measured on a small CNN step: ~3,000 faults, a third of the
# step's time). im2col and col2im therefore take their large buffers from a small pool and reuse
# one as soon as nothing else refers to it, as GPU array libraries' caching allocators do.
_POOL_FROM = 1 << 20  # bytes; smaller arrays come from malloc's heap without page faults
_POOL_KEYS, _POOL_PER_KEY = 16, 4
_pool: dict = {}  # (shape, dtype) -> [arrays], least recently used key first
_pool_lock = _threading.Lock()


def _unshared(kept: list):
    """The first array of ``kept`` that only the pool refers to, or None."""
    for a in kept:
        if _sys.getrefcount(a) == _OWN_REFS:
            return a
    return None


def _own_refs() -> int:
    # The reference count _unshared sees for an array only the pool holds (the list, the loop
    # variable, getrefcount's argument), measured the same way rather than assumed.
    kept = [np.empty(0)]
    for a in kept:
        return _sys.getrefcount(a)
    raise AssertionError("unreachable: kept has one element")


_OWN_REFS = _own_refs()


def _buffer(shape: tuple, dtype):
    """An uninitialised array of ``shape``: for a large one, a pooled array that nothing else
    refers to any more (its CPython reference count says so), else a new one."""
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize < _POOL_FROM:
        return np.empty(shape, dtype=dtype)
    key = (shape, dtype)
    with _pool_lock:
        kept = _pool.pop(key, None)
        if kept is None:
            kept = []
            if len(_pool) >= _POOL_KEYS:
                del _pool[next(iter(_pool))]
        _pool[key] = kept  # now the most recently used
        a = _unshared(kept)
        if a is not None:
            return a
        a = np.empty(shape, dtype=dtype)
        if len(kept) < _POOL_PER_KEY:
            kept.append(a)
        return a


def _windows(spatial, kernel, stride, padding, dilation):
    """The padded spatial size, the window count per axis, and for each kernel offset the strided
    slices (over the padded axes) that its element of every window is read from."""
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, padding))
    out = tuple((p - d * (k - 1) - 1) // st + 1
                for p, k, st, d in zip(padded, kernel, stride, dilation))
    offsets = [(k, tuple(slice(i * d, i * d + st * (o - 1) + 1, st)
                         for i, d, st, o in zip(k, dilation, stride, out)))
               for k in np.ndindex(*kernel)]
    return padded, out, offsets


def im2col(x, kernel, stride, padding, dilation, known=None):
    """The sliding windows of ``x`` (N, C, *spatial), zero-padded by ``padding`` ((before, after)
    per spatial axis), copied into one array of shape (C, *kernel, N, *out): element
    [c, *k, n, *o] is padded ``x[n, c, *(o·stride + k·dilation)]``. Reshaped to
    (C·Πkernel, N·Πout) it is the matrix a convolution multiplies by its weights.

    ``known``: these same windows, already copied from this ``x`` (a backward pass reusing its
    forward's copy); they are returned as they are.
    """
    if known is not None:
        return known
    n, c, *spatial = x.shape
    padded, out, offsets = _windows(spatial, kernel, stride, padding, dilation)
    src = np.swapaxes(x, 0, 1)  # (C, N, *spatial): the channel axis leads the windows' rows
    if padded != tuple(spatial):
        buf = _buffer((c, n) + padded, x.dtype)
        inside = tuple(slice(lo, lo + s) for s, (lo, _) in zip(spatial, padding))
        for i, (sl, (lo, _)) in enumerate(zip(inside, padding)):  # zero only the border
            lead = (slice(None),) * (2 + i)
            buf[lead + (slice(0, lo),)] = 0
            buf[lead + (slice(sl.stop, None),)] = 0
        buf[(slice(None), slice(None)) + inside] = src
        src = buf
    cols = _buffer((c,) + tuple(kernel) + (n,) + out, x.dtype)
    for k, window in offsets:
        cols[(slice(None),) + k] = src[(slice(None), slice(None)) + window]
    return cols


def col2im(cols, shape, kernel, stride, padding, dilation):
    """The adjoint of :func:`im2col`: each window element of ``cols`` (C, *kernel, N, *out) added
    back at the place of the (N, C, *spatial) = ``shape`` input it was read from (padding
    dropped). Windows that tile the padded input exactly are assigned, not added."""
    n, c, *spatial = shape
    padded, out, offsets = _windows(spatial, kernel, stride, padding, dilation)
    # (this module's `all` is the array function: the builtin is spelled out)
    tiles = _builtins.all(st == k and d == 1 and o * k == p
                          for st, k, d, o, p in zip(stride, kernel, dilation, out, padded))
    buf = _buffer((n, c) + padded, cols.dtype)
    if not tiles:
        buf[...] = 0
    dst = np.swapaxes(buf, 0, 1)
    for k, window in offsets:
        if tiles:
            dst[(slice(None), slice(None)) + window] = cols[(slice(None),) + k]
        else:
            dst[(slice(None), slice(None)) + window] += cols[(slice(None),) + k]
    if padded == tuple(spatial):
        return buf
    return buf[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(spatial, padding))]


try:  # SciPy's erf is exact to double precision and vectorised; use it when it is installed.
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - exercised only where SciPy is absent
    _erf = None


def erf(x):
    """The error function, element-wise, in the dtype of ``x``.

    float32: tanh(x · P(x²)) (see ``_erf_float32``), within 4 units in the last place of
    float32 and about six times faster than SciPy's scalar ``erf``, which would otherwise be
    the cost of GELU. Other dtypes: SciPy's ``erf`` where installed, else W. J. Cody's rational
    approximations (Math. Comp. 23, 1969), the ones behind most C libraries' ``erf``, evaluated
    with NumPy; both accurate to a few units in the last place of float64.
    """
    x = np.asarray(x)
    if x.dtype == np.float32:
        return _erf_float32(x)
    if _erf is not None:
        return _erf(x).astype(x.dtype, copy=False)
    return _cody_erf(x.astype(np.float64)).astype(x.dtype, copy=False)


# P(z) = Σ c_k z^k with erf(x) ≈ tanh(x P(x²)), fitted for this library: a minimax fit (linear
# programming) of atanh(erf x) / x on [0, 3.92], weighted so that the error is measured in
# float32 units in the last place of erf, under the constraint x P(x²) ≥ 10.2 on [3.92, 4], where
# NumPy's float32 tanh is exactly 1 (erf itself rounds to 1 there). Inputs are clamped to ±4.
# Worked in tanh's argument, the error of the fit is damped by tanh's slope 1 − erf² where erf
# nears 1, so eight powers of x² suffice for float32.
_ERF32 = tuple(np.float32(c) for c in (
    1.1283792484851247, 0.10276924330880745, -0.00019129101638827248, -0.0006210846503896649,
    8.868757493143426e-05, -6.1152756261081034e-06, 2.473470662196862e-07,
    -1.2552071072432477e-08, 5.69572336367599e-10,
))
_ERF32_BLOCK = 1 << 16  # elements per block: the temporaries of a block stay in cache


def _erf_float32(x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape, dtype=np.float32)
    src, dst = x.reshape(-1), out.reshape(-1)
    lo, hi = np.float32(-4.0), np.float32(4.0)
    for i in range(0, src.size, _ERF32_BLOCK):
        xi = np.clip(src[i:i + _ERF32_BLOCK], lo, hi)
        z = xi * xi
        p = z * _ERF32[-1]
        for c in _ERF32[-2:0:-1]:  # Horner's rule, in place
            p += c
            p *= z
        p += _ERF32[0]
        p *= xi
        np.tanh(p, out=dst[i:i + _ERF32_BLOCK])
    return out


# Cody's coefficients: erf on |x| < 0.5, erfc on 0.5 ≤ |x| < 4 and on |x| ≥ 4.
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)


def _cody_erf(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    out = np.empty_like(a)
    small = a < 0.5
    mid = (a >= 0.5) & (a < 4.0)
    big = a >= 4.0
    with np.errstate(all="ignore"):
        z = a[small] ** 2
        num = _A[4] * z
        den = z
        for i in range(3):
            num = (num + _A[i]) * z
            den = (den + _B[i]) * z
        out[small] = a[small] * (num + _A[3]) / (den + _B[3])
        y = a[mid]
        num = _C[8] * y
        den = y
        for i in range(7):
            num = (num + _C[i]) * y
            den = (den + _D[i]) * y
        erfc = (num + _C[7]) / (den + _D[7])
        out[mid] = 1.0 - _tail(y, erfc)
        y = np.minimum(a[big], 10.0)  # erf is 1 in float64 from 6 on; keeps inf out of the tail
        z = 1.0 / (y * y)
        num = _P[5] * z
        den = z
        for i in range(4):
            num = (num + _P[i]) * z
            den = (den + _Q[i]) * z
        r = z * (num + _P[4]) / (den + _Q[4])
        r = (1.0 / math.sqrt(math.pi) - r) / y
        out[big] = 1.0 - _tail(y, r)
    out[np.isnan(a)] = np.nan
    return np.copysign(out, x)


def _tail(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    # exp(−y²) · r, with y² split as ysq + (y − ysq)(y + ysq) so that no precision is lost.
    ysq = np.trunc(y * 16.0) / 16.0
    return np.exp(-ysq * ysq) * np.exp(-(y - ysq) * (y + ysq)) * r


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


class NoValuesError(RuntimeError):
    """Raised when the values of a tensor the graph did not keep are read."""


class _NoValues(np.ndarray):
    """An array with a shape and a dtype whose values must not be used: any NumPy computation
    on it raises instead of silently computing with placeholder zeros."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise NoValuesError(NO_VALUES)

    def __array_function__(self, func, types, args, kwargs):
        raise NoValuesError(NO_VALUES)


NO_VALUES = (
    "this tensor's values were not kept in the graph (a ReleasedTensor: no backward rule reads "
    "them); use the tensor you computed, not the stub found in grad_fn.inputs"
)


def reuse(kept, recompute):
    """``kept``: a value the forward pass computed from the op's inputs and left in
    ``ctx.saved``, so that a rule need not compute it again (GELU's Φ(x)). ``recompute()`` is the
    same value computed from the inputs, called only if nothing was kept.

    The ``create_graph`` namespace has its own ``reuse``, which always recomputes: there the value
    must be recorded as a function of the inputs to be differentiated again, whereas ``kept`` is
    a constant. One rule text thus serves both, without asking which mode it runs in.
    """
    return recompute() if kept is None else kept


_ONE_ELEMENT = bytes(64)  # read-only, and as large as any numeric dtype's element


def no_values(shape: tuple, dtype) -> np.ndarray:
    """A read-only stand-in of ``shape`` and ``dtype`` that stores nothing and cannot be computed
    with (the ``data`` of a ReleasedTensor, see ``memory.py``): every element is the one element
    of a small read-only buffer (all strides 0). Built directly, since the engine asks for one
    per released tensor it meets in backward."""
    dtype = np.dtype(dtype)
    if dtype.hasobject or dtype.itemsize > len(_ONE_ELEMENT):
        a = np.lib.stride_tricks.as_strided(np.zeros((), dtype=dtype), shape, (0,) * len(shape))
        a = a.view(_NoValues)
        a.flags.writeable = False
        return a
    return np.ndarray.__new__(_NoValues, shape, dtype, _ONE_ELEMENT, 0, (0,) * len(shape))


# ----------------------------------------------------------------------------- freed memory
#: Set to "0" to leave the C allocator's settings as they are.
KEEP_FREED_MEMORY_ENV = "AG_KEEP_FREED_MEMORY"
_MMAP_THRESHOLD = 32 * 2**20  # glibc's own ceiling for its moving threshold (64-bit)
_TRIM_THRESHOLD = 512 * 2**20
_MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
               "MALLOC_MMAP_MAX_")


def _keep_freed_memory() -> str:
    """Ask glibc's allocator to keep freed arrays for reuse; returns what was done, in words.

    An eager engine allocates every intermediate afresh and frees it after backward. By default
    glibc hands a freed multi-megabyte block back to the kernel (and a large free stretch at the
    top of its heap), so the same allocation in the next training step page-faults its memory in
    again, zeroed by the kernel: measured on a small transformer step, 3,500 page faults and a
    quarter of the step's time. Arrays below 32 MiB are therefore served from the heap and up to
    512 MiB of free heap is kept: the process keeps the memory its peak step used, as a caching
    allocator does. Not done when the user set glibc's own ``MALLOC_*_`` variables or
    ``GLIBC_TUNABLES``, when ``AG_KEEP_FREED_MEMORY=0``, or off glibc (macOS, Windows, musl).
    """
    import os

    if os.environ.get(KEEP_FREED_MEMORY_ENV, "1").strip() in ("0", "false", "no", "off"):
        return f"left as it was ({KEEP_FREED_MEMORY_ENV}=0)"
    if _builtins.any(k in os.environ for k in _MALLOC_ENV) or "glibc.malloc" in os.environ.get(
            "GLIBC_TUNABLES", ""):
        return "left as the environment set it"
    if not _sys.platform.startswith("linux"):
        return "left as it was (not glibc)"
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl's mallopt does nothing)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "left as it was (not glibc)"
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    if mallopt(m_mmap_threshold, _MMAP_THRESHOLD) and mallopt(m_trim_threshold, _TRIM_THRESHOLD):
        return "glibc keeps freed arrays (below 32 MiB, up to 512 MiB of free heap)"
    return "left as it was (glibc refused)"  # pragma: no cover


ALLOCATOR = _keep_freed_memory()
