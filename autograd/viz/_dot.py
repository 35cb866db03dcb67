"""Turn a :class:`~autograd.viz._graph.GraphModel` into DOT (a :class:`GraphPicture`).

Labels are Graphviz HTML-like labels (tables) built from measured lines (``_text``), so that
they fit their boxes in the fonts readers have; colours, the backward rules shown under op
names, tooltips and the legend live in this module.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import graphviz

from .. import backend as B
from . import _flow
from ._graph import GraphModel, Item
from ._picture import GraphPicture
from ._text import SANS, Cell, Line, cell, cell_width, printable, table
from ._values import format_array, stats

# Fill colours by role.
ROLE_COLOURS = {
    "input": "#a5d8ff",  # a leaf that requires grad
    "param": "#b2f2bb",  # a parameter (named, or an nn.Parameter)
    "const": "#e9ecef",  # a leaf that needs no gradient
    "output": "#ffd8a8",  # what was drawn
    "inter": "#ffffff",  # a result of an op
}
ROLE_NAMES = {
    "input": "leaf, requires grad",
    "param": "parameter",
    "const": "constant",
    "output": "output",
    "inter": "intermediate",
}
OP_COLOUR = "#fff3bf"
MODULE_COLOUR = "#e5dbff"
MORE_COLOUR = "#f1f3f5"
CLUSTER_COLOUR = "#868e96"
RULE_COLOUR = "#495057"
NOTE_COLOUR = "#868e96"
LEVEL_COLOURS = {_flow.ERROR: "#e03131", _flow.WARN: "#f76707", "": "#495057"}
NAN_FILL = "#ff8787"
NO_GRAD_FILL = "#f8f9fa"
# Gradient-norm scale (light: small, dark: large), one colour per decade bin.
FLOW_COLOURS = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6",
                "#4292c6", "#2171b5", "#08519c", "#08306b")
DARK_BIN = 5  # from this bin on, text on the fill is white
FLOW_LABELS = ("<1e-4", "1e-4", "1e-3", "0.01", "0.1", "1", "10", "100", "≥1e3")

GRAPH_ATTR = {"fontname": SANS, "fontsize": "10", "nodesep": "0.25", "ranksep": "0.3"}
# The margin (inches) keeps text clear of a rounded box's corners.
NODE_ATTR = {"fontname": SANS, "fontsize": "10", "margin": "0.08,0.05"}
EDGE_ATTR = {"fontname": SANS, "fontsize": "8", "fontcolor": "#868e96", "color": "#495057",
             "arrowsize": "0.7"}

# Font sizes (points) of the label parts.
TEXT_SIZE = 10
VALUE_SIZE = 9
SMALL_SIZE = 8
SCALE_SIZE = 7


@dataclass
class Options:
    """The drawing options of :func:`autograd.viz.draw_graph` (see there)."""

    show_values: bool = True
    max_values: int = 16
    show_rules: bool = True
    grad_flow: bool = False
    legend: bool = True
    rankdir: str = "TB"
    vanishing: float = 1e-6
    exploding: float = 1e3
    saturation: float = 1e-3
    renderer: str | None = None


def _shape(t: Any) -> str:
    shape = tuple(int(n) for n in t.shape)
    return "scalar" if not shape else str(shape)


def _mono(text: str, colour: str | None) -> list:
    return [Line(ln, VALUE_SIZE, mono=True, colour=colour) for ln in text.split("\n")]


def _flag_cells(flags: list) -> list:
    # On a white cell, so that they stay readable on any fill.
    return [cell([Line(txt, TEXT_SIZE, colour=LEVEL_COLOURS[lv])], bgcolor="#ffffff")
            for lv, txt in flags]


def _worst(flags: list) -> str | None:
    levels = {lv for lv, _ in flags}
    if _flow.ERROR in levels:
        return _flow.ERROR
    if _flow.WARN in levels:
        return _flow.WARN
    return None


def _tooltip(lines: list) -> str:
    """A tooltip attribute: lines joined by DOT's line break, with the user's backslashes kept
    literal (DOT reads ``\\N`` and friends as escapes), never taken for an HTML label."""
    return graphviz.nohtml("\\n".join(printable(ln).replace("\\", "\\\\") for ln in lines))


def op_label(name: str, rule: str | None, flags: list) -> str:
    """The label of an op node: its name, the backward rule it applies, and flag lines."""
    lines = [Line(name, TEXT_SIZE, bold=True)]
    if rule:
        lines.append(Line(rule, SMALL_SIZE, colour=RULE_COLOUR))
    lines += [Line(txt, SMALL_SIZE, colour=LEVEL_COLOURS[lv]) for lv, txt in flags]
    return table([cell(lines)])


class _Emitter:
    def __init__(self, model: GraphModel, opts: Options, grads: _flow.Flow) -> None:
        self.model = model
        self.opts = opts
        self.grads = grads
        self.flow = grads if opts.grad_flow else None
        self.flags: list = []
        self.seen_roles: list = []
        self.seen_levels: set = set()
        self.shown_grads = False

    # ------------------------------------------------------------------ one node each
    def node_attrs(self, it: Item) -> dict:
        if it.kind == "tensor":
            return self.tensor_attrs(it)
        if it.kind == "op":
            return self.op_attrs(it)
        if it.kind == "module":
            return self.module_attrs(it)
        return self.more_attrs(it)

    def _note_flags(self, it: Item, flags: list, what: str) -> None:
        for lv, txt in flags:
            if lv:
                self.flags.append((it.id, f"{what}: {txt}"))
                self.seen_levels.add(lv)

    def _grad_name(self) -> str:
        """What a gradient row is called: ``grad`` when computed for the picture, ``.grad``
        (stored) when it is what backward() left in the tensor."""
        return "grad" if self.grads.mode == "computed" else ".grad"

    def tensor_attrs(self, it: Item) -> dict:
        t, opts = it.tensor, self.opts
        assert t is not None  # a tensor item holds its tensor
        if it.role not in self.seen_roles:
            self.seen_roles.append(it.role)
        data = None if t.released else B.to_numpy(t.data)
        role_colour = ROLE_COLOURS[it.role]
        fill, ink = role_colour, None  # ink: text colour of the body rows
        flags = []
        bad = _flow.nonfinite(data) if data is not None else None
        if bad:
            flags.append((_flow.ERROR, f"{bad} in value"))
        grad = self.grads.grads.get(t)
        grad_note = None
        if self.flow is not None:
            if grad is None:
                fill = NO_GRAD_FILL
                if t.requires_grad:
                    grad_note = "grad not available"
            else:
                gflags = _flow.tensor_flags(grad, t.requires_grad, opts.vanishing,
                                            opts.exploding)
                flags.extend(gflags)
                if any(txt.startswith(("NaN", "Inf")) for _, txt in gflags):
                    fill = NAN_FILL
                else:
                    b = _flow.norm_bin(_flow.norm(grad))
                    fill = FLOW_COLOURS[b]
                    if b >= DARK_BIN:
                        ink = "#ffffff"

        head = [Line(it.label, TEXT_SIZE, bold=True)] if it.label else []
        head.append(Line(f"{_shape(t)} {t.dtype}", TEXT_SIZE))
        # In the flow view the fill shows the gradient, so the role colour goes on the header.
        rows: list[Cell | str] = [cell(head, bgcolor=role_colour if self.flow is not None else None)]
        if opts.show_values:
            if t.released:  # an intermediate whose values the graph did not keep
                rows.append(cell([Line("values not kept", TEXT_SIZE, colour=NOTE_COLOUR)]))
            else:
                text = format_array(data, opts.max_values)
                if text is not None:
                    rows.append(cell(_mono(text, ink)))
        if grad is not None:
            rows.append(self._grad_cell(grad, ink))
            self.shown_grads = True
        elif grad_note:
            rows.append(cell([Line(grad_note, TEXT_SIZE, colour=NOTE_COLOUR)]))
        rows += _flag_cells(flags)
        self._note_flags(it, flags, it.label or f"tensor {_shape(t)}")
        attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": fill,
                 "label": table(rows), "tooltip": _tooltip(self._tooltip_lines(it, data, grad))}
        self._border(attrs, flags)
        return attrs

    def _tooltip_lines(self, it: Item, data: Any, grad: Any) -> list:
        t = it.tensor
        assert t is not None
        lines = [f"{it.label or 'tensor'}: {_shape(t)} {t.dtype}, {ROLE_NAMES[it.role]}"]
        if data is None:
            lines.append("value: not kept (released after use, see autograd.memory)")
        else:
            lines += stats(data, "value")
        if grad is not None:
            lines += stats(grad, self._grad_name())
        return lines

    def _grad_cell(self, g: Any, ink: str | None) -> Cell:
        """The gradient: its values when small enough (and ``show_values``), else its norm;
        the gradient-flow view always states the norm."""
        name = self._grad_name()
        text = format_array(g, self.opts.max_values) if self.opts.show_values else None
        if text is not None and self.flow is None:
            head = name
        else:
            head = f"||{name}|| = {_flow.norm(g):.2e}"
        if self.grads.mode != "computed":
            head += " (stored)"
        lines = [Line(head, TEXT_SIZE, italic=True, colour=ink)]
        if text is not None:
            lines += _mono(text, ink)
        return cell(lines)

    def _border(self, attrs: dict, flags: list) -> None:
        worst = _worst(flags)
        if worst:
            attrs["color"] = LEVEL_COLOURS[worst]
            attrs["penwidth"] = "2.5"

    def op_attrs(self, it: Item) -> dict:
        name = it.node.name
        rule = it.node.op.shows if self.opts.show_rules else None
        flags = []
        out = it.out
        assert out is not None  # an op item holds its output
        if self.flow is not None and not out.released:
            flags = _flow.op_flags(it.node, B.to_numpy(out.data), self.opts.saturation)
        self._note_flags(it, flags, name)
        attrs = {"shape": "ellipse", "style": "filled", "fillcolor": OP_COLOUR,
                 "label": op_label(name, rule, flags)}
        self._border(attrs, flags)
        return attrs

    def module_attrs(self, it: Item) -> dict:
        label = it.label
        assert label is not None  # a module item is labelled by its path
        counts = Counter(t.grad_fn.name for t in it.ops)
        names = [f"{n} ×{c}" if c > 1 else n for n, c in counts.items()]
        lines = [Line(label, TEXT_SIZE, bold=True),
                 Line(f'{len(it.ops)} op{"s" if len(it.ops) > 1 else ""}: {", ".join(names)}',
                      SMALL_SIZE)]
        for lab, p in it.params:
            lines.append(Line(f"{lab or 'param'} {_shape(p)}", SMALL_SIZE))
        flags = []
        if self.flow is not None:
            for t in (t for t in it.ops if not t.released):
                for lv, txt in _flow.op_flags(t.grad_fn, B.to_numpy(t.data),
                                              self.opts.saturation):
                    if lv:
                        flags.append((lv, f"{t.grad_fn.name} {txt}"))
        for t in (t for t in it.ops if not t.released):
            bad = _flow.nonfinite(B.to_numpy(t.data))
            if bad:
                flags.append((_flow.ERROR, f"{t.grad_fn.name}: {bad} in value"))
                break
        self._note_flags(it, flags, label)
        attrs = {"shape": "box3d", "style": "filled", "fillcolor": MODULE_COLOUR,
                 "label": table([cell(lines)] + _flag_cells(flags))}
        self._border(attrs, flags)
        return attrs

    def more_attrs(self, it: Item) -> dict:
        what = f"{it.count:,} more ops (and their tensors)" if it.count else "more tensors"
        lines = [Line(f"… {what} not drawn", TEXT_SIZE),
                 Line("raise max_nodes= to draw them", TEXT_SIZE)]
        return {"shape": "note", "style": "filled,dashed", "fillcolor": MORE_COLOUR,
                "label": table([cell(lines)])}

    # ------------------------------------------------------------------ notes and legend
    def grad_note(self) -> str | None:
        """What the gradients drawn are, for the legend (None when none is drawn)."""
        if self.flow is None and not self.shown_grads:
            return None
        return self.grads.note

    def legend_label(self) -> str:
        """One node: a single-column table, each row a cell of its own."""
        rows: list[Cell | str] = [cell([Line("legend", TEXT_SIZE, bold=True)], padding=2)]

        def swatch(colour: str, text: str) -> Cell:
            return cell([Line(text, TEXT_SIZE)], bgcolor=colour, border=1, padding=2)

        def coloured(colour: str, text: str) -> Cell:
            return cell([Line(text, TEXT_SIZE, colour=colour)], padding=2)

        where = " (header row)" if self.flow is not None else ""
        for r in ("output", "param", "input", "const", "inter"):
            if r in self.seen_roles:
                rows.append(swatch(ROLE_COLOURS[r], ROLE_NAMES[r] + where))
        rows.append(swatch(OP_COLOUR, "op, with its backward rule"))
        if any(it.kind == "module" for it in self.model.items):
            rows.append(swatch(MODULE_COLOUR, "collapsed module"))
        if self.flow is not None:
            rows.append(cell([Line("fill: norm of the gradient, log scale", TEXT_SIZE)],
                             padding=2))
            scale = [Line(lab, SCALE_SIZE, colour="#ffffff" if k >= DARK_BIN else "#000000")
                     for k, lab in enumerate(FLOW_LABELS)]
            each = max(cell_width([ln], padding=2, border=1) for ln in scale)
            cells = "".join(cell([ln], bgcolor=c, border=1, padding=2, min_width=each).markup()
                            for c, ln in zip(FLOW_COLOURS, scale, strict=True))
            rows.append('<td align="left"><table border="0" cellspacing="0" cellpadding="2">'
                        f"<tr>{cells}</tr></table></td>")
            rows.append(swatch(NAN_FILL, "NaN or Inf in the gradient"))
            rows.append(swatch(NO_GRAD_FILL, "no gradient known"))
            warn = LEVEL_COLOURS[_flow.WARN]
            rows.append(coloured(warn, f"orange border: vanishing (||g|| < "
                                       f"{self.opts.vanishing:g}), zero,"))
            rows.append(coloured(warn, f"exploding (||g|| ≥ {self.opts.exploding:g}), "
                                       "saturated sigmoid/tanh/softmax,"))
            rows.append(coloured(warn, "dead ReLU"))
            rows.append(coloured(LEVEL_COLOURS[_flow.ERROR], "red border: NaN or Inf"))
        elif _flow.ERROR in self.seen_levels:
            rows.append(coloured(LEVEL_COLOURS[_flow.ERROR], "red border: NaN or Inf"))
        note = self.grad_note()
        if note:
            rows.append(cell([Line(s, SMALL_SIZE) for s in _wrap(note, 60)], padding=2))
        return table(rows, cellspacing=2, cellpadding=2)

    # ------------------------------------------------------------------ the whole graph
    def emit(self) -> GraphPicture:
        opts = self.opts
        g = GraphPicture(
            program=opts.renderer,
            name="autograd",
            graph_attr={"rankdir": opts.rankdir, **GRAPH_ATTR},
            node_attr=NODE_ATTR,
            edge_attr=EDGE_ATTR,
        )
        # Clusters: one per module path, created in order of first appearance, filled
        # innermost first (a subgraph's text is copied into its parent when attached).
        cluster_of: dict = {}
        order: list = []
        for it in self.model.items:
            for k in range(1, len(it.scope) + 1):
                path = it.scope[:k]
                if path not in cluster_of:
                    label = table([cell([Line("/".join(path), TEXT_SIZE,
                                              colour=CLUSTER_COLOUR)])])
                    cluster_of[path] = GraphPicture(
                        name=f"cluster_{len(order)}",
                        graph_attr={"label": label, "style": "rounded,dashed",
                                    "color": CLUSTER_COLOUR, "labeljust": "l"},
                    )
                    order.append(path)
        for it in self.model.items:
            target = cluster_of[it.scope] if it.scope else g
            target.node(it.id, **self.node_attrs(it))
        for path in sorted(order, key=len, reverse=True):
            parent = cluster_of[path[:-1]] if len(path) > 1 else g
            parent.subgraph(cluster_of[path])
        for src, dst, lab in self.model.edges:
            attrs = {"label": lab} if lab else {}
            if src.kind == "more" or dst.kind == "more":
                attrs["style"] = "dashed"
            g.edge(src.id, dst.id, **attrs)
        if opts.legend:
            g.node("legend", label=self.legend_label(), shape="plain")
        else:
            note = self.grad_note()
            if note and self.grads.mode != "computed":
                warn = LEVEL_COLOURS[_flow.WARN]
                g.attr(label=table([cell([Line(s, TEXT_SIZE, colour=warn)
                                          for s in _wrap(note, 80)])]), labelloc="t")
        g.flags = self.flags
        return g


def _wrap(text: str, width: int) -> list:
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    if cur:
        lines.append(cur)
    return lines


def to_picture(model: GraphModel, opts: Options) -> GraphPicture:
    """Draw ``model`` with ``opts``. The gradients drawn are computed for the picture while the
    graph is intact (see ``_flow.gradients``), in either view."""
    tensors = [it.tensor for it in model.items if it.kind == "tensor"]
    grads = _flow.gradients(model.roots, model.op_tensors, tensors)
    return _Emitter(model, opts, grads).emit()
