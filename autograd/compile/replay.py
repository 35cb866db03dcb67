"""Replaying a recorded step: straight-line Python over NumPy, into reused buffers.

A :class:`Program` turns a recording into one generated Python function: a line per array
operation, in the recorded order, calling the same NumPy functions on the same kinds of operands,
so its results equal the eager step's bit for bit. Before the first line it reads the externals
(parameters, gradients, optimizer state) from where they live, checking their shapes and
dtypes; after the last it puts back what the step leaves behind (each parameter's ``.grad``),
bumps the versions the step bumped, and returns fresh copies of the outputs.

Buffers: each value an operation makes gets an array that lives from one call to the next, so a
replay allocates almost nothing. Values share memory when their lifetimes do not overlap (a
plan over the program's value lifetimes: the largest values first, each put at the lowest
place its size fits in, whatever its shape), so a replay holds about what the eager step holds at
its peak. A value that outlives the program (a ``.grad``, an output) keeps its place.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B
from ..tensor import Tensor, Version, clock
from .record import Const, Instr, Recorder, Ref, _astype


class Stale(Exception):
    """Raised by a replay before it changes anything, when what it would read no longer matches
    the recording (a parameter replaced, a gradient gone): the caller records the step again."""


# Functions that take ``out=``: a recorded call of one of these writes into its buffer.
_TAKES_OUT = {np.sum, np.mean, np.max, np.min, np.prod, np.clip, np.concatenate, np.concat,
              np.cumsum, np.cumulative_sum, np.dot, np.einsum, np.amax, np.amin}


# Functions whose result depends on their (constant) arguments alone: made once, if nothing
# writes into it.
_CONSTANT = {np.arange, np.eye, np.full, np.zeros, np.ones, np.linspace}

# Functions without ``out=`` whose result the replay writes into a buffer in other words:
# ``where(c, a, b)`` is b copied, then a copied where c holds (the same values); the others fill.
_FILLS = {np.zeros: "0", np.zeros_like: "0", np.ones: "1", np.ones_like: "1"}


def _takes_out(fn: Any) -> bool:
    if isinstance(fn, np.ufunc):
        return True
    owner = getattr(fn, "__self__", None)  # ufunc.reduce, ufunc.accumulate
    if isinstance(owner, np.ufunc) and fn.__name__ in ("reduce", "accumulate"):
        return True
    return (fn in _TAKES_OUT or fn in _FILLS or fn is _astype or fn is np.copy or fn is np.where
            or fn is B.scatter_add)


class Program:
    """The replay of one recording (see the module docstring); ``run(*arrays)`` replays it."""

    def __init__(self, rec: Recorder, outputs: Any, binds: list, bumps: list, guards: list) -> None:
        self.rec = rec
        self.instrs: list = rec.instrs
        self.slots: list = rec.slots
        self.outputs = outputs  # a tree of slot ids (or Const) mirroring what the step returned
        self.binds = binds  # (tensor, attribute, slot id or None, same grad object?)
        self.bumps = bumps  # (version counter, how many changes)
        self.guards = guards  # (object, accessor code such as ".training", expected value)
        used = set(_refs([(i.args, i.kwargs) for i in self.instrs]) + _refs(outputs))
        used |= {i.writes for i in self.instrs if i.writes is not None}
        used |= {s for _, _, s, _ in binds if s is not None}
        self.externals = {s: p for s, p in rec.externals.items() if s in used}
        self.buffers = self._allocate()
        self.source, self.run = self._generate()

    # --------------------------------------------------------------- buffers
    @property
    def held_bytes(self) -> int:
        """The memory the replay keeps between calls (its arena)."""
        return self.arena.nbytes

    def _root(self, s: int) -> int:
        while self.slots[s].view_of is not None:
            s = self.slots[s].view_of
        return s

    def _allocate(self) -> dict:
        """{slot: buffer} for the values that operations make, sharing buffers between values
        whose lifetimes do not overlap."""
        n = len(self.instrs)
        last: dict = {}  # root slot -> index of the last instruction that touches it

        def touch(x: Any, i: int) -> None:
            for s in _refs(x):
                r = self._root(s)
                last[r] = max(last.get(r, -1), i)

        for i, ins in enumerate(self.instrs):
            touch((ins.args, ins.kwargs), i)
            if ins.writes is not None:
                touch(Ref(ins.writes), i)
        for s in _refs(self.outputs):
            last[self._root(s)] = n
        for _, _, s, _ in self.binds:
            if s is not None:
                last[self._root(s)] = n
        wanted = []  # (slot, first instruction, last use, bytes) of each value that gets memory
        for i, ins in enumerate(self.instrs):
            out = ins.outs
            if ins.kind != "call" or not isinstance(out, int) or not _takes_out(ins.fn):
                continue
            slot = self.slots[out]
            if slot.scalar or slot.view_of is not None or "out" in ins.kwargs:
                continue
            nbytes = max(int(np.prod(slot.shape, dtype=np.int64)) * slot.dtype.itemsize, 1)
            wanted.append((out, i, last.get(out, i), nbytes))
        # Greedy by size: the largest values first, each at the lowest offset where it overlaps
        # no value alive at the same time. The arena comes out about as large as the most memory
        # the values ever hold at once.
        placed: list = []  # (offset, bytes, first, last)
        offsets: dict = {}
        for out, first, end, nbytes in sorted(wanted, key=lambda w: -w[3]):
            busy = sorted((o, n) for o, n, a, b in placed if a <= end and first <= b)
            offset = 0
            for o, n in busy:
                if offset + nbytes <= o:
                    break
                offset = max(offset, _aligned(o + n))
            placed.append((offset, nbytes, first, end))
            offsets[out] = (offset, nbytes)
        size = max((o + n for o, n, _, _ in placed), default=0)
        self.arena = np.empty(size, np.uint8)
        buffers: dict = {}  # slot -> its array: a typed view into the arena
        for out, (offset, nbytes) in offsets.items():
            slot = self.slots[out]
            buffers[out] = self.arena[offset:offset + nbytes].view(slot.dtype).reshape(slot.shape)
        return buffers

    # --------------------------------------------------------------- code
    def _generate(self) -> tuple:
        """Generate the replay function's source, and compile it.

        Arrays that keep their identity from call to call (a parameter's ``.data``, an optimizer
        buffer, a reused buffer) are constants of the code, guarded by one identity check each;
        views of such arrays (``W.T``) are made once, here, instead of at every replay.
        """
        names: dict = {}  # constants and functions, by the name the code uses
        fixed: dict = {}  # slot -> the array it always is
        lines = []

        def const(value: Any, prefix: str) -> str:
            key = f"{prefix}{len(names)}"
            names[key] = value
            return key

        def name(s: int) -> str:
            return const(fixed[s], "a") if s in fixed else f"v{s}"

        def expr(x: Any) -> str:
            if isinstance(x, Ref):
                return name(x.slot)
            if isinstance(x, Const):
                v = x.value
                if v is None or type(v) in (bool, int, str) or (type(v) is float and np.isfinite(v)):
                    return repr(v)
                return const(v, "k")
            if isinstance(x, tuple):
                return "(" + "".join(expr(v) + ", " for v in x) + ")"
            if isinstance(x, list):
                return "[" + ", ".join(expr(v) for v in x) + "]"
            if isinstance(x, dict):
                return "{" + ", ".join(f"{k!r}: {expr(v)}" for k, v in x.items()) + "}"
            raise TypeError(f"cannot replay an operand {x!r}")

        def value(x: Any) -> Any:
            if isinstance(x, Ref):
                return fixed[x.slot]
            if isinstance(x, Const):
                return x.value
            if isinstance(x, tuple):
                return tuple(value(v) for v in x)
            if isinstance(x, list):
                return [value(v) for v in x]
            return {k: value(v) for k, v in x.items()}

        def call_args(ins: Instr) -> str:
            parts = [expr(a) for a in ins.args]
            parts += [f"{k}={expr(v)}" for k, v in ins.kwargs.items()]
            return ", ".join(parts)

        n_args = max((p for p, _, _ in self.rec.inputs), default=-1) + 1
        n_args = max(n_args, self.rec.n_arguments)
        lines.append(f"def replay({''.join(f'A{k}, ' for k in range(n_args))}*rest):")
        for position, is_tensor, s in self.rec.inputs:
            lines.append(f"    v{s} = A{position}{'.data' if is_tensor else ''}")
        for s, path in self.externals.items():
            owner = const(path[0], "o")
            if path[1:] == ("_grad", "data"):  # a gradient: a new array after every backward
                slot = self.slots[s]
                lines.append(f"    g = {owner}._grad")
                lines.append("    if g is None: raise Stale")
                lines.append(f"    v{s} = g.data")
                lines.append(f"    if v{s}.shape != {slot.shape!r} or v{s}.dtype is not "
                             f"{const(slot.dtype, 'd')}: raise Stale")
                continue
            fixed[s] = _read(path)
            read = owner + (".data" if isinstance(path[0], Tensor) else f"[{path[1]!r}]")
            lines.append(f"    if {read} is not {name(s)}: raise Stale")
        for obj, access, expected in self.guards:
            lines.append(f"    if {const(obj, 'o')}{access} != {const(expected, 'g')}: raise Stale")
        for s, buf in self.buffers.items():
            fixed[s] = buf
        written = {self._root(i.writes) for i in self.instrs if i.writes is not None}
        for ins in self.instrs:
            fn = const(ins.fn, "f")
            out = ins.outs
            if ins.kind == "host":
                lines.append(f"    {_target(ins.outs)}{fn}({call_args(ins)})")
            elif ins.kind == "check":
                values = "".join(expr(v) + ", " for v in ins.args[1:])
                lines.append(f"    if not np_all({expr(ins.args[0])}): raise {fn}({values})")
            elif ins.writes is not None:
                lines.append(f"    {fn}({call_args(ins)})")
            elif isinstance(out, int) and out in self.buffers:
                buf = name(out)
                if ins.fn is _astype:
                    lines.append(f"    copyto({buf}, {expr(ins.args[0])}, casting='unsafe')")
                elif ins.fn is np.copy:
                    lines.append(f"    copyto({buf}, {expr(ins.args[0])})")
                elif ins.fn in _FILLS:
                    lines.append(f"    {buf}.fill({_FILLS[ins.fn]})")
                elif ins.fn is np.where and len(ins.args) == 3 and not ins.kwargs:
                    c, a, b = (expr(x) for x in ins.args)
                    lines.append(f"    copyto({buf}, {b}); copyto({buf}, {a}, where={c})")
                else:
                    f = _reduce_form(ins, self.slots[out]) or fn
                    sep = ", " if ins.args or ins.kwargs else ""
                    lines.append(f"    {f if f != fn else fn}({call_args(ins)}{sep}out={buf})"
                                 if f == fn else f"    {const(f, 'f')}({call_args(ins)}{sep}out={buf})")
            elif (isinstance(out, int) and self.slots[out].view_of is not None
                  and all(s in fixed for s in _refs((ins.args, ins.kwargs)))):
                fixed[out] = ins.fn(*value(ins.args), **value(ins.kwargs))  # a view, made once
            elif (isinstance(out, int) and ins.fn in _CONSTANT and out not in written
                  and not _refs((ins.args, ins.kwargs))):
                fixed[out] = ins.fn(*value(ins.args), **value(ins.kwargs))  # never changes
            else:
                method = _method_form(ins)
                call = method(expr(ins.args[0])) if method else f"{fn}({call_args(ins)})"
                lines.append(f"    {_target(out)}{call}")
        stamp = False
        for t, attr, s, same in self.binds:
            owner = f"A{t[1]}" if isinstance(t, tuple) else const(t, "o")
            if s is None:
                lines.append(f"    {owner}.{attr} = None")
            elif attr == "_grad" and same:
                lines.append(f"    {owner}._grad.data = {name(s)}")
            elif attr == "_grad":
                lines.append(f"    {owner}._grad = tensor({name(s)})")
            else:
                lines.append(f"    {owner}.data = {name(s)}")
        for vc, n in self.bumps:
            if not stamp:
                lines.append("    stamp = Version.last = next(clock)")
                stamp = True
            c = const(vc, "c")
            lines.append(f"    {c}.count += {n}; {c}.stamp = stamp")
        lines.append(f"    return {_out_expr(self.outputs, const, name)}")
        source = "\n".join(lines) + "\n"
        namespace = dict(names, Stale=Stale, np_all=np.all, copyto=np.copyto, tensor=_tensor,
                         fresh=_fresh, Version=Version, clock=clock)
        exec(compile(source, "<ag.compile replay>", "exec"), namespace)  # noqa: S102 - our code
        return source, namespace["replay"]

    # --------------------------------------------------------------- explain
    def explain(self) -> str:
        """The program, one array operation per line, with the shape and dtype of each value."""
        out = []

        def describe(s: int) -> str:
            slot = self.slots[s]
            if slot.scalar:
                return f"v{s}: {slot.dtype.__name__}"
            return f"v{s}: {slot.dtype}{list(slot.shape)}"

        for position, _, s in self.rec.inputs:
            out.append(f"input     {describe(s)} (argument {position})")
        for s, path in self.externals.items():
            where = _path_text(path)
            out.append(f"read      {describe(s)} = {where}")
        for ins in self.instrs:
            args = ", ".join([_brief(a) for a in ins.args] +
                             [f"{k}={_brief(v)}" for k, v in ins.kwargs.items()])
            name = _fn_name(ins.fn)
            if ins.kind == "host":
                res = ", ".join(describe(s) for s in _flat(ins.outs)) if ins.outs is not None else ""
                out.append(f"host      {res + ' = ' if res else ''}{name}({args})")
            elif ins.kind == "check":
                out.append(f"check     {args}")
            elif ins.writes is not None:
                out.append(f"in place  v{ins.writes} <- {name}({args})")
            else:
                res = ", ".join(describe(s) for s in _flat(ins.outs))
                buf = " [buffer]" if isinstance(ins.outs, int) and ins.outs in self.buffers else ""
                out.append(f"op        {res} = {name}({args}){buf}")
        for t, attr, s, _ in self.binds:
            who = f"argument {t[1]}" if isinstance(t, tuple) else f"{t.name or 'tensor'}{list(t.shape)}"
            out.append(f"set       {who}.{attr.lstrip('_')} = {'None' if s is None else f'v{s}'}")
        ops = sum(1 for i in self.instrs if i.kind == "call")
        out.append(f"-- {ops} array operations, {len(self.instrs) - ops} host calls and checks, "
                   f"{len(self.buffers)} values in a reused arena of "
                   f"{self.held_bytes / 2**20:.2f} MiB")
        return "\n".join(out)


def _aligned(n: int) -> int:
    return -(-n // 64) * 64  # 64 bytes: a cache line, and any dtype's alignment


def _refs(x: Any) -> list:
    if isinstance(x, Ref):
        return [x.slot]
    if isinstance(x, (tuple, list)):
        return [s for v in x for s in _refs(v)]
    if isinstance(x, dict):
        return [s for v in x.values() for s in _refs(v)]
    return []


def _flat(outs: Any) -> list:
    if outs is None:
        return []
    if isinstance(outs, int):
        return [outs]
    return [s for o in outs for s in _flat(o)]


def _target(outs: Any) -> str:
    if outs is None:
        return ""
    if isinstance(outs, int):
        return f"v{outs} = "
    return "(" + "".join(_target_item(o) + ", " for o in outs) + ") = "


def _target_item(o: Any) -> str:
    if o is None:
        return "_"
    if isinstance(o, int):
        return f"v{o}"
    return "(" + "".join(_target_item(x) + ", " for x in o) + ")"


def _out_expr(tree: Any, const: Any, name: Any) -> str:
    if isinstance(tree, Ref):
        return f"fresh({name(tree.slot)})"
    if isinstance(tree, Const):
        return const(tree.value, "k")
    if isinstance(tree, tuple):
        return "(" + "".join(_out_expr(v, const, name) + ", " for v in tree) + ")"
    if isinstance(tree, list):
        return "[" + ", ".join(_out_expr(v, const, name) for v in tree) + "]"
    raise TypeError(f"cannot return {tree!r} from a replay")


def _read(path: tuple) -> Any:
    owner = path[0]
    return owner.data if isinstance(owner, Tensor) else owner[path[1]]


_new = object.__new__


def _tensor(a: Any) -> Tensor:
    """A Tensor around ``a`` as backward's ``.grad`` is (what ``Tensor(a)`` makes, without its
    argument checks)."""
    t = _new(Tensor)
    t.data = a
    t.requires_grad = False
    t.grad_fn = t._grad = t.name = t._vc = None
    return t


def _fresh(a: Any) -> Tensor:
    """A returned value: a new Tensor with its own copy, so that later calls cannot change it."""
    return _tensor(B.asarray(a).copy())


# View functions with a method of the same meaning that NumPy runs in C, without the Python
# layer of its function form: the replay calls the method.
_METHODS = {np.matrix_transpose: lambda x, ins: f"{x}.mT",
            np.transpose: lambda x, ins: f"{x}.T" if len(ins.args) == 1 and not ins.kwargs else None,
            np.reshape: lambda x, ins: (f"{x}.reshape({_static(ins.args[1])!r})"
                                        if len(ins.args) == 2 and not ins.kwargs else None)}


def _static(x: Any) -> Any:
    return x.value if isinstance(x, Const) else None


def _method_form(ins: Instr) -> Any:
    form = _METHODS.get(ins.fn)
    if form is None or not ins.args:
        return None
    probe = form("x", ins)
    return (lambda x: form(x, ins)) if probe is not None else None


def _reduce_form(ins: Instr, slot: Any) -> Any:
    """``np.add.reduce`` for a recorded ``np.sum`` of floats (the same computation, without
    ``np.sum``'s Python layer)."""
    if ins.fn is np.sum and not slot.scalar and slot.dtype.kind == "f" and "dtype" not in ins.kwargs:
        return np.add.reduce
    return None


def _brief(a: Any, width: int = 60) -> str:
    """An operand as ``explain`` shows it: its repr, unless that is long (a host function's
    argument can be an optimizer's parameter group, whose repr prints every weight): a dict then
    shows its keys with brief values, a list or tuple its length, anything else its first line."""
    text = repr(a)
    if len(text) <= width and "\n" not in text:
        return text
    v = a.value if isinstance(a, Const) else a
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_brief(x, 24)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return f"<{type(v).__name__} of {len(v)}>"
    return text.splitlines()[0][:width] + "…"


def _fn_name(fn: Any) -> str:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, np.ufunc):
        return f"{owner.__name__}.{fn.__name__}"
    qualname = getattr(fn, "__qualname__", None)
    if qualname:
        return qualname
    return getattr(fn, "__name__", repr(fn))


def _path_text(path: tuple) -> str:
    owner = path[0]
    if isinstance(owner, Tensor):
        label = owner.name or f"tensor{list(owner.shape)}"
        return label + "".join(f".{a.lstrip('_')}" for a in path[1:])
    return "optimizer state" + "".join(f"[{a!r}]" for a in path[1:])
