"""The examples' pictures: the README's are what their command makes, byte for byte, and every
gradient drawn is the gradient of the tensor drawn.

The README's pictures (``examples/pictures/*.svg``) are made by

    python examples/visualize_graph.py --out examples/pictures --renderer graphviz-pure

with the ``graphviz-pure`` version pinned in pyproject.toml's ``viz`` extra. The test below runs
that command into a temporary folder and compares. It needs exactly that renderer: elsewhere it
is skipped, unless AG_REQUIRE_RENDERER is set (CI), where it fails instead.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import autograd as ag
from autograd import nn
from autograd.viz import render as viz_render

if os.environ.get("AG_REQUIRE_RENDERER"):
    import graphviz  # noqa: F401
else:
    pytest.importorskip("graphviz")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PICTURES = EXAMPLES / "pictures"
SVG = "{http://www.w3.org/2000/svg}"
COMMAND = "python examples/visualize_graph.py --out examples/pictures --renderer graphviz-pure"


def _unavailable(reason: str) -> None:
    if os.environ.get("AG_REQUIRE_RENDERER"):
        pytest.fail(reason)
    pytest.skip(reason)


def pinned_pure_version() -> str:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for req in extras["project"]["optional-dependencies"]["viz"]:
        m = re.fullmatch(r"graphviz-pure==([\w.]+)", req.replace(" ", ""))
        if m:
            return m.group(1)
    raise AssertionError("pyproject.toml's viz extra must pin graphviz-pure==X.Y.Z: the README's "
                         "pictures are compared byte for byte with what that version renders")


@pytest.fixture(scope="module")
def pure() -> str:
    """The path of the pinned graphviz-pure."""
    try:
        path = viz_render.find_renderer("graphviz-pure")
    except viz_render.RendererNotFoundError:
        _unavailable("graphviz-pure is not installed (pip install -e '.[viz]')")
    out = subprocess.run([path, "-V"], capture_output=True, text=True, check=False)
    found = re.search(r"version (\d+\.\d+\.\d+)", out.stdout + out.stderr)
    want = pinned_pure_version()
    if not found or found.group(1) != want:
        _unavailable(f"graphviz-pure {want} is pinned, {path} is "
                     f"{found.group(1) if found else 'of unknown version'}")
    return path


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]]
                                                       if env.get("PYTHONPATH") else []))
    env["PYTHONIOENCODING"] = "utf-8"
    return env


# ----------------------------------------------------------------------------- README pictures
def test_readme_pictures_are_what_the_command_makes(pure, tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "visualize_graph.py"), "--out", str(tmp_path),
         "--renderer", pure], cwd=ROOT, env=_env(), capture_output=True, text=True,
        encoding="utf-8", timeout=300)
    assert done.returncode == 0, done.stderr
    stale = [name for name in ("graph.svg", "graph_flow.svg")
             if (tmp_path / name).read_bytes() != (PICTURES / name).read_bytes()]
    assert not stale, (f"examples/pictures/{', '.join(stale)} differ from what `{COMMAND}` makes: "
                       "run it, look at the pictures, and commit them")
    assert sorted(p.name for p in PICTURES.iterdir()) == ["graph.svg", "graph_flow.svg"]


# ----------------------------------------------------------------------------- gradients drawn
def _node_texts(svg: str) -> dict:
    """{first text of a node: all its texts, in order} for the SVG's tensor nodes."""
    out = {}
    for g in ET.fromstring(svg).iter(SVG + "g"):
        if g.get("class") == "node":
            texts = ["".join(t.itertext()).replace("\xa0", " ") for t in g.iter(SVG + "text")]
            if texts:
                out[texts[0]] = texts
    return out


def _numbers(lines: list) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r"-?\d+\.\d*(?:e[-+]\d+)?", " ".join(lines))])


def _grad_lines(texts: list) -> list:
    k = next(i for i, t in enumerate(texts) if "grad" in t)
    return texts[k:]


def test_visualize_example_draws_the_gradient_of_E_not_the_last_training_step(tmp_path):
    """Training leaves the last step's gradient in every parameter's .grad; both pictures show
    the gradient of the drawn loss E instead (checked against ag.grad)."""
    try:
        viz_render.find_renderer()
    except viz_render.RendererNotFoundError:
        _unavailable("no Graphviz renderer")
    ex = _example("visualize_graph")
    ag.manual_seed(0)
    model = ex.MLP().double()
    ex.train(model, 20, 0.05, 0)
    leftover = model.fc2.weight.grad.numpy().copy()
    loss = ex.corner_loss(model)
    plain, flow = ex.save_pictures(loss, model, tmp_path)
    (want,) = ag.grad(loss, [model.fc2.weight], retain_graph=True)
    want = want.numpy().ravel()
    assert np.abs(want - leftover.ravel()).max() > 1e-3 * np.abs(want).max()  # they differ

    texts = _node_texts(plain.read_text(encoding="utf-8"))["fc2.weight"]
    head, *values = _grad_lines(texts)
    assert head == "grad"
    np.testing.assert_allclose(_numbers(values), want, rtol=2e-3)
    flow_texts = _node_texts(flow.read_text(encoding="utf-8"))["fc2.weight"]
    norm = float(_numbers(_grad_lines(flow_texts)[:1])[0])
    assert norm == pytest.approx(np.linalg.norm(want), rel=5e-3)
    np.testing.assert_array_equal(model.fc2.weight.grad.numpy(), leftover)  # .grad untouched


def test_digits_example_draws_the_gradient_of_its_loss_and_names_it(tmp_path):
    pytest.importorskip("sklearn")
    try:
        viz_render.find_renderer()
    except viz_render.RendererNotFoundError:
        _unavailable("no Graphviz renderer")
    ex = _example("train_digits")
    ag.manual_seed(0)
    model = ex.MLP()
    x_train, x_test, y_train, y_test = ex.load_data(0)
    for p in model.parameters():  # what a training step would leave behind
        p.grad = ag.full(p.shape, 7.0)
    msg = ex.save_graph_svg(model, x_test, y_test, tmp_path / "g.svg")
    assert msg.startswith("graph picture:"), msg
    nodes = _node_texts((tmp_path / "g.svg").read_text(encoding="utf-8"))
    assert {"images", "loss"} <= set(nodes)

    model.eval()
    loss = nn.CrossEntropyLoss()(model(ag.tensor(x_test[:2])), y_test[:2])
    grads = ag.grad(loss, list(model.parameters()))
    for (name, p), g in zip(model.named_parameters(), grads, strict=True):
        head, *values = _grad_lines(nodes[name])
        if head == "grad":  # small enough for its values to be printed (fc3.bias)
            np.testing.assert_allclose(_numbers(values), g.numpy().ravel(), rtol=2e-3,
                                       atol=1e-6, err_msg=name)
        else:
            shown = float(head.split("=")[1])
            assert shown == pytest.approx(np.linalg.norm(g.numpy()), rel=5e-3), name
        assert p.grad.numpy().max() == 7.0  # untouched
