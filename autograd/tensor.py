"""Tensor: an array, the node that produced it, and its gradient.

This module holds the data and the dtype policy only. Operators and op methods (``+``, ``exp``,
``sum``, ...) are attached by each op's registration (``graph.register``), so the rule for an
op lives in one place; ``backward()`` is attached by ``engine.py``.
"""
from __future__ import annotations

import weakref
from itertools import count
from typing import TYPE_CHECKING, Any, ClassVar
from collections.abc import Callable, Iterable, Iterator

from . import backend as B
from . import state

DTypeLike = Any
Number = float  # a Python number (in the class body ``float`` is the ``.float()`` method)


class _Size(int):
    """``x.size`` is the element count (NumPy) and ``x.size()`` / ``x.size(d)`` the shape (PyTorch)."""

    _shape: tuple

    def __new__(cls, shape: tuple) -> _Size:
        n = 1
        for s in shape:
            n *= s
        obj = super().__new__(cls, n)
        obj._shape = shape
        return obj

    def __call__(self, dim: int | None = None):
        return self._shape if dim is None else self._shape[dim]


def _to_array(data: Any, dtype: DTypeLike = None):
    """The array behind ``data``, under the dtype policy (docs/api.md, "Tensor").

    Python scalars and lists become float32 (bools stay bool); a NumPy array or scalar keeps its
    dtype; ``dtype`` overrides both.
    """
    if isinstance(data, Tensor):
        data = data.data
    if B.is_array(data):
        return data if dtype is None else data.astype(dtype, copy=False)
    if hasattr(data, "dtype"):  # a NumPy scalar keeps its dtype
        return B.asarray(data, dtype=dtype)
    arr = B.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype != B.bool and arr.dtype.kind in "iuf":
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

    __slots__ = ("data", "requires_grad", "grad_fn", "_grad", "name", "_vc", "_hooks", "__weakref__")
    # NumPy must hand mixed expressions (ndarray * Tensor) to our reflected operators.
    __array_ufunc__ = None
    #: True only for a ReleasedTensor (memory.py), which stands in for a tensor without values.
    released: ClassVar[bool] = False

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: DTypeLike = None,
        name: str | None = None,
    ) -> None:
        self.data = _to_array(data, dtype)
        if self.data.dtype.kind not in "biufc":  # text, bytes, objects, dates: not numbers
            what = (repr(data)[:40] if isinstance(data, (str, bytes))
                    else f"of dtype {self.data.dtype}")
            raise TypeError(f"Tensor data must be numbers (a number, a nested list of numbers or a "
                            f"numeric array), not {type(data).__name__} {what}")
        if requires_grad and not _is_float(self.data.dtype):
            raise TypeError(
                f"only floating-point tensors can require gradients; got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        self.grad_fn: Any = None  # the graph node that made this tensor (None for a leaf)
        self._grad: Tensor | None = None
        self.name = name
        self._vc: Version | None = None  # created on the first in-place change or sharing

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

    def __iter__(self) -> Iterator[Tensor]:
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
    def grad(self) -> Tensor | None:
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

    # ``backward()`` is attached by engine.py, and the op methods these call by their ops'
    # registrations (graph.register).
    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed."""
        return self.transpose()

    @property
    def mT(self) -> Tensor:
        """The tensor with its last two axes swapped."""
        return self.swapaxes(-1, -2)

    def float(self) -> Tensor:
        """This tensor as float32."""
        return self.astype(B.float32)

    def double(self) -> Tensor:
        """This tensor as float64."""
        return self.astype(B.float64)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data (and its version counter), cut from the graph
        (requires_grad=False)."""
        t = Tensor(self.data)
        t.name = self.name
        t._vc = self._shared_version()
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
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

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` with this tensor's gradient whenever backward computes it; a
        non-None return replaces the gradient (for this tensor's inputs, its ``.grad`` and
        ``retain_grad()``). Returns a handle whose ``remove()`` unregisters the hook.

        On a leaf the hook sees the total gradient of one backward pass, before it is added to
        ``.grad``; on a result of an op, the gradient flowing into that op's backward rule.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not "
                               "require grad")
        node = self.grad_fn
        if node is not None:
            if node.hooks is None:
                node.hooks = []
            return RemovableHandle(node.hooks, hook)
        return RemovableHandle(self._leaf_hooks().pre, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Call ``hook(tensor)`` as soon as backward has finished adding to this leaf's ``.grad``
        (before the rest of the graph is done, where nothing later can add to it). Distributed
        training uses it to start communicating gradients while backward still runs."""
        if self.grad_fn is not None or not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors that require "
                               "grad accumulate gradients")
        post_hook_tensors[id(self)] = self
        return RemovableHandle(self._leaf_hooks().post, hook)

    def _leaf_hooks(self) -> LeafHooks:
        hooks = getattr(self, "_hooks", None)
        if hooks is None:
            hooks = self._hooks = LeafHooks()
        return hooks

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

    # ------------------------------------------------------------------ in-place changes
    # Semantics (README, "Safety"): outside a graph, or inside no_grad, an in-place operator
    # writes into the tensor's own array and bumps its version, so that a backward that saved the
    # old values raises instead of using the new ones. A leaf that requires grad cannot be
    # changed in place while grad mode is on (as in PyTorch). A result in the middle of a graph
    # (requires grad, grad mode on) gets a new recorded tensor bound to the name instead, since
    # nodes recorded earlier must keep seeing its old values.
    def _inplace(self, other: Any, ufunc: Any, method: str, what: str) -> Tensor:
        if self.requires_grad and state.current.mode.grad:
            if self.grad_fn is None:
                raise RuntimeError(
                    f"{what}: {self._describe()} is a leaf that requires grad, so it cannot be "
                    f"changed in place while gradients are recorded (its gradient would be "
                    f"wrong); update it inside `with ag.no_grad():`, or write `x = x {what[-3:-1]} "
                    f"...` for a new tensor"
                )
            return getattr(self, method)(other)  # a recorded op, bound to the name by Python
        o = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, o, out=self.data, casting="same_kind")
        except (ValueError, TypeError) as e:
            other_shape = getattr(o, "shape", ())
            raise (TypeError if isinstance(e, TypeError) else ValueError)(
                f"{what}: cannot write the result into {self._describe()} (the other operand has "
                f"shape {tuple(other_shape)}; {e})"
            ) from None
        self._written()
        return self

    # `type: ignore[misc]` below: mypy reads a dunder's parameters as positional-only and so
    # finds each one narrower than the operator the ops attach, which it sees as a function
    # ``op(a, b)`` (a false positive, python/mypy#11941); ``x += y`` still type-checks.
    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(other, B.add, "__add__", "x += ...")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(other, B.subtract, "__sub__", "x -= ...")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(other, B.multiply, "__mul__", "x *= ...")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(other, B.divide, "__truediv__", "x /= ...")

    def __ipow__(self, other: Any) -> Tensor:
        return self._inplace(other, B.pow, "__pow__", "x **= ...")

    def add_(self, other: Any, alpha: Number = 1) -> Tensor:
        """``self += alpha * other``, in place (see the in-place semantics above)."""
        return self.__iadd__(other if alpha == 1 else other * alpha)

    def mul_(self, other: Any) -> Tensor:
        """``self *= other``, in place."""
        return self.__imul__(other)

    def copy_(self, src: Any) -> Tensor:
        """Overwrite the values with ``src`` (broadcast to this shape, cast to this dtype)."""
        self[...] = src
        return self

    def fill_(self, value: Number) -> Tensor:
        """Set every element to ``value``, in place."""
        self[...] = value
        return self

    def zero_(self) -> Tensor:
        """Set every element to 0, in place (``x.grad.zero_()``)."""
        return self.fill_(0)

    def __setitem__(self, index: Any, value: Any) -> None:
        if self.requires_grad and state.current.mode.grad:
            raise RuntimeError(
                f"x[...] = ...: {self._describe()} requires grad, and writing into it in place "
                f"would corrupt its graph; build a new tensor with ag.where or ag.cat, or write "
                f"inside `with ag.no_grad():`"
            )
        v = value.data if isinstance(value, Tensor) else value
        try:
            self.data[normalize_index(index)] = v
        except (ValueError, TypeError) as e:
            raise (TypeError if isinstance(e, TypeError) else ValueError)(
                f"x[...] = ...: cannot write into {self._describe()}: {e}") from None
        self._written()

    def _describe(self) -> str:
        name = f"'{self.name}' " if self.name else ""
        return f"the tensor {name}of shape {self.shape} and dtype {self.dtype}"

    # ------------------------------------------------------------------ versions
    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's values (or a view of them) have had."""
        return 0 if self._vc is None else self._vc.count

    def _shared_version(self) -> Version:
        """This tensor's version counter, created if needed, to share with a view or a detach."""
        vc = self._vc
        if vc is None:
            vc = self._vc = Version()
        return vc

    def _written(self) -> None:
        """Record an in-place change of the values (every in-place write calls this)."""
        vc = self._shared_version()
        vc.count += 1
        vc.stamp = Version.last = next(clock)


    # ------------------------------------------------------------------ for type checkers
    # At run time each op's registration attaches its methods and operators (graph.register),
    # and engine.py attaches backward; a type checker cannot see that, so their signatures are
    # declared here. tests/test_architecture.py checks these against the registry, name for name
    # and parameter for parameter.
    if TYPE_CHECKING:
        # ops/elementwise.py
        def __abs__(self) -> Tensor: ...
        def __add__(self, b: Any) -> Tensor: ...
        def __and__(self, b: Any) -> Tensor: ...
        def __eq__(self, b: Any) -> Tensor: ...  # type: ignore[override]  # element-wise: a Tensor, not a bool
        def __ge__(self, b: Any) -> Tensor: ...
        def __gt__(self, b: Any) -> Tensor: ...
        def __invert__(self) -> Tensor: ...
        def __le__(self, b: Any) -> Tensor: ...
        def __lt__(self, b: Any) -> Tensor: ...
        def __mul__(self, b: Any) -> Tensor: ...
        def __ne__(self, b: Any) -> Tensor: ...  # type: ignore[override]  # element-wise: a Tensor, not a bool
        def __neg__(self) -> Tensor: ...
        def __or__(self, b: Any) -> Tensor: ...
        def __pow__(self, b: Any) -> Tensor: ...
        def __radd__(self, b: Any) -> Tensor: ...
        def __rand__(self, b: Any) -> Tensor: ...
        def __rmul__(self, b: Any) -> Tensor: ...
        def __ror__(self, b: Any) -> Tensor: ...
        def __rpow__(self, b: Any) -> Tensor: ...
        def __rsub__(self, b: Any) -> Tensor: ...
        def __rtruediv__(self, b: Any) -> Tensor: ...
        def __rxor__(self, b: Any) -> Tensor: ...
        def __sub__(self, b: Any) -> Tensor: ...
        def __truediv__(self, b: Any) -> Tensor: ...
        def __xor__(self, b: Any) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def add(self, b: Any) -> Tensor: ...
        def astype(self, dtype: Any) -> Tensor: ...
        def atan2(self, x: Any) -> Tensor: ...
        def clamp(self, min: Any = None, max: Any = None) -> Tensor: ...
        def clip(self, min: Any = None, max: Any = None) -> Tensor: ...
        def cos(self) -> Tensor: ...
        def div(self, b: Any) -> Tensor: ...
        def erf(self) -> Tensor: ...
        def exp(self) -> Tensor: ...
        def isnan(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def log1p(self) -> Tensor: ...
        def maximum(self, b: Any) -> Tensor: ...
        def minimum(self, b: Any) -> Tensor: ...
        def mul(self, b: Any) -> Tensor: ...
        def neg(self) -> Tensor: ...
        def pow(self, b: Any) -> Tensor: ...
        def sign(self) -> Tensor: ...
        def sin(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def sub(self, b: Any) -> Tensor: ...
        def to(self, dtype: Any) -> Tensor: ...
        # ops/activation.py
        def elu(self, alpha: Number = 1.0) -> Tensor: ...
        def gelu(self) -> Tensor: ...
        def leaky_relu(self, slope: Number = 0.01, *, negative_slope: Number | None = None) -> Tensor: ...
        def log_softmax(self, axis: int | None = -1, *, dim: int | None = None) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def silu(self) -> Tensor: ...
        def softmax(self, axis: int | None = -1, *, dim: int | None = None) -> Tensor: ...
        def softplus(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        # ops/reduce.py
        def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: Any = None) -> Tensor: ...
        def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: Any = None) -> Tensor: ...
        def logsumexp(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                      keepdim: bool | None = None) -> Tensor: ...
        def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                keepdim: bool | None = None) -> Tensor: ...
        def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                 keepdim: bool | None = None) -> Tensor: ...
        def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                keepdim: bool | None = None) -> Tensor: ...
        def std(self, axis: Any = None, keepdims: bool = False, *, correction: Number | None = None,
                ddof: Number | None = None, unbiased: bool | None = None, dim: Any = None,
                keepdim: bool | None = None) -> Tensor: ...
        def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                keepdim: bool | None = None) -> Tensor: ...
        def var(self, axis: Any = None, keepdims: bool = False, *, correction: Number | None = None,
                ddof: Number | None = None, unbiased: bool | None = None, dim: Any = None,
                keepdim: bool | None = None) -> Tensor: ...
        # ops/shape.py
        def __getitem__(self, index: Any) -> Tensor: ...
        def broadcast_to(self, *shape: Any) -> Tensor: ...
        def chunk(self, chunks: int, axis: int = 0, *, dim: Any = None) -> tuple: ...
        def clone(self) -> Tensor: ...
        def expand(self, *sizes: Any) -> Tensor: ...
        def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor: ...
        def permute(self, *dims: Any) -> Tensor: ...
        def reshape(self, *shape: Any) -> Tensor: ...
        def split(self, split_size_or_sections: Any, axis: int = 0, *, dim: Any = None) -> tuple: ...
        def squeeze(self, axis: Any = None, *, dim: Any = None) -> Tensor: ...
        def swapaxes(self, a: int, b: int) -> Tensor: ...
        def transpose(self, *axes: Any) -> Tensor: ...
        def unsqueeze(self, axis: Any = None, *, dim: Any = None) -> Tensor: ...
        def view(self, *shape: Any) -> Tensor: ...
        # ops/linalg.py
        def __matmul__(self, b: Any) -> Tensor: ...
        def __rmatmul__(self, b: Any) -> Tensor: ...
        def bmm(self, b: Any) -> Tensor: ...
        def matmul(self, b: Any) -> Tensor: ...
        def norm(self, p: Any = 2, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                 keepdim: bool | None = None) -> Tensor: ...
        # ops/indexing.py
        def masked_fill(self, mask: Any, value: Any) -> Tensor: ...
        def tril(self, diagonal: int = 0, *, k: int | None = None) -> Tensor: ...
        def triu(self, diagonal: int = 0, *, k: int | None = None) -> Tensor: ...
        # ops/cumulative.py
        def cumsum(self, axis: int | None = None, *, dim: int | None = None) -> Tensor: ...
        # ops/powers.py
        def square(self) -> Tensor: ...
        # engine.py
        def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                     create_graph: bool = False) -> None: ...


#: The engine's clock. Each graph node takes its ``seq`` from it when recorded, and each in-place
#: change stamps the changed tensor's version with it, so "changed after that node was recorded"
#: is one comparison: ``version.stamp > node.seq``.
clock = count(1)


class Version:
    """The version counter of a tensor's values, shared with its views and detached copies:
    ``count`` of in-place changes, and the clock ``stamp`` of the latest. ``Version.last`` is the
    stamp of the latest change of any tensor: when it is older than a node, nothing that node
    saved can have changed, and backward skips the check."""

    __slots__ = ("count", "stamp")
    last = 0

    def __init__(self) -> None:
        self.count = 0
        self.stamp = 0


#: Leaves that have (or had) post-accumulate hooks, by id: backward looks here, so that a graph
#: without any pays nothing for the feature. (Weak values: a WeakSet would compare tensors
#: with ``==``, which is element-wise.)
post_hook_tensors: weakref.WeakValueDictionary[int, Tensor] = weakref.WeakValueDictionary()


class LeafHooks:
    """A leaf's gradient hooks: ``pre`` see its gradient before it reaches ``.grad``, ``post``
    run once ``.grad`` is final (see ``Tensor.register_hook`` and
    ``register_post_accumulate_grad_hook``)."""

    __slots__ = ("pre", "post")

    def __init__(self) -> None:
        self.pre: list = []
        self.post: list = []


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods: ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks = hooks
        self._hook = hook
        hooks.append(hook)

    def remove(self) -> None:
        """Unregister the hook (doing it twice is harmless)."""
        for i, h in enumerate(self._hooks):
            if h is self._hook:
                del self._hooks[i]
                return

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def zero_grads(tensors: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Reset the ``.grad`` of each tensor: to None (as PyTorch's ``zero_grad``), or to zeros in
    place (``set_to_none=False``, keeping the arrays an optimizer may hold)."""
    for t in tensors:
        if set_to_none or t.grad is None:
            t.grad = None
        else:
            t.grad.data[...] = 0
            t.grad._written()


def as_tensor(x: Any) -> Tensor:
    """``x`` itself when it is a Tensor, else a new constant Tensor (dtype policy as ``Tensor``)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def normalize_index(index: Any) -> Any:
    """Tensors and lists inside an index become arrays, so NumPy applies its indexing rules."""
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return B.asarray(index)
    return index


def is_number(x: Any) -> bool:
    """True for a Python or NumPy int or float (not a bool, not an array)."""
    if isinstance(x, (int, float)):
        return not isinstance(x, bool)
    kind = getattr(getattr(x, "dtype", None), "kind", None)  # a NumPy scalar
    return kind in ("i", "u", "f") and not B.is_array(x)


def lift(x: Any, like: Tensor) -> Tensor:
    """``x`` as a constant Tensor for a binary op with ``like``.

    A number (Python's or a NumPy scalar) takes ``like``'s floating dtype, so a float32 tensor
    times 0.5, ``np.float64(0.5)`` or ``np.int64(3)`` stays float32, as in PyTorch. Number
    constants are cached, read-only, and shared between graphs: a loop like ``y = y * 0.5`` then
    allocates no constant per step, which keeps Python's garbage collector from scanning a
    million of them.
    """
    if isinstance(x, Tensor):
        return x
    if is_number(x):
        dtype = like.data.dtype
        # 0.0 == -0.0 and NaN != NaN, so neither can be a dict key faithfully: not cached.
        key = (x, type(x), dtype) if x and x == x else None
        t = _constants.get(key)
        if t is None:
            if dtype.kind == "f":
                data = B.asarray(x, dtype=dtype)
            else:  # an integer tensor: ints stay ints, floats take the default float32
                kind = getattr(x, "dtype", None)
                integral = isinstance(x, int) if kind is None else kind.kind in "iu"
                data = B.asarray(x) if integral else B.asarray(x, dtype=B.float32)
            data.flags.writeable = False
            t = Tensor(data)
            if key is not None:
                if len(_constants) >= 4096:
                    _constants.clear()
                _constants[key] = t
        return t
    return Tensor(_to_array(x))


_constants: dict = {}
