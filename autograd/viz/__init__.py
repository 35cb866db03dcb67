"""Pictures of the computation graph (``autograd.viz``).

``draw_graph(loss)`` returns a ``graphviz.Digraph`` (a :class:`GraphPicture`) of the graph that
produced ``loss``: one node per tensor and per op, edges in the direction data flows, modules
as clusters; ``save_svg(loss, "graph.svg")`` writes it as SVG. In Jupyter the returned picture
displays inline.

Rendering needs a Graphviz renderer: system Graphviz's ``dot``, or the pip-installable
``graphviz-pure`` that ``pip install "readable-autograd[viz]"`` brings along (found even in a
virtual environment that is not activated), or one named with ``renderer=`` or the
``AG_VIZ_RENDERER`` environment variable (see :mod:`autograd.viz.render`).

The ``graphviz`` Python package is imported only when a picture is made, so ``import autograd``
works without it.
"""
from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable, Mapping, Sequence

from ..tensor import Tensor
from .render import RENDERER_ENV, RenderError, RendererNotFoundError, find_renderer

if TYPE_CHECKING:  # pragma: no cover
    from ._picture import GraphPicture

__all__ = [
    "draw_graph",
    "save_svg",
    "find_renderer",
    "RendererNotFoundError",
    "RenderError",
    "RENDERER_ENV",
]

ParamsArg = Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | Any | None


def _import_graphviz() -> None:
    try:
        import graphviz  # noqa: F401
    except ImportError as e:
        raise ImportError(
            'autograd.viz needs the graphviz Python package: pip install "readable-autograd[viz]"'
        ) from e


def __getattr__(name: str) -> Any:
    if name == "GraphPicture":  # imported on first use: it needs the graphviz package
        _import_graphviz()
        from ._picture import GraphPicture

        return GraphPicture
    raise AttributeError(f"module 'autograd.viz' has no attribute {name!r}")


def _roots(tensor: Tensor | Sequence[Tensor]) -> list:
    if isinstance(tensor, Tensor):
        return [tensor]
    try:
        roots = list(tensor)
    except TypeError:
        roots = None
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError(
            f"draw_graph expects a Tensor or a non-empty sequence of Tensors, not "
            f"{type(tensor).__name__}"
        )
    unique: list = []
    seen: set = set()
    for t in roots:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    return unique


def draw_graph(
    tensor: Tensor | Sequence[Tensor],
    *,
    params: ParamsArg = None,
    grad_flow: bool = False,
    show_values: bool = True,
    max_values: int = 16,
    show_rules: bool = True,
    clusters: bool = True,
    collapse_modules: bool | int = False,
    max_nodes: int | None = 300,
    legend: bool = True,
    rankdir: str = "TB",
    vanishing: float = 1e-6,
    exploding: float = 1e3,
    saturation: float = 1e-3,
    renderer: str | None = None,
) -> GraphPicture:
    """Draw the graph that produced ``tensor`` (or several tensors) as a ``graphviz.Digraph``.

    One node per tensor (rounded box) and per op (ellipse); edges follow the data, from inputs
    to the op to its result; an op with several inputs numbers its incoming edges by argument
    position. A tensor node shows its label (its ``.name``, else its name in ``params``), shape
    and dtype, and, when it has at most ``max_values`` elements, its values and its gradient
    (else the gradient's norm). Hovering over a tensor shows a tooltip with the statistics of
    its values and of its gradient (min, max, mean, norm, NaN and Inf counts) and their first
    values, whatever its size. An op node shows the op's name and the backward rule it applies
    (``σ' = p(1−p)``, ``tanh' = 1 − y²``, ``J = diag(p) − p·p^T``, ...: the op's ``shows=``).
    Colours tell apart outputs, parameters, leaves that require grad, constants and
    intermediate results (see the legend). A NaN or Inf in a value is flagged in red.

    **Gradients** drawn are always those of the drawn output (of the sum of its elements when
    it has several) with respect to the tensor drawn. While the graph is intact (before
    ``backward()``, or after ``backward(retain_graph=True)``) the picture computes them itself,
    with ``autograd.engine.grad(..., retain_graph=True)``, for every tensor that requires grad,
    and reads or changes no ``.grad``: a gradient left in ``.grad`` by an earlier ``backward()``
    (a training step) is not shown. After a plain ``backward()`` the graph is freed and nothing
    can be recomputed: the picture then shows the ``.grad`` values that exist (leaves and
    ``retain_grad()`` tensors), marked "(stored)", and its legend says that they are whatever
    ``backward()`` accumulated since they were last reset.

    Text fits its box in DejaVu Sans, Liberation Sans, Arial and Helvetica (whichever a reader's
    system draws Helvetica with): every line is measured with the widest of their character
    widths and starts at the left of its cell (see ``autograd.viz._text``).

    Args:
        tensor: the output (e.g. a loss), or a sequence of outputs.
        params: names for parameters: a mapping name→tensor, an iterable of (name, tensor)
            pairs, or an ``nn.Module`` (its ``named_parameters()``). Named tensors are drawn as
            parameters (as is any ``nn.Parameter``).
        grad_flow: the gradient-flow view. Each tensor is filled by the norm of its gradient on
            a log scale (one shade per decade), and trouble is flagged: NaN/Inf gradients in red;
            vanishing (norm below ``vanishing``), zero, or exploding (norm at least
            ``exploding``) gradients, a sigmoid/tanh/softmax whose local derivative
            (``p(1−p)``, ``1 − y²``) is below ``saturation`` everywhere, and a ReLU that passes
            no gradient, in orange. The gradients are those described above: **draw before
            ``backward()``, or after ``loss.backward(retain_graph=True)``, to see every
            tensor's**; after a plain ``backward()`` only stored ``.grad`` values are left.
        show_values: print values and gradients of small tensors.
        max_values: the most elements a tensor may have for its values and gradient to be
            printed (the size limit).
        show_rules: print backward rules under op names.
        clusters: group ops made inside an ``nn.Module`` (``Node.scope``) in a box named by the
            module path, e.g. ``MLP/fc1``.
        collapse_modules: draw each module as one node (listing its ops and parameters) instead
            of its ops: ``True`` collapses the innermost modules, an int ``k`` the modules ``k``
            levels down (``1``: each top-level module; ``0`` is the same as False).
        max_nodes: the most nodes to draw (None: no limit). A bigger graph is cut to the nodes
            nearest the output, and one "… N more nodes" node stands for the rest.
        legend: add a legend node.
        rankdir: Graphviz's layout direction (``"TB"``: top to bottom, ``"LR"``: left to right).
        vanishing: the gradient-flow view flags a gradient whose norm is below this.
        exploding: the gradient-flow view flags a gradient whose norm is at least this.
        saturation: the gradient-flow view flags an activation whose local derivative is below
            this everywhere.
        renderer: the Graphviz renderer for displaying and saving (a command or a path); None
            looks one up (see :func:`find_renderer`).

    Returns:
        A :class:`GraphPicture` (a ``graphviz.Digraph`` subclass): ``.source`` is the DOT text,
        which is the same for the same program (node ids come from a counter); ``.svg()`` and
        ``.save_svg(path)`` render it; in Jupyter it displays inline as SVG. ``.flags`` lists
        ``(node id, message)`` for every flag drawn.

    The traversal is iterative: a 100,000-op chain is drawn (cut to ``max_nodes``) without
    recursion.
    """
    _import_graphviz()
    from . import _dot, _graph

    roots = _roots(tensor)
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1 (or None), not {max_nodes}")
    if not isinstance(collapse_modules, bool) and int(collapse_modules) < 0:
        raise ValueError(f"collapse_modules must be True, False or a depth >= 1, not "
                         f"{collapse_modules!r}")
    if max_values < 0:
        raise ValueError(f"max_values must be >= 0, not {max_values}")
    names = _graph.param_names(params)
    model = _graph.build(roots, names, collapse=collapse_modules, clusters=clusters,
                         max_nodes=max_nodes)
    opts = _dot.Options(
        show_values=show_values, max_values=max_values, show_rules=show_rules,
        grad_flow=grad_flow, legend=legend, rankdir=rankdir, vanishing=vanishing,
        exploding=exploding, saturation=saturation, renderer=renderer,
    )
    return _dot.to_picture(model, opts)


def save_svg(
    tensor: Tensor | Sequence[Tensor] | GraphPicture,
    path: str | os.PathLike[str],
    *,
    renderer: str | None = None,
    **options: Any,
) -> pathlib.Path:
    """Draw the graph of ``tensor`` (see :func:`draw_graph`, which takes the same keyword
    ``options``) and write it as SVG to ``path``, creating the folder. Returns the path.

    ``tensor`` may also be a picture returned by :func:`draw_graph`. ``renderer`` names the
    Graphviz renderer (a command or path); by default ``dot`` on PATH is used, else the
    pip-installed ``graphviz-pure`` (see :func:`find_renderer`). Raises
    :class:`RendererNotFoundError`, saying what to install, when there is none.
    """
    _import_graphviz()
    from ._picture import GraphPicture

    if isinstance(tensor, GraphPicture):
        if options:
            raise TypeError("save_svg: drawing options apply to a tensor, not to a picture")
        picture = tensor
        if renderer is not None:
            picture = picture.copy()
            picture.program = renderer
    else:
        picture = draw_graph(tensor, renderer=renderer, **options)
    return picture.save_svg(path)
