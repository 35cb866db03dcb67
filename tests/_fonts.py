"""Real font metrics for the picture tests: advance widths, glyph bounds and coverage.

The fonts a reader of an SVG picture is likely to get for Helvetica and Courier are DejaVu Sans
and DejaVu Sans Mono (the usual fallback on Linux), and Liberation Sans and Liberation Mono
(metric-compatible with Arial and Helvetica, and with Courier New). matplotlib ships DejaVu, so
those are always here when the ``test`` extra is installed; the Liberation fonts are used where
the system has them (Debian: ``fonts-liberation``, ``fonts-liberation2``).

Measuring uses fontTools: the sum of the glyphs' advance widths (kerning left out: the fonts'
kerning pairs only narrow a line), and the glyphs' ink bounds for the vertical extent.
"""
from __future__ import annotations

import functools
import glob
import os
from dataclasses import dataclass
from pathlib import Path

STYLES = ("regular", "bold", "italic", "bolditalic")

_DEJAVU = {
    ("sans", "regular"): "DejaVuSans.ttf",
    ("sans", "bold"): "DejaVuSans-Bold.ttf",
    ("sans", "italic"): "DejaVuSans-Oblique.ttf",
    ("sans", "bolditalic"): "DejaVuSans-BoldOblique.ttf",
    ("mono", "regular"): "DejaVuSansMono.ttf",
    ("mono", "bold"): "DejaVuSansMono-Bold.ttf",
    ("mono", "italic"): "DejaVuSansMono-Oblique.ttf",
    ("mono", "bolditalic"): "DejaVuSansMono-BoldOblique.ttf",
}
_LIBERATION = {
    ("sans", "regular"): "LiberationSans-Regular.ttf",
    ("sans", "bold"): "LiberationSans-Bold.ttf",
    ("sans", "italic"): "LiberationSans-Italic.ttf",
    ("sans", "bolditalic"): "LiberationSans-BoldItalic.ttf",
    ("mono", "regular"): "LiberationMono-Regular.ttf",
    ("mono", "bold"): "LiberationMono-Bold.ttf",
    ("mono", "italic"): "LiberationMono-Italic.ttf",
    ("mono", "bolditalic"): "LiberationMono-BoldItalic.ttf",
}
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/usr/share/fonts/truetype",
              os.path.expanduser("~/.local/share/fonts"), os.path.expanduser("~/.fonts"),
              "/Library/Fonts", "/System/Library/Fonts")


@dataclass
class Font:
    """One font file: its advance widths and ink bounds per character, in ems."""

    path: str
    family: str  # "DejaVu Sans", "Liberation Sans 1.07.4", ...
    advance: dict  # code point -> advance width (em)
    bounds: dict  # code point -> (xMin, yMin, xMax, yMax) in em, None for an empty glyph

    def covers(self, ch: str) -> bool:
        return ord(ch) in self.advance

    def width(self, text: str, size: float) -> float:
        """The advance width of ``text`` at ``size`` points."""
        return sum(self.advance[ord(ch)] for ch in text) * size

    def inks(self, text: str, size: float) -> list:
        """The ink box ``(x0, x1, y0, y1)`` of each glyph of ``text`` set at ``size`` from pen
        position 0 on the baseline, in points, y down as in SVG (blank glyphs have none)."""
        x, out = 0.0, []
        for ch in text:
            b = self.bounds.get(ord(ch))
            if b is not None:
                out.append((x + b[0] * size, x + b[2] * size, -b[3] * size, -b[1] * size))
            x += self.advance[ord(ch)] * size
        return out


@functools.cache
def load(path: str) -> Font:
    from fontTools.ttLib import TTFont

    f = TTFont(path)
    upm = f["head"].unitsPerEm
    cmap = f.getBestCmap()
    hmtx = f["hmtx"].metrics
    glyf = f["glyf"] if "glyf" in f else None
    advance, bounds = {}, {}
    for cp, gname in cmap.items():
        advance[cp] = hmtx[gname][0] / upm
        g = glyf[gname] if glyf is not None else None
        if g is not None and g.numberOfContours != 0:
            if not hasattr(g, "xMin"):
                g.recalcBounds(glyf)
            bounds[cp] = (g.xMin / upm, g.yMin / upm, g.xMax / upm, g.yMax / upm)
        else:
            bounds[cp] = None
    family = f["name"].getDebugName(1) or Path(path).stem
    version = (f["name"].getDebugName(5) or "").replace("Version ", "").split(";")[0].strip()
    return Font(path, f"{family} {version}".strip(), advance, bounds)


def matplotlib_ttf_dir() -> str | None:
    try:
        import matplotlib
    except ImportError:
        return None
    d = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")
    return d if os.path.isdir(d) else None


def dejavu() -> dict | None:
    """{(kind, style): Font} for DejaVu Sans and DejaVu Sans Mono, from matplotlib."""
    d = matplotlib_ttf_dir()
    if d is None or not all(os.path.exists(os.path.join(d, f)) for f in _DEJAVU.values()):
        return None
    return {key: load(os.path.join(d, name)) for key, name in _DEJAVU.items()}


def liberations() -> list:
    """[{(kind, style): Font}] for every complete Liberation Sans + Mono set on this system
    (Debian has 1.07 in .../liberation and 2.x in .../liberation2)."""
    found: dict = {}
    for root in _FONT_DIRS:
        if not os.path.isdir(root):
            continue
        for path in glob.glob(os.path.join(root, "**", "Liberation*.ttf"), recursive=True):
            found.setdefault(os.path.dirname(path), {})[os.path.basename(path)] = path
    sets = []
    for folder in sorted(found):
        files = found[folder]
        if all(name in files for name in _LIBERATION.values()):
            sets.append({key: load(files[name]) for key, name in _LIBERATION.items()})
    return sets


def style(bold: bool, italic: bool) -> str:
    return {(False, False): "regular", (True, False): "bold", (False, True): "italic",
            (True, True): "bolditalic"}[(bold, italic)]


def fontdata_source(sets: list) -> str:
    """The text of ``autograd/viz/_fontdata.py`` from complete font sets (DejaVu and every
    Liberation version): the characters every font of every set covers in all four styles,
    each with the largest advance width of any of them, in thousandths of an em rounded up,
    for normal (regular, italic) and bold (bold, bold italic) text; and the largest advance of
    any monospace font over printable ASCII."""
    import math

    sans = [s[("sans", st)] for s in sets for st in STYLES]
    mono = [s[("mono", st)] for s in sets for st in STYLES]
    common = set.intersection(*(set(f.advance) for f in sans))
    common = sorted(cp for cp in common if cp >= 0x20 and not 0x7F <= cp < 0xA0)

    def widest(fonts: list, cp: int) -> int:
        return math.ceil(max(f.advance[cp] for f in fonts) * 1000 - 1e-9)

    normal = [s[("sans", st)] for s in sets for st in ("regular", "italic")]
    bold = [s[("sans", st)] for s in sets for st in ("bold", "bolditalic")]
    mono_width = math.ceil(max(f.advance[cp] for f in mono for cp in range(0x20, 0x7F)) * 1000)
    names = sorted({f.family for f in sans} | {f.family for f in mono})
    lines = [
        '"""Advance widths of the characters a picture\'s own text may use (generated: do not',
        "edit; tests/test_viz_fit.py rewrites it with UPDATE_FONTDATA=1 where the fonts below are",
        "installed).",
        "",
        "``WIDTHS[code point] = (normal, bold)``: the largest advance width of that character in",
        "any of the fonts below (regular and italic for normal, bold and bold italic for bold), in",
        "thousandths of an em, rounded up. Only characters that every one of them has are listed,",
        "so a character missing here would be drawn as an empty box by one of them. ``MONO``: the",
        "largest advance width of printable ASCII in the monospace fonts.",
        "",
        "Fonts: " + ", ".join(names) + ".",
        '"""',
        "",
        f"MONO = {mono_width}",
        "",
        "WIDTHS = {",
    ]
    row: list = []
    for cp in common:
        row.append(f"0x{cp:04X}: ({widest(normal, cp)}, {widest(bold, cp)}),")
        if len(row) == 5:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("}")
    return "\n".join(lines) + "\n"
