"""Turn a :class:`~autograd.viz._graph.GraphModel` into DOT (a :class:`GraphPicture`).

Labels are Graphviz HTML-like labels (tables), escaped here; colours, the activation rules shown
under op names, and the legend live in this module.
"""
from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .. import backend as B
from . import _flow
from ._graph import GraphModel, Item
from ._picture import GraphPicture

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
LEVEL_COLOURS = {_flow.ERROR: "#e03131", _flow.WARN: "#f76707", "": "#495057"}
NAN_FILL = "#ff8787"
NO_GRAD_FILL = "#f8f9fa"
# Gradient-norm scale (light: small, dark: large), one colour per decade bin.
FLOW_COLOURS = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6",
                "#4292c6", "#2171b5", "#08519c", "#08306b")
DARK_BIN = 5  # from this bin on, text on the fill is white
FLOW_LABELS = ("<1e-4", "1e-4", "1e-3", "0.01", "0.1", "1", "10", "100", "≥1e3")

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
    renderer: Optional[str] = None


def esc(text: str) -> str:
    return html.escape(str(text), quote=False)


def _lines(text: str, face: str = "Courier", size: int = 9) -> str:
    """Multi-line monospace text, left-aligned, leading spaces kept."""
    out = []
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        out.append("&#160;" * (len(line) - len(stripped)) + esc(stripped))
    return f'<font face="{face}" point-size="{size}">' + "<br/>".join(out) + "</font>"


def format_array(a: Any, max_values: int) -> Optional[str]:
    """The values of a small array as text, or None when it has more than ``max_values``.

    Floats get 4 decimals, or 4 significant digits in scientific notation when every value is
    below 0.01 in magnitude (so that small gradients never print as 0).
    """
    a = np.asarray(a)
    if a.size > max_values or a.size == 0:
        return None
    kw: dict = {"separator": ", ", "max_line_width": 44, "threshold": max_values + 1}
    if a.dtype.kind == "f":
        with np.errstate(all="ignore"):
            finite = np.abs(a[np.isfinite(a)])
        top = float(finite.max()) if finite.size else 0.0
        if 0.0 < top < 1e-2:
            kw["formatter"] = {"float_kind": lambda v: f"{v:.3e}"}
        else:
            kw.update(precision=4, suppress_small=False, floatmode="maxprec")
    return np.array2string(a, **kw)


def _shape(t: Any) -> str:
    shape = tuple(int(n) for n in t.shape)
    return "scalar" if not shape else str(shape)


def _row(content: str, bgcolor: Optional[str] = None, align: Optional[str] = None) -> str:
    attrs = ""
    if bgcolor:
        attrs += f' bgcolor="{bgcolor}"'
    if align:
        attrs += f' align="{align}" balign="{align}"'
    return f"<tr><td{attrs}>{content}</td></tr>"


def _table(rows: list) -> str:
    return ('<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
            + "".join(rows) + "</table>>")


def _ink(content: str, colour: Optional[str]) -> str:
    return f'<font color="{colour}">{content}</font>' if colour else content


def _flag_rows(flags: list) -> list:
    # On a white cell, so that they stay readable on any fill.
    return [_row(f'<font color="{LEVEL_COLOURS[lv]}">{esc(txt)}</font>',
                 bgcolor="#ffffff")
            for lv, txt in flags]


def _worst(flags: list) -> Optional[str]:
    levels = {lv for lv, _ in flags}
    if _flow.ERROR in levels:
        return _flow.ERROR
    if _flow.WARN in levels:
        return _flow.WARN
    return None


class _Emitter:
    def __init__(self, model: GraphModel, opts: Options, flow: Optional[_flow.Flow]) -> None:
        self.model = model
        self.opts = opts
        self.flow = flow
        self.flags: list = []
        self.seen_roles: list = []
        self.seen_levels: set = set()

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

    def tensor_attrs(self, it: Item) -> dict:
        t, opts = it.tensor, self.opts
        if it.role not in self.seen_roles:
            self.seen_roles.append(it.role)
        data = None if t.released else B.to_numpy(t.data)
        role_colour = ROLE_COLOURS[it.role]
        fill, ink = role_colour, None  # ink: text colour of the body rows
        flags = []
        bad = _flow.nonfinite(data) if data is not None else None
        if bad:
            flags.append((_flow.ERROR, f"{bad} in value"))
        grad, grad_row_note = None, None
        if self.flow is None:
            if t.grad is not None:
                grad = B.to_numpy(t.grad.data)
        else:
            grad = self.flow.grads.get(t)
            if grad is None:
                fill = NO_GRAD_FILL
                if t.requires_grad:
                    grad_row_note = "grad not available"
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

        head = [f"<b>{esc(it.label)}</b>"] if it.label else []
        head.append(f"{esc(_shape(t))} {esc(t.dtype)}")
        # In the flow view the fill shows the gradient, so the role colour goes on the header.
        rows = [_row("<br/>".join(head), bgcolor=role_colour if self.flow is not None else None)]
        if opts.show_values:
            if t.released:  # an intermediate whose values the graph did not keep
                rows.append(_row('<font color="#868e96">values not kept</font>'))
            else:
                text = format_array(data, opts.max_values)
                if text is not None:
                    rows.append(_row(_ink(_lines(text), ink), align="left"))
        if grad is not None:
            rows.append(self._grad_row(grad, self.flow is not None, ink))
        elif grad_row_note:
            rows.append(_row(f'<font color="#868e96">{esc(grad_row_note)}</font>'))
        rows += _flag_rows(flags)
        self._note_flags(it, flags, it.label or f"tensor {_shape(t)}")
        attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": fill,
                 "label": _table(rows)}
        self._border(attrs, flags)
        return attrs

    def _grad_row(self, g: Any, flow: bool, ink: Optional[str]) -> str:
        """The gradient: its values when small enough (and ``show_values``), else its norm;
        the gradient-flow view always states the norm."""
        text = format_array(g, self.opts.max_values) if self.opts.show_values else None
        head = "grad" if text is not None and not flow else f"‖grad‖ = {_flow.norm(g):.2e}"
        body = f"<i>{esc(head)}</i>"
        if text is None:
            return _row(_ink(body, ink))
        return _row(_ink(body + "<br/>" + _lines(text), ink), align="left")

    def _border(self, attrs: dict, flags: list) -> None:
        worst = _worst(flags)
        if worst:
            attrs["color"] = LEVEL_COLOURS[worst]
            attrs["penwidth"] = "2.5"

    def op_attrs(self, it: Item) -> dict:
        name = it.node.name
        parts = [f"<b>{esc(name)}</b>"]
        rule = it.node.op.shows if self.opts.show_rules else None
        if rule:
            parts.append(f'<font point-size="8" color="{RULE_COLOUR}">{esc(rule)}</font>')
        flags = []
        if self.flow is not None and not it.out.released:
            flags = _flow.op_flags(it.node, B.to_numpy(it.out.data), self.opts.saturation)
            for lv, txt in flags:
                colour = LEVEL_COLOURS[lv]
                parts.append(f'<font point-size="8" color="{colour}">'
                             f'{esc(txt)}</font>')
        self._note_flags(it, flags, name)
        attrs = {"shape": "ellipse", "style": "filled", "fillcolor": OP_COLOUR,
                 "label": "<" + "<br/>".join(parts) + ">"}
        self._border(attrs, flags)
        return attrs

    def module_attrs(self, it: Item) -> dict:
        counts = Counter(t.grad_fn.name for t in it.ops)
        names = [f"{n} ×{c}" if c > 1 else n for n, c in counts.items()]
        rows = [_row(f"<b>{esc(it.label)}</b>"),
                _row(f'<font point-size="8">{len(it.ops)} op{"s" if len(it.ops) > 1 else ""}: '
                     f'{esc(", ".join(names))}</font>')]
        for lab, p in it.params:
            rows.append(_row(f'<font point-size="8">{esc(lab or "param")} '
                             f"{esc(_shape(p))}</font>"))
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
        rows += _flag_rows(flags)
        self._note_flags(it, flags, it.label)
        attrs = {"shape": "box3d", "style": "filled", "fillcolor": MODULE_COLOUR,
                 "label": _table(rows)}
        self._border(attrs, flags)
        return attrs

    def more_attrs(self, it: Item) -> dict:
        what = f"{it.count:,} more ops (and their tensors)" if it.count else "more tensors"
        return {"shape": "note", "style": "filled,dashed", "fillcolor": MORE_COLOUR,
                "label": f"… {what} not drawn\\nraise max_nodes= to draw them"}

    # ------------------------------------------------------------------ legend
    def legend_label(self) -> str:
        """One node: a single-column table, each row its own small table."""
        rows = ["<b>legend</b>"]

        def swatch(colour: str, text: str) -> tuple:
            return (colour, esc(text))

        def coloured(colour: str, text: str) -> str:
            return f'<font color="{colour}">{esc(text)}</font>'

        where = " (header row)" if self.flow is not None else ""
        for r in ("output", "param", "input", "const", "inter"):
            if r in self.seen_roles:
                rows.append(swatch(ROLE_COLOURS[r], ROLE_NAMES[r] + where))
        rows.append(swatch(OP_COLOUR, "op, with its backward rule"))
        if any(it.kind == "module" for it in self.model.items):
            rows.append(swatch(MODULE_COLOUR, "collapsed module"))
        if self.flow is not None:
            cells = "".join(
                f'<td bgcolor="{c}" border="1"><font point-size="7" color='
                f'"{"#ffffff" if k >= DARK_BIN else "#000000"}">{esc(lab)}</font></td>'
                for k, (c, lab) in enumerate(zip(FLOW_COLOURS, FLOW_LABELS, strict=True)))
            rows.append("fill: norm of the gradient, log scale")
            rows.append(f'<table border="0" cellspacing="0" cellpadding="2"><tr>{cells}</tr>'
                        "</table>")
            rows.append(swatch(NAN_FILL, "NaN or Inf in the gradient"))
            rows.append(swatch(NO_GRAD_FILL, "no gradient known"))
            rows.append(coloured(LEVEL_COLOURS[_flow.WARN],
                                 f"orange border: vanishing (‖g‖ < {self.opts.vanishing:g}), "
                                 f"zero, exploding (‖g‖ ≥ {self.opts.exploding:g}),"))
            rows.append(coloured(LEVEL_COLOURS[_flow.WARN],
                                 "saturated sigmoid/tanh/softmax, dead ReLU"))
            rows.append(coloured(LEVEL_COLOURS[_flow.ERROR], "red border: NaN or Inf"))
            rows.append('<font point-size="8">'
                        + "<br/>".join(esc(x) for x in _wrap(self.flow.note, 60)) + "</font>")
        elif _flow.ERROR in self.seen_levels:
            rows.append(coloured(LEVEL_COLOURS[_flow.ERROR], "red border: NaN or Inf"))
        body = "".join(
            f'<tr><td align="left" balign="left" bgcolor="{r[0]}" border="1">{r[1]}</td></tr>'
            if isinstance(r, tuple) else f'<tr><td align="left" balign="left">{r}</td></tr>'
            for r in rows)
        return f'<<table border="0" cellborder="0" cellspacing="2" cellpadding="2">{body}</table>>'

    # ------------------------------------------------------------------ the whole graph
    def emit(self) -> GraphPicture:
        opts = self.opts
        g = GraphPicture(
            program=opts.renderer,
            name="autograd",
            graph_attr={"rankdir": opts.rankdir, "fontname": "Helvetica", "fontsize": "10",
                        "nodesep": "0.25", "ranksep": "0.3"},
            node_attr={"fontname": "Helvetica", "fontsize": "10", "margin": "0.06,0.03"},
            edge_attr={"fontname": "Helvetica", "fontsize": "8", "fontcolor": "#868e96",
                       "color": "#495057", "arrowsize": "0.7"},
        )
        # Clusters: one per module path, created in order of first appearance, filled
        # innermost first (a subgraph's text is copied into its parent when attached).
        cluster_of: dict = {}
        order: list = []
        for it in self.model.items:
            for k in range(1, len(it.scope) + 1):
                path = it.scope[:k]
                if path not in cluster_of:
                    cluster_of[path] = GraphPicture(
                        name=f"cluster_{len(order)}",
                        graph_attr={"label": "/".join(path), "style": "rounded,dashed",
                                    "color": CLUSTER_COLOUR, "fontcolor": CLUSTER_COLOUR,
                                    "labeljust": "l"},
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
        elif self.flow is not None and self.flow.mode != "computed":
            g.attr(label=self.flow.note, labelloc="t", fontcolor=LEVEL_COLOURS[_flow.WARN])
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
    """Draw ``model`` with ``opts`` (computing gradients first for the gradient-flow view)."""
    flow = None
    if opts.grad_flow:
        tensors = [it.tensor for it in model.items if it.kind == "tensor"]
        flow = _flow.gradients(model.roots, model.op_tensors, tensors)
    return _Emitter(model, opts, flow).emit()
