"""Gradients for pictures, their norms, and the gradient-flow view's warning flags.

Backward keeps ``.grad`` only for leaves (and tensors that called ``retain_grad()``), as
PyTorch does, and ``.grad`` holds the sum over every ``backward()`` since it was last reset,
which need not be the gradient of the output drawn. So while the graph still holds its saved
values (no node ``.freed``) a picture computes every gradient itself with
``autograd.engine.grad(..., retain_graph=True)``, which touches no ``.grad`` and frees nothing;
once backward has freed the graph it falls back to the ``.grad`` values that exist and says so.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend as B
from .. import engine

ERROR = "error"  # drawn in red: NaN or Inf
WARN = "warn"  # drawn in orange: vanishing, exploding, saturated, dead

#: Decade edges of the gradient-norm colour scale (9 bins: below 1e-4 ... 1e3 and above).
NORM_EDGES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)


class Flow:
    """The gradients a picture draws.

    ``mode`` is ``"computed"`` (every tensor's gradient, from ``engine.grad``), ``"stored"``
    (only the ``.grad`` values backward kept) or ``"none"``; ``note`` says which, for the legend.
    """

    def __init__(self, mode: str, grads: dict, note: str) -> None:
        self.mode = mode
        self.grads = grads
        self.note = note


def gradients(roots: list, op_tensors: list, tensors: list) -> Flow:
    """Gradients of the roots with respect to each of ``tensors`` that requires grad."""
    outs = [r for r in roots if r.requires_grad]
    if not outs:
        return Flow("none", {}, "the output does not require grad: there are no gradients")
    freed = any(t.grad_fn.freed for t in op_tensors)
    problem = "the graph was freed by backward()"
    if not freed:
        wanted = []
        seen = set()
        for t in tensors:
            if t.requires_grad and t not in seen:
                seen.add(t)
                wanted.append(t)
        seeds = [None if r.data.size == 1 else B.ones_like(r.data) for r in outs]
        try:
            with np.errstate(all="ignore"):
                got = engine.grad(outs, wanted, grad_outputs=seeds, retain_graph=True,
                                  allow_unused=True)
        except Exception as e:  # a user-defined backward may fail; the picture still draws
            problem = f"computing the gradients failed ({type(e).__name__}: {e})"
        else:
            grads = {t: B.to_numpy(g.data) for t, g in zip(wanted, got, strict=True)
                     if g is not None}
            note = ("gradients of the output, computed for this picture (no .grad is read or "
                    "changed)")
            if any(r.data.size != 1 for r in outs):
                note += "; for an output with several elements, of the sum of its elements"
            return Flow("computed", grads, note)
    stored = {}
    for t in tensors:
        if t.grad is not None:
            stored[t] = B.to_numpy(t.grad.data)
    note = (
        f"{problem}: shown are the .grad values backward() left, marked (stored): leaves and "
        "retain_grad() tensors only, summed over every backward() since they were last reset. "
        "Draw before backward(), or after backward(retain_graph=True), for the gradients of "
        "this output"
    )
    return Flow("stored", stored, note)


def norm(g: Any) -> float:
    """The Euclidean norm of ``g``, in float64 (so a float32 gradient cannot overflow here)."""
    a = np.asarray(g, dtype=np.float64)
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.sum(a * a)))


def norm_bin(n: float) -> int:
    """The colour-scale bin of a norm: 0 (below 1e-4) to 8 (1e3 and above)."""
    k = 0
    for edge in NORM_EDGES:
        if n >= edge:
            k += 1
    return k


def nonfinite(a: Any) -> str | None:
    """``"NaN"`` or ``"Inf"`` when the array holds one (NaN first), else None."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        return None
    if np.isnan(a).any():
        return "NaN"
    if np.isinf(a).any():
        return "Inf"
    return None


def tensor_flags(g: Any, requires_grad: bool, vanishing: float, exploding: float) -> list:
    """``[(level, text)]`` for a gradient: NaN/Inf, exploding, vanishing or zero."""
    bad = nonfinite(g)
    if bad:
        return [(ERROR, f"{bad} in grad")]
    n = norm(g)
    if math.isinf(n) or n >= exploding:
        return [(WARN, f"exploding: ||g|| ≥ {exploding:g}")]
    if n == 0.0:
        return [(WARN, "zero gradient")] if requires_grad else []
    if n < vanishing:
        return [(WARN, f"vanishing: ||g|| < {vanishing:g}")]
    return []


def op_flags(node: Any, y: Any, saturation: float) -> list:
    """``[(level, text)]`` for an op from its output ``y``, as its registration's ``diagnose``
    asks (``graph.Diagnose``): a saturating op (sigmoid, tanh, softmax) whose local slope is
    below ``saturation`` everywhere, or a gate (ReLU) that passes nothing. Partial saturation
    gives an informational line (level ``""``)."""
    how = node.op.diagnose
    y = np.asarray(y)
    if how is None or y.size == 0 or y.dtype.kind != "f":
        return []
    with np.errstate(all="ignore"):
        y = y.astype(np.float64)
        if how.slope is not None:
            d = how.slope(y)
        else:  # the op's own rule on a gradient of ones: its slope, element by element
            (d,) = node.op.rule(B, node, np.ones_like(y), y, None)
        d = np.abs(np.asarray(d, dtype=np.float64))
        if how.kind == "gate":
            passing = int(np.count_nonzero(d))
            if passing == 0:
                return [(WARN, "dead: passes no gradient")]
            if passing < y.size:
                return [("", f"passes {passing}/{y.size}")]
            return []
        finite = np.isfinite(d)
        if not finite.any():
            return []
        what = how.text or node.op.shows.split(" = ", 1)[-1]
        low = int(np.count_nonzero(finite & (d < saturation)))
        if low == int(np.count_nonzero(finite)):
            return [(WARN, f"saturated: max {what} = {float(np.max(d[finite])):.1e}")]
        if low:
            return [("", f"{low}/{y.size} saturated")]
    return []
