"""Finding a Graphviz renderer and running it (``autograd.viz.render``).

A renderer is a program with Graphviz's ``dot`` command line: it reads DOT text on stdin and
writes the picture, e.g. SVG, for ``-Tsvg``. Two kinds work:

* system Graphviz's ``dot`` (https://graphviz.org/download/), found on ``PATH``;
* ``graphviz-pure``, a pure-Rust port of Graphviz published as a wheel, so that
  ``pip install "readable-autograd[viz]"`` alone makes pictures work on a fresh machine. pip puts
  its ``graphviz-pure`` command in the interpreter's scripts folder, which is not on ``PATH``
  when a virtual environment is used without activating it, so that folder is searched too.

The lookup order is: the ``renderer=`` argument, then the ``AG_VIZ_RENDERER`` environment
variable (each a command name or a path), then ``dot`` on ``PATH``, then ``graphviz-pure`` on
``PATH``, then ``graphviz-pure`` in the running interpreter's scripts folders. Nothing here
imports the ``graphviz`` Python package.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig

__all__ = [
    "RENDERER_ENV",
    "INSTALL_HINT",
    "RendererNotFoundError",
    "RenderError",
    "find_renderer",
    "render",
]

#: The environment variable that names a renderer (a command on PATH, or a path to one).
RENDERER_ENV = "AG_VIZ_RENDERER"

#: What to install to get pictures.
INSTALL_HINT = (
    'pip install "readable-autograd[viz]" (it provides the graphviz-pure renderer), '
    "or install system Graphviz (the `dot` command: https://graphviz.org/download/)"
)

_PURE = "graphviz-pure"


class RendererNotFoundError(RuntimeError):
    """No Graphviz renderer could be found. ``short`` is a one-line version of the message."""

    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short


class RenderError(RuntimeError):
    """The renderer ran but failed (its exit status and error output are in the message)."""


def _scripts_dirs() -> list[str]:
    """Folders where pip may have put the ``graphviz-pure`` command for this interpreter."""
    dirs: list[str] = []
    candidates = [sysconfig.get_path("scripts")]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        candidates.append(sysconfig.get_path("scripts", user_scheme))
    if sys.executable:
        candidates.append(os.path.dirname(sys.executable))
    for d in candidates:
        if d and d not in dirs:
            dirs.append(d)
    return dirs


def _which(name: str) -> str | None:
    """``name`` as a path to an executable: itself if it is one, else on PATH, else in the
    interpreter's scripts folders."""
    if os.path.dirname(name):
        expanded = os.path.expanduser(name)
        if os.path.isfile(expanded) and os.access(expanded, os.X_OK):
            return os.path.abspath(expanded)
        return None
    found = shutil.which(name)
    if found:
        return found
    for d in _scripts_dirs():
        found = shutil.which(name, path=d)
        if found:
            return found
    return None


def find_renderer(renderer: str | None = None) -> str:
    """The path of the Graphviz renderer to use.

    ``renderer`` (or else the ``AG_VIZ_RENDERER`` environment variable) names one explicitly,
    as a command name (``"dot"``, ``"graphviz-pure"``) or a path. Otherwise ``dot`` on PATH is
    used, else ``graphviz-pure`` on PATH or in this interpreter's scripts folder.

    Raises :class:`RendererNotFoundError`, saying what to install, when none is found.
    """
    named, source = renderer, "renderer="
    if not named:
        named, source = os.environ.get(RENDERER_ENV) or None, f"${RENDERER_ENV}"
    if named:
        path = _which(named)
        if path is None:
            short = f"autograd.viz: the renderer {named!r} (from {source}) was not found"
            raise RendererNotFoundError(
                f"{short}. Give a command on PATH or a path to Graphviz's `dot` or to "
                f"`graphviz-pure`; to get one: {INSTALL_HINT}.",
                short,
            )
        return path
    for name in ("dot", _PURE):
        path = _which(name)
        if path is not None:
            return path
    short = (
        'autograd.viz: no Graphviz renderer found; pip install "readable-autograd[viz]" '
        "or install system Graphviz (dot)"
    )
    raise RendererNotFoundError(
        "No Graphviz renderer was found to draw the graph. To fix this, "
        f"{INSTALL_HINT}. Searched for `dot` and `{_PURE}` on PATH and for `{_PURE}` in "
        f"{os.pathsep.join(_scripts_dirs())}; a renderer can also be named with renderer=... "
        f"or the {RENDERER_ENV} environment variable.",
        short,
    )


def render(
    source: str,
    format: str = "svg",
    renderer: str | None = None,
    engine: str = "dot",
    timeout: float | None = 300.0,
) -> bytes:
    """Run DOT ``source`` through the renderer and return the picture's bytes.

    ``format`` is a Graphviz output format (``"svg"``; ``"png"`` and others where the renderer
    supports them), ``engine`` the layout engine (``-K``). Raises :class:`RendererNotFoundError`
    when no renderer exists and :class:`RenderError` when it fails.
    """
    exe = find_renderer(renderer)
    cmd = [exe, f"-T{format}", f"-K{engine}"]
    try:
        done = subprocess.run(
            cmd, input=source.encode("utf-8"), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise RenderError(f"autograd.viz: {exe} took longer than {timeout} s") from e
    except OSError as e:
        raise RenderError(f"autograd.viz: could not run {exe}: {e}") from e
    if done.returncode != 0 or not done.stdout:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise RenderError(
            f"autograd.viz: {os.path.basename(exe)} failed (exit status {done.returncode}): {err}"
        )
    return done.stdout
