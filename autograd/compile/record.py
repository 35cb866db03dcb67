"""Recording a step: every array operation, captured as it runs.

While a step is recorded, the arrays it computes with are :class:`Traced`: NumPy arrays (a
subclass, sharing memory with the real ones) whose ufuncs, array functions, indexing and methods
are both computed and written down by the :class:`Recorder`, as one instruction each, with their
operands named by *slot*. Where the arrays come from decides how a replay finds them again:

* the step's array arguments are its inputs;
* every Tensor alive when recording starts, and every optimizer's state, gets a traced view of its
  array, named by where it lives (``param.data``, ``param.grad.data``, ``opt.state[p]["exp_avg"]``),
  which a replay reads from there afresh (an *external*);
* arrays made during the step (by ops, rules, creation functions, random draws) are slots the
  replay computes;
* anything else (a number, a read-only constant array) is a constant, held by reference.

Python code between array operations runs only while recording. What it computes from values
that change between calls must not be frozen: work marked with ``state.host`` (a learning-rate
read, a step count, a random draw, a scheduler step) is recorded as a call the replay makes
again, and its numbers become slots; ``state.require`` checks are recorded as checks. A Python
decision on a traced value (``bool``, ``float``, ``.item()``, ``.tolist()``, ``.numpy()``) would be
decided once and silently reused, so it raises :class:`CompileError`, naming the call and the
user's line.
"""
from __future__ import annotations

import gc
import operator
import warnings
from typing import TYPE_CHECKING, Any, SupportsIndex
from collections.abc import Callable

import numpy as np

from .. import backend as B
from .. import graph, state
from ..nn.module import Module
from ..optim.optimizer import Optimizer
from ..tensor import Tensor


class CompileError(RuntimeError):
    """A step does something a recording cannot replay faithfully (see the module docstring)."""


# ----------------------------------------------------------------------------- traced values
class Traced(np.ndarray):
    """An array whose operations the active recorder captures (``_slot`` names it)."""

    _slot: int | None = None

    def __array_finalize__(self, obj: Any) -> None:
        self._slot = None  # set by the recorder; an array NumPy derived on its own has none

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        rec = state.current.recorder
        if rec is None:  # another thread, or after the recording: plain NumPy
            fn = ufunc if method == "__call__" else getattr(ufunc, method)
            return fn(*Recorder.plain(inputs), **Recorder.plain(kwargs))
        return rec.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _run(func, args, kwargs)

    @property
    def flags(self) -> Any:
        # The real array's flags: a traced view must not look like a view (the engine copies a
        # gradient it does not own, and those copies would be replayed for nothing).
        return self.base.flags if isinstance(self.base, np.ndarray) else super().flags

    # Methods NumPy runs in C without either protocol: each becomes a recorded call.
    def __getitem__(self, index: Any) -> Any:
        return _run(operator.getitem, (self, index), {})

    def __setitem__(self, index: Any, value: Any) -> None:
        _run(operator.setitem, (self, index, value), {}, writes=self)

    def copy(self, order: str | None = "C") -> Any:
        return _run(np.copy, (self,), {"order": order})

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        return _run(_astype, (self, np.dtype(dtype)), {})

    def reshape(self, *shape: Any, **kwargs: Any) -> Any:
        dims = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _run(np.reshape, (self, tuple(dims)), kwargs)

    def transpose(self, *axes: Any) -> Any:
        order = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return _run(np.transpose, (self, tuple(order) or None), {})

    @property
    def T(self) -> Any:
        return _run(np.transpose, (self,), {})

    @property
    def mT(self) -> Any:
        return _run(np.matrix_transpose, (self,), {})

    def ravel(self, order: str | None = "C") -> Any:
        return _run(np.ravel, (self,), {"order": order})

    def flatten(self, order: str | None = "C") -> Any:
        return _run(_flatten, (self,), {"order": order})

    def squeeze(self, axis: Any = None) -> Any:
        return _run(np.squeeze, (self,), {"axis": axis})

    def swapaxes(self, a: SupportsIndex, b: SupportsIndex) -> Any:
        return _run(np.swapaxes, (self, a, b), {})

    def fill(self, value: Any) -> None:
        _run(np.copyto, (self, value), {}, writes=self)

    def dot(self, other: Any, out: Any = None) -> Any:
        return _run(np.dot, (self, other), {})

    def argmax(self, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
        return _run(np.argmax, (self,), {"axis": axis, "keepdims": keepdims})

    def argmin(self, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
        return _run(np.argmin, (self,), {"axis": axis, "keepdims": keepdims})

    # Python decisions on values cannot be replayed (see _decide).
    def __bool__(self) -> bool:
        return _decide("bool() of a traced value (an `if` or `while` on array values)",
                       lambda: bool(self.view(np.ndarray)))

    def __float__(self) -> float:
        return _decide("float() of a traced value", lambda: float(self.view(np.ndarray)))

    def __int__(self) -> int:
        return _decide("int() of a traced value", lambda: int(self.view(np.ndarray)))

    def __index__(self) -> int:
        return _decide("using a traced value as a Python index",
                       lambda: operator.index(self.view(np.ndarray)))

    def item(self, *args: Any) -> Any:
        return _decide(".item() of a traced value", lambda: self.view(np.ndarray).item(*args))

    def tolist(self) -> Any:
        return _decide(".tolist() of a traced value", lambda: self.view(np.ndarray).tolist())

    def __iter__(self) -> Any:
        return _decide("iterating over a traced value in Python",
                       lambda: iter(self.view(np.ndarray)))


def _astype(x: Any, dtype: Any) -> Any:
    return x.astype(dtype)


def _flatten(x: Any, order: str = "C") -> Any:
    return x.flatten(order)


_NUMBER_METHODS = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
                   "__truediv__", "__rtruediv__", "__pow__", "__rpow__", "__neg__",
                   "__floordiv__", "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__",
                   "__bool__", "__float__", "__int__", "__index__")


def _number_class(base: type, doc: str) -> type:
    """A number type for what ``host`` functions return while recording: an operand of array
    operations (as the plain number it is, so NumPy's weak-scalar rules apply), while Python
    arithmetic or decisions on it, which the recording would freeze, go through _decide."""

    def method(name: str) -> Callable:
        real = getattr(base, name)  # only asked for the methods base has

        def decided(self: Any, *args: Any) -> Any:
            if any(isinstance(a, np.ndarray) for a in args):
                return NotImplemented  # an array operation: NumPy's ufunc takes it from here
            plain = float.__float__(self) if base is float else int.__int__(self)
            return _decide(f"Python `{name}` on a number a host function returned (compute it "
                           f"inside the host function, or with array operations)",
                           lambda: real(plain, *Recorder.plain(args)))

        return decided

    body: dict = {"__doc__": doc, "_slot": None, "__hash__": base.__hash__,
                  "__array_ufunc__": Traced.__array_ufunc__}
    for name in _NUMBER_METHODS:
        if hasattr(base, name):
            body[name] = method(name)
    return type(f"Traced{base.__name__.capitalize()}", (base,), body)


if TYPE_CHECKING:  # what _number_class makes, as a type checker should see it
    class TracedScalar(float):
        _slot: int

    class TracedInt(int):
        _slot: int
else:
    TracedScalar = _number_class(float, "A float a host function returned while recording.")
    TracedInt = _number_class(int, "An int a host function returned while recording.")


def _decide(what: str, compute: Callable) -> Any:
    """A Python decision on a traced value: an error naming it, or, for a function compiled
    with ``fallback=True`` (or outside a recording), the real answer (a recording is then
    discarded)."""
    rec = state.current.recorder
    if rec is None:
        return compute()
    if rec.fallback:
        rec.failed = rec.failed or f"{what} at {graph.user_line()}"
        return compute()
    raise _frozen(what)


def _frozen(what: str) -> CompileError:
    return CompileError(
        f"ag.compile: {what} at {graph.user_line()}: the recording would decide it once and "
        f"replay that decision on every later call, whatever the values. Move it out of the "
        f"compiled function, or pass fallback=True to run this function eagerly."
    )


def _run(fn: Callable, args: tuple, kwargs: dict, writes: Any = None) -> Any:
    """``fn(*args, **kwargs)``: recorded while this thread records, plain NumPy otherwise (a
    traced array reached from another thread, or kept by the user after the recording)."""
    rec = state.current.recorder
    if rec is None:
        return fn(*Recorder.plain(args), **Recorder.plain(kwargs))
    return rec.call(fn, args, kwargs, writes=writes)


# ----------------------------------------------------------------------------- instructions
class Instr:
    """One recorded step of the program: ``kind`` is ``"call"`` (an array operation),
    ``"host"`` (a host function called again at replay) or ``"check"`` (a ``require``)."""

    __slots__ = ("kind", "fn", "args", "kwargs", "outs", "writes", "where")

    def __init__(self, kind: str, fn: Any, args: Any, kwargs: Any, outs: Any,
                 writes: int | None = None) -> None:
        self.kind = kind
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.outs = outs  # a slot, a tuple of slots, or None
        self.writes = writes  # the slot written in place (out=, x[...] = v), if any
        self.where = None


class Slot:
    """A value of the program: its shape and dtype (arrays), or its Python type (host numbers),
    and for a view, the slot whose memory it shares."""

    __slots__ = ("id", "shape", "dtype", "scalar", "view_of", "source")

    def __init__(self, id: int, value: Any, view_of: int | None = None, source: Any = None) -> None:
        self.id = id
        self.scalar = not isinstance(value, np.ndarray)
        self.shape = None if self.scalar else value.shape
        self.dtype = type(value) if self.scalar else value.dtype
        self.view_of = view_of
        self.source = source  # ("input", k) or ("external", path) or None


class Ref:
    """An operand that names a slot."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot

    def __repr__(self) -> str:
        return f"v{self.slot}"


class Const:
    """An operand held by reference (a number, a read-only array, an index, a dtype)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        v = self.value
        if isinstance(v, np.ndarray):
            return f"const{v.shape}"
        return repr(v)


# ----------------------------------------------------------------------------- the recorder
class Recorder:
    """Runs a step once, recording it (see the module docstring). Use as a context manager around
    the call; afterwards ``instrs``, ``slots``, ``inputs``, ``externals`` describe the program."""

    def __init__(self, fallback: bool = False) -> None:
        self.fallback = fallback
        self.failed: str | None = None  # why the recording cannot be replayed (fallback)
        self.instrs: list = []
        self.slots: list = []
        self.inputs: list = []  # (argument position, a Tensor?, slot) of each array argument
        self.arguments: dict = {}  # position -> the Tensor passed there
        self.n_arguments = 0  # how many arguments the step takes
        self.externals: dict = {}  # slot id -> (owner, attribute path) read at replay
        self.ext_of: dict = {}  # id(traced view) -> slot, for arrays installed at the start
        self.tensors: list = []  # (tensor, original data, original grad) found at the start
        self.optimizers: list = []  # (optimizer, {param state dict id: original arrays})
        self.modules: list = []  # every module, whose train()/eval() mode the replay checks
        self._saved_backend: dict = {}

    # --------------------------------------------------------------- slots and operands
    def _new_slot(self, value: Any, view_of: int | None = None, source: Any = None) -> int:
        slot = Slot(len(self.slots), value, view_of, source)
        self.slots.append(slot)
        return slot.id

    def input(self, arr: np.ndarray, position: int, tensor: bool) -> Traced:
        """A traced view of an array argument of the step (the ``position``-th argument, a
        Tensor's array or an array itself): an input of the replay."""
        t = self.trace(arr, source=("input", position))
        self.inputs.append((position, tensor, t._slot))
        return t

    def python_hook(self, what: str) -> None:
        """A hook is about to run Python code that a replay would skip."""
        _decide(f"a {what} runs Python code that a replay would skip", lambda: None)

    def trace(self, arr: np.ndarray | np.generic, view_of: int | None = None, source: Any = None) -> Traced:
        """A traced view of ``arr`` as a new slot."""
        if not isinstance(arr, np.ndarray):  # NumPy scalars: 0-d arrays from here on
            arr = np.asarray(arr)
        t = arr.view(Traced)
        t._slot = self._new_slot(arr, view_of, source)
        return t

    def operand(self, x: Any) -> Any:
        """The recorded form of an argument: a Ref for a traced value, a Const (by reference)
        otherwise; a tuple, list or dict holding traced values is taken apart."""
        if isinstance(x, (tuple, list, dict)) and not _holds_traced(x):
            return Const(x)
        if isinstance(x, Traced):
            if x._slot is None:
                raise CompileError(
                    "ag.compile: an array NumPy derived from a traced one outside the recorder "
                    f"(at {graph.user_line()}); this operation cannot be recorded"
                )
            return Ref(x._slot)
        if isinstance(x, (TracedScalar, TracedInt)):
            return Ref(x._slot)
        if isinstance(x, tuple):
            return tuple(self.operand(v) for v in x)
        if isinstance(x, list):
            return [self.operand(v) for v in x]
        if isinstance(x, dict):
            return {k: self.operand(v) for k, v in x.items()}
        return Const(x)

    @staticmethod
    def plain(x: Any) -> Any:
        """``x`` with every traced value replaced by the real one, for computing now."""
        if isinstance(x, Traced):
            return x.view(np.ndarray)
        if isinstance(x, TracedScalar):
            return float.__float__(x)
        if isinstance(x, TracedInt):
            return int.__int__(x)
        if isinstance(x, tuple):
            return tuple(Recorder.plain(v) for v in x)
        if isinstance(x, list):
            return [Recorder.plain(v) for v in x]
        if isinstance(x, dict):
            return {k: Recorder.plain(v) for k, v in x.items()}
        return x

    def _result(self, value: Any, operands: tuple) -> Any:
        """Trace the results of a call (arrays and NumPy scalars become slots)."""
        if isinstance(value, tuple):
            return tuple(self._result(v, operands) for v in value)
        if isinstance(value, list):
            return [self._result(v, operands) for v in value]
        if isinstance(value, (np.ndarray, np.generic)):
            base = None
            if isinstance(value, np.ndarray):
                for x in operands:  # a view (or an operand itself): whose memory it shares
                    if isinstance(x, Traced) and np.may_share_memory(value, x):
                        base = x._slot
                        break
            return self.trace(value, view_of=base)
        return value

    @staticmethod
    def _slots_of(value: Any) -> Any:
        if isinstance(value, (Traced, TracedScalar, TracedInt)):
            return value._slot
        if isinstance(value, (tuple, list)):
            return tuple(Recorder._slots_of(v) for v in value)
        return None

    # --------------------------------------------------------------- recording operations
    def call(self, fn: Callable, args: tuple, kwargs: dict, writes: Any = None) -> Any:
        """Compute ``fn(*args, **kwargs)`` on the real arrays and record it."""
        if writes is None:
            out_kw = kwargs.get("out")
            if isinstance(out_kw, Traced):
                writes = out_kw
            elif fn in _WRITES_FIRST and args and isinstance(args[0], Traced):
                writes = args[0]
        ops = (tuple(self.operand(a) for a in args),
               {k: self.operand(v) for k, v in kwargs.items()})
        value = fn(*self.plain(args), **self.plain(kwargs))
        if writes is not None:  # in place: the written slot keeps its name
            self.instrs.append(Instr("call", fn, *ops, None, writes._slot))
            return writes if isinstance(value, np.ndarray) else value
        flat = [a for a in _flatten_args(args) if isinstance(a, Traced)]
        out = self._result(value, tuple(flat))
        outs = self._slots_of(out)
        if outs is not None and outs != () and outs != []:
            self.instrs.append(Instr("call", fn, *ops, outs))
        return out

    def ufunc(self, ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
        """A ufunc call (``np.add(a, b)``, ``a * b``, ``a += b``, ``np.add.reduce``, ``add.at``)."""
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        out = kwargs.get("out")
        if out is not None:
            target = out[0] if isinstance(out, tuple) else out
            if len(out if isinstance(out, tuple) else (out,)) != 1 or not isinstance(target, Traced):
                raise CompileError(f"ag.compile: {ufunc.__name__} writes into an array the "
                                   f"recording does not know, at {graph.user_line()}")
            return self.call(fn, inputs, kwargs, writes=target)
        if method == "at":  # in place into its first operand
            return self.call(fn, inputs, kwargs, writes=inputs[0])
        return self.call(fn, inputs, kwargs)

    def host(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        """A ``state.host`` function: run it now on real values, and record it to run again.
        Containers are passed as themselves (a host function may change them: a step count), and
        the function runs unrecorded (what it reads through traced arrays is computed plainly)."""
        state.current.recorder = None
        try:
            value = fn(*[self.plain(a) if _is_traced(a) else a for a in args],
                       **{k: self.plain(v) if _is_traced(v) else v for k, v in kwargs.items()})
        finally:
            state.current.recorder = self
        out = self._host_result(value)
        # Arguments by reference (a dict of optimizer state is passed itself), numbers that an
        # earlier host call returned by slot.
        args_ = tuple(self.operand(a) if _is_traced(a) else Const(a) for a in args)
        kwargs_ = {k: self.operand(v) if _is_traced(v) else Const(v) for k, v in kwargs.items()}
        self.instrs.append(Instr("host", fn, args_, kwargs_,
                                 self._slots_of(out) if out is not None else None))
        return out

    def _host_result(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, tuple):
            return tuple(self._host_result(v) for v in value)
        if isinstance(value, bool):
            raise CompileError(f"ag.compile: a host function returned a bool ({value}), which "
                               f"would be decided once")
        if isinstance(value, float):
            s = TracedScalar(value)
            s._slot = self._new_slot(value)
            return s
        if isinstance(value, int):
            i = TracedInt(value)
            i._slot = self._new_slot(value)
            return i
        if isinstance(value, (np.ndarray, np.generic)):
            return self.trace(value)
        raise CompileError(f"ag.compile: a host function returned a {type(value).__name__}; "
                           f"only numbers, arrays and tuples of them can be replayed")

    def require(self, ok: Any, error: Callable[..., Exception], values: tuple) -> None:
        """A ``state.require`` check: made now, and recorded to be made at every replay."""
        if not np.all(self.plain(ok)):
            raise error(*self.plain(values))
        operands = (self.operand(ok),) + tuple(self.operand(v) for v in values)
        if isinstance(operands[0], Const):  # decided by constants: true at every replay too
            return
        self.instrs.append(Instr("check", error, operands, {}, None))

    def creation(self, fn: Callable) -> Callable:
        """A backend function that may make an array from no traced operand (``zeros``,
        ``asarray`` of a list, a backend extra): recorded as one call."""

        def recorded(*args: Any, **kwargs: Any) -> Any:
            if state.current.recorder is not self:  # another thread, eager
                return fn(*args, **kwargs)
            if fn is _TO_NUMPY:
                return _decide(".numpy() of a traced value",
                               lambda: fn(*self.plain(args), **self.plain(kwargs)))
            if fn is np.asarray and args and isinstance(args[0], Traced):
                x = args[0]
                dtype = kwargs.get("dtype", args[1] if len(args) > 1 else None)
                copy = kwargs.get("copy")
                if dtype is not None and np.dtype(dtype) != x.dtype:
                    x = self.call(_astype, (x, np.dtype(dtype)), {})
                    copy = False
                return self.call(np.copy, (x,), {}) if copy else x
            return self.call(fn, args, kwargs)

        recorded.__name__ = getattr(fn, "__name__", "recorded")
        return recorded

    # --------------------------------------------------------------- start and end
    def __enter__(self) -> Recorder:
        if state.current.recorder is not None:
            raise CompileError("ag.compile: a compiled function was called while another one "
                               "was being recorded in the same thread")
        self._install()
        state.current.recorder = self
        return self

    def __exit__(self, *exc: object) -> None:
        state.current.recorder = None
        self._uninstall()

    def _install(self) -> None:
        """Swap in the recording backend functions, and traced views of every Tensor's arrays
        and every optimizer's state (found through the garbage collector's list of objects)."""
        for name in _CREATION + _EXTRAS:
            orig = getattr(B, name)
            self._saved_backend[name] = orig
            setattr(B, name, self.creation(orig))
        for obj in _objects():
            if isinstance(obj, Tensor) and not obj.released:
                self._install_tensor(obj)
            elif isinstance(obj, Optimizer):
                self._install_optimizer(obj)
            elif isinstance(obj, Module):
                self.modules.append(obj)

    def _external(self, arr: np.ndarray, path: tuple) -> Traced:
        t = self.trace(arr, source=("external", path))
        self.externals[t._slot] = path
        return t

    def _install_tensor(self, t: Tensor) -> None:
        data = t.data
        if type(data) is not np.ndarray or not data.flags.writeable:
            return  # read-only arrays (number constants) are constants of the program
        view = t.data = self._external(data, (t, "data"))
        grad = t._grad
        gdata = gview = None
        if grad is not None and type(grad.data) is np.ndarray:
            gdata = grad.data
            gview = grad.data = self._external(gdata, (t, "_grad", "data"))
        self.tensors.append((t, data, view, grad, gdata, gview, t._version))

    def _install_optimizer(self, opt: Any) -> None:
        saved = {}
        for st in opt.state.values():
            originals = {}
            for k, v in st.items():
                if type(v) is np.ndarray:
                    originals[k] = v
                    st[k] = self._external(v, (st, k))
            saved[id(st)] = (st, originals, set(st))
        groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
        self.optimizers.append((opt, saved, groups, [list(g["params"]) for g in opt.param_groups]))

    def _uninstall(self) -> None:
        """Give every object its real arrays back (and untrace what the step made)."""
        for name, orig in self._saved_backend.items():
            setattr(B, name, orig)
        for _opt, saved, _, _ in self.optimizers:
            for st, originals, _ in saved.values():
                for k, v in list(st.items()):
                    st[k] = originals[k] if k in originals and _traced_view_of(v, originals[k]) \
                        else _untraced(v)
        for t, data, view, grad, gdata, gview, _ in self.tensors:
            if t.data is view:
                t.data = data
            if grad is not None and grad.data is gview:
                grad.data = gdata
        for obj in _objects():  # anything the step made that still holds a traced array
            if isinstance(obj, Tensor) and not obj.released and isinstance(obj.data, Traced):
                obj.data = _untraced(obj.data)


def _is_traced(x: Any) -> bool:
    return isinstance(x, (Traced, TracedScalar, TracedInt))


def _holds_traced(x: Any) -> bool:
    if _is_traced(x):
        return True
    if isinstance(x, (tuple, list)):
        return any(_holds_traced(v) for v in x)
    if isinstance(x, dict):
        return any(_holds_traced(v) for v in x.values())
    return False


def _objects() -> list:
    """Every object the garbage collector tracks. (Asking some of them ``isinstance`` can make
    them warn, a deprecated alias in another library, say: not the user's business here.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [o for o in gc.get_objects() if isinstance(o, (Tensor, Optimizer, Module))]


def _untraced(v: Any) -> Any:
    return v.view(np.ndarray) if isinstance(v, Traced) else v


def _traced_view_of(v: Any, original: np.ndarray) -> bool:
    return isinstance(v, Traced) and v.base is original


def _flatten_args(x: Any) -> list:
    if isinstance(x, (tuple, list)):
        out: list = []
        for v in x:
            out.extend(_flatten_args(v))
        return out
    if isinstance(x, dict):
        return _flatten_args(list(x.values()))
    return [x]


# Functions that write into their first argument.
_WRITES_FIRST = {np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, operator.setitem}

# Backend functions that can make an array without a traced operand, and the extras (each
# recorded as one call: their insides run on real arrays).
_CREATION = ("asarray", "zeros", "ones", "full", "empty", "arange", "eye", "linspace")
_EXTRAS = ("scatter_add", "erf", "sigmoid", "to_numpy", "im2col", "col2im")
_TO_NUMPY = B.to_numpy

