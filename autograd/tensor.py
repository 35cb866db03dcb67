"""Tensor: an array, the node that produced it, and its gradient.

The class holds data and the dtype policy; every operator and method is an op function from
``autograd.ops`` (bound at the bottom of this file), so the rule for an op lives only there.
"""
from __future__ import annotations

import weakref
from typing import Any, Iterator, Optional

from . import backend as B
from . import engine

DTypeLike = Any


class _Size(int):
    """``x.size`` is the element count (NumPy) and ``x.size()`` / ``x.size(d)`` the shape (PyTorch)."""

    def __new__(cls, shape: tuple) -> "_Size":
        n = 1
        for s in shape:
            n *= s
        obj = super().__new__(cls, n)
        obj._shape = shape
        return obj

    def __call__(self, dim: Optional[int] = None):
        return self._shape if dim is None else self._shape[dim]


def _to_array(data: Any, dtype: DTypeLike = None):
    """The array behind ``data``, under the dtype policy of API.md.

    Python scalars and lists become float32 (bools stay bool); a NumPy array keeps its dtype;
    ``dtype`` overrides both.
    """
    if isinstance(data, Tensor):
        data = data.data
    if B.is_array(data):
        return data if dtype is None else data.astype(dtype, copy=False)
    if isinstance(data, B.integer) or isinstance(data, B.floating):  # a NumPy scalar keeps its dtype
        return B.asarray(data, dtype=dtype)
    arr = B.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype != B.bool_ and arr.dtype.kind in "iuf":
        arr = arr.astype(B.float32)
    return arr


def _is_float(dtype) -> bool:
    return dtype.kind in "fc"


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None, name=None)``. Lists and Python numbers become
    float32 unless ``dtype`` says otherwise; a NumPy array keeps its dtype and shares its memory
    (as ``np.asarray``); use ``ag.tensor`` for a copy. Only floating tensors can require grad.
    """

    __slots__ = ("data", "requires_grad", "grad_fn", "_grad", "name", "__weakref__")
    # NumPy must hand mixed expressions (ndarray * Tensor) to our reflected operators.
    __array_ufunc__ = None

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: DTypeLike = None,
        name: Optional[str] = None,
    ) -> None:
        self.data = _to_array(data, dtype)
        if requires_grad and not _is_float(self.data.dtype):
            raise TypeError(
                f"only floating-point tensors can require gradients; got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        self.grad_fn: Optional[engine.Node] = None
        self._grad: Optional[Tensor] = None
        self.name = name

    # ------------------------------------------------------------------ array facts
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> _Size:
        return _Size(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    def numpy(self):
        """The values as a ``numpy.ndarray`` (a copy on the host for a device backend)."""
        return B.to_numpy(self.data)

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor; this one has shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        arr = B.to_numpy(self.data)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        return arr.copy() if copy else arr

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    # Graph sets and dicts need identity hashing, which defining __eq__ would otherwise remove.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = B.to_numpy(self.data)
        import numpy as np  # repr only: formatting is a host-side concern

        text = np.array2string(body, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype != B.float32:
            extras.append(f"dtype={self.data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + ", ".join([text] + extras) + ")"

    # ------------------------------------------------------------------ autograd
    @property
    def grad(self) -> Optional["Tensor"]:
        """The accumulated gradient (a Tensor), or None. Assignable, e.g. ``x.grad = None``."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None:
            value = value if isinstance(value, Tensor) else Tensor(value, dtype=self.dtype)
            if value.shape != self.shape:
                raise ValueError(
                    f"assigned grad has shape {value.shape}, but the tensor has shape {self.shape}"
                )
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made, False for results of recorded ops."""
        return self.grad_fn is None

    def backward(
        self,
        gradient: Any = None,
        retain_graph: Optional[bool] = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf), weighted by ``gradient``, into ``.grad`` of every leaf.

        ``gradient`` may be omitted only for a one-element tensor. The graph's saved values are
        freed afterwards unless ``retain_graph`` (default: ``create_graph``) is true.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no grad_fn "
                "(was it computed under no_grad, or from tensors without requires_grad=True?)"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for one-element outputs; "
                    f"this output has shape {self.shape}, so pass gradient= of that shape"
                )
            gradient = B.ones_like(self.data)
        elif not isinstance(gradient, Tensor):
            gradient = B.asarray(gradient, dtype=self.dtype)
        if retain_graph is None:
            retain_graph = create_graph
        engine.run_backward([self], [gradient], retain_graph, create_graph)

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, cut from the graph (requires_grad=False)."""
        t = Tensor(self.data)
        t.name = self.name
        return t

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` on a leaf in place; returns self."""
        if not self.is_leaf:
            raise RuntimeError(
                "requires_grad_() can only change leaf tensors; use .detach() on a result"
            )
        if requires_grad and not _is_float(self.dtype):
            raise TypeError(
                f"only floating-point tensors can require gradients; got dtype {self.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Make backward() fill ``.grad`` of this non-leaf tensor too."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self.grad_fn is not None:  # a leaf keeps its gradient anyway
            self.grad_fn.retain = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """Whether backward() fills ``.grad`` of this non-leaf tensor (see :meth:`retain_grad`)."""
        r = self.grad_fn.retain if self.grad_fn is not None else None
        return r is not None and r() is self

    def __setitem__(self, index: Any, value: Any) -> None:
        if self.requires_grad:
            raise RuntimeError(
                "in-place assignment into a tensor that requires grad would corrupt its graph; "
                "assign into .data, or build a new tensor with ag.where/ag.cat"
            )
        self.data[_S.normalize_index(index)] = value.data if isinstance(value, Tensor) else value


class ReleasedTensor(Tensor):
    """A tensor's place in a graph without its values.

    The engine puts one in a node's inputs where the node's rule does not need that input's
    values: after backward() (which releases the graph), and at record time for a large
    intermediate whose producer and consumer rules read only its shape (``x @ W`` feeding
    ``+ b``), so that, as in PyTorch, the forward pass keeps only the arrays backward will read.
    It keeps the node that made the tensor, its shape and dtype, and a weak reference to the
    tensor itself, whose name and ``.grad`` it shows while the tensor lives; so the graph can
    still be walked, differentiated and drawn. Its ``data`` has the right shape and dtype but no
    values: reading or computing with them raises (``released`` tells a stub apart).
    """

    __slots__ = ("_shape", "_dtype", "_origin", "_name")
    released = True
    requires_grad = True  # only tensors that require grad are ever stubbed
    _grad = None

    def __init__(self, t: Tensor, follow: bool = True) -> None:  # noqa: D107 - engine only
        self.grad_fn = t.grad_fn
        # While the tensor lives the stub shows its name and .grad. backward() releases whole
        # graphs, whose tensors are mostly gone, and skips the weak reference (it is the hot path).
        self._origin = weakref.ref(t) if follow else _gone
        self._name = t.name
        self._shape = t.data.shape
        self._dtype = t.data.dtype

    @property
    def data(self):  # type: ignore[override]
        # Built on access: only the engine reads it (shapes, dtypes), and rarely.
        return B.no_values(self._shape, self._dtype)

    @property
    def name(self) -> Optional[str]:  # type: ignore[override]
        t = self._origin()
        return t.name if t is not None else self._name

    @name.setter
    def name(self, value: Optional[str]) -> None:
        self._name = value

    @property
    def grad(self) -> Optional[Tensor]:  # type: ignore[override]
        t = self._origin()
        return t.grad if t is not None else None

    @property
    def shape(self) -> tuple:
        return self._shape

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def size(self) -> _Size:
        return _Size(self._shape)

    @property
    def dtype(self):
        return self._dtype

    def _no_values(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(B._NO_VALUES)

    numpy = item = tolist = __array__ = __bool__ = _no_values

    def __repr__(self) -> str:
        return f"tensor(<values not kept>, shape={self._shape}, grad_fn={self.grad_fn!r})"


Tensor.released = False


def _gone() -> None:
    """Stands in for a weak reference whose tensor is not followed."""
    return None


def lift(x: Any, like: Tensor) -> Tensor:
    """``x`` as a constant Tensor for a binary op with ``like``.

    A number (Python's or a NumPy scalar) takes ``like``'s floating dtype, so a float32 tensor
    times 0.5, ``np.float64(0.5)`` or ``np.int64(3)`` stays float32, as in PyTorch. Number constants are
    cached, read-only, and shared between graphs: a loop like ``y = y * 0.5`` then allocates no
    constant per step, which keeps Python's garbage collector from scanning a million of them.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _NUMBERS) and not isinstance(x, _BOOLS):
        dtype = like.data.dtype
        # 0.0 == -0.0 and NaN != NaN, so neither can be a dict key faithfully: not cached.
        key = (x, type(x), dtype) if x and x == x else None
        t = _constants.get(key)
        if t is None:
            if dtype.kind == "f":
                data = B.asarray(x, dtype=dtype)
            else:  # an integer tensor: ints stay ints, floats take the default float32
                data = B.asarray(x) if isinstance(x, _INTS) else B.asarray(x, dtype=B.float32)
            data.flags.writeable = False
            t = Tensor(data)
            if key is not None:
                if len(_constants) >= 4096:
                    _constants.clear()
                _constants[key] = t
        return t
    return Tensor(_to_array(x))


_constants: dict = {}
_INTS = (int, B.integer)
_NUMBERS = (int, float, B.integer, B.floating)
_BOOLS = (bool, B.bool_)


engine._Tensor = Tensor
engine._Released = ReleasedTensor


# ----------------------------------------------------------------------------- methods
# Operators and methods are the op functions themselves: the rule for each lives in ops/ only,
# and the hot path pays for no wrapper call.
from .ops import activation as _A  # noqa: E402 - ops import Tensor from this module
from .ops import elementwise as _E  # noqa: E402
from .ops import linalg as _L  # noqa: E402
from .ops import reduce as _R  # noqa: E402
from .ops import shape as _S  # noqa: E402

Tensor.__add__ = Tensor.__radd__ = _E.add
Tensor.__sub__ = _E.sub
Tensor.__rsub__ = _E.rsub
Tensor.__mul__ = Tensor.__rmul__ = _E.mul
Tensor.__truediv__ = _E.div
Tensor.__rtruediv__ = _E.rdiv
Tensor.__pow__ = _E.pow
Tensor.__rpow__ = _E.rpow
Tensor.__neg__ = _E.neg
Tensor.__matmul__ = _L.matmul
Tensor.__rmatmul__ = _L.rmatmul
Tensor.__lt__ = _E.lt
Tensor.__le__ = _E.le
Tensor.__gt__ = _E.gt
Tensor.__ge__ = _E.ge
Tensor.__eq__ = _E.eq  # type: ignore[assignment]
Tensor.__ne__ = _E.ne  # type: ignore[assignment]
Tensor.__getitem__ = _S.getitem
# Boolean masks combine as in NumPy and PyTorch (nothing is recorded).
Tensor.__and__ = Tensor.__rand__ = _E.logical_and
Tensor.__or__ = Tensor.__ror__ = _E.logical_or
Tensor.__xor__ = Tensor.__rxor__ = _E.logical_xor
Tensor.__invert__ = _E.logical_not

for _name in ("exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "erf", "clip", "astype"):
    setattr(Tensor, _name, getattr(_E, _name))
Tensor.__abs__ = _E.abs
Tensor.clamp = _E.clip
Tensor.pow = _E.pow
Tensor.maximum = _E.maximum
Tensor.minimum = _E.minimum
for _name in ("sum", "mean", "max", "min", "var", "std", "logsumexp", "argmax", "argmin"):
    setattr(Tensor, _name, getattr(_R, _name))
for _name in (
    "reshape", "view", "transpose", "permute", "swapaxes", "squeeze", "unsqueeze",
    "flatten", "expand", "broadcast_to",
):
    setattr(Tensor, _name, getattr(_S, _name))
for _name in (
    "sigmoid", "tanh", "softmax", "log_softmax", "relu", "leaky_relu", "elu", "gelu", "silu",
    "softplus",
):
    setattr(Tensor, _name, getattr(_A, _name))
Tensor.matmul = _L.matmul
Tensor.T = property(lambda self: _S.transpose(self), doc="The tensor with its axes reversed.")
Tensor.mT = property(lambda self: _S.swapaxes(self, -1, -2), doc="Swap the last two axes.")
Tensor.to = _E.astype
Tensor.float = lambda self: _E.astype(self, B.float32)
Tensor.double = lambda self: _E.astype(self, B.float64)
del _name
