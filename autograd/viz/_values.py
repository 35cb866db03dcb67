"""Numbers as text for pictures: small arrays printed in full, statistics for tooltips.

Everything is formatted here with Python's own float formatting (correctly rounded, the same
on every machine and every NumPy version), not with NumPy's printing options, so the same
values always give the same picture, byte for byte.
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: How many values a tooltip lists.
TOOLTIP_VALUES = 8


def _float_strings(a: np.ndarray) -> list:
    """Each float of ``a`` as text, all in one style: 4 significant digits in scientific
    notation when every finite value is below 0.01 in magnitude (so small gradients never print
    as 0) or some is 1e6 or more; else fixed point with as many decimals (up to 4) as the most
    precise value needs, the same for all."""
    flat = [float(v) for v in a.ravel()]
    finite = [abs(v) for v in flat if np.isfinite(v)]
    top = max(finite, default=0.0)
    if 0.0 < top < 1e-2 or top >= 1e6:
        return [_special(v) or f"{v:.3e}" for v in flat]
    decimals = 0
    for v in flat:
        if np.isfinite(v):
            text = f"{v:.4f}".rstrip("0")
            decimals = max(decimals, len(text) - text.index(".") - 1)
    return [_special(v) or (f"{v:.{decimals}f}" if decimals else f"{v:.0f}.") for v in flat]


def _special(v: float) -> str | None:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _strings(a: np.ndarray) -> list:
    if a.dtype.kind == "f":
        return _float_strings(a)
    if a.dtype.kind == "b":
        return [str(bool(v)) for v in a.ravel()]
    if a.dtype.kind in "iu":
        return [str(int(v)) for v in a.ravel()]
    return [str(v) for v in a.ravel()]


def format_array(a: Any, max_values: int, line_width: int = 44) -> str | None:
    """The values of a small array as text, nested brackets as NumPy prints them, or None when
    it has more than ``max_values`` elements (or none).

    Values are right-aligned to a common width; a row longer than ``line_width`` characters
    wraps. Floats as described in :func:`_float_strings`.
    """
    a = np.asarray(a)
    if a.size > max_values or a.size == 0:
        return None
    texts = _strings(a)
    if a.ndim == 0:
        return texts[0]
    wide = max(len(t) for t in texts)
    texts = [t.rjust(wide) for t in texts]

    def block(offset: int, shape: tuple, depth: int) -> str:
        if len(shape) == 1:
            n = shape[0]
            items = [t + "," for t in texts[offset:offset + n - 1]] + [texts[offset + n - 1]]
            indent = depth + 1  # the column after the opening brackets
            lines, cur = [], ""
            for item in items:
                if cur and indent + len(cur) + 1 + len(item) + 1 > line_width:
                    lines.append(cur)
                    cur = item
                else:
                    cur = f"{cur} {item}" if cur else item
            lines.append(cur)
            return "[" + ("\n" + " " * indent).join(lines) + "]"
        step = int(np.prod(shape[1:]))
        parts = [block(offset + k * step, shape[1:], depth + 1) for k in range(shape[0])]
        gap = ",\n" + "\n" * (len(shape) - 2)
        inner = gap.join(p if k == 0 else " " * (depth + 1) + p for k, p in enumerate(parts))
        return "[" + inner + "]"

    return block(0, a.shape, 0)


def _number(v: float) -> str:
    return _special(v) or f"{v:.4g}"


def stats(a: Any, what: str) -> list:
    """Tooltip lines for the array ``a`` (``what``: "value", "grad", ...): min, max, mean and
    norm of its finite values, the NaN and Inf counts, and its first values. Computed in
    float64 and scaled by the largest magnitude, so that nothing overflows."""
    a = np.asarray(a)
    n = int(a.size)
    if n == 0:
        return [f"{what}: empty"]
    if a.dtype.kind == "c":  # complex: the statistics of the magnitudes
        what = f"|{what}|"
        x = np.abs(a).astype(np.float64).ravel()
    else:
        x = a.astype(np.float64).ravel()
    finite = x[np.isfinite(x)]
    nans = int(np.count_nonzero(np.isnan(x)))
    infs = n - nans - int(finite.size)
    if finite.size:
        scale = float(np.max(np.abs(finite))) or 1.0
        mean = scale * float(np.mean(finite / scale))
        norm = scale * float(np.sqrt(np.sum((finite / scale) ** 2)))
        body = (f"min {_number(float(finite.min()))}, max {_number(float(finite.max()))}, "
                f"mean {_number(mean)}, norm {_number(norm)}")
        if finite.size < n:
            body += " (of the finite values)"
    else:
        body = "no finite values"
    lines = [f"{what}: {body}; NaN: {nans}, Inf: {infs}"]
    shown = _strings(a.ravel()[:TOOLTIP_VALUES])
    head = "values" if n <= TOOLTIP_VALUES else f"first {TOOLTIP_VALUES} of {n} values"
    lines.append(f"  {head} (row-major): " + ", ".join(s.strip() for s in shown))
    return lines
