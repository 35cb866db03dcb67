"""The graph: op registrations, nodes, ``record()``, grad mode and module scopes.

**Ops.** Every differentiable op is a forward function plus a backward rule, registered once with
:func:`defvjp`. The registration (an :class:`Op`) is the only place that says what the op is
called, which forward values its rule reads (see ``memory.py``), the formula its picture shows,
the names it has as a Tensor method and in the array namespace of ``create_graph``, and how the
gradient-flow view checks it. Everything else (Tensor methods, the ``create_graph`` namespace,
picture labels, the registry test) is derived from these registrations.

**Rules.** A rule has the signature ``rule(xp, ctx, g, out, *inputs)`` and returns one gradient
per input (``None`` where ``ctx.needs[i]`` is false). ``ctx`` is the node: ``ctx.saved`` is what
the forward left for it, ``ctx.needs`` which inputs need a gradient. For an ordinary backward the
engine passes arrays and ``xp`` is the backend, so a rule costs only its NumPy arithmetic; under
``create_graph=True`` it passes Tensors and ``xp`` is :data:`XP`, the same names over
differentiable ops, so the same rule text records its own graph and can be differentiated again.
Rules may return gradients in the broadcast shape; the engine sums them to each input's shape.

**Recording.** An op's forward computes with the backend and ends with
``record(out, <its op>, inputs, saved)``, which wraps ``out`` in a Tensor and, when grad mode is
on and some input requires grad, attaches a :class:`Node`. That is the whole graph: tensors point
to the node that made them, nodes point to their input tensors.
"""
from __future__ import annotations

import functools
import inspect
from types import FrameType, SimpleNamespace
from typing import Any, NamedTuple
from collections.abc import Callable, Iterable, Sequence

from . import backend as B
from . import memory, state
from .tensor import Tensor, clock

# ----------------------------------------------------------------------------- registrations
_READS = {"both": (True, True), "inputs": (True, False), "output": (False, True),
          "nothing": (False, False)}


class Diagnose(NamedTuple):
    """How the gradient-flow view checks an op, from its local slope (its derivative as a
    function of its output y, element by element).

    ``kind``: ``"saturation"`` flags an op whose slope is below a threshold everywhere (a
    saturated sigmoid); ``"gate"`` reports where the slope is zero (a ReLU that passes nothing).
    ``slope``: the slope from y; by default the op's own rule applied to a gradient of ones (an
    element-wise op whose rule reads only its output), so no derivative is written twice.
    ``text``: what the slope is called in flags; by default the right side of the op's ``shows``.
    """

    kind: str
    slope: Callable | None = None
    text: str | None = None


class Op:
    """One registered op: what the engine, the pictures and the tests know about it.

    ``name``: the node name (``tanh``), shown in pictures and errors. ``forward``: the function
    users call. ``rule``: the backward rule, or None for an op that records nothing of its own:
    a comparison (``composite`` false) or a composition of other ops (``composite`` true).
    ``reads_inputs``/``reads_output``: what the rule reads. ``shows``: the formula under the op's
    name in pictures. ``xp``: the names under which ``forward`` stands in the
    ``create_graph`` namespace. ``methods``/``reflected``: Tensor methods bound to ``forward``
    (reflected ones swap the operands). ``on_tensors``: the rule always receives Tensors (for
    user-defined ops). ``second_order``: the rule is itself differentiable. ``diagnose``: how the
    gradient-flow view checks the op (``"saturation"``, ``"gate"``, or a function of the output
    a :class:`Diagnose`).
    """

    __slots__ = ("name", "forward", "rule", "composite", "reads_inputs", "reads_output", "shows",
                 "xp", "methods", "reflected", "on_tensors", "second_order", "diagnose")

    def __init__(self, forward: Callable, rule: Callable | None, *, name: str | None = None,
                 reads: str = "both", shows: str | None = None, xp: Sequence[str] = (),
                 methods: Sequence[str] = (), reflected: Sequence[str] = (),
                 on_tensors: bool = False, second_order: bool = True,
                 diagnose: Any = None, composite: bool = False) -> None:
        if reads not in _READS:
            raise ValueError(f"reads must be one of {sorted(_READS)}, not {reads!r}")
        self.name = name or forward.__name__
        self.forward = forward
        self.rule = rule
        self.composite = composite
        self.reads_inputs, self.reads_output = _READS[reads]
        self.shows = shows
        self.xp = tuple(xp)
        self.methods = tuple(methods)
        self.reflected = tuple(reflected)
        self.on_tensors = on_tensors
        self.second_order = second_order and (rule is not None or composite)
        self.diagnose = Diagnose(diagnose) if isinstance(diagnose, str) else diagnose

    @property
    def differentiable(self) -> bool:
        """Whether gradients flow through it (by its own rule, or through the ops it is made of)."""
        return self.rule is not None or self.composite

    def __repr__(self) -> str:
        return f"<op {self.name}>"


#: Every registered op by the name of its function (``permute_dims``, whose nodes are named
#: ``transpose``), in registration order.
REGISTRY: dict[str, Op] = {}

def _recompute(kept: Any, recompute: Callable) -> Any:
    """``reuse`` under ``create_graph``: a kept forward value is a constant, so compute it again
    from the inputs, recorded, to differentiate it again (see ``backend.reuse``)."""
    return recompute()


#: The ``create_graph`` namespace: the backend's names over differentiable ops (see the module
#: docstring), filled by the registrations. Error-state handling is not an array operation and
#: is shared with the backend; ``reuse`` recomputes instead of reusing.
XP = SimpleNamespace(errstate=B.errstate, reuse=_recompute)


def register(op: Op) -> Op:
    """Add ``op`` to the registry and to the namespace of ``create_graph``, and attach its Tensor
    methods: this is the one place where operators and op methods are attached to Tensor. The
    op's own function is attached, so ``x.exp()`` or ``a + b`` costs no wrapper call; reflected
    operators (``2 - x``) swap the operands."""
    key = op.forward.__name__
    if key in REGISTRY:
        raise ValueError(f"an op whose function is named {key!r} is already registered")
    REGISTRY[key] = op
    for name in op.xp:
        if hasattr(XP, name):
            raise ValueError(f"{name!r} is already in the create_graph namespace")
        setattr(XP, name, op.forward)
    for name in op.methods:
        setattr(Tensor, name, op.forward)
    for name in op.reflected:
        setattr(Tensor, name, _reflected(op.forward))
    return op


def _reflected(forward: Callable) -> Callable:
    def method(self: Tensor, other: Any) -> Tensor:
        return forward(other, self)

    method.__name__ = method.__qualname__ = f"r{forward.__name__}"
    method.__doc__ = f"``{forward.__name__}(other, self)``: the operator with its operands swapped."
    return method


def defvjp(forward: Callable, **options: Any) -> Callable[[Callable], Op]:
    """Decorator: register the decorated function as the backward rule of ``forward``.

    ``@defvjp(tanh, reads="output", shows="tanh' = 1 − y²", methods=("tanh",), xp=("tanh",))``
    on ``def _tanh_vjp(xp, ctx, g, y, x)`` makes ``_tanh_vjp`` the :class:`Op`, which the forward
    passes to :func:`record`. The options are those of :class:`Op`.
    """

    def make(rule: Callable) -> Op:
        return register(Op(forward, rule, **options))

    return make


def composite(forward: Callable, **options: Any) -> Op:
    """Register ``forward``, built from other ops, for its Tensor methods and ``create_graph``
    names; its gradient comes from the ops it is made of."""
    return register(Op(forward, None, composite=True, **options))


def nondifferentiable(forward: Callable, **options: Any) -> Op:
    """Register ``forward`` as an op that records nothing (a comparison, ``sign``, ``argmax``):
    it gets its Tensor methods and its ``create_graph`` names like any other op."""
    return register(Op(forward, None, **options))


# ----------------------------------------------------------------------------- nodes
class Node:
    """One recorded op application: the ``grad_fn`` of the tensor it produced.

    ``op`` is the registration; ``inputs`` the op's tensor arguments in order; ``needs`` which of
    them need a gradient; ``saved`` whatever else the rule needs (axes, masks, indices); ``seq``
    its place on the engine's clock (``tensor.clock``: creation order, and what in-place writes are
    compared with); ``scope`` the module path it was recorded under (for pictures). A node has
    exactly one output, so the engine identifies a non-leaf tensor by its node. Rarely used
    things (``retain``, ``hooks``, ``where``) live in ``extra``, which is None for most nodes.
    """

    __slots__ = ("op", "inputs", "needs", "saved", "seq", "scope", "freed", "extra")

    def __init__(self, op: Op, inputs: tuple, needs: tuple, saved: Any) -> None:
        self.op = op
        self.inputs = inputs
        self.needs = needs
        self.saved = saved
        self.seq = next(clock)
        self.scope = _thread.scope
        self.freed = False  # True once backward has released what it saved (memory.release)
        self.extra: NodeExtra | None = None

    @property
    def name(self) -> str:
        return self.op.name

    def _extra(self) -> NodeExtra:
        if self.extra is None:
            self.extra = NodeExtra()
        return self.extra

    @property
    def retain(self) -> Any:
        """A weak reference to the output, once it called ``retain_grad()`` (else None)."""
        return None if self.extra is None else self.extra.retain

    @retain.setter
    def retain(self, ref: Any) -> None:
        self._extra().retain = ref

    @property
    def hooks(self) -> list | None:
        """The output's gradient hooks (``Tensor.register_hook``), or None."""
        return None if self.extra is None else self.extra.hooks

    @hooks.setter
    def hooks(self, hooks: list | None) -> None:
        self._extra().hooks = hooks

    @property
    def where(self) -> str | None:
        """The user's source line that ran the forward (recorded under ``detect_anomaly``)."""
        return None if self.extra is None else self.extra.where

    def release(self) -> None:
        """Drop what the forward saved for the rule (see ``memory.release``)."""
        self.saved = None
        self.freed = True

    def __repr__(self) -> str:
        return f"<{''.join(p.capitalize() for p in self.op.name.split('_'))}Backward>"


class NodeExtra:
    """What few nodes need: a retained output, gradient hooks, the forward's source line."""

    __slots__ = ("retain", "hooks", "where")

    def __init__(self) -> None:
        self.retain: Any = None  # a weak reference to the output
        self.hooks: list | None = None
        self.where: str | None = None


_thread = state.current  # this thread's grad mode and module scope
_RECORDING = state.RECORDING
_ONE: tuple[bool, ...] = (True,)
_PAIRS = (((False, False), (False, True)), ((True, False), (True, True)))


def record(data: Any, op: Op, inputs: tuple, saved: Any = None, view_of: Tensor | None = None
           ) -> Tensor:
    """Wrap an op's result ``data`` in a Tensor, attaching a graph node when gradients are wanted:
    grad mode is on and at least one input requires grad.

    ``view_of``: the input whose memory ``data`` may share (reshape, transpose, slicing); the
    result then shares that input's version counter, so an in-place change through either one is
    seen by every node that saved the other.
    """
    t = _new(Tensor)
    if type(data) is not B.ndarray:
        data = B.asarray(data)
    t.data = data
    t._grad = None
    t.name = None
    t._vc = None if view_of is None else _view_version(data, view_of)
    mode = _thread.mode
    if mode is not _RECORDING:  # no_grad, or anomaly detection: the rare cases
        if mode.anomaly:
            _check_forward(data, op)
        if not mode.grad:
            t.requires_grad = False
            t.grad_fn = None
            return t
    for p in inputs:
        if p.requires_grad:
            t.requires_grad = True
            if not op.reads_inputs:
                inputs = memory.stub_unread(inputs)
            n = len(inputs)
            if n == 1:
                needs = _ONE
            elif n == 2:  # one of four shared tuples: nothing allocated per node
                needs = _PAIRS[inputs[0].requires_grad][inputs[1].requires_grad]
            else:
                needs = tuple([q.requires_grad for q in inputs])
            node = t.grad_fn = Node(op, inputs, needs, saved)
            if mode.anomaly:
                node._extra().where = user_line()
            return t
    t.requires_grad = False
    t.grad_fn = None
    return t


def _view_version(data: Any, of: Tensor) -> Any:
    """``of``'s version counter if ``data`` is a view of ``of``'s memory, else None. NumPy points
    a view at the array that owns the memory, so comparing bases settles it."""
    base = data.base
    if base is None:
        return None
    od = of.data
    return of._shared_version() if base is od or base is od.base else None


def _check_forward(data: Any, op: Op) -> None:
    if data.dtype.kind in "fc" and not B.all(B.isfinite(data)):
        what = "NaN" if B.any(B.isnan(data)) else "Inf"
        raise FloatingPointError(
            f"detect_anomaly: the forward of '{op.name}' produced {what} (output of shape "
            f"{data.shape}), at {user_line()}"
        )


def user_line() -> str:
    """``file:line in function: source`` of the innermost frame outside this package."""
    import linecache
    import os
    import sys

    package = os.path.dirname(os.path.abspath(__file__))
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    code = frame.f_code
    text = linecache.getline(code.co_filename, frame.f_lineno).strip()
    return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}: {text}"


_new = object.__new__


def op_outputs(roots: Iterable[Tensor]) -> dict:
    """``{node: tensor}`` for every node reachable from ``roots``, the tensor standing for the
    node's output (a live tensor rather than a stub, ``memory.prefer``). Iterative, so a
    100,000-op chain needs no recursion."""
    rep: dict = {}
    stack = [t for t in roots if t.grad_fn is not None]
    while stack:
        t = stack.pop()
        node = t.grad_fn
        known = rep.get(node)
        if known is not None:
            if memory.prefer(known, t):
                rep[node] = t  # same node, same inputs: nothing new to visit
            continue
        rep[node] = t
        for p in node.inputs:
            pn = p.grad_fn
            if pn is not None:
                k = rep.get(pn)
                if k is None or memory.prefer(k, p):
                    stack.append(p)
    return rep


# ----------------------------------------------------------------------------- grad mode
class _GradMode:
    """Base of ``no_grad``/``enable_grad``: a context manager that is also a decorator (also of
    generator functions, whose body then runs in the mode each time it resumes). The mode is
    per thread (``state.py``)."""

    mode = True

    def __enter__(self) -> None:
        cur = state.current
        self._prev = cur.mode
        cur.mode = state.mode_of(self.mode, self._prev.anomaly)

    def __exit__(self, *exc: object) -> None:
        state.current.mode = self._prev

    def __call__(self, fn: Callable) -> Callable:
        cls = self.__class__
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Any:
                gen = fn(*args, **kwargs)
                try:
                    with cls():
                        item = next(gen)
                    while True:
                        try:
                            sent = yield item
                        except GeneratorExit:
                            with cls():
                                gen.close()
                            raise
                        except BaseException as e:  # thrown in: pass it on, in the mode
                            with cls():
                                item = gen.throw(e)
                        else:
                            with cls():
                                item = gen.send(sent)
                except StopIteration as stop:
                    return stop.value

            return generator

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with cls():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Turn graph recording off in this thread (context manager or decorator): results do not
    require grad."""

    mode = False


class enable_grad(_GradMode):
    """Turn graph recording back on inside a ``no_grad`` block (context manager or decorator)."""

    mode = True


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph in this thread."""
    return state.current.mode.grad


def set_grad_enabled(mode: bool) -> None:
    """Switch graph recording on or off in this thread (prefer a ``no_grad`` block, which
    restores the previous mode)."""
    cur = state.current
    cur.mode = state.mode_of(mode, cur.mode.anomaly)


class detect_anomaly:
    """Inside this block (context manager or decorator, per thread), a NaN or Inf produced by any
    op raises ``FloatingPointError`` at once: in a forward, naming the op and the user's source
    line; in a backward rule, naming the op and the line where its forward ran. Outside it, ops
    pay nothing for the check."""

    def __enter__(self) -> None:
        cur = state.current
        self._prev = cur.mode
        cur.mode = state.mode_of(self._prev.grad, True)

    def __exit__(self, *exc: object) -> None:
        state.current.mode = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return fn(*args, **kwargs)

        return wrapper


def is_anomaly_enabled() -> bool:
    """Whether ``detect_anomaly`` is on in this thread."""
    return state.current.mode.anomaly


class name_scope:
    """Tag every node recorded inside the block with a path element (``nn.Module`` uses this)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        cur = state.current
        self._prev = cur.scope
        cur.scope = self._prev + (self.name,)

    def __exit__(self, *exc: object) -> None:
        state.current.scope = self._prev


def current_scope() -> tuple:
    """The module path new nodes are recorded under (in this thread)."""
    return state.current.scope
