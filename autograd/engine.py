"""The backward engine: ``Tensor.backward()`` and ``grad()``.

It knows nothing about particular ops (those are registered in ``ops/``, see ``graph.py``); it

* orders the nodes topologically, iteratively (no recursion, so a 100,000-op chain is fine): a
  node's inputs always exist before the node, so decreasing creation number is a valid
  topological order, and the same program always gives the same order and summation order;
* calls each node's rule exactly once, with the sum of the gradients of all its consumers;
* undoes broadcasting (sums a gradient down to its input's shape), checks every shape, and
  gives every gradient its tensor's dtype (as PyTorch does);
* accumulates into ``.grad`` of leaves and of tensors that called ``retain_grad()``;
* frees the graph as it goes, unless ``retain_graph=True`` (``memory.release``).

With ``create_graph=False`` rules see arrays and the backend as ``xp``; with
``create_graph=True`` they see Tensors and ``graph.XP`` and their arithmetic is recorded, so
gradients can be differentiated again. Accumulation, unbroadcasting and the shape check live
here and only here.
"""
from __future__ import annotations

import threading
from typing import Any
from collections.abc import Callable, Sequence

from . import backend as B
from . import memory, state
from .graph import XP, Node, enable_grad, no_grad, op_outputs
from .tensor import Tensor, Version, post_hook_tensors


# ----------------------------------------------------------------------------- traversal
def topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """The non-leaf tensors reachable from ``roots``, one per node, each before every tensor it
    was made from (newest node first: inputs are always created before their consumers)."""
    found = list(op_outputs(roots).values())
    found.sort(key=_node_seq, reverse=True)
    return found


def _node_seq(t: Tensor) -> int:
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


def _check_backward(node: Node, in_grads: Sequence[Any]) -> None:
    """Under ``detect_anomaly``: raise if the node's rule returned a NaN or Inf."""
    for i, gi in enumerate(in_grads):
        if gi is None:
            continue
        a = gi.data if isinstance(gi, Tensor) else gi
        if a.dtype.kind in "fc" and not B.all(B.isfinite(a)):
            what = "NaN" if B.any(B.isnan(a)) else "Inf"
            raise FloatingPointError(
                f"detect_anomaly: the backward of '{node.name}' returned {what} in the gradient "
                f"of its input {i} (shape {tuple(a.shape)}); its forward ran at "
                f"{node.where or '<recorded before detect_anomaly was on>'}"
            )


def _check_unchanged(node: Node, out: Tensor) -> None:
    """Raise if a value the node's rule reads was changed in place after the node was recorded
    (an optimizer step, ``+=``, ``x[...] =``, a write through ``detach()``): the rule would
    compute with the new values and return a silently wrong gradient."""
    op = node.op
    if op.reads_inputs:
        for i, p in enumerate(node.inputs):
            vc = p._vc
            if vc is not None and vc.stamp > node.seq:
                raise _modified_error(node, f"its input {i}", p)
    if op.reads_output:
        vc = out._vc
        if vc is not None and vc.stamp > node.seq:
            raise _modified_error(node, "its output", out)


def _modified_error(node: Node, which: str, t: Tensor) -> RuntimeError:
    name = f" '{t.name}'" if t.name else ""
    where = f" (its forward ran at {node.where})" if node.where else ""
    return RuntimeError(
        f"backward of '{node.name}'{where}: {which}, the tensor{name} of shape {t.shape} and dtype "
        f"{t.dtype}, was modified by an in-place operation after '{node.name}' saved it for "
        f"backward (it is now at version {t._version}), so the gradient would be computed from the "
        f"wrong values. Change it after backward() (e.g. optimizer.step() after loss.backward()), "
        f"or change a copy (x.clone() / x = x + ...) instead."
    )


def _freed_error(t: Tensor) -> RuntimeError:
    what = f"tensor '{t.name}'" if t.name else "a tensor"
    return RuntimeError(
        f"Trying to backward through the graph a second time: the saved values of "
        f"'{t.grad_fn.name}' (which produced {what} of shape {t.shape}) were freed by the first "
        f"backward(). Pass retain_graph=True to the first backward() to keep them."
    )


# ----------------------------------------------------------------------------- seeding
def seeds(outputs: Sequence[Tensor], grad_outputs: Sequence[Any], who: str) -> list:
    """The gradients backward starts from, one per output: ``grad_outputs[k]`` (which may be
    omitted, as None, only for a one-element output) as an array of the output's dtype, or as a
    Tensor when it is one (it then stays in the graph of ``create_graph``). Checks that every
    output requires grad and that every gradient has its output's shape; ``who`` names the
    caller in the errors."""
    out = []
    for k, (y, g) in enumerate(zip(outputs, grad_outputs)):
        which = "this tensor" if who == "backward()" else f"output {k}"
        if not y.requires_grad:
            raise RuntimeError(
                f"{who}: {which} does not require grad and has no grad_fn (was it computed "
                f"under no_grad, or from tensors without requires_grad=True?)"
            )
        if g is None:
            if y.data.size != 1:
                raise RuntimeError(
                    f"{who}: grad can be implicitly created only for one-element outputs; "
                    f"{which} has shape {y.shape}, so pass a gradient of that shape"
                )
            g = B.ones_like(y.data)
        elif not isinstance(g, Tensor):
            g = B.asarray(g, dtype=y.dtype)
        if g.shape != y.shape:
            raise RuntimeError(
                f"{who}: gradient of shape {tuple(g.shape)} given for {which} of shape {y.shape}"
            )
        out.append(g)
    return out


def _engine_form(g: Any, t: Tensor, create_graph: bool) -> Any:
    """A seed as the engine computes with it: a Tensor under create_graph, else an array."""
    if create_graph:
        return g if isinstance(g, Tensor) else Tensor(g)
    return B.asarray(g.data if isinstance(g, Tensor) else g, dtype=t.dtype)


# ----------------------------------------------------------------------------- backward
def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
) -> list | None:
    """Propagate ``root_grads`` (from :func:`seeds`) from ``roots`` back through the graph.

    With ``inputs=None`` gradients are accumulated into ``.grad`` of leaves (and of tensors that
    called ``retain_grad()``). With ``inputs`` given, nothing is accumulated, only the part of
    the graph that leads to an input is run, and the gradient of each input (or ``None`` where
    none reached it) is returned, as ``torch.autograd.grad`` does. Gradients are arrays
    internally, or Tensors when ``create_graph`` records the backward pass.

    Hooks: a node's gradient hooks (``Tensor.register_hook`` on a result) run on its gradient
    before its rule; a leaf's run on its total gradient before it reaches ``.grad``. A leaf with
    post-accumulate hooks gets its ``.grad`` as soon as the last op that uses it has run, and
    then its hooks. Callbacks queued with :func:`queue_callback` run when everything is done.
    """
    xp = XP if create_graph else B
    grads: dict = {}  # node -> the summed gradient of its output
    leaf_grads: dict = {}  # leaf tensor (or retained tensor) -> its gradient
    handed: set = set()  # ids of arrays that must not become some .grad without a copy
    for t, g in zip(roots, root_grads):
        g = _engine_form(g, t, create_graph)
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
    # Leaves whose post-accumulate hooks want their .grad early: how many ops still use each.
    pending = _uses_left(order) if inputs is None and _post_hooks_on() else None
    captured: dict = {}
    stubs: dict = {}
    anomaly = state.current.mode.anomaly
    callbacks: list = []
    _callbacks.stack.append(callbacks)

    try:
        # Rules meet IEEE special values routinely (1/(2√0) = inf): silently, as PyTorch.
        with enable_grad() if create_graph else no_grad(), B.errstate(all="ignore"):
            for t in order:
                node = t.grad_fn
                g = grads.pop(node, None)
                if g is None:
                    if pending:
                        _used(node, pending, leaf_grads, create_graph, handed)
                    continue
                if node.hooks is not None:
                    g = _call_hooks(node.hooks, g, create_graph, t)
                if want_nodes is not None:
                    if node in want_nodes:
                        captured[node] = g
                    if node not in expand:  # nothing wanted lies below this node
                        continue
                elif node.retain is not None:
                    kept = node.retain()
                    if kept is not None:
                        leaf_grads[kept] = g
                if node.freed:
                    raise _freed_error(t)
                if Version.last > node.seq:  # something changed in place since it was recorded
                    _check_unchanged(node, t)
                op = node.op
                ins = node.inputs
                if create_graph:
                    in_grads = op.rule(xp, node, g, t, *ins)
                elif op.on_tensors:
                    in_grads = _on_tensors(op, node, g, t)
                else:
                    # Unrolled for the common one- and two-input ops: this loop is the hot path.
                    n_in = len(ins)
                    if n_in == 1:
                        in_grads = op.rule(xp, node, g, t.data, ins[0].data)
                    elif n_in == 2:
                        in_grads = op.rule(xp, node, g, t.data, ins[0].data, ins[1].data)
                    else:
                        in_grads = op.rule(xp, node, g, t.data, *[p.data for p in ins])
                if anomaly:
                    _check_backward(node, in_grads)
                needs = node.needs
                for i, gi in enumerate(in_grads):
                    if gi is None or not needs[i]:
                        continue
                    p = ins[i]
                    pdata = p.data
                    if gi.shape != pdata.shape:
                        gi = _sum_to(xp, gi, pdata.shape, node, i)
                    if gi.dtype != pdata.dtype:  # a float32 leaf mixed with float64: float32 grads
                        gi = xp.astype(gi, pdata.dtype)
                    pn = p.grad_fn
                    if pn is None:
                        if want_leaves is None or p in want_leaves:
                            prev = leaf_grads.get(p)
                            leaf_grads[p] = gi if prev is None else prev + gi
                    else:
                        prev = grads.get(pn)
                        grads[pn] = gi if prev is None else prev + gi
                if pending:
                    _used(node, pending, leaf_grads, create_graph, handed)
                if not retain_graph:
                    memory.release(node, stubs)

            result = None
            if inputs is not None:
                out = []
                for x in inputs:
                    if x.grad_fn is not None:
                        g = captured.get(x.grad_fn)
                    else:
                        g = leaf_grads.get(x)
                        if g is not None and _leaf_pre_hooks(x):
                            g = _call_hooks(x._hooks.pre, g, create_graph, x)
                    if g is not None and not create_graph:
                        g = Tensor(g)
                    out.append(g)
                result = out
            else:
                for t, g in leaf_grads.items():
                    _accumulate(t, g, create_graph, handed)
    finally:
        _callbacks.stack.pop()
    while callbacks:  # a callback may queue another (ag.grad's pass runs them too)
        callbacks.pop(0)()
    return result


def _accumulate(t: Tensor, g: Any, create_graph: bool, handed: set) -> None:
    """Add a leaf's (or retained tensor's) gradient of this backward to its ``.grad``, after
    its pre-hooks, and run its post-accumulate hooks."""
    leaf = t.grad_fn is None
    if leaf and _leaf_pre_hooks(t):
        g = _call_hooks(t._hooks.pre, g, create_graph, t)
    # Rules may pass one array to several inputs (add) or return views (reshape, broadcast_to):
    # copy those, so that updating one .grad in place never changes another.
    if t._grad is None:
        data = g.data if create_graph else g
        if not data.flags.owndata or not data.flags.writeable or id(data) in handed:
            g = g * 1 if create_graph else g.copy()  # under create_graph, a recorded copy
        handed.add(id(g.data if create_graph else g))
        t._grad = g if create_graph else Tensor(g)
    elif create_graph:
        t._grad = t._grad + g
    else:  # asarray: two 0-d arrays add up to a NumPy scalar
        t._grad.data = B.asarray(t._grad.data + g)
        t._grad._written()
    hooks = getattr(t, "_hooks", None) if leaf else None
    if hooks is not None:
        if hooks.post and state.current.recorder is not None:
            state.current.recorder.python_hook("post-accumulate-grad hook")
        for hook in list(hooks.post):
            hook(t)


def _leaf_pre_hooks(t: Tensor) -> bool:
    hooks = getattr(t, "_hooks", None)
    return hooks is not None and bool(hooks.pre)


def _call_hooks(hooks: list, g: Any, create_graph: bool, t: Tensor) -> Any:
    """Run gradient hooks in order; each sees a Tensor and may return a replacement."""
    if hooks and state.current.recorder is not None:
        state.current.recorder.python_hook("gradient hook")
    for hook in list(hooks):
        r = hook(g if create_graph else Tensor(g))
        if r is None:
            continue
        if not isinstance(r, Tensor):
            r = Tensor(B.asarray(r, dtype=t.dtype))
        if r.shape != t.shape:
            raise RuntimeError(
                f"a gradient hook returned a gradient of shape {r.shape} for a tensor of shape "
                f"{t.shape}"
            )
        g = r if create_graph else r.data
    return g


def _post_hooks_on() -> bool:
    return bool(post_hook_tensors) and any(t._hooks.post for t in post_hook_tensors.values())


def _uses_left(order: list) -> dict:
    """For each leaf with post-accumulate hooks: how many ops in ``order`` take it as input."""
    count: dict = {}
    p: Tensor
    for t in order:
        for p in t.grad_fn.inputs:
            if p.grad_fn is None and post_hook_tensors.get(id(p)) is p and p._hooks.post:
                count[p] = count.get(p, 0) + 1
    return count


def _used(node: Node, pending: dict, leaf_grads: dict, create_graph: bool, handed: set) -> None:
    """``node`` is done: a leaf no later op uses has its final gradient, so it is accumulated
    now and its post-accumulate hooks run while the rest of backward goes on."""
    for p in node.inputs:
        left = pending.get(p)
        if left is None:
            continue
        if left > 1:
            pending[p] = left - 1
            continue
        del pending[p]
        g = leaf_grads.pop(p, None)
        if g is not None:
            _accumulate(p, g, create_graph, handed)


class _Callbacks(threading.local):
    def __init__(self) -> None:
        self.stack: list = []


_callbacks = _Callbacks()


def queue_callback(fn: Callable[[], None]) -> None:
    """Run ``fn()`` once the backward pass now running (in this thread) has finished, after every
    ``.grad`` is written (as PyTorch's ``queue_callback``). Call it from a hook."""
    if state.current.recorder is not None:
        state.current.recorder.python_hook("backward callback")
    if not _callbacks.stack:
        raise RuntimeError("queue_callback: no backward pass is running in this thread")
    _callbacks.stack[-1].append(fn)


def _on_tensors(op, node: Node, g, t: Tensor) -> list:
    """Run a rule registered with ``on_tensors`` (a user-defined ``Function``) outside
    create_graph: it sees Tensors, and its results come back as fresh arrays (a user's backward
    may return a saved tensor or an input's own array, which must never become a ``.grad``)."""
    got = op.rule(XP, node, Tensor(g), t, *node.inputs)
    return [None if r is None else B.asarray(r.data if isinstance(r, Tensor) else r).copy()
            for r in got]


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


# ----------------------------------------------------------------------------- public entry points
def backward(
    self: Tensor,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(self)/d(leaf), weighted by ``gradient``, into ``.grad`` of every leaf.

    ``gradient`` may be omitted only for a one-element tensor. The graph's saved values are
    freed afterwards unless ``retain_graph`` (default: ``create_graph``) is true.
    """
    g = seeds([self], [gradient], "backward()")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward([self], g, retain_graph, create_graph)


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
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs; give one per output"
        )
    start = seeds(outputs, grad_outputs, "grad")
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(outputs, start, retain_graph, create_graph, inputs=inputs)
    assert result is not None  # given inputs, run_backward returns their gradients
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {inputs[i].shape}) was not used to compute the outputs; "
                f"pass allow_unused=True to get None for it"
            )
    return tuple(result)


# Tensor sits below the engine and cannot import it: its backward() is this function.
Tensor.backward = backward  # type: ignore[method-assign]  # declared in tensor.py for type checkers
