"""What a picture shows: the drawable items of a graph and the edges between them.

This module reads the graph only through its public view (``Tensor.grad_fn``, ``Node.name``,
``.inputs``, ``.scope``, ``.seq``) and knows nothing of DOT. Everything is iterative, so a
100,000-op chain costs a few loops and no recursion, and every ordering comes from node
creation numbers and input positions, never from ``id()`` or set iteration, so the same
program always gives the same items in the same order.
"""
from __future__ import annotations

from collections import deque
from typing import Any
from collections.abc import Iterable, Sequence

from ..graph import op_outputs
from ..tensor import Tensor

Scope = tuple


class Item:
    """One drawn node.

    ``kind`` is ``"tensor"``, ``"op"``, ``"module"`` (a collapsed module) or ``"more"`` (the
    summary of what ``max_nodes`` left out; ``count`` ops). For a tensor, ``role`` is ``"output"``,
    ``"param"``, ``"input"`` (a leaf that requires grad), ``"const"`` or ``"inter"``.
    """

    __slots__ = ("kind", "scope", "tensor", "role", "label", "node", "out", "ops", "params",
                 "count", "id")

    def __init__(self, kind: str, scope: Scope = (), **fields: Any) -> None:
        self.kind = kind
        self.scope = scope
        self.tensor: Tensor | None = None
        self.role = ""
        self.label: str | None = None
        self.node: Any = None
        self.out: Tensor | None = None
        self.ops: list = []
        self.params: list = []
        self.count = 0
        self.id = ""
        for k, v in fields.items():
            setattr(self, k, v)


class GraphModel:
    """The items to draw (in a fixed order), the edges ``(src, dst, label)``, and facts about
    the whole graph: every op-output tensor (``op_tensors``, in creation order) and the roots."""

    def __init__(self, items: list, edges: list, op_tensors: list, roots: list) -> None:
        self.items = items
        self.edges = edges
        self.op_tensors = op_tensors
        self.roots = roots
        self.total_items = len(items)


ParamsLike = Any  # None, a Module, or (name, tensor) pairs


def param_names(params: ParamsLike) -> dict:
    """A ``{tensor: name}`` map from a mapping name→tensor, an iterable of (name, tensor) pairs,
    or anything with ``named_parameters()`` (an ``nn.Module``)."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        pairs: Iterable = params.named_parameters()
    elif hasattr(params, "items"):
        pairs = params.items()
    else:
        pairs = params
    names: dict = {}
    for pair in pairs:
        try:
            name, t = pair
        except (TypeError, ValueError):
            raise TypeError(
                "params= must be a mapping name -> Tensor, an iterable of (name, Tensor) pairs, "
                f"or a module with named_parameters(); got an element {pair!r}"
            ) from None
        if not isinstance(t, Tensor):
            raise TypeError(f"params=: {name!r} is a {type(t).__name__}, not a Tensor")
        names.setdefault(t, str(name))
    return names


def _parameter_class() -> Any:
    from .. import nn

    return getattr(nn, "Parameter", None)


def collect(roots: list) -> list:
    """Every tensor reachable from ``roots`` that an op produced, one per op (a live tensor
    rather than a stub of it, see ``autograd.memory``), sorted by creation: inputs before the
    ops that use them."""
    return sorted(op_outputs(roots).values(), key=lambda t: t.grad_fn.seq)


def canonical_inputs(op_tensors: list):
    """A function giving a node's inputs as the tensors :func:`collect` chose to draw."""
    drawn = {t.grad_fn: t for t in op_tensors}

    def inputs(node: Any) -> tuple:
        return tuple(drawn.get(p.grad_fn, p) if p.grad_fn is not None else p for p in node.inputs)

    return inputs


def _common_prefix(scopes: list) -> Scope:
    first = scopes[0]
    n = len(first)
    for s in scopes[1:]:
        k = 0
        while k < n and k < len(s) and s[k] == first[k]:
            k += 1
        n = k
    return first[:n]


def _group_keys(op_tensors: list, collapse: bool | int) -> list:
    """The collapsed-module key of every op (or None for ops drawn on their own).

    ``collapse=True`` collapses each innermost module: a scope no other op's scope extends.
    An int ``k`` collapses at depth ``k``: every module ``k`` levels down becomes one node.
    """
    scopes = [tuple(t.grad_fn.scope) for t in op_tensors]
    if collapse is True:
        inner = set()
        for s in scopes:
            for k in range(1, len(s)):
                inner.add(s[:k])
        return [s if s and s not in inner else None for s in scopes]
    depth = int(collapse)
    if depth < 1:
        raise ValueError(f"collapse_modules must be True, False or a depth >= 1, not {collapse!r}")
    return [s[:depth] if len(s) >= depth else None for s in scopes]


def _nearest_ops(roots: list, index: dict, groups: list | None, budget: int, inputs: Any) -> set:
    """Indices of the ops nearest the roots (breadth-first against the data flow), enough for
    ``budget`` drawn nodes: an op drawn on its own counts one, a collapsed module one in all
    (and brings all its ops along, so a module is never drawn in part)."""
    members: dict = {}
    if groups is not None:
        for i, g in enumerate(groups):
            if g is not None:
                members.setdefault(g, []).append(i)
    chosen: set = set()
    counted_groups: set = set()
    queue = deque(index[r] for r in roots if r.grad_fn is not None)
    ops = list(index)  # index order is creation order
    count = 0
    while queue and count < budget:
        i = queue.popleft()
        if i in chosen:
            continue
        g = groups[i] if groups is not None else None
        batch = [i]
        if g is not None:
            if g in counted_groups:
                continue
            counted_groups.add(g)
            batch = members[g]
        count += 1
        for j in batch:
            chosen.add(j)
            for p in inputs(ops[j].grad_fn):
                if p.grad_fn is not None:
                    k = index[p]
                    if k not in chosen:
                        queue.append(k)
    return chosen


def build(
    roots: list,
    names: dict,
    collapse: bool | int = False,
    clusters: bool = True,
    max_nodes: int | None = None,
) -> GraphModel:
    """Turn the graph behind ``roots`` into drawable items and edges.

    With ``max_nodes``, only the part nearest the roots is turned into items (so a huge graph
    costs one cheap pass, not one object per node), then cut to exactly ``max_nodes`` items;
    a single "more" item stands for every op left out.
    """
    op_tensors = collect(roots)
    inputs = canonical_inputs(op_tensors)
    drawn = {t.grad_fn: t for t in op_tensors}
    roots = [drawn.get(r.grad_fn, r) if r.grad_fn is not None else r for r in roots]
    index = {t: i for i, t in enumerate(op_tensors)}
    root_set = set(roots)
    parameter_cls = _parameter_class()
    groups = _group_keys(op_tensors, collapse) if collapse else None

    if max_nodes is not None and len(op_tensors) > max_nodes:
        chosen = _nearest_ops(roots, index, groups, max_nodes, inputs)
        selected: Sequence[int] = sorted(chosen)
    else:
        chosen = None
        selected = range(len(op_tensors))

    # Who consumes each tensor (op indices, in creation order), over the whole graph.
    consumers: dict = {}
    for i, t in enumerate(op_tensors):
        for p in inputs(t.grad_fn):
            lst = consumers.get(p)
            if lst is None:
                consumers[p] = [i]
            elif lst[-1] != i:
                lst.append(i)

    def group(i: int) -> Any:
        return groups[i] if groups is not None else None

    def disp(i: int) -> Scope:
        """Where op ``i`` (or its collapsed module) is drawn."""
        if not clusters:
            return ()
        g = group(i)
        return g[:-1] if g is not None else tuple(op_tensors[i].grad_fn.scope)

    def is_param(t: Tensor) -> bool:
        return t in names or (parameter_cls is not None and isinstance(t, parameter_cls))

    def is_literal(t: Tensor) -> bool:
        # Number constants (lifted and cached by the ops, hence shared between unrelated ops):
        # drawn once per use, beside the op that uses them.
        return (t.grad_fn is None and not t.requires_grad and t.data.ndim == 0
                and not t.name and t not in names and t not in root_set)

    def role(t: Tensor) -> str:
        if t in root_set:
            return "output"
        if t.grad_fn is not None:
            return "inter"
        if is_param(t):
            return "param"
        return "input" if t.requires_grad else "const"

    def hidden_in(t: Tensor) -> Any:
        """The collapsed module that swallows ``t`` entirely, or None when ``t`` is drawn."""
        if groups is None or t in root_set:
            return None
        cons = consumers.get(t, ())
        if not cons:
            return None
        g = groups[cons[0]]
        if g is None or any(groups[j] != g for j in cons):
            return None
        if t.grad_fn is not None:
            return g if groups[index[t]] == g else None
        return g if is_param(t) else None

    def leaf_scope(t: Tensor) -> Scope:
        if not clusters or not (is_param(t) or is_literal(t)):
            return ()
        cons = consumers.get(t)
        return _common_prefix([disp(j) for j in cons]) if cons else ()

    items: list = []
    edges: list = []
    edge_seen: set = set()
    item_of: dict = {}  # tensor -> its item (not for literals, drawn per use)
    module_of: dict = {}  # collapse key -> module item
    more: list = []  # the "more" item, once needed

    def more_item() -> Item:
        if not more:
            more.append(Item("more"))
        return more[0]

    def add_edge(src: Item, dst: Item, lab: str = "") -> None:
        key = (id(src), id(dst), lab)
        if key not in edge_seen:
            edge_seen.add(key)
            edges.append((src, dst, lab))

    def tensor_item(t: Tensor, scope: Scope) -> Item:
        it = Item("tensor", scope, tensor=t, role=role(t), label=t.name or names.get(t))
        items.append(it)
        return it

    dst: Item | None  # each is an Item once the branches below have run
    src: Item | None
    for i in selected:
        t = op_tensors[i]
        node = t.grad_fn
        g = group(i)
        new = g is None
        if g is None:
            dst = Item("op", disp(i), node=node, out=t)
        else:
            dst = module_of.get(g)
            if dst is None:
                new = True
                dst = module_of[g] = Item("module", disp(i), label="/".join(g))
            dst.ops.append(t)
        multi = g is None and len(node.inputs) > 1
        pending = []  # input items and edge labels, added after the op so leaves come first
        for pos, p in enumerate(inputs(node)):
            if is_literal(p):
                if g is not None:  # a number used inside a collapsed module
                    continue
                src = tensor_item(p, disp(i))
            elif hidden_in(p) is not None:
                if p.grad_fn is None and is_param(p) and not any(q is p for _, q in dst.params):
                    dst.params.append((p.name or names.get(p), p))
                continue
            else:
                src = item_of.get(p)
                if src is None:  # a leaf seen first, or a result whose op is not drawn
                    if p.grad_fn is None:
                        src = item_of[p] = tensor_item(p, leaf_scope(p))
                        if chosen is not None and any(j not in chosen for j in consumers[p]):
                            add_edge(src, more_item())
                    else:
                        src = item_of[p] = tensor_item(p, disp(index[p]))
                        add_edge(more_item(), src)
            pending.append((src, str(pos) if multi else ""))
        if new:
            items.append(dst)
        for src, lab in pending:
            add_edge(src, dst, lab)
        if hidden_in(t) is None:
            out = item_of[t] = tensor_item(t, disp(i))
            add_edge(dst, out)
            if chosen is not None and any(j not in chosen for j in consumers.get(t, ())):
                add_edge(out, more_item())

    for r in roots:  # roots that are leaves
        if r not in item_of:
            item_of[r] = tensor_item(r, ())

    model = GraphModel(items, edges, op_tensors, roots)
    if max_nodes is not None and len(items) > max_nodes:
        _summarise(model, [item_of[r] for r in roots], max_nodes, more_item())
    elif more:
        model.items.append(more[0])
    if more:
        n_drawn = sum(1 if it.kind == "op" else len(it.ops) for it in model.items
                      if it.kind in ("op", "module"))
        more[0].count = len(op_tensors) - n_drawn
    for k, it in enumerate(model.items):
        it.id = f"n{k}"
    return model


def _summarise(model: GraphModel, root_items: list, max_nodes: int, more: Item) -> None:
    """Keep the ``max_nodes`` items nearest the roots (breadth-first against the data flow) and
    let the ``more`` item stand for the rest, wired where the hidden part connects."""
    preds: dict = {}
    for src, dst, _ in model.edges:
        preds.setdefault(id(dst), []).append(src)
    kept: set = {id(more)}
    n = 0
    queue: deque[Item] = deque()
    for r in root_items:
        if id(r) not in kept and n < max_nodes:
            kept.add(id(r))
            n += 1
            queue.append(r)
    while queue and n < max_nodes:
        it = queue.popleft()
        for p in preds.get(id(it), ()):
            if id(p) not in kept:
                kept.add(id(p))
                n += 1
                queue.append(p)
                if n >= max_nodes:
                    break
    items = [it for it in model.items if id(it) in kept and it is not more]
    edges = []
    seen: set = set()
    for src, dst, lab in model.edges:
        s_in, d_in = id(src) in kept, id(dst) in kept
        if s_in and d_in:
            e = (src, dst, lab)
        elif s_in or d_in:
            e = (more, dst, "") if d_in else (src, more, "")
        else:
            continue
        key = (id(e[0]), id(e[1]), e[2])
        if key not in seen and e[0] is not e[1]:
            seen.add(key)
            edges.append(e)
    model.items = items + [more]
    model.edges = edges
