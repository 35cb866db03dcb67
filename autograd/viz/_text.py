"""Text that fits its box in whatever font the reader's system draws it with.

Graphviz sizes a node from its own estimate of each line's width: Helvetica's widths, and the
width of a space for any character outside ASCII. The SVG names Helvetica (and Courier), and a
reader's system draws it with what it has: often DejaVu Sans (the usual fallback on Linux,
about 15 % wider than Helvetica), or Liberation Sans, Arial or Helvetica itself. So text placed
by Graphviz's estimate runs over its box in some of them.

Here every cell of a label states its own minimum width, measured with ``_fontdata``: for each
character the widest advance among DejaVu Sans and Liberation Sans (whose widths are those of
Arial and Helvetica), so a line fits in any of them. Graphviz places centred text by its own
estimate, so text starts at its cell's left edge instead (``align``/``balign="left"``), which
puts it exactly where its measured width was reserved. ``_fontdata`` lists only characters
every one of those fonts has; a character outside it is measured as the widest one, and
:func:`missing_glyphs` names it, for the tests that keep the pictures' own text within the list.
"""
from __future__ import annotations

import html
import math
from typing import NamedTuple

from ._fontdata import MONO, WIDTHS

#: The width of a character outside the table: the widest character in it.
_WIDEST = max(max(w) for w in WIDTHS.values())

#: The faces the labels name (the graph's default font is SANS).
SANS = "Helvetica"
MONOSPACE = "Courier"

#: Points added to every measured width: rounding of the renderer's coordinates, and ink past
#: the last advance width (a slanted last letter gets ``ITALIC_OVERHANG`` ems more).
SLACK = 2.0
ITALIC_OVERHANG = 0.15


def missing_glyphs(text: str) -> str:
    """The characters of ``text`` that one of the measured fonts lacks (empty when none)."""
    return "".join(sorted({ch for ch in text if ord(ch) not in WIDTHS}))


def width(text: str, size: float, *, bold: bool = False, mono: bool = False) -> float:
    """The width of ``text`` at ``size`` points: the widest of the measured fonts'."""
    if mono:
        ems = sum(MONO if " " <= ch <= "~" else _WIDEST for ch in text) / 1000
    else:
        k = 1 if bold else 0
        ems = sum(WIDTHS[ord(ch)][k] if ord(ch) in WIDTHS else _WIDEST for ch in text) / 1000
    return ems * size


def printable(text: str) -> str:
    """``text`` with control characters (and any other unprintable ones) written out as Python
    escapes, so a name like ``"a\\nb"`` shows as ``a\\nb``: SVG cannot hold them, and a name is
    never layout."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class Line(NamedTuple):
    """One line of a label, in one font."""

    text: str
    size: float = 10
    bold: bool = False
    italic: bool = False
    mono: bool = False
    colour: str | None = None

    def width(self) -> float:
        w = width(printable(self.text), self.size, bold=self.bold, mono=self.mono)
        return w + (ITALIC_OVERHANG * self.size if self.italic else 0.0)

    def markup(self) -> str:
        text = printable(self.text)
        stripped = text.lstrip(" ")
        # Graphviz drops leading spaces of a line; non-breaking ones keep value columns aligned.
        body = "&#160;" * (len(text) - len(stripped)) + html.escape(stripped, quote=False)
        if self.bold:
            body = f"<b>{body}</b>"
        if self.italic:
            body = f"<i>{body}</i>"
        attrs = f' point-size="{self.size:g}"'
        if self.mono:
            attrs = f' face="{MONOSPACE}"' + attrs
        if self.colour:
            attrs += f' color="{self.colour}"'
        return f"<font{attrs}>{body}</font>"


def cell_width(lines: list, padding: float = 1, border: float = 0) -> int:
    """The width in points to reserve for a cell holding ``lines`` (Graphviz counts a cell's
    padding and border in its width)."""
    text = max((ln.width() for ln in lines), default=0.0)
    return math.ceil(text + 2 * (padding + border) + SLACK)


class Cell(NamedTuple):
    """A table cell of left-aligned ``lines``; ``padding`` must be the cell padding its table
    gives it. ``width`` is what it needs, so that its lines fit in any of the fonts."""

    lines: list
    bgcolor: str | None = None
    border: int | None = None
    padding: float = 1
    min_width: int = 0

    @property
    def width(self) -> int:
        return max(cell_width(self.lines, self.padding, self.border or 0), self.min_width)

    def markup(self, width: int = 0) -> str:
        attrs = f' align="left" balign="left" width="{max(width, self.width)}"'
        if self.bgcolor:
            attrs += f' bgcolor="{self.bgcolor}"'
        if self.border is not None:
            attrs += f' border="{self.border}"'
        return f"<td{attrs}>" + "<br/>".join(ln.markup() for ln in self.lines) + "</td>"


def cell(lines: list, *, bgcolor: str | None = None, border: int | None = None,
         padding: float = 1, min_width: int = 0) -> Cell:
    """A cell of left-aligned ``lines`` (see :class:`Cell`)."""
    return Cell(lines, bgcolor, border, padding, min_width)


def table(rows: list, *, cellspacing: int = 0, cellpadding: int = 1) -> str:
    """An HTML-like label with one cell per row: :class:`Cell` objects, all given the width of
    the widest (so backgrounds span the table, whatever the renderer does with narrower cells),
    or ready ``<td>`` markup."""
    width = max((r.width for r in rows if isinstance(r, Cell)), default=0)
    body = "".join(f"<tr>{r.markup(width) if isinstance(r, Cell) else r}</tr>" for r in rows)
    return (f'<<table border="0" cellborder="0" cellspacing="{cellspacing}" '
            f'cellpadding="{cellpadding}">{body}</table>>')
