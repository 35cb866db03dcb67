"""Scaled dot-product attention as one op, with its own backward rule.

For queries Q (L×D), keys K (S×D) and values V (S×Dv), per batch (and head):

    S = s·Q Kᵀ + M            scores (s the scale, M an additive mask: 0, −inf, or any floats)
    P = softmax(S)            row by row: each query's weights over the keys
    Z = P ⊙ R / (1 − p)       dropout (R a random 0/1 mask kept with probability 1 − p)
    O = Z V                   the output

Written as one op instead of a composition of eight, the forward keeps no intermediate of size
L×S alive for backward (only Q, K, V, O and a row statistic per query), and backward runs as
one rule. See the rule's docstring for the derivation.
"""
from __future__ import annotations

import math
from typing import Any

from .. import backend as B
from .. import creation
from ..graph import defvjp, record
from ..state import branch
from ..tensor import Tensor, as_tensor
from ._args import broadcast_shape

__all__ = ["scaled_dot_product_attention"]

_OP = "scaled_dot_product_attention"


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Tensor:
    """softmax(Q Kᵀ · scale + mask) V over the last two axes of ``query`` (…, L, D), ``key``
    (…, S, D) and ``value`` (…, S, Dv), giving (…, L, Dv), as PyTorch's
    ``F.scaled_dot_product_attention``. Leading axes broadcast.

    ``attn_mask`` broadcasts to (…, L, S): a boolean mask marks with True the keys each query
    may attend to; a float mask is added to the scores (−inf excludes a key) and receives a
    gradient when it requires one. ``is_causal=True`` lets query i attend to keys 0..i only
    (the lower triangle, aligned top-left as in PyTorch) and cannot be combined with
    ``attn_mask``. ``scale`` defaults to 1/√D. ``dropout_p`` drops attention weights after the
    softmax (always, as PyTorch's function does; modules pass 0 in eval mode), with the
    generator ``ag.manual_seed`` seeds.

    A query whose keys are all masked attends to nothing: its output row is 0 and it passes no
    gradient, as in PyTorch (not the NaN a plain softmax of −inf scores would give).
    """
    q, k, v = (x if isinstance(x, Tensor) else as_tensor(x) for x in (query, key, value))
    scores, nb = _check(q, k, v)
    L, S, D = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = (1.0 / math.sqrt(D) if D else 1.0) if scale is None else float(scale)
    dropout_p = float(dropout_p)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{_OP}: dropout_p must lie in [0, 1], got {dropout_p}")
    dt = q.dtype
    bias = None  # an additive 0/−inf array made from a boolean mask (a constant: kept in saved)
    fmask = None  # a float mask: an input of the op (it may require grad)
    if attn_mask is not None:
        if is_causal:
            raise ValueError(f"{_OP}: give attn_mask or is_causal=True, not both (build one "
                             f"boolean mask holding both conditions instead)")
        m = attn_mask.data if isinstance(attn_mask, Tensor) else B.asarray(attn_mask)
        if broadcast_shape(m.shape, scores) != scores:
            raise ValueError(f"{_OP}: attn_mask of shape {m.shape} does not broadcast to the "
                             f"attention scores' shape {scores} (…, L, S)")
        if m.dtype == B.bool:
            bias = _bias(m, dt)
        elif m.dtype.kind == "f":
            fmask = attn_mask if isinstance(attn_mask, Tensor) else Tensor(m)
            if fmask.dtype != dt:
                fmask = fmask.astype(dt)
        else:
            raise TypeError(f"{_OP}: attn_mask must be boolean (True = attend) or floating "
                            f"(added to the scores), got dtype {m.dtype}")
    elif is_causal:
        bias = _bias(B.tril(B.ones((L, S), dtype=B.bool)), dt)

    chunks = _chunks(scores, nb)
    fd = None if fmask is None else fmask.data
    kept_scale = 1.0 / (1.0 - dropout_p) if dropout_p < 1.0 else 0.0
    outs, shifts, deads, keeps = [], [], [], []
    some_dead = False
    for sl in chunks:
        s = _scores(B, _piece(q.data, sl, nb), _piece(k.data, sl, nb), scale,
                    _piece(bias, sl, nb), _piece(fd, sl, nb))
        shift = B.max(s, axis=-1, keepdims=True)
        dead = shift == -math.inf  # queries with every key masked
        # rare (a query whose keys are all masked); a compiled step checks it stays so
        any_dead = branch(B.any(dead), "a query with every key masked")
        some_dead = some_dead or any_dead
        if any_dead:
            shift = B.where(dead, B.asarray(0, dtype=dt), shift)
        p = _softmax(B, s, shift, dead if any_dead else None)
        if dropout_p > 0.0:
            keep = creation.draw("random", p.shape, dtype=B.float32) >= dropout_p
            p *= keep
            p *= kept_scale
            keeps.append(keep)
        outs.append(B.matmul(p, _piece(v.data, sl, nb)))
        shifts.append(shift)
        deads.append(dead)
    dead = _join(deads)
    saved = (scale, bias, _join(shifts), dead if some_dead else None, _join(keeps),
             kept_scale, chunks, nb)
    inputs = (q, k, v) if fmask is None else (q, k, v, fmask)
    return record(_join(outs), _attention_vjp, inputs, saved)


# Scores per chunk: the softmax's temporaries of one chunk (1 MiB in float32) stay in cache, and
# no float array of the whole (…, L, S) size is allocated, in forward or backward (only dropout's
# boolean mask has that size, as backward needs it).
_CHUNK = 1 << 18


def _chunks(scores: tuple, nb: int) -> list:
    """Slices of the first batch axis that cut the scores (…, L, S) into pieces of about
    ``_CHUNK`` elements; ``[None]`` for one piece."""
    if nb == 0 or len(scores) - 2 != nb or scores[0] == 1:
        return [None]
    step = max(1, _CHUNK // max(math.prod(scores[1:]), 1))
    if step >= scores[0]:
        return [None]
    return [slice(i, min(i + step, scores[0])) for i in range(0, scores[0], step)]


def _piece(a: Any, sl: slice | None, nb: int, take: Any = None) -> Any:
    """The part of ``a`` (an operand, a mask, or a row statistic, aligned on the right with the
    batch axes) that chunk ``sl`` uses: a slice of its first batch axis, or all of it where it
    broadcasts along that axis. ``take`` indexes (``xp.getitem`` for tensors in backward)."""
    if sl is None or a is None or a.ndim - 2 != nb or a.shape[0] == 1:
        return a
    return a[sl] if take is None else take(a, sl)


def _join(parts: list) -> Any:
    """The chunks' arrays as one (along the first batch axis); None for none."""
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else B.concat(parts, axis=0)


def _check(q: Tensor, k: Tensor, v: Tensor) -> tuple[tuple, int]:
    """Checks the three operands; returns the shape of the scores, (…, L, S), and the number of
    batch axes of the result."""
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{_OP}: query, key and value need at least 2 dimensions (…, T, D); "
                         f"got shapes {q.shape}, {k.shape} and {v.shape}")
    if not (q.dtype == k.dtype == v.dtype) or q.dtype.kind != "f":
        raise TypeError(f"{_OP}: query, key and value must have one floating dtype; got "
                        f"{q.dtype}, {k.dtype} and {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{_OP}: query of shape {q.shape} and key of shape {k.shape} have "
                         f"different feature sizes ({q.shape[-1]} and {k.shape[-1]})")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{_OP}: key of shape {k.shape} and value of shape {v.shape} have "
                         f"different lengths ({k.shape[-2]} and {v.shape[-2]})")
    if k.shape[-2] == 0:
        raise ValueError(f"{_OP}: key of shape {k.shape} has no positions to attend to")
    qk = broadcast_shape(q.shape[:-2], k.shape[:-2])
    batch = None if qk is None else broadcast_shape(qk, v.shape[:-2])
    if qk is None or batch is None:
        raise ValueError(f"{_OP}: the leading (batch) axes of query {q.shape}, key {k.shape} "
                         f"and value {v.shape} do not broadcast")
    return qk + (q.shape[-2], k.shape[-2]), len(batch)


def _bias(allowed, dtype):
    """A boolean mask (True = attend) as the additive mask 0 / −inf."""
    return B.where(allowed, B.asarray(0, dtype=dtype), B.asarray(-math.inf, dtype=dtype))


def _scores(xp, q, k, scale, bias, fmask):
    """S = (s·Q) Kᵀ + masks (scaling Q, the smaller operand, rather than S)."""
    s = xp.matmul(q * scale, xp.matrix_transpose(k))
    if bias is not None:
        s += bias  # s is a fresh array: the masks are added in place
    if fmask is not None:
        s += fmask
    return s


def _softmax(xp, s, shift, dead):
    """softmax(s) along the last axis, with s − shift ≤ 0 for the exponential. Any constant
    shift gives the same softmax, so the forward's row maxima serve again in backward; rows
    with every key masked (``dead``) come out as zeros."""
    s -= shift
    p = xp.exp(s)
    den = xp.sum(p, axis=-1, keepdims=True)
    if dead is not None:
        den = xp.where(dead, 1, den)
    p /= den
    return p


@defvjp(scaled_dot_product_attention, shows="∂S = P·(∂P − Σ ∂O·O)")
def _attention_vjp(xp, ctx, g, out, q, k, v, fmask=None):
    """The gradients of O = Z V, Z = P ⊙ R/(1 − p), P = softmax(S), S = s·Q Kᵀ + M.

    With G = ∂L/∂O: the matrix products give ∂V = Zᵀ G and ∂Z = G Vᵀ, and dropout multiplies
    by its constant mask, ∂P = ∂Z ⊙ R/(1 − p). The softmax Jacobian of each row is
    diag(P) − P Pᵀ (docs/derivations.md, "Softmax"), applied as a product:
    ∂S = P ⊙ (∂P − rowsum(P ⊙ ∂P)). The row sums need no L×S product: P ⊙ ∂P = Z ⊙ ∂Z and
    rowsum(Z ⊙ (G Vᵀ)) = rowsum(G ⊙ (Z V)) = rowsum(G ⊙ O), an L×Dv product with the output.
    Then ∂Q = s·∂S K, ∂K = s·∂Sᵀ Q, and the additive mask gets ∂M = ∂S.

    P is recomputed from Q and K (with the forward's row maxima as the exponential's shift)
    rather than kept from the forward: this keeps memory at the inputs' size, and under
    ``create_graph`` it makes P a function of Q and K, so second derivatives are right. The
    work goes chunk by chunk along the first batch axis, as in forward.
    """
    scale, bias, shift, dead, keep, kept_scale, chunks, nb = ctx.saved
    needs = ctx.needs
    want_mask = fmask is not None and needs[3]
    grads: tuple = ([], [], [], [])
    for sl in chunks:
        got = _chunk_grads(
            xp, needs, want_mask, scale, kept_scale,
            *(_piece(t, sl, nb, xp.getitem) for t in (g, out, q, k, v, fmask)),
            *(_piece(a, sl, nb) for a in (bias, shift, dead, keep)))
        for parts, part in zip(grads, got):
            parts.append(part)
    joined = [None if parts[0] is None else parts[0] if len(parts) == 1
              else xp.concat(parts, axis=0) for parts in grads]
    return tuple(joined) if fmask is not None else tuple(joined[:3])


def _chunk_grads(xp, needs, want_mask, scale, kept_scale, g, out, q, k, v, fmask, bias, shift,
                 dead, keep):
    """(∂Q, ∂K, ∂V, ∂M) of one chunk (see the rule's docstring); None where not needed."""
    qs = q * scale
    s = xp.matmul(qs, xp.matrix_transpose(k))
    if bias is not None:
        s += bias
    if fmask is not None:
        s += fmask
    p = _softmax(xp, s, shift, dead)
    z = p
    if keep is not None:
        z = p * keep
        z *= kept_scale
    gv = xp.matmul(xp.matrix_transpose(z), g) if needs[2] else None
    if not (needs[0] or needs[1] or want_mask):
        return None, None, gv, None
    ds = xp.matmul(g, xp.matrix_transpose(v))  # ∂Z, a fresh array turned into ∂S in place
    if keep is not None:
        ds *= keep
        ds *= kept_scale
    ds -= xp.sum(g * out, axis=-1, keepdims=True)
    ds *= p
    gq = gk = None
    if needs[0]:
        gq = xp.matmul(ds, k)
        gq *= scale
    if needs[1]:
        gk = xp.matmul(xp.matrix_transpose(ds), qs)
    return gq, gk, gv, (ds if want_mask else None)
