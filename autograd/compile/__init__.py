"""``ag.compile``: record a training step once, then replay it at the speed of hand-written NumPy.

On a small model most of an eager step's time goes to bookkeeping (creating Tensors, recording
nodes, walking the graph backwards), not to arithmetic. ``step = ag.compile(fn)`` removes it:

1. **Warm-up.** The first call with a new *signature* (the shapes and dtypes of the array
   arguments, other arguments' values, grad mode) runs ``fn`` eagerly, so that optimizers create
   their state.
2. **Recording** (``record.py``). The second call runs ``fn`` eagerly too, but with every array
   it touches traced: each ufunc, array function, indexing and method call is computed and
   written down, with its operands named by where they come from (an argument, a parameter's
   ``.data``, an optimizer buffer, an earlier operation). Forward, backward and the optimizer's
   update are all array operations, so all of them are in the recording; the Tensors, nodes and
   Python dispatch around them are not.
3. **Replay** (``replay.py``). Later calls with the same signature run the recording as one
   generated Python function: the same NumPy calls in the same order, into buffers reused from
   call to call. Results equal the eager step's bit for bit.

What changes between calls is read at replay time, never frozen: the arguments' arrays;
parameters, gradients and optimizer state, from where they live; the learning rate (a scheduler's
``step()`` runs again at each replay), Adam's step count and draws from the random generator
(``ag.manual_seed``'s), through small ``state.host`` functions recorded as calls the replay makes
again. Checks on values (labels in range) are made at every replay (``state.require``).

**Guards.** A replay first checks that what it reads still matches the recording (each
parameter's and gradient's shape and dtype; the modules' ``train()``/``eval()`` modes; the
optimizers' other hyperparameters and parameter lists). If not, the call records again. A small
cache keeps one recording per signature.

**What cannot be compiled.** Python decisions on computed values: ``if loss.item() > 1``,
``bool(t)``, ``float(t)``, ``t.numpy()``, ``t.tolist()``: a recording would take the branch once and
replay it forever, so these raise :class:`CompileError` naming the call and the line, unless
``fallback=True``, where the function then runs eagerly from that call on (with one
:class:`CompileWarning`). Gradient hooks and module hooks run Python code a replay would skip, so
a step that runs one cannot be compiled either. Other Python side effects inside ``fn`` (printing,
appending to a list) happen only while recording. Return values are fresh Tensors without a
graph (the backward has already run).

``compiled.explain()`` shows the recorded program, one array operation per line.
"""
from __future__ import annotations

import functools
import gc
import warnings
from collections import OrderedDict
from typing import Any, overload
from collections.abc import Callable

import numpy as np

from .. import state
from ..nn.module import Module
from ..tensor import Tensor
from .record import CompileError, Const, Recorder, Ref, Traced, TracedInt, TracedScalar
from .replay import Program, Stale

__all__ = ["compile", "Compiled", "CompileError", "CompileWarning"]


class CompileWarning(UserWarning):
    """Issued once when a function compiled with ``fallback=True`` turns out to need eager runs."""


@overload
def compile(fn: Callable, *, fallback: bool = ..., warmup: int = ..., cache_size: int = ...
            ) -> Compiled: ...
@overload
def compile(fn: None = None, *, fallback: bool = ..., warmup: int = ..., cache_size: int = ...
            ) -> Callable[[Callable], Compiled]: ...
def compile(fn: Callable | None = None, *, fallback: bool = False, warmup: int = 1,
            cache_size: int = 8) -> Compiled | Callable[[Callable], Compiled]:
    """Compile a training (or evaluation) step ``fn`` (see the module docstring).

    Returns a :class:`Compiled` callable with ``fn``'s signature. ``warmup``: eager calls before
    a signature is recorded (at least 1, so optimizer state exists). ``fallback``: run eagerly,
    with a warning, instead of raising when ``fn`` cannot be compiled. Usable as a decorator,
    with or without arguments.
    """
    if fn is None:
        return lambda f: Compiled(f, fallback=fallback, warmup=warmup, cache_size=cache_size)
    return Compiled(fn, fallback=fallback, warmup=warmup, cache_size=cache_size)


class _Entry:
    __slots__ = ("calls", "program")

    def __init__(self) -> None:
        self.calls = 0
        self.program: Program | None = None


class Compiled:
    """A compiled step: call it as you would call the function (see :func:`compile`)."""

    def __init__(self, fn: Callable, fallback: bool = False, warmup: int = 1,
                 cache_size: int = 8) -> None:
        self.fn = fn
        self.fallback = fallback
        self.warmup = max(int(warmup), 1)
        self.cache_size = cache_size
        self.eager_only: str | None = None  # why, once fallback found it cannot be compiled
        self._cache: OrderedDict[tuple, _Entry] = OrderedDict()
        self._last: tuple = ((), None)  # the signature of the last call, and its entry
        self.replays = 0
        self.recordings = 0
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.eager_only is not None or state.current.recorder is not None:
            return self.fn(*args, **kwargs)
        key = _signature(args, kwargs)
        last_key, entry = self._last
        if key != last_key:  # another signature than last time: find (or make) its entry
            entry = self._cache.get(key)
            if entry is None:
                entry = self._cache[key] = _Entry()
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            self._last = (key, entry)
        if entry.program is not None:
            try:
                out = entry.program.run(*args, *[kwargs[k] for k in sorted(kwargs)])
            except Stale:  # raised before the replay changed anything: record again
                entry.program = None
                entry.calls = self.warmup
            else:
                self.replays += 1
                return out
        entry.calls += 1
        if entry.calls <= self.warmup:
            return self.fn(*args, **kwargs)
        return self._record(entry, args, kwargs)

    def _record(self, entry: _Entry, args: tuple, kwargs: dict) -> Any:
        rec = Recorder(fallback=self.fallback)
        with rec:
            traced_args, traced_kwargs, restore = _trace_arguments(rec, args, kwargs)
            try:
                result = self.fn(*traced_args, **traced_kwargs)
                plan = None if rec.failed else _plan(rec, result)
            finally:
                for t, data in restore:
                    t.data = data
        program = None if plan is None else Program(rec, *plan)  # with the real arrays back
        if rec.failed:
            self.eager_only = rec.failed
            warnings.warn(f"ag.compile: {getattr(self.fn, '__name__', 'the function')} runs "
                          f"eagerly from now on: {rec.failed}", CompileWarning, stacklevel=3)
        elif program is not None:
            entry.program = program
            self.recordings += 1
        return _untrace_result(result)

    def clear(self) -> None:
        """Forget every recording: the next calls warm up and record again."""
        self._cache.clear()
        self._last = ((), None)

    def explain(self) -> str:
        """The most recently used recording, one array operation per line (see
        :meth:`Program.explain`); say so when there is none yet."""
        for entry in reversed(self._cache.values()):
            if entry.program is not None:
                return entry.program.explain()
        if self.eager_only is not None:
            return f"(runs eagerly: {self.eager_only})"
        return "(nothing recorded yet: a signature is recorded on its second call)"

    def __repr__(self) -> str:
        return f"<ag.compile of {getattr(self.fn, '__qualname__', self.fn)!r}>"


# ----------------------------------------------------------------------------- helpers
def _signature(args: tuple, kwargs: dict) -> tuple:
    """What a recording is specific to: the arrays' shapes and dtypes, other arguments' values,
    this thread's grad and anomaly modes."""
    parts: list = [state.current.mode]
    for a in (args + tuple(kwargs[k] for k in sorted(kwargs))) if kwargs else args:
        if isinstance(a, Tensor):
            d = a.data
            parts.append((d.shape, d.dtype, a.requires_grad))
        elif isinstance(a, np.ndarray):
            parts.append((a.shape, a.dtype))
        else:
            try:
                hash(a)
                parts.append((type(a), a))
            except TypeError:
                parts.append(id(a))
    if kwargs:
        parts.append(tuple(sorted(kwargs)))
    return tuple(parts)


def _trace_arguments(rec: Recorder, args: tuple, kwargs: dict) -> tuple:
    """Make the array arguments the program's inputs (numbered as the replay receives them:
    positional arguments, then keyword arguments by name)."""
    restore = []

    def trace(a: Any, position: int) -> Any:
        if isinstance(a, Tensor):
            original = a.data.base if isinstance(a.data, Traced) else a.data
            assert original is not None  # a traced view's base is the array it views
            restore.append((a, original))
            rec.arguments[position] = a
            a.data = rec.input(original, position, tensor=True)
            return a
        if isinstance(a, np.ndarray):
            return rec.input(a, position, tensor=False)
        return a

    rec.n_arguments = len(args) + len(kwargs)
    new_args = tuple(trace(a, k) for k, a in enumerate(args))
    new_kwargs = {k: trace(kwargs[k], len(args) + i) for i, k in enumerate(sorted(kwargs))}
    return new_args, new_kwargs, restore


def _output_tree(rec: Recorder, x: Any) -> Any:
    if isinstance(x, Tensor):
        x = x.data
    if isinstance(x, Traced):
        if x._slot is None:  # a view NumPy made in C (ndarray.diagonal()): the replay has no name for it
            raise CompileError("ag.compile: the function returned an array NumPy derived from a "
                               "traced one outside the recorder; return Tensors it computed")
        return Ref(x._slot)
    if isinstance(x, (TracedScalar, TracedInt)):
        return Ref(x._slot)
    if isinstance(x, tuple):
        return tuple(_output_tree(rec, v) for v in x)
    if isinstance(x, list):
        return [_output_tree(rec, v) for v in x]
    if isinstance(x, np.ndarray):
        raise CompileError("ag.compile: the function returned an array it did not compute from "
                           "traced values; return Tensors it computed")
    return Const(x)


def _plan(rec: Recorder, result: Any) -> tuple | None:
    """What the replay of ``rec``'s recording must put back, check and return (read while the
    step's traced arrays are still in place), or None when the step is not steady yet (an
    optimizer created state during it, as it does on its first step)."""
    outputs = _output_tree(rec, result)
    binds, bumps = [], []
    arguments = {id(t) for t in rec.arguments.values()}
    for position, t in rec.arguments.items():  # a gradient an argument got: given at each replay
        if t._grad is not None and isinstance(t._grad.data, Traced):
            binds.append((("argument", position), "_grad", t._grad.data._slot, False))
    for t, _data, view, grad, _gdata, gview, count in rec.tensors:
        if id(t) in arguments:
            continue
        after = t._grad
        if after is None:
            if grad is not None:
                binds.append((t, "_grad", None, False))
        elif isinstance(after.data, Traced) and after.data is not gview:
            binds.append((t, "_grad", after.data._slot, after is grad))
        if t.data is not view:
            if not isinstance(t.data, Traced):
                return None  # replaced by an array the recording did not make
            binds.append((t, "data", t.data._slot, False))
        if t._version != count:
            bumps.append((t._shared_version(), t._version - count))
    guards = []
    for opt, saved, groups, params in rec.optimizers:
        for st, originals, keys in saved.values():
            if set(st) != keys or any(
                    k in originals and not (isinstance(st[k], Traced) and st[k].base is originals[k])
                    for k in st):
                return None  # the optimizer made or replaced state: record on a later call
        guards.append((opt, ".param_groups.__len__()", len(groups)))
        for i, g in enumerate(groups):
            guards.append((opt, f".param_groups[{i}]['params'].__len__()", len(params[i])))
            for k, v in g.items():
                if k not in ("lr", "initial_lr"):  # the rate is read at replay; the rest fixed
                    guards.append((opt, f".param_groups[{i}][{k!r}]", v))
    for m in rec.modules:
        guards.append((m, ".training", m.training))
    return outputs, binds, bumps, guards


def _untrace_result(x: Any) -> Any:
    if isinstance(x, Traced):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_untrace_result(v) for v in x)
    if isinstance(x, list):
        return [_untrace_result(v) for v in x]
    return x


def _modules_alive() -> list:
    return [m for m in gc.get_objects() if isinstance(m, Module)]
