"""The graph and the backward engine.

Every differentiable op ends by calling :func:`record`, which wraps its result in a Tensor and,
when gradients are wanted, attaches a :class:`Node`: the op's name, its input tensors (in order),
its backward rule and whatever else the rule needs. That is the whole graph: tensors point to
the node that made them, nodes point to their input tensors.

:func:`run_backward` walks that graph. It knows nothing about particular ops; it only

* orders the nodes topologically, iteratively (no recursion, so a 100,000-op chain is fine):
  a node's inputs always exist before the node, so decreasing creation number is a valid
  topological order, and the same program always gives the same order and summation order;
* calls each node's rule exactly once with the sum of the gradients of all its consumers;
* undoes broadcasting (sums a gradient down to its input's shape), checks every shape, and
  gives every gradient its tensor's dtype (as PyTorch does);
* accumulates into ``.grad`` of leaves and of tensors that called ``retain_grad()``;
* frees what the nodes saved, unless ``retain_graph=True``: each node drops its rule and saved
  values, and its non-leaf inputs are replaced by stubs without values (``ReleasedTensor``), so
  intermediate arrays are freed once the caller no longer holds them, while the graph's shape,
  names and leaves stay readable for pictures.

A backward rule has the signature ``rule(xp, node, g, out, *inputs)`` and returns one gradient
per input (``None`` where the input needs none). With ``create_graph=False`` the engine passes
arrays and the backend module as ``xp``, so a rule costs only its NumPy arithmetic. With
``create_graph=True`` it passes Tensors and the namespace of differentiable ops, so the very
same rule text is recorded as a graph and can be differentiated again.
"""
from __future__ import annotations

import functools
from itertools import count
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from . import backend as B

if TYPE_CHECKING:  # pragma: no cover
    from .tensor import Tensor

_grad_enabled = True
_scope: tuple[str, ...] = ()
_seq = count()
_Tensor: Any = None  # set by autograd.tensor, which imports this module first
_Released: Any = None  # likewise: autograd.tensor.ReleasedTensor
_ops_api: Any = None  # the differentiable-op namespace, set by autograd.ops


class Node:
    """One recorded op application: the ``grad_fn`` of the tensor it produced.

    ``inputs`` are the op's tensor arguments in order; ``saved`` is whatever else its rule needs
    (axes, masks, indices); ``scope`` is the module path it was recorded under (for pictures).
    A node has exactly one output, so the engine identifies a non-leaf tensor by its node: an
    input may be a :class:`ReleasedTensor` stub standing for a tensor the caller still holds.
    """

    __slots__ = ("name", "inputs", "rule", "saved", "seq", "scope", "retain")

    def __init__(self, name: str, inputs: tuple, rule: Callable | None, saved: Any) -> None:
        self.name = name
        self.inputs = inputs
        self.rule = rule
        self.saved = saved
        self.seq = next(_seq)
        self.scope = _scope
        self.retain = None  # a weak reference to the output, once it called retain_grad()

    @property
    def freed(self) -> bool:
        """True once backward has released what this node saved (``retain_graph=False``)."""
        return self.rule is None

    def __repr__(self) -> str:
        return f"<{''.join(p.capitalize() for p in self.name.split('_'))}Backward>"


# Intermediates smaller than this (in elements) are always kept whole: they cost little memory,
# and pictures of the graph print the values of small tensors.
KEEP_BELOW = 1024


def reads(*, inputs: bool = True, output: bool = True) -> Callable:
    """Declare which forward values a backward rule reads (undeclared rules read both).

    ``inputs=False``: the rule uses its inputs' shapes and dtypes at most (add, reshape, sum,
    tanh, ...); ``output=False``: it never uses the op's result (add, matmul, ...). A large
    intermediate that neither its producer's rule nor a consumer's rule reads is not kept in
    that consumer's node, so the forward pass holds only the arrays backward will read.
    """

    def mark(rule: Callable) -> Callable:
        rule.reads_inputs = inputs
        rule.reads_output = output
        return rule

    return mark


def _without_unread_values(inputs: tuple) -> tuple:
    """``inputs`` with each large intermediate whose producer's rule does not read its own output
    replaced by a stub (called for a consumer whose rule does not read its inputs)."""
    kept = None
    for i, p in enumerate(inputs):
        pn = p.grad_fn
        if (
            pn is not None
            and p.data.size >= KEEP_BELOW  # first: small arrays, the common case, stop here
            and type(p) is not _Released
            and pn.rule is not None
            and pn.retain is None  # retain_grad() asks to keep it whole
            and not getattr(pn.rule, "reads_output", True)
        ):
            if kept is None:
                kept = list(inputs)
            kept[i] = _Released(p)
    return inputs if kept is None else tuple(kept)


def record(data, name: str, inputs: tuple, rule: Callable, saved: Any = None) -> "Tensor":
    """Wrap an op's result ``data`` in a Tensor, attaching a graph node when gradients are wanted.

    Gradients are wanted when grad mode is on and at least one input requires grad.
    """
    t = _Tensor.__new__(_Tensor)
    if type(data) is not B.ndarray:
        data = B.asarray(data)
    t.data = data
    t._grad = None
    t.name = None
    if _grad_enabled:
        for p in inputs:
            if p.requires_grad:
                t.requires_grad = True
                if not getattr(rule, "reads_inputs", True):
                    inputs = _without_unread_values(inputs)
                t.grad_fn = Node(name, inputs, rule, saved)
                return t
    t.requires_grad = False
    t.grad_fn = None
    return t


# ----------------------------------------------------------------------------- grad mode
class _GradMode:
    """Base of ``no_grad``/``enable_grad``: a context manager that is also a decorator."""

    mode = True

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Turn graph recording off (context manager or decorator): results do not require grad."""

    mode = False


class enable_grad(_GradMode):
    """Turn graph recording back on inside a ``no_grad`` block (context manager or decorator)."""

    mode = True


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph."""
    return _grad_enabled


class name_scope:
    """Tag every node recorded inside the block with a path element (``nn.Module`` uses this)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        global _scope
        self._prev = _scope
        _scope = _scope + (self.name,)

    def __exit__(self, *exc: object) -> None:
        global _scope
        _scope = self._prev


# ----------------------------------------------------------------------------- traversal
def topological_order(roots: Iterable["Tensor"]) -> list["Tensor"]:
    """The non-leaf tensors reachable from ``roots``, one per node, each before every tensor it
    was made from.

    Iterative depth-first collection, then a sort by node creation number (inputs are always
    created before the op that consumes them, so newest-first is a topological order). Where a
    node is reached both through its tensor and through a stub of it, the tensor is kept.
    """
    rep: dict = {}  # node -> the tensor that stands for its output
    stack = []
    for t in roots:
        if t.grad_fn is not None:
            stack.append(t)
    while stack:
        t = stack.pop()
        node = t.grad_fn
        known = rep.get(node)
        if known is not None:
            if known.released and not t.released:
                rep[node] = t  # same node, same inputs: nothing new to visit
            continue
        rep[node] = t
        for p in node.inputs:
            pn = p.grad_fn
            if pn is not None and (pn not in rep or (not p.released and rep[pn].released)):
                stack.append(p)
    found = list(rep.values())
    found.sort(key=_node_seq, reverse=True)
    return found


def _node_seq(t: "Tensor") -> int:
    return t.grad_fn.seq


def _sum_to(xp, g, shape: tuple, node: Node, i: int):
    """Undo broadcasting: sum ``g`` over the axes the forward broadcast, so it has ``shape``."""
    gshape = g.shape
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise _shape_error(node, i, gshape, shape)
    axes = tuple(range(lead))
    for k, n in enumerate(shape):
        if n != gshape[k + lead]:
            if n != 1:
                raise _shape_error(node, i, gshape, shape)
            axes += (k + lead,)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    if lead:
        g = xp.reshape(g, shape)
    return g


def _shape_error(node: Node, i: int, gshape: tuple, shape: tuple) -> RuntimeError:
    return RuntimeError(
        f"backward of '{node.name}' returned a gradient of shape {tuple(gshape)} for its input "
        f"{i}, which has shape {tuple(shape)}"
    )


def _freed_error(t: "Tensor") -> RuntimeError:
    what = f"tensor '{t.name}'" if t.name else "a tensor"
    return RuntimeError(
        f"Trying to backward through the graph a second time: the saved values of "
        f"'{t.grad_fn.name}' (which produced {what} of shape {t.shape}) were freed by the first "
        f"backward(). Pass retain_graph=True to the first backward() to keep them."
    )


# ----------------------------------------------------------------------------- backward
def run_backward(
    roots: Sequence["Tensor"],
    root_grads: Sequence[Any],
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence["Tensor"] | None = None,
) -> list | None:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    With ``inputs=None`` gradients are accumulated into ``.grad`` of leaves (and of tensors that
    called ``retain_grad()``). With ``inputs`` given, nothing is accumulated, only the part of
    the graph that leads to an input is run, and the gradient of each input (or ``None`` where
    none reached it) is returned, as ``torch.autograd.grad`` does. Gradients are arrays
    internally, or Tensors when ``create_graph`` records the backward pass.
    """
    global _grad_enabled
    xp = _ops_api if create_graph else B
    grads: dict = {}  # node -> the summed gradient of its output
    leaf_grads: dict = {}  # leaf tensor (or retained tensor) -> its gradient
    handed: set = set()  # ids of arrays that must not become some .grad without a copy
    for t, g in zip(roots, root_grads):
        g = _seed(g, t, create_graph)
        handed.add(id(g.data if create_graph else g))
        acc, key = (grads, t.grad_fn) if t.grad_fn is not None else (leaf_grads, t)
        acc[key] = acc[key] + g if key in acc else g
    order = topological_order(roots)
    want_nodes = want_leaves = None
    if inputs is not None:
        want_nodes = {x.grad_fn for x in inputs if x.grad_fn is not None}
        want_leaves = {x for x in inputs if x.grad_fn is None}
        order, expand = _leading_to(order, want_nodes, want_leaves)
        leaf_grads = {x: g for x, g in leaf_grads.items() if x in want_leaves}
    captured: dict = {}
    stubs: dict = {}

    prev_mode = _grad_enabled
    _grad_enabled = create_graph
    try:
        for t in order:
            node = t.grad_fn
            g = grads.pop(node, None)
            if g is None:
                continue
            if want_nodes is not None:
                if node in want_nodes:
                    captured[node] = g
                if node not in expand:  # nothing wanted lies below this node
                    continue
            elif node.retain is not None:
                kept = node.retain()
                if kept is not None:
                    leaf_grads[kept] = g
            rule = node.rule
            if rule is None:
                raise _freed_error(t)
            ins = node.inputs
            if create_graph:
                in_grads = rule(xp, node, g, t, *ins)
            else:
                # Unrolled for the common one- and two-input ops: this loop is the hot path.
                n_in = len(ins)
                if n_in == 1:
                    in_grads = rule(xp, node, g, t.data, ins[0].data)
                elif n_in == 2:
                    in_grads = rule(xp, node, g, t.data, ins[0].data, ins[1].data)
                else:
                    in_grads = rule(xp, node, g, t.data, *[p.data for p in ins])
            for i, (p, gi) in enumerate(zip(ins, in_grads)):
                if gi is None or not p.requires_grad:
                    continue
                pdata = p.data
                if gi.shape != pdata.shape:
                    gi = _sum_to(xp, gi, pdata.shape, node, i)
                if gi.dtype != pdata.dtype:  # a float32 leaf mixed with float64 gets float32 grads
                    gi = xp.astype(gi, pdata.dtype)
                pn = p.grad_fn
                if pn is None:
                    if want_leaves is None or p in want_leaves:
                        prev = leaf_grads.get(p)
                        leaf_grads[p] = gi if prev is None else prev + gi
                else:
                    prev = grads.get(pn)
                    grads[pn] = gi if prev is None else prev + gi
            if not retain_graph:
                _release(node, stubs)
    finally:
        _grad_enabled = prev_mode

    if inputs is not None:
        out = []
        for x in inputs:
            g = captured.get(x.grad_fn) if x.grad_fn is not None else leaf_grads.get(x)
            if g is not None and not create_graph:
                g = _Tensor(g)
            out.append(g)
        return out
    for t, g in leaf_grads.items():
        # Rules may pass one array to several inputs (add) or return views (reshape,
        # broadcast_to): copy those, so that updating one .grad in place never changes another.
        if t._grad is None:
            data = g.data if create_graph else g
            if not data.flags.owndata or not data.flags.writeable or id(data) in handed:
                g = g * 1 if create_graph else g.copy()  # under create_graph, a recorded copy
            handed.add(id(g.data if create_graph else g))
            t._grad = g if create_graph else _Tensor(g)
        elif create_graph:
            t._grad = t._grad + g
        else:  # asarray: two 0-d arrays add up to a NumPy scalar
            t._grad.data = B.asarray(t._grad.data + g)
    return None


def _seed(g: Any, t: "Tensor", create_graph: bool):
    """A root's incoming gradient in the engine's form, with the root's dtype and shape checked."""
    if create_graph:
        g = g if isinstance(g, _Tensor) else _Tensor(B.asarray(g, dtype=t.dtype))
    else:
        g = B.asarray(g.data if isinstance(g, _Tensor) else g, dtype=t.dtype)
    if g.shape != t.shape:
        raise RuntimeError(
            f"backward: gradient of shape {tuple(g.shape)} given for an output of shape {t.shape}"
        )
    return g


def _leading_to(order: list, want_nodes: set, want_leaves: set) -> tuple[list, set]:
    """The tensors of ``order`` that lie on a path to a wanted tensor, and the set of nodes
    whose rule must run (some input is wanted or leads to one)."""
    expand: set = set()
    for t in reversed(order):  # inputs before the ops that consume them
        for p in t.grad_fn.inputs:
            pn = p.grad_fn
            if (p in want_leaves) if pn is None else (pn in want_nodes or pn in expand):
                expand.add(t.grad_fn)
                break
    return [t for t in order if t.grad_fn in expand or t.grad_fn in want_nodes], expand


def _release(node: Node, stubs: dict) -> None:
    """Free what ``node`` kept for backward: its saved values, its rule, and the values of its
    large non-leaf inputs, each replaced by a stub (one per tensor, shared by all its consumers)
    that keeps only what pictures and error messages need. Small inputs (below ``KEEP_BELOW``
    elements) cost little and stay, so pictures drawn after backward() still show their values;
    tensors that called ``retain_grad()`` stay whole."""
    node.rule = node.saved = None
    ins = node.inputs
    kept = None
    for i, p in enumerate(ins):
        pn = p.grad_fn
        if pn is None or p.data.size < KEEP_BELOW or pn.retain is not None or type(p) is _Released:
            continue
        s = stubs.get(pn)
        if s is None:
            s = stubs[pn] = _Released(p, follow=False)
        if kept is None:
            kept = list(ins)
        kept[i] = s
    if kept is not None:
        node.inputs = tuple(kept)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    Returns a tuple with one Tensor per input and touches no ``.grad``. ``grad_outputs`` weights
    each output (it may be omitted for one-element outputs). With ``create_graph=True`` the
    results are themselves differentiable, for Hessians and gradient penalties.
    """
    outputs = [outputs] if isinstance(outputs, _Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, _Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs; give one per output"
        )
    seeds = []
    for k, (y, g) in enumerate(zip(outputs, grad_outputs)):
        if not y.requires_grad:
            raise RuntimeError(f"grad: output {k} does not require grad and has no grad_fn")
        if g is None:
            if y.data.size != 1:
                raise RuntimeError(
                    f"grad: output {k} has shape {y.shape}; grad_outputs is needed for outputs "
                    f"with more than one element"
                )
            g = B.ones_like(y.data)
        elif not isinstance(g, _Tensor):
            g = B.asarray(g, dtype=y.dtype)
        seeds.append(g)
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(outputs, seeds, retain_graph, create_graph, inputs=inputs)
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {inputs[i].shape}) was not used to compute the outputs; "
                f"pass allow_unused=True to get None for it"
            )
    return tuple(result)
