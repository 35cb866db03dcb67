"""Graph pictures (autograd.viz): DOT structure and golden text, the gradient-flow view, big
graphs, determinism, renderer lookup, SVG output and Jupyter display.

Golden DOT files live in tests/golden/. To regenerate them after an intended change:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_viz.py -k golden
    GOLDEN_PREVIEW=/tmp/golden .venv/bin/python -m pytest tests/test_viz.py -k golden

then read ``git diff tests/golden`` and look at the SVGs in /tmp/golden before committing
(see tests/golden/README.md).

Rendering tests need a Graphviz renderer (system ``dot`` or the pip-installed ``graphviz-pure``).
They are skipped when none is found, unless AG_REQUIRE_RENDERER is set (CI sets it), in which
case a missing renderer fails them.
"""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import nn
from autograd.graph import name_scope
from autograd.viz import render as viz_render

if os.environ.get("AG_REQUIRE_RENDERER"):  # CI: the viz extra must be installed
    import graphviz
else:
    graphviz = pytest.importorskip("graphviz")

GOLDEN = Path(__file__).resolve().parent / "golden"
ROOT = Path(__file__).resolve().parent.parent
SVG_NS = "{http://www.w3.org/2000/svg}"


# ----------------------------------------------------------------------------- helpers
def _renderer_or_none():
    try:
        return viz_render.find_renderer()
    except viz_render.RendererNotFoundError:
        return None


@pytest.fixture
def renderer():
    """The renderer's path; skip without one, unless AG_REQUIRE_RENDERER says it must exist."""
    path = _renderer_or_none()
    if path is None:
        if os.environ.get("AG_REQUIRE_RENDERER"):
            pytest.fail('AG_REQUIRE_RENDERER is set but no Graphviz renderer was found '
                        '(pip install "readable-autograd[viz]")')
        pytest.skip('no Graphviz renderer (pip install "readable-autograd[viz]")')
    return path


NODE_RE = re.compile(r"^\t+(n\d+|legend) \[", re.M)
EDGE_RE = re.compile(r"^\t(n\d+) -> (n\d+)", re.M)


def node_ids(source: str) -> list:
    return NODE_RE.findall(source)


def edges(source: str) -> list:
    return EDGE_RE.findall(source)


TOOLTIP_RE = re.compile(r' tooltip="((?:[^"\\]|\\.)*)"')


def node_line(source: str, text: str) -> str:
    """The one node statement whose text (its tooltip left out) contains ``text``, without its
    tooltip."""
    lines = [TOOLTIP_RE.sub("", ln) for ln in source.splitlines() if NODE_RE.match(ln + "\n")]
    lines = [ln for ln in lines if text in ln]
    assert len(lines) == 1, f"{len(lines)} nodes contain {text!r}"
    return lines[0]


def cluster_line(source: str, path: str) -> str:
    """The ``graph [...]`` statement of the cluster labelled ``path``."""
    lines = [ln for ln in source.splitlines() if ln.lstrip("\t").startswith("graph [")
             and f'color="#868e96">{path}</font>' in ln]
    assert len(lines) == 1, f"{len(lines)} clusters are labelled {path!r}"
    return lines[0]


def words(source: str) -> str:
    """The text of DOT labels without markup, lines joined with spaces (legend notes wrap)."""
    return " ".join(re.sub(r"<[^>]*>", " ", source).split())


def tooltip(source: str, text: str) -> list:
    """The tooltip lines of the one node whose text (tooltip left out) contains ``text``."""
    found = [ln for ln in source.splitlines()
             if NODE_RE.match(ln + "\n") and text in TOOLTIP_RE.sub("", ln)]
    assert len(found) == 1, f"{len(found)} nodes contain {text!r}"
    m = TOOLTIP_RE.search(found[0])
    assert m, f"the node with {text!r} has no tooltip"
    return m.group(1).split("\\n")


def node_id(source: str, text: str) -> str:
    return NODE_RE.match(node_line(source, text) + "\n").group(1)


def svg_root(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == SVG_NS + "svg"
    return root


def svg_node_groups(root: ET.Element) -> list:
    return [g for g in root.iter(SVG_NS + "g") if g.get("class") == "node"]


def svg_text(root: ET.Element) -> str:
    return "\n".join("".join(t.itertext()) for t in root.iter(SVG_NS + "text"))


# ----------------------------------------------------------------------------- graphs
def sigmoid_net():
    """The one-layer network of docs/derivations.md: E = ½ Σ_k (σ(z_k) − t_k)², z = x w."""
    x = ag.tensor([[0.5, -1.0, 2.0]], name="x")
    w = ag.tensor([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], requires_grad=True, name="w")
    t = ag.tensor([[0.0, 1.0]], name="t")
    return F.squared_error((x @ w).sigmoid(), t)


def softmax3():
    """A softmax over three classes, with the squared error to a one-hot target."""
    z = ag.tensor([[2.0, 1.0, 0.1]], requires_grad=True, name="z")
    t = ag.tensor([[1.0, 0.0, 0.0]], name="t")
    return F.squared_error(F.softmax(z, axis=-1), t)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 2)
        self.act = nn.Sigmoid()
        self.fc2 = nn.Linear(2, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def mlp_module():
    """A two-layer MLP module (nn.Linear, nn.Sigmoid), with fixed weights."""
    model = MLP()
    model.fc1.weight.data[...] = np.array([[0.1, -0.2, 0.3], [-0.4, 0.5, -0.6]])
    model.fc1.bias.data[...] = np.array([0.01, -0.02])
    model.fc2.weight.data[...] = np.array([[0.7, -0.8]])
    model.fc2.bias.data[...] = np.array([0.05])
    x = ag.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]], name="x")
    t = ag.tensor([[1.0], [0.0]], name="t")
    return F.squared_error(model(x), t), model


def mlp_scopes():
    """The same two-layer MLP with raw tensors, scoped with engine.name_scope as nn.Module does."""
    W1 = ag.tensor([[0.1, -0.4], [-0.2, 0.5], [0.3, -0.6]], requires_grad=True)
    b1 = ag.tensor([0.01, -0.02], requires_grad=True)
    W2 = ag.tensor([[0.7], [-0.8]], requires_grad=True)
    b2 = ag.tensor([0.05], requires_grad=True)
    x = ag.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]], name="x")
    t = ag.tensor([[1.0], [0.0]], name="t")
    with name_scope("MLP"):
        with name_scope("fc1"):
            h = x @ W1 + b1
        with name_scope("act"):
            h = h.sigmoid()
        with name_scope("fc2"):
            y = h @ W2 + b2
    params = [("fc1.weight", W1), ("fc1.bias", b1), ("fc2.weight", W2), ("fc2.bias", b2)]
    return F.squared_error(y, t), params


def chain(n: int, x=None):
    """y = sin(y) * 1 + 0, ... : a chain of about ``n`` ops."""
    y = x if x is not None else ag.tensor([0.5], requires_grad=True, name="x")
    for _ in range(n // 3):
        y = y.sin() * 1.0 + 0.0
    return y.sum()


def golden_pictures() -> dict:
    loss, model = mlp_module()
    loss2, params = mlp_scopes()
    return {
        "sigmoid_net": lambda: ag.viz.draw_graph(sigmoid_net()),
        "sigmoid_net_flow": lambda: ag.viz.draw_graph(sigmoid_net(), grad_flow=True),
        "softmax3": lambda: ag.viz.draw_graph(softmax3()),
        "mlp_module": lambda: ag.viz.draw_graph(loss, params=model),
        "mlp_scopes": lambda: ag.viz.draw_graph(loss2, params=params),
        "mlp_collapsed": lambda: ag.viz.draw_graph(loss, params=model, collapse_modules=True),
    }


# ----------------------------------------------------------------------------- golden DOT
GOLDEN_NAMES = ["mlp_collapsed", "mlp_module", "mlp_scopes", "sigmoid_net", "sigmoid_net_flow",
                "softmax3"]


def test_golden_names_are_complete():
    assert sorted(golden_pictures()) == GOLDEN_NAMES


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_dot(name):
    source = golden_pictures()[name]().source
    path = GOLDEN / f"{name}.dot"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(source, encoding="utf-8")
    preview = os.environ.get("GOLDEN_PREVIEW")
    if preview:
        out = Path(preview) / f"{name}.svg"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(viz_render.render(path.read_text(encoding="utf-8")))
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert source == path.read_text(encoding="utf-8"), (
        f"DOT of {name} differs from {path}; if the change is intended, regenerate with "
        "UPDATE_GOLDEN=1 and inspect it")


# ----------------------------------------------------------------------------- structure
def test_one_node_per_tensor_and_op_and_data_flow_edges():
    g = ag.viz.draw_graph(sigmoid_net())
    assert isinstance(g, graphviz.Digraph)
    src = g.source
    # tensors: x, w, x@w, σ(x@w), t, E  ·  ops: matmul, sigmoid, squared_error  ·  legend
    assert len(node_ids(src)) == 6 + 3 + 1
    x, w, mm = node_id(src, "<b>x</b>"), node_id(src, "<b>w</b>"), node_id(src, "matmul")
    sig, se = node_id(src, "<b>sigmoid</b>"), node_id(src, "squared_error")
    e = edges(src)
    assert (x, mm) in e and (w, mm) in e  # inputs flow into the op
    assert any(a == mm for a, b in e) and any(b == sig for a, b in e)
    assert sum(1 for a, b in e if b == se) == 2 and sum(1 for a, b in e if a == se) == 1
    # argument positions of a two-input op
    assert f"{x} -> {mm} [label=0]" in src and f"{w} -> {mm} [label=1]" in src


def test_labels_show_name_shape_dtype_values_and_rule():
    src = ag.viz.draw_graph(sigmoid_net()).source
    w = node_line(src, "<b>w</b>")
    assert "(3, 2) float32" in w and "0.1" in w and "-0.5" in w
    assert "scalar float32" in src
    assert "σ' = p(1−p)" in src
    assert "∂E/∂p = p − t" in src


@pytest.mark.parametrize("fn, rule", [
    (lambda z: z.sigmoid(), "σ' = p(1−p)"),
    (lambda z: z.tanh(), "tanh' = 1 − y²"),
    (lambda z: F.softmax(z), "J = diag(p) − p·p^T"),
    (lambda z: F.log_softmax(z), "J = I − 1·p^T"),
    (lambda z: z.relu(), "relu' = 1[y &gt; 0]"),
    (lambda z: F.leaky_relu(z), "f' = 1 (z &gt; 0) else slope"),
    (lambda z: F.softplus(z), "f' = σ(z)"),
])
def test_activation_rules(fn, rule):
    z = ag.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    src = ag.viz.draw_graph(fn(z).sum()).source
    assert rule in src
    assert rule not in ag.viz.draw_graph(fn(z).sum(), show_rules=False).source


def _sigmoid_net_parts():
    loss = sigmoid_net()
    s = loss.grad_fn.inputs[0]  # σ(z)
    z = s.grad_fn.inputs[0]
    w = z.grad_fn.inputs[1]
    return loss, s, z, w


def _dE_dw(s) -> np.ndarray:
    """∂E/∂w_{j,k} = (p_k − t_k) p_k (1 − p_k) x_j, by hand (docs/derivations.md)."""
    p = s.numpy().astype(np.float64)
    x = np.array([[0.5, -1.0, 2.0]])
    return x.T @ ((p - np.array([[0.0, 1.0]])) * p * (1 - p))


def grad_values(line: str) -> np.ndarray:
    """The numbers printed under a node's gradient heading."""
    after = line.split("grad", 1)[1]
    texts = re.findall(r'<font face="Courier" point-size="9">([^<]*)</font>', after)
    return np.array([float(v) for v in re.findall(r"-?\d+\.\d*(?:e[-+]\d+)?",
                                                  " ".join(texts))])


def test_plain_view_shows_the_gradient_of_the_drawn_output():
    loss, s, z, w = _sigmoid_net_parts()
    line = node_line(ag.viz.draw_graph(loss).source, "<b>w</b>")
    assert "<i>grad</i>" in line
    np.testing.assert_allclose(grad_values(line), _dE_dw(s).ravel(), rtol=2e-3)
    assert w.grad is None  # computed for the picture, not accumulated
    # every tensor that requires grad gets one, intermediates too
    assert "<i>grad</i>" in node_line(ag.viz.draw_graph(loss).source, "[[-1.25")
    # the size limit: w has 6 elements
    small = node_line(ag.viz.draw_graph(loss, max_values=5).source, "<b>w</b>")
    assert "0.1" not in small and "||grad||" in small and "(3, 2) float32" in small
    norm = np.linalg.norm(_dE_dw(s))
    assert f"||grad|| = {norm:.2e}" in small
    hidden = node_line(ag.viz.draw_graph(loss, show_values=False).source, "<b>w</b>")
    assert "0.1" not in hidden and "||grad||" in hidden


def test_a_picture_never_shows_a_stale_grad():
    """.grad left by earlier backward() calls (the last training step, a first backward with
    retain_graph=True) is not the gradient of the drawn output: the picture computes its own,
    and leaves .grad as it was."""
    loss, s, z, w = _sigmoid_net_parts()
    w.grad = ag.tensor(np.full((3, 2), 100.0, dtype=np.float32))  # a training step's leftover
    loss.backward(retain_graph=True)  # .grad is now 100 + ∂E/∂w
    stale = w.grad.numpy().copy()
    for kwargs in ({}, {"grad_flow": True}):
        src = ag.viz.draw_graph(loss, **kwargs).source
        line = node_line(src, "<b>w</b>")
        if kwargs:
            assert f"||grad|| = {np.linalg.norm(_dE_dw(s)):.2e}" in line
        else:
            np.testing.assert_allclose(grad_values(line), _dE_dw(s).ravel(), rtol=2e-3)
        assert "100" not in line
        assert any("norm" in t and "100" not in t for t in tooltip(src, "<b>w</b>"))
    np.testing.assert_array_equal(w.grad.numpy(), stale)


def test_after_a_plain_backward_stored_grads_are_marked_as_such():
    """Once backward() has freed the graph, nothing can be recomputed: the picture shows .grad
    as stored, and says it may hold the sum over several backward() calls."""
    loss, s, z, w = _sigmoid_net_parts()
    w.grad = ag.tensor(np.full((3, 2), 100.0, dtype=np.float32))
    loss.backward()
    src = ag.viz.draw_graph(loss).source
    line = node_line(src, "<b>w</b>")
    assert "<i>.grad (stored)</i>" in line
    np.testing.assert_allclose(grad_values(line), 100 + _dE_dw(s).ravel(), rtol=2e-3)
    legend = node_line(src, "<b>legend</b>")
    assert "freed by backward()" in legend and "summed over every backward()" in legend
    assert "grad" not in node_line(src, "[[-1.25")  # no gradient is made up for the rest
    assert any(t.startswith(".grad: ") for t in tooltip(src, "<b>w</b>"))
    no_legend = ag.viz.draw_graph(loss, legend=False).source
    assert "summed over every" in no_legend and "labelloc=t" in no_legend


def test_tooltips_give_statistics_and_first_values():
    a = ag.tensor(np.arange(-6.0, 6.0).reshape(3, 4), requires_grad=True, name="a")
    a.data[0, 1] = np.nan
    src = ag.viz.draw_graph((a * 2.0).sum() * 0.5, max_values=8).source
    assert "-6" not in node_line(src, "<b>a</b>")  # 12 elements: only the shape is printed
    tip = tooltip(src, "<b>a</b>")
    finite = np.delete(np.arange(-6.0, 6.0), 1)
    assert tip[0] == "a: (3, 4) float64, leaf, requires grad"
    assert tip[1] == (f"value: min -6, max 5, mean {finite.mean():.4g}, "
                      f"norm {np.linalg.norm(finite):.4g} (of the finite values); NaN: 1, Inf: 0")
    assert tip[2] == "  first 8 of 12 values (row-major): -6., nan, -4., -3., -2., -1., 0., 1."
    assert tip[3] == ("grad: min 1, max 1, mean 1, norm 3.464; NaN: 0, Inf: 0")  # √12
    # an intermediate of more than max_values elements gets one too
    tips = TOOLTIP_RE.findall(src)
    assert any(t.startswith("tensor: (3, 4) float64, intermediate\\nvalue: min -12, max 10,")
               for t in tips)


def test_tooltip_statistics_of_huge_values_do_not_overflow():
    """The mean and norm of values near the float64 limit are scaled, not overflowed (pytest
    turns NumPy's overflow warnings into errors)."""
    big = ag.tensor(np.array([1e308, 1e308, -np.inf]), requires_grad=True, name="big")
    tip = tooltip(ag.viz.draw_graph((big * 0.5).sum()).source, "<b>big</b>")
    assert tip[1] == ("value: min 1e+308, max 1e+308, mean 1e+308, norm 1.414e+308 "
                      "(of the finite values); NaN: 0, Inf: 1")


def test_tooltips_say_when_values_were_not_kept():
    x = ag.tensor(np.ones((40, 40)), requires_grad=True, name="x")
    h = x.exp() * 2.0  # exp's rule reads its output; mul's does not read the 1,600-element exp
    loss = h.sum()
    loss.backward()
    src = ag.viz.draw_graph(loss).source
    released = [ln for ln in src.splitlines() if "values not kept" in ln]
    assert len(released) == 2  # exp's output and the product
    for ln in released:
        assert "\\nvalue: not kept (released after use" in ln


def test_big_tensors_print_no_values_unless_the_limit_is_raised():
    x = ag.tensor(np.full((5, 4), 0.25), requires_grad=True, name="big")
    assert "0.25" not in node_line(ag.viz.draw_graph(x.sum()).source, "<b>big</b>")
    assert "0.25" in node_line(ag.viz.draw_graph(x.sum(), max_values=20).source, "<b>big</b>")


def test_small_values_keep_significant_digits():
    x = ag.tensor([1e-5, -3e-4], requires_grad=True, name="tiny")
    assert "1.000e-05" in node_line(ag.viz.draw_graph(x.sum()).source, "<b>tiny</b>")


def test_roles_are_coloured_and_the_legend_names_them():
    loss, params = mlp_scopes()
    x_in = ag.tensor([1.0, 2.0], requires_grad=True, name="u")
    total = loss + (x_in * 2.0).sum()
    src = ag.viz.draw_graph(total, params=params).source
    assert 'fillcolor="#b2f2bb"' in node_line(src, "fc1.weight")  # parameter
    assert 'fillcolor="#a5d8ff"' in node_line(src, "<b>u</b>")  # leaf requiring grad
    assert 'fillcolor="#e9ecef"' in node_line(src, "<b>x</b>")  # constant
    out = [ln for ln in src.splitlines() if 'fillcolor="#ffd8a8"' in ln and "legend" not in ln]
    assert len(out) == 1  # the output
    legend = node_line(src, "<b>legend</b>")
    for word in ("output", "parameter", "leaf, requires grad", "constant", "intermediate"):
        assert word in legend
    assert "<b>legend</b>" not in ag.viz.draw_graph(total, legend=False).source


@pytest.mark.parametrize("kind", ["mapping", "pairs", "module"])
def test_params_argument_forms(kind):
    loss, model = mlp_module()
    named = dict(model.named_parameters())
    params = {"mapping": named, "pairs": list(named.items()), "module": model}[kind]
    src = ag.viz.draw_graph(loss, params=params).source
    for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
        assert f"<b>{name}</b>" in src


def test_params_argument_rejects_non_tensors():
    with pytest.raises(TypeError, match="not a Tensor"):
        ag.viz.draw_graph(sigmoid_net(), params={"w": 3.0})


def test_tensor_name_wins_and_parameters_are_parameters_without_names():
    loss, model = mlp_module()
    model.fc2.bias.name = "b_out"
    src = ag.viz.draw_graph(loss).source  # nn.Parameter is a parameter even unnamed
    assert "<b>b_out</b>" in src
    assert src.count('fillcolor="#b2f2bb"') == 4  # the four parameters


def test_several_outputs_and_leaf_output():
    a = ag.tensor([1.0, 2.0], requires_grad=True, name="a")
    y1, y2 = (a * 2.0).sum(), (a * 3.0).sum()
    src = ag.viz.draw_graph([y1, y2]).source
    assert len([ln for ln in src.splitlines() if 'fillcolor="#ffd8a8"' in ln]) == 2
    assert node_line(src, "<b>a</b>")
    solo = ag.viz.draw_graph(a).source
    assert len(node_ids(solo)) == 2
    with pytest.raises(TypeError):
        ag.viz.draw_graph([1.0, 2.0])


def test_number_constants_are_drawn_beside_each_use():
    x = ag.tensor([1.0], requires_grad=True)
    y = (x * 0.5 + 1.0) * 0.5  # the two 0.5 constants are one shared cached tensor
    src = ag.viz.draw_graph(y.sum()).source
    assert src.count("<font face=\"Courier\" point-size=\"9\">0.5</font>") == 2


# ----------------------------------------------------------------------------- clusters
def test_name_scopes_become_nested_clusters():
    loss, params = mlp_scopes()
    src = ag.viz.draw_graph(loss, params=params).source
    for path in ("MLP", "MLP/fc1", "MLP/act", "MLP/fc2"):
        cluster_line(src, path)
    # the clusters nest: MLP/fc1 is opened inside MLP
    assert cluster_line(src, "MLP").startswith("\t\tgraph [")
    assert cluster_line(src, "MLP/fc1").startswith("\t\t\tgraph [")
    # fc1's parameters are drawn inside fc1's cluster, the input x outside every cluster
    fc1 = src.index(cluster_line(src, "MLP/fc1"))
    end = src.index("}", fc1)
    assert "fc1.weight" in src[fc1:end] and "<b>x</b>" not in src[fc1:end]
    flat = ag.viz.draw_graph(loss, params=params, clusters=False).source
    assert "subgraph" not in flat


def test_nn_module_scopes_and_parameter_names():
    loss, model = mlp_module()
    src = ag.viz.draw_graph(loss, params=model).source
    for path in ("MLP/fc1", "MLP/fc2", "MLP/act"):
        cluster_line(src, path)
    assert "<b>fc2.weight</b>" in src


def test_collapse_modules():
    loss, model = mlp_module()
    src = ag.viz.draw_graph(loss, params=model, collapse_modules=True).source
    modules = [ln for ln in src.splitlines() if "shape=box3d" in ln]
    assert len(modules) == 3  # fc1, act, fc2
    assert "<b>linear</b>" not in src and "<b>squared_error</b>" in src
    fc1 = node_line(src, "<b>MLP/fc1</b>")
    assert "1 op: linear" in fc1 and "fc1.weight (2, 3)" in fc1
    top = ag.viz.draw_graph(loss, params=model, collapse_modules=1).source
    assert len([ln for ln in top.splitlines() if "shape=box3d" in ln]) == 1
    assert "3 ops" in node_line(top, "<b>MLP</b>")
    # tensors between modules stay; a module's inner tensors and its parameters do not
    # modules, x and t, the 2 tensors between modules, y, squared_error, E, the legend
    assert len(node_ids(src)) == 3 + 2 + 2 + 1 + 1 + 1 + 1
    with pytest.raises(ValueError):
        ag.viz.draw_graph(loss, collapse_modules=-1)


def test_collapsed_module_swallows_its_number_constants():
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    with name_scope("Scale"):
        y = x * 0.5 + 0.25
    src = ag.viz.draw_graph((y * 3.0).sum(), collapse_modules=True).source
    assert ">0.25<" not in src and ">0.5<" not in src and ">3.<" in src
    assert "2 ops: mul, add" in node_line(src, "<b>Scale</b>")


# ----------------------------------------------------------------------------- gradient flow
def test_flow_computes_every_gradient_without_touching_grad():
    loss, s, z, w = _sigmoid_net_parts()
    g = ag.viz.draw_graph(loss, grad_flow=True)
    src = g.source
    expected = (s.numpy() - np.array([[0.0, 1.0]])) * s.numpy() * (1 - s.numpy())
    line = node_line(src, "[[-1.25")  # z = x w
    assert "||grad||" in line and f"{np.linalg.norm(expected):.2e}" in line
    assert w.grad is None and s.grad is None  # nothing accumulated
    assert "computed for this picture" in src
    loss.backward()  # the graph was kept: backward still works
    np.testing.assert_allclose(w.grad.numpy(), np.array([[0.5], [-1.0], [2.0]]) * expected,
                               rtol=1e-5)


def test_flow_after_backward_uses_stored_grads_and_says_so():
    loss, s, z, w = _sigmoid_net_parts()
    loss.backward()
    src = ag.viz.draw_graph(loss, grad_flow=True).source
    assert "freed by backward()" in src and "retain_graph=True" in src
    assert "grad not available" in node_line(src, "[[-1.25")  # small: its values are kept
    assert "||.grad|| = " in node_line(src, "<b>w</b>") and "(stored)" in node_line(src, "<b>w</b>")
    assert "freed" in ag.viz.draw_graph(loss, grad_flow=True, legend=False).source


def test_flow_after_backward_with_retain_graph_is_full():
    loss, s, z, w = _sigmoid_net_parts()
    loss.backward(retain_graph=True)
    stored = w.grad.numpy().copy()
    src = ag.viz.draw_graph(loss, grad_flow=True).source
    assert "computed for this picture" in src and "||grad||" in node_line(src, "[[-1.25")
    np.testing.assert_array_equal(w.grad.numpy(), stored)  # drawing left .grad untouched


def test_flow_uses_retained_grads_when_freed():
    loss, s, z, w = _sigmoid_net_parts()
    z.retain_grad()
    loss.backward()
    src = ag.viz.draw_graph(loss, grad_flow=True).source
    assert "||.grad|| = " in node_line(src, "[[-1.25")  # z kept its gradient: retain_grad()
    assert "grad not available" in node_line(src, "[[0.2227")


def test_flow_flags_a_saturated_sigmoid():
    x = ag.tensor([[30.0, 40.0]])  # σ = 1 exactly in float32
    w = ag.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True, name="w")
    loss = F.squared_error((x @ w).sigmoid(), ag.tensor([[0.0, 1.0]]))
    g = ag.viz.draw_graph(loss, grad_flow=True)
    sig = node_line(g.source, "<b>sigmoid</b>")
    assert "saturated: max p(1−p) = 0.0e+00" in sig and 'color="#f76707"' in sig
    assert any("sigmoid: saturated" in msg for _, msg in g.flags)
    assert "zero gradient" in node_line(g.source, "<b>w</b>")
    # not flagged in the plain view, nor for a healthy sigmoid
    assert "saturated:" not in ag.viz.draw_graph(loss).source
    healthy = ag.viz.draw_graph(sigmoid_net(), grad_flow=True)
    assert "saturated:" not in healthy.source and healthy.flags == []


def test_flow_flags_nan_in_red():
    x = ag.tensor([[np.nan, 1.0, 2.0]])
    w = ag.tensor(np.ones((3, 2)), requires_grad=True, name="w", dtype=ag.float32)
    loss = F.squared_error((x @ w).tanh(), ag.tensor([[0.0, 1.0]]))
    g = ag.viz.draw_graph(loss, grad_flow=True)
    line = node_line(g.source, "<b>w</b>")
    assert "NaN in grad" in line and 'fillcolor="#ff8787"' in line and 'color="#e03131"' in line
    assert ("n1", "w: NaN in grad") in g.flags
    assert "NaN in value" in node_line(g.source, "(1, 3) float32")  # the input itself
    assert "NaN in value" in ag.viz.draw_graph(loss).source  # values are checked in any view


def test_flow_flags_dead_relu_and_exploding_and_vanishing():
    z = ag.tensor([[-1.0, -2.0, -0.5]], requires_grad=True, name="z")
    g = ag.viz.draw_graph(z.relu().sum(), grad_flow=True)
    assert "dead: passes no gradient" in node_line(g.source, "<b>relu</b>")
    half = ag.viz.draw_graph((z + 1.5).relu().sum(), grad_flow=True)  # [0.5, -0.5, 1.0]
    assert "passes 2/3" in node_line(half.source, "<b>relu</b>")
    big = ag.tensor([1.0, 2.0], requires_grad=True, name="big")
    src = ag.viz.draw_graph((big * 1e5).sum(), grad_flow=True).source
    assert "exploding" in node_line(src, "<b>big</b>")
    small = ag.tensor([1.0, 2.0], requires_grad=True, name="small")
    src = ag.viz.draw_graph((small * 1e-8).sum(), grad_flow=True).source
    assert "vanishing" in node_line(src, "<b>small</b>")


def test_flow_shades_by_log_norm():
    a = ag.tensor([1.0], requires_grad=True, name="a")
    b = ag.tensor([1.0], requires_grad=True, name="b")
    src = ag.viz.draw_graph((a * 2e-3 + b * 20.0).sum(), grad_flow=True).source
    assert 'fillcolor="#c6dbef"' in node_line(src, "<b>a</b>")  # 1e-3 decade
    assert 'fillcolor="#2171b5"' in node_line(src, "<b>b</b>")  # 10 decade


def test_flow_non_scalar_output_and_no_grad_output():
    a = ag.tensor([1.0, 2.0], requires_grad=True, name="a")
    src = ag.viz.draw_graph(a * 3.0, grad_flow=True).source
    assert "of the sum of" in words(src) and "||grad|| = 4.24e+00" in node_line(src, "<b>a</b>")
    c = ag.tensor([1.0, 2.0], name="c")
    assert "no gradients" in ag.viz.draw_graph(c * 2.0, grad_flow=True).source


# ----------------------------------------------------------------------------- big graphs
def test_max_nodes_summarises_the_rest():
    loss = chain(300)  # 300 ops and the sum
    g = ag.viz.draw_graph(loss, max_nodes=40)
    ids = node_ids(g.source)
    assert len(ids) == 40 + 1 + 1  # kept nodes, the summary, the legend
    more = node_line(g.source, "more ops")
    hidden = int(re.search(r"… ([\d,]+) more ops \(and their tensors\) not drawn", more)
                 .group(1).replace(",", ""))
    drawn_ops = g.source.count("shape=ellipse")
    assert hidden + drawn_ops == 301 and drawn_ops >= 10
    more_id = NODE_RE.match(more + "\n").group(1)
    assert any(a == more_id for a, b in edges(g.source))
    assert "<b>sum</b>" in g.source  # the nodes nearest the output are the ones kept
    full = ag.viz.draw_graph(loss, max_nodes=None)
    assert "more ops" not in full.source and len(node_ids(full.source)) > 600
    with pytest.raises(ValueError):
        ag.viz.draw_graph(loss, max_nodes=0)


def test_max_nodes_with_collapsed_modules_never_splits_a_module():
    loss, model = mlp_module()
    src = ag.viz.draw_graph(loss, params=model, collapse_modules=True, max_nodes=4).source
    assert "more ops" in src and len(node_ids(src)) == 4 + 1 + 1
    for ln in src.splitlines():
        if "<b>MLP/fc1</b>" in ln:
            assert "3 ops" in ln


@pytest.fixture(scope="module")
def long_chain():
    x = ag.tensor([0.5], requires_grad=True, name="x")
    y = x
    for _ in range(50_000):
        y = y.sin() * 1.0  # 100,000 ops
    return y.sum()


def test_100k_op_chain_is_drawn_quickly(long_chain):
    t0 = time.perf_counter()
    g = ag.viz.draw_graph(long_chain, max_nodes=200)
    elapsed = time.perf_counter() - t0
    assert elapsed < 10.0, f"drawing took {elapsed:.1f} s"
    assert len(node_ids(g.source)) == 202
    assert "99,9" in node_line(g.source, "more ops")
    flow = ag.viz.draw_graph(long_chain, max_nodes=50, grad_flow=True)
    assert "computed for this picture" in flow.source
    assert "<b>x</b>" not in flow.source


def test_100k_op_chain_renders(long_chain, renderer):
    g = ag.viz.draw_graph(long_chain, max_nodes=50, grad_flow=True)
    root = svg_root(g.svg())
    assert len(svg_node_groups(root)) == 52


# ----------------------------------------------------------------------------- determinism
def test_same_program_same_dot():
    first = ag.viz.draw_graph(sigmoid_net(), grad_flow=True).source
    ag.viz.draw_graph(softmax3())  # other graphs in between shift the node counters
    second = ag.viz.draw_graph(sigmoid_net(), grad_flow=True).source
    assert first == second
    a, _ = mlp_scopes()
    b, _ = mlp_scopes()
    assert ag.viz.draw_graph(a, collapse_modules=True).source == \
        ag.viz.draw_graph(b, collapse_modules=True).source


def test_same_program_same_dot_in_a_fresh_process():
    code = textwrap.dedent("""
        import autograd as ag, autograd.nn.functional as F
        x = ag.tensor([[0.5, -1.0, 2.0]], name="x")
        w = ag.tensor([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], requires_grad=True, name="w")
        t = ag.tensor([[0.0, 1.0]], name="t")
        print(ag.viz.draw_graph(F.squared_error((x @ w).sigmoid(), t)).source, end="")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, encoding="utf-8").stdout
    assert out == ag.viz.draw_graph(sigmoid_net()).source


# ----------------------------------------------------------------------------- import and lookup
def test_core_imports_without_graphviz():
    code = textwrap.dedent("""
        import sys
        sys.modules["graphviz"] = None  # as if it were not installed
        import autograd as ag
        x = ag.tensor([1.0], requires_grad=True)
        (x * 2).sum().backward()
        try:
            ag.viz.draw_graph(x)
        except ImportError as e:
            print(e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert 'pip install "readable-autograd[viz]"' in out


def _fake_renderer(tmp_path: Path, body: str, name: str = "fake-dot") -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


FAKE_SVG = ('import sys; sys.stdin.read(); sys.stdout.write(\'<svg xmlns='
            '"http://www.w3.org/2000/svg"><g class="node"><text>fake</text></g></svg>\')\n')


@pytest.mark.skipif(sys.platform == "win32", reason="shebang scripts")
def test_named_renderer_is_used(tmp_path, monkeypatch):
    fake = _fake_renderer(tmp_path, FAKE_SVG)
    assert viz_render.find_renderer(str(fake)) == str(fake)
    out = ag.viz.save_svg(sigmoid_net(), tmp_path / "a" / "g.svg", renderer=str(fake))
    assert out == tmp_path / "a" / "g.svg" and "fake" in out.read_text()
    monkeypatch.setenv("AG_VIZ_RENDERER", str(fake))
    assert viz_render.find_renderer() == str(fake)
    assert "fake" in ag.viz.draw_graph(sigmoid_net()).svg()
    # a name on PATH works too
    monkeypatch.setenv("PATH", str(tmp_path))
    assert viz_render.find_renderer("fake-dot") == str(fake)


def test_missing_renderer_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("AG_VIZ_RENDERER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(viz_render, "_scripts_dirs", lambda: [str(tmp_path)])
    with pytest.raises(viz_render.RendererNotFoundError) as info:
        viz_render.find_renderer()
    msg = str(info.value)
    assert 'pip install "readable-autograd[viz]"' in msg and "Graphviz" in msg
    assert "graphviz-pure" in msg and "\n" not in info.value.short
    with pytest.raises(viz_render.RendererNotFoundError, match="no-such-dot"):
        viz_render.find_renderer("no-such-dot")
    with pytest.raises(viz_render.RendererNotFoundError):
        ag.viz.save_svg(sigmoid_net(), tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


def test_missing_renderer_in_jupyter_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("AG_VIZ_RENDERER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(viz_render, "_scripts_dirs", lambda: [])
    g = ag.viz.draw_graph(sigmoid_net())
    bundle = g._repr_mimebundle_()
    assert list(bundle) == ["text/plain"]
    text = bundle["text/plain"]
    assert "\n" not in text and "readable-autograd[viz]" in text and "Traceback" not in text
    assert g._repr_svg_() is None


@pytest.mark.skipif(sys.platform == "win32", reason="shebang scripts")
def test_failing_renderer_raises_render_error_and_jupyter_shows_one_line(tmp_path):
    bad = _fake_renderer(tmp_path, "import sys; sys.stderr.write('boom'); sys.exit(3)\n")
    g = ag.viz.draw_graph(sigmoid_net(), renderer=str(bad))
    with pytest.raises(viz_render.RenderError, match="boom"):
        g.svg()
    text = g._repr_mimebundle_()["text/plain"]
    assert "\n" not in text and "boom" in text


def test_pure_renderer_found_in_the_interpreters_scripts_folder(tmp_path, monkeypatch):
    """An unactivated virtual environment: graphviz-pure is not on PATH but beside python."""
    scripts = [d for d in viz_render._scripts_dirs()
               if viz_render.shutil.which("graphviz-pure", path=d)]
    if not scripts:
        if os.environ.get("AG_REQUIRE_RENDERER"):
            pytest.fail("graphviz-pure is not installed in this interpreter's scripts folder")
        pytest.skip("graphviz-pure is not installed in this interpreter's scripts folder")
    monkeypatch.delenv("AG_VIZ_RENDERER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = viz_render.find_renderer()
    assert Path(found).name.startswith("graphviz-pure")
    assert "<svg" in ag.viz.draw_graph(sigmoid_net()).svg()


# ----------------------------------------------------------------------------- rendered SVG
def test_svg_parses_with_one_group_per_node(renderer, tmp_path):
    loss = sigmoid_net()
    g = ag.viz.draw_graph(loss)
    path = ag.viz.save_svg(loss, tmp_path / "out" / "graph.svg")
    assert path == tmp_path / "out" / "graph.svg" and path.exists()
    root = svg_root(path.read_text(encoding="utf-8"))
    assert len(svg_node_groups(root)) == len(node_ids(g.source)) == 10
    text = svg_text(root)
    for needle in ("matmul", "sigmoid", "squared_error", "(3, 2) float32", "(1, 2) float32",
                   "0.2227", "[[ 0.1, -0.2],", "σ' = p(1−p)", "w", "legend"):
        assert needle in text, needle


def test_svg_of_modules_and_collapsed_view(renderer):
    loss, model = mlp_module()
    for kwargs in ({}, {"collapse_modules": True}, {"grad_flow": True}):
        g = ag.viz.draw_graph(loss, params=model, **kwargs)
        root = svg_root(g.svg())
        assert len(svg_node_groups(root)) == len(node_ids(g.source))
        clusters = [e for e in root.iter(SVG_NS + "g") if e.get("class") == "cluster"]
        assert len(clusters) == (1 if kwargs.get("collapse_modules") else 4)
        assert "MLP" in svg_text(root)


def test_svg_flow_view_flags_saturation_and_nan(renderer):
    x = ag.tensor([[30.0, np.nan]])
    w = ag.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True, name="w")
    u = ag.tensor([[30.0]])
    v = ag.tensor([[1.0]], requires_grad=True, name="v")
    loss = F.squared_error((u @ v).sigmoid(), ag.tensor([[0.0]])) + (x @ w).sum()
    root = svg_root(ag.viz.draw_graph(loss, grad_flow=True).svg())
    text = svg_text(root)
    assert "saturated: max p(1−p) = 0.0e+00" in text
    assert "NaN in grad" in text and "NaN in value" in text
    fills = {e.get("fill") for e in root.iter() if e.get("fill")}
    strokes = {e.get("stroke") for e in root.iter() if e.get("stroke")}
    assert "#ff8787" in fills and "#e03131" in strokes and "#f76707" in strokes


def test_jupyter_repr_renders_svg(renderer):
    g = ag.viz.draw_graph(softmax3())
    bundle = g._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    svg_root(bundle["image/svg+xml"])
    assert "<svg" in g._repr_svg_()
    assert g._repr_mimebundle_(include=[]) == {}
    assert g._repr_mimebundle_(exclude=["image/svg+xml"]) == {}
    assert isinstance(g.pipe(format="svg"), bytes)
    copy = g.copy()
    assert copy.program == g.program and copy.source == g.source


def test_save_svg_of_a_picture(renderer, tmp_path):
    g = ag.viz.draw_graph(softmax3(), grad_flow=True)
    out = ag.viz.save_svg(g, tmp_path / "p.svg")
    assert len(svg_node_groups(svg_root(out.read_text(encoding="utf-8")))) == len(
        node_ids(g.source))
    with pytest.raises(TypeError):
        ag.viz.save_svg(g, tmp_path / "q.svg", grad_flow=True)


def test_example_writes_both_pictures(renderer, tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "visualize_graph.py"), "--out", str(tmp_path),
         "--steps", "20"], capture_output=True, text=True, timeout=300, encoding="utf-8")
    assert done.returncode == 0, done.stderr
    for name in ("graph.svg", "graph_flow.svg"):
        path = tmp_path / name
        assert str(path) in done.stdout
        root = svg_root(path.read_text(encoding="utf-8"))
        assert "fc1.weight" in svg_text(root)


def test_a_tensor_shared_by_two_outputs_is_drawn_once_after_backward():
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    h = x.tanh()
    h.name = "h"
    l1, l2 = h.sum(), (h * 3.0).sum()
    before = ag.viz.draw_graph([l1, l2]).source
    l1.backward()  # releases l1's graph; l2's still holds h itself
    for src in (before, ag.viz.draw_graph([l1, l2]).source):
        assert src.count("<b>tanh</b>") == 1
        assert src.count("<b>h</b>") == 1


def test_labels_from_user_text_are_escaped_and_always_render(renderer, tmp_path):
    """Module scopes, cluster labels and tensor names are the user's text: markup in them stays
    text (no injected nodes or links), and control characters or a trailing backslash neither
    break the rendering nor vanish."""
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x\x07bell\nline\\")
    evil = '<b>hi</b>><a href="javascript:alert(1)">click</a>'
    with name_scope(evil), name_scope("back\\"):
        y = (x * 2.0).sum()
    y.name = 'y"quote<>&'
    plain = (ag.tensor([1.0, 2.0], requires_grad=True) * 2.0).sum()
    svg = ag.viz.save_svg(y, tmp_path / "evil.svg", renderer=renderer).read_text()
    clean = ag.viz.save_svg(plain, tmp_path / "plain.svg", renderer=renderer).read_text()
    assert "<a " not in svg.replace('<a xlink:title', '') and 'href="javascript' not in svg
    assert svg.count('class="node"') == clean.count('class="node"')  # nothing injected
    assert r"x\x07bell\nline" in svg  # written out, visibly
    m = nn.ModuleDict({"key\\": nn.Linear(2, 2)})
    out = m["key\\"](ag.ones(1, 2)).sum()
    assert "key\\" in ag.viz.save_svg(out, tmp_path / "dict.svg", params=m,
                                      renderer=renderer).read_text()
