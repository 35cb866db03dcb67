"""``GraphPicture``: a ``graphviz.Digraph`` that renders through ``autograd.viz.render``.

This module imports the ``graphviz`` package, so ``autograd.viz`` imports it only when a
picture is made.
"""
from __future__ import annotations

import os
import pathlib
from typing import Any, Union
from collections.abc import Iterable

import graphviz

from . import render as _render

PathLike = Union[str, "os.PathLike[str]"]


class GraphPicture(graphviz.Digraph):
    """The graph of a computation, as ``graphviz.Digraph`` DOT source.

    Everything ``graphviz.Digraph`` offers works (``.source``, ``.node()``, ``.edge()``, ...);
    in addition, rendering goes through the renderer lookup of :mod:`autograd.viz.render`
    (system ``dot``, or the pip-installed ``graphviz-pure``, or ``program``), so it works without
    system Graphviz:

    * :meth:`svg` returns the SVG text and :meth:`save_svg` writes it to a file;
    * :meth:`pipe` renders any format the renderer supports;
    * in Jupyter the picture displays inline as SVG; when it cannot be rendered the notebook
      shows a one-line message instead of a traceback.

    ``program`` is the renderer to use (a command name or path; None: look it up). ``flags``
    lists ``(node id, message)`` for every warning drawn (NaN, saturation, ...).
    """

    def __init__(self, *, program: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.program = program
        self.flags: list = []

    def _copy_kwargs(self, **kwargs: Any) -> dict:
        return super()._copy_kwargs(program=self.program, **kwargs)

    # ------------------------------------------------------------------ rendering
    def pipe(
        self,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: Any = None,
        quiet: bool = False,
        *,
        engine: str | None = None,
        encoding: str | None = None,
    ) -> bytes | str:
        """The picture rendered in ``format`` (default: ``self.format``) by our renderer; a
        string when ``encoding`` is given, else bytes. Same signature as ``graphviz.Digraph``'s
        ``pipe`` (``renderer``/``formatter`` are Graphviz's output plugins, as there)."""
        fmt = format or self.format
        for extra in (renderer, formatter):
            if extra:
                fmt = f"{fmt}:{extra}"
        data = _render.render(self.source, fmt, renderer=self.program,
                              engine=engine or self.engine)
        return data.decode(encoding) if encoding else data

    def svg(self) -> str:
        """The picture as SVG text."""
        text = self.pipe(format="svg", encoding="utf-8")
        assert isinstance(text, str)  # with an encoding, pipe gives text
        return text

    def save_svg(self, path: PathLike) -> pathlib.Path:
        """Write the picture as SVG to ``path`` (creating its folder) and return the path."""
        out = pathlib.Path(path)
        data = _render.render(self.source, "svg", renderer=self.program, engine=self.engine)
        if out.parent != pathlib.Path(""):
            out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        return out

    # ------------------------------------------------------------------ Jupyter
    def _repr_mimebundle_(
        self,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        **_: Any,
    ) -> dict:
        """Inline SVG for Jupyter, or a one-line ``text/plain`` message when rendering fails."""
        wanted = set(include) if include is not None else {"image/svg+xml"}
        wanted -= set(exclude or ())
        if "image/svg+xml" not in wanted:
            return {}
        try:
            return {"image/svg+xml": self.svg()}
        except Exception as e:  # a notebook shows one line, never a traceback
            return {"text/plain": _one_line(e)}

    def _repr_svg_(self) -> str | None:
        """SVG for displays that ask for ``_repr_svg_``; None (nothing) when rendering fails."""
        try:
            return self.svg()
        except Exception:
            return None

    def _repr_image_svg_xml(self) -> str:
        return self.svg()


def _one_line(e: Exception) -> str:
    short = getattr(e, "short", None)
    if short:
        return short
    text = str(e).strip().splitlines()
    msg = text[0] if text else type(e).__name__
    return msg if msg.startswith("autograd.viz") else f"autograd.viz: cannot draw the graph: {msg}"
