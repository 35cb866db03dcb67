"""Every text in a picture fits its box, in the fonts readers have, and uses only their glyphs.

A picture is rendered (with the same renderer as everywhere else, see tests/test_viz.py), and
every ``<text>`` of the SVG is measured with real font metrics (``tests/_fonts.py``): DejaVu
Sans and DejaVu Sans Mono from matplotlib, and Liberation Sans and Mono (Arial's and
Helvetica's widths) where the system has them. Each text must lie inside every closed shape of
its node or cluster that holds its start (the node's outline, a table cell's background, a
legend swatch), with a margin, and inside the picture. Where no Liberation font is installed,
the glyph check falls back to ``autograd/viz/_fontdata.py``, the list of characters both
families have (taken from the font files; ``test_fontdata_matches_the_fonts`` re-derives it
wherever they are installed, and rewrites it with ``UPDATE_FONTDATA=1`` when all are).

Checked: the README's pictures (``examples/pictures``), the digits example's picture, pictures
that use every kind of label (flags, collapsed modules, summaries, stored gradients, long
names), and one op node for each registered op, enumerated from ``autograd.graph.REGISTRY``.
"""
from __future__ import annotations

import math
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd.graph import REGISTRY, name_scope
from autograd.viz import render as viz_render

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _fonts  # noqa: E402

if os.environ.get("AG_REQUIRE_RENDERER"):  # CI: the viz extra must be installed
    import graphviz  # noqa: F401
else:
    pytest.importorskip("graphviz")
pytest.importorskip("fontTools")

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "examples" / "pictures"
FONTDATA = ROOT / "autograd" / "viz" / "_fontdata.py"
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
MARGIN = 0.5  # points of clearance between text and the edge of its box


# ----------------------------------------------------------------------------- fonts
@pytest.fixture(scope="module")
def font_sets():
    """[(name, {(kind, style): Font})]: DejaVu always, each Liberation version found."""
    dv = _fonts.dejavu()
    if dv is None:
        pytest.fail("matplotlib's bundled DejaVu fonts are missing (pip install matplotlib)")
    sets = [("DejaVu", dv)]
    for lib in _fonts.liberations():
        sets.append((lib[("sans", "regular")].family, lib))
    return sets


@pytest.fixture(scope="module")
def renderer():
    try:
        return viz_render.find_renderer()
    except viz_render.RendererNotFoundError:
        if os.environ.get("AG_REQUIRE_RENDERER"):
            pytest.fail("AG_REQUIRE_RENDERER is set but no Graphviz renderer was found")
        pytest.skip('no Graphviz renderer (pip install "readable-autograd[viz]")')


def _fontdata():
    from autograd.viz import _fontdata

    return _fontdata


# ----------------------------------------------------------------------------- SVG geometry
def _floats(text: str) -> list:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def _path_points(d: str) -> list:
    """The outline of a Graphviz path (M, C and L commands), cubic curves sampled."""
    pts: list = []
    for cmd, args in re.findall(r"([MCL])([^MCL]*)", d):
        v = _floats(args)
        xy = list(zip(v[0::2], v[1::2]))
        if cmd in "ML":
            pts.extend(xy)
        else:
            for k in range(0, len(xy) - 2, 3):
                p0, p1, p2, p3 = pts[-1], xy[k], xy[k + 1], xy[k + 2]
                for s in range(1, 9):
                    t = s / 8
                    a, b, c, e = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
                    pts.append((a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0],
                                a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]))
    return pts


def _inside_polygon(pts: list, x: float, y: float) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


class Shape:
    """A closed shape of the SVG: an ellipse or a polygon (paths are sampled)."""

    def __init__(self, el: ET.Element) -> None:
        tag = el.tag.removeprefix(SVG)
        self.what = tag
        if tag == "ellipse":
            self.ellipse = tuple(float(el.get(k)) for k in ("cx", "cy", "rx", "ry"))
            self.pts = None
        else:
            self.ellipse = None
            if tag == "path":
                self.pts = _path_points(el.get("d"))
            else:
                v = _floats(el.get("points"))
                self.pts = list(zip(v[0::2], v[1::2]))

    def contains(self, x: float, y: float) -> bool:
        if self.ellipse is not None:
            cx, cy, rx, ry = self.ellipse
            return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
        return _inside_polygon(self.pts, x, y)


def _shapes(group: ET.Element) -> list:
    out = []
    for el in group.iter():
        tag = el.tag.removeprefix(SVG)
        if tag in ("ellipse", "path") or (tag == "polygon" and el.get("points")):
            out.append(Shape(el))
    return out


def _texts(group: ET.Element) -> list:
    return list(group.iter(SVG + "text"))


class Text:
    """One ``<text>`` element: where it starts, its font and its string."""

    def __init__(self, el: ET.Element, where: str) -> None:
        self.where = where
        self.string = "".join(el.itertext())
        self.x, self.y = float(el.get("x")), float(el.get("y"))
        self.size = float(el.get("font-size"))
        family = (el.get("font-family") or "").lower()
        self.kind = "mono" if ("courier" in family or "mono" in family) else "sans"
        self.style = _fonts.style(el.get("font-weight") == "bold",
                                  el.get("font-style") == "italic")
        self.anchor = el.get("text-anchor") or "start"

    def start(self, font) -> float:
        """Where the text starts (its pen position) when drawn in ``font``."""
        w = font.width(self.string, self.size)
        return self.x - {"start": 0.0, "middle": w / 2, "end": w}[self.anchor]

    def extent(self, font) -> tuple:
        """(x0, x1, y0, y1): from the pen's start to its end after the last advance, and the
        ink's top and bottom, in ``font``."""
        x0 = self.start(font)
        inks = font.inks(self.string, self.size)
        y0 = min((b[2] for b in inks), default=0.0)
        y1 = max((b[3] for b in inks), default=0.0)
        return x0, x0 + font.width(self.string, self.size), self.y + y0, self.y + y1

    def glyph_boxes(self, font) -> list:
        """Each glyph's ink box in the picture's coordinates, in ``font``."""
        x0 = self.start(font)
        return [(x0 + a, x0 + b, self.y + c, self.y + d)
                for a, b, c, d in font.inks(self.string, self.size)]

    def __repr__(self) -> str:
        return f"{self.string!r} ({self.size:g}pt {self.kind} {self.style}) in {self.where}"


def _canvas(root: ET.Element) -> tuple:
    """The picture's extent in the coordinates of its graph group."""
    vb = _floats(root.get("viewBox"))
    graph = root.find(SVG + "g")
    m = re.search(r"translate\(([-\d.]+) ([-\d.]+)\)", graph.get("transform", ""))
    tx, ty = (float(m.group(1)), float(m.group(2))) if m else (0.0, 0.0)
    return vb[0] - tx, vb[0] + vb[2] - tx, vb[1] - ty, vb[1] + vb[3] - ty


def misfits(svg: str, sets: list) -> list:
    """Every way a text of ``svg`` does not fit, in any of the font ``sets``."""
    root = ET.fromstring(svg)
    cx0, cx1, cy0, cy1 = _canvas(root)
    problems = []
    groups = [g for g in root.iter(SVG + "g") if g.get("class") in ("node", "cluster", "edge")]
    seen = set()
    for g in groups:
        title = g.find(SVG + "title")
        where = f"{g.get('class')} {title.text if title is not None else '?'}"
        shapes = _shapes(g) if g.get("class") != "edge" else []
        for el in _texts(g):
            if id(el) in seen:
                continue
            seen.add(id(el))
            t = Text(el, where)
            for name, fonts in sets:
                font = fonts[(t.kind, t.style)]
                missing = "".join(sorted({c for c in t.string if not font.covers(c)}))
                if missing:
                    problems.append(f"{t}: {name} has no glyph for {missing!r}")
                    continue
                x0, x1, y0, y1 = t.extent(font)
                if x0 < cx0 or x1 > cx1 or y0 < cy0 or y1 > cy1:
                    problems.append(f"{t}: runs off the picture in {name} "
                                    f"(x {x0:.1f}..{x1:.1f} of {cx0:.1f}..{cx1:.1f})")
                # The shapes that hold the text's start must hold all of it: the line it takes
                # up (from its start to its last advance, at half the x-height) and the ink of
                # every glyph, with a margin.
                mid = t.y - 0.27 * t.size
                for s in shapes:
                    if not s.contains(x0 + 0.5, mid):
                        continue
                    if not s.contains(x1 + MARGIN, mid):
                        problems.append(f"{t}: does not fit its {s.what} in {name} (the line "
                                        f"ends at x {x1:.1f}, past the edge)")
                        continue
                    for a, b, c, d in t.glyph_boxes(font):
                        corners = [(a - MARGIN, c - MARGIN), (b + MARGIN, c - MARGIN),
                                   (a - MARGIN, d + MARGIN), (b + MARGIN, d + MARGIN)]
                        out = [p for p in corners if not s.contains(*p)]
                        if out:
                            problems.append(
                                f"{t}: ink crosses its {s.what} in {name} (glyph x {a:.1f}.."
                                f"{b:.1f}, y {c:.1f}..{d:.1f}; {out[0][0]:.1f},"
                                f"{out[0][1]:.1f} is outside)")
                            break
    return problems


def glyph_sets(font_sets: list) -> list:
    """Font sets for the glyph check: the real fonts, and the table standing for Liberation
    where no Liberation font is installed."""
    if len(font_sets) > 1:
        return font_sets
    return font_sets + [("the _fontdata table", None)]


def missing_glyphs(text: str, fonts, kind: str = "sans", style: str = "regular") -> str:
    if fonts is None:
        return "".join(sorted({c for c in text if ord(c) not in _fontdata().WIDTHS}))
    font = fonts[(kind, style)]
    return "".join(sorted({c for c in text if not font.covers(c)}))


def assert_fits(svg: str, font_sets: list, what: str) -> None:
    problems = misfits(svg, font_sets)
    if len(font_sets) == 1:  # no Liberation installed: its glyphs from the table
        for el in ET.fromstring(svg).iter(SVG + "text"):
            gone = missing_glyphs("".join(el.itertext()), None)
            if gone:
                problems.append(f"{''.join(el.itertext())!r}: not in the _fontdata table "
                                f"(a Liberation Sans 1.07 glyph is missing): {gone!r}")
    assert not problems, f"{what}: {len(problems)} texts do not fit:\n" + "\n".join(problems[:40])


# ----------------------------------------------------------------------------- the checker itself
def test_the_checker_finds_text_that_does_not_fit(font_sets, renderer):
    """A label as Graphviz sizes it by its own estimate (no width reserved, text centred)
    runs over its box in DejaVu Sans; the same with ‖ (no glyph in Liberation Sans 1.07)."""
    import graphviz as gv

    g = gv.Digraph(graph_attr={"fontname": "Helvetica"},
                   node_attr={"fontname": "Helvetica", "fontsize": "10", "margin": "0"})
    g.node("a", label="<<b>squared_error_with_a_long_name</b>>", shape="box")
    g.node("b", label="<‖grad‖ = 7.44e-05 and more text>", shape="box")
    svg = viz_render.render(g.source, renderer=renderer).decode()
    problems = misfits(svg, font_sets[:1])
    assert any("squared_error" in p and "does not fit" in p for p in problems), problems
    lib = font_sets[1:] or [("the _fontdata table", None)]
    assert missing_glyphs("‖grad‖", lib[0][1]) == "‖"


# ----------------------------------------------------------------------------- pictures
def _sigmoid_net():
    x = ag.tensor([[0.5, -1.0, 2.0]], name="x")
    w = ag.tensor([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], requires_grad=True, name="w")
    t = ag.tensor([[0.0, 1.0]], name="t")
    return F.squared_error((x @ w).sigmoid(), t)


class _MLP(ag.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = ag.nn.Linear(3, 4)
        self.act = ag.nn.Tanh()
        self.fc2 = ag.nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def _pictures() -> dict:
    """name -> a function drawing a picture that exercises some kind of label."""
    def mlp():
        ag.manual_seed(0)
        model = _MLP()
        x = ag.tensor(np.linspace(-1, 1, 15).reshape(5, 3), name="inputs")
        return F.mse_loss(model(x), ag.zeros(5, 2)), model

    def flagged():
        x = ag.tensor([[30.0, np.nan]])
        w = ag.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True, name="w")
        u = ag.tensor([[30.0]])
        v = ag.tensor([[1.0]], requires_grad=True, name="v")
        z = ag.tensor([[-1.0, -2.0, -0.5]], requires_grad=True, name="z")
        big = ag.tensor([1.0, 2.0], requires_grad=True, name="big")
        small = ag.tensor([1.0, 2.0], requires_grad=True, name="small")
        return (F.squared_error((u @ v).sigmoid(), ag.tensor([[0.0]])) + (x @ w).sum()
                + z.relu().sum() + (big * 1e5).sum() + (small * 1e-8).sum()
                + F.softmax(z * 100.0).sum() + (z * 50.0).tanh().sum())

    def stored():
        loss, model = mlp()
        loss.backward()
        return loss, model

    def long_names():
        a = ag.tensor(np.ones((2, 3)), requires_grad=True,
                      name="a_rather_long_parameter_name.with.dots")
        with name_scope("Sequential"), name_scope("0"), name_scope("ResidualBlockWithALongName"):
            y = (a * 2.0).exp()
        return y.sum()

    def chain():
        y = ag.tensor([0.5], requires_grad=True, name="x")
        for _ in range(30):
            y = y.sin() * 1.0
        return y.sum()

    def draw(make, **kwargs):
        def picture():
            loss, model = make()
            return ag.viz.draw_graph(loss, params=model, **kwargs)
        return picture

    return {
        "sigmoid_net": lambda: ag.viz.draw_graph(_sigmoid_net()),
        "sigmoid_net_flow": lambda: ag.viz.draw_graph(_sigmoid_net(), grad_flow=True),
        "mlp": draw(mlp),
        "mlp_flow": draw(mlp, grad_flow=True),
        "mlp_collapsed_flow": draw(mlp, collapse_modules=True, grad_flow=True),
        "mlp_stored": draw(stored),
        "mlp_stored_flow_no_legend": draw(stored, grad_flow=True, legend=False),
        "flagged": lambda: ag.viz.draw_graph(flagged(), grad_flow=True),
        "long_names": lambda: ag.viz.draw_graph(long_names(), max_values=8),
        "summarised": lambda: ag.viz.draw_graph(chain(), max_nodes=12, rankdir="LR"),
    }


PICTURE_NAMES = sorted(_pictures())


@pytest.mark.parametrize("name", PICTURE_NAMES)
def test_every_label_fits(name, font_sets, renderer):
    g = _pictures()[name]()
    assert_fits(g.svg(), font_sets, name)


@pytest.mark.parametrize("name", ["graph.svg", "graph_flow.svg"])
def test_readme_pictures_fit(name, font_sets):
    assert_fits((PICTURES / name).read_text(encoding="utf-8"), font_sets, name)


def test_digits_example_picture_fits(font_sets, renderer, tmp_path):
    pytest.importorskip("sklearn")
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_digits",
                                                  ROOT / "examples" / "train_digits.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    ag.manual_seed(0)
    x_train, x_test, y_train, y_test = ex.load_data(0)
    msg = ex.save_graph_svg(ex.MLP(), x_test, y_test, tmp_path / "digits_graph.svg")
    assert "graph picture:" in msg, msg
    assert_fits((tmp_path / "digits_graph.svg").read_text(encoding="utf-8"), font_sets,
                "digits_graph.svg")


# ----------------------------------------------------------------------------- every op's formula
def _op_texts() -> list:
    """(op key, text, style) for every text a registered op puts in a picture."""
    out = []
    for key, op in REGISTRY.items():
        out.append((key, op.name, "bold"))
        if op.shows:
            out.append((key, op.shows, "regular"))
        if op.diagnose is not None and op.diagnose.text:
            out.append((key, op.diagnose.text, "regular"))
    return out


def test_every_registered_formula_uses_glyphs_every_font_has(font_sets):
    assert len(REGISTRY) > 20  # enumerated from the registry, not a fixed list
    problems = []
    for name, fonts in glyph_sets(font_sets):
        for key, text, style in _op_texts():
            gone = missing_glyphs(text, fonts, "sans", style)
            if gone:
                problems.append(f"op {key!r}: {text!r} uses {gone!r}, which {name} lacks")
    assert not problems, (
        "formulas in shows= must use glyphs that DejaVu Sans and Liberation Sans (Arial, "
        "Helvetica) all have (write transposes as ^T, norms as ||g||):\n" + "\n".join(problems))


def test_every_registered_formula_fits_its_op_node(font_sets, renderer):
    from autograd.viz import _dot

    import graphviz as gv

    g = gv.Digraph(graph_attr=_dot.GRAPH_ATTR, node_attr=_dot.NODE_ATTR)
    ops = [op for op in REGISTRY.values() if op.shows]
    for k, op in enumerate(ops):
        flags = []
        if op.diagnose is not None and op.diagnose.kind == "saturation":
            what = op.diagnose.text or op.shows.split(" = ", 1)[-1]
            flags = [("warn", f"saturated: max {what} = 0.0e+00"), ("", "3/16 saturated")]
        elif op.diagnose is not None:
            flags = [("warn", "dead: passes no gradient"), ("", "passes 15/16")]
        g.node(f"op{k}", label=_dot.op_label(op.name, op.shows, flags), shape="ellipse",
               style="filled", fillcolor=_dot.OP_COLOUR)
    assert_fits(viz_render.render(g.source, renderer=renderer).decode(), font_sets,
                "op nodes of every registered op")


# ----------------------------------------------------------------------------- the width table
def test_fontdata_matches_the_fonts(font_sets):
    """The table the layout measures with holds, for every character it lists, at least the
    advance width of every font found here, and lists only characters they all have."""
    data = _fontdata()
    if os.environ.get("UPDATE_FONTDATA"):
        if len(font_sets) < 3:
            pytest.fail("UPDATE_FONTDATA needs DejaVu (matplotlib) and Liberation Sans 1.07 "
                        "and 2.x (Debian: fonts-liberation, fonts-liberation2)")
        FONTDATA.write_text(_fonts.fontdata_source([s for _, s in font_sets]), encoding="utf-8")
        pytest.skip("rewrote autograd/viz/_fontdata.py; review the diff and commit it")
    problems = []
    for name, fonts in font_sets:
        for (kind, style), font in fonts.items():
            if kind == "mono":
                for cp in range(0x20, 0x7F):
                    if font.advance[cp] * 1000 > data.MONO + 1e-6:
                        problems.append(f"{name} {kind} {style}: {chr(cp)!r} is wider than MONO")
                continue
            k = 1 if "bold" in style else 0
            for cp, widths in data.WIDTHS.items():
                if cp not in font.advance:
                    problems.append(f"{name} {style} lacks U+{cp:04X}")
                elif font.advance[cp] * 1000 > widths[k] + 1e-6:
                    problems.append(f"{name} {style}: U+{cp:04X} is {font.advance[cp]:.4f} em, "
                                    f"the table says {widths[k] / 1000}")
    assert not problems, "\n".join(problems[:30])
    assert math.isclose(len(data.WIDTHS), 650, rel_tol=0.2)
