"""Matrix products (``matmul``, ``bmm``, ``einsum``), the affine map of a linear layer, and
vector norms."""
from __future__ import annotations

import math
from typing import Any

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor, lift
from ._args import axis_arg, normalize_axis, promote

__all__ = ["matmul", "bmm", "einsum", "norm"]


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b with NumPy's rules: 1-d operands are vectors, leading axes broadcast as batches."""
    if not isinstance(a, Tensor):
        a = lift(a, b)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension; got shapes {a.shape} and {b.shape}")
    da, db = a.data, b.data
    if da.dtype is not db.dtype:
        da, db = promote(da, db)
    try:
        if da.ndim > 2 and db.ndim == 2 and da.shape[-1] == db.shape[0]:
            out = _rows_times(da, db)
        else:
            out = B.matmul(da, db)
    except ValueError:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned (inner sizes "
            f"{a.shape[-1]} and {b.shape[-2] if b.ndim > 1 else b.shape[0]} differ, or the batch "
            f"shapes do not broadcast)"
        ) from None
    return record(out, _matmul_vjp, (a, b))


def _rows_times(a, b):
    """(..., n, k) @ (k, m) as one 2-d product of all the rows: BLAS is markedly faster on one
    (N, k) matrix than on a batch of (n, k) ones, and much faster than on a strided batch."""
    rows = math.prod(a.shape[:-1])
    return B.reshape(B.matmul(B.reshape(a, (rows, a.shape[-1])), b), a.shape[:-1] + (b.shape[-1],))


@defvjp(matmul, reads="inputs", xp=("matmul",), methods=("__matmul__", "matmul"),
        reflected=("__rmatmul__",), shows="∂A = G·B^T,  ∂B = A^T·G")
def _matmul_vjp(xp, ctx, g, out, a, b):
    # For C = A B: dA = dC Bᵀ and dB = Aᵀ dC. A 1-d operand is a row (left) or column (right)
    # vector whose added axis the forward dropped, so the rule puts it back around the product;
    # batch axes the forward broadcast are summed by the engine.
    need_a, need_b = ctx.needs
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:
        ga = g * b if need_a else None
        gb = g * a if need_b else None
    elif a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
        if need_a:
            ga = xp.squeeze(xp.matmul(xp.expand_dims(g, -2), xp.matrix_transpose(b)), -2)
        if need_b:
            gb = xp.matmul(xp.expand_dims(a, -1), xp.expand_dims(g, -2))
    elif b.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
        if need_a:
            ga = xp.matmul(xp.expand_dims(g, -1), xp.expand_dims(b, -2))
        if need_b:
            gb = xp.squeeze(xp.matmul(xp.matrix_transpose(a), xp.expand_dims(g, -1)), -1)
    elif b.ndim == 2 and a.ndim > 2:  # rows of a batch times one matrix: 2-d products
        rows = math.prod(a.shape[:-1])
        g2 = xp.reshape(g, (rows, g.shape[-1]))
        if need_a:
            ga = xp.reshape(xp.matmul(g2, xp.matrix_transpose(b)), a.shape)
        if need_b:
            gb = xp.matmul(xp.matrix_transpose(xp.reshape(a, (rows, a.shape[-1]))), g2)
    else:
        if need_a:
            ga = xp.matmul(g, xp.matrix_transpose(b))
        if need_b:
            gb = xp.matmul(xp.matrix_transpose(a), g)
    return ga, gb


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x Wᵀ + b over the last axis of x (PyTorch's ``F.linear``; W has shape (out, in)).

    One op instead of a transpose, a matmul and an add: the bias is added in place into the
    product's fresh buffer, so a layer makes one output array instead of two, and backward has
    one node to run.
    """
    x = x if isinstance(x, Tensor) else lift(x, weight)
    weight = weight if isinstance(weight, Tensor) else lift(weight, x)
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit a weight of shape {weight.shape} "
            f"(out_features, in_features)"
        )
    xd, wd = x.data, weight.data
    if xd.dtype is not wd.dtype:
        xd, wd = promote(xd, wd)
    # All leading axes as rows of one 2-d product (see _rows_times).
    rows = math.prod(x.shape[:-1])
    x2 = xd if x.ndim == 2 else B.reshape(xd, (rows, x.shape[-1]))
    out = B.matmul(x2, B.matrix_transpose(wd))
    if bias is not None:
        bias = bias if isinstance(bias, Tensor) else lift(bias, x)
        if bias.shape not in ((weight.shape[0],), ()):
            raise ValueError(f"linear: bias of shape {bias.shape} for {weight.shape[0]} outputs")
        if out.dtype == B.result_type(out, bias.data):
            out += bias.data
        else:
            out = out + bias.data
    if x.ndim != 2:
        out = B.reshape(out, x.shape[:-1] + (weight.shape[0],))
    if bias is None:
        return record(out, _linear_vjp, (x, weight))
    return record(out, _linear_vjp, (x, weight, bias))


@defvjp(linear, reads="inputs", shows="∂x = G·W,  ∂W = G^T·x,  ∂b = Σ G")
def _linear_vjp(xp, ctx, g, out, x, w, b=None):
    # y = x Wᵀ + b: dx = g W, dW = gᵀ x summed over every batch axis, db = g summed likewise.
    # The batch axes are flattened into rows, so each product is one 2-d matrix product.
    needs = ctx.needs
    rows = math.prod(x.shape[:-1])
    g2 = g if g.ndim == 2 else xp.reshape(g, (rows, w.shape[0]))
    gx = gw = None
    if needs[0]:
        gx = xp.matmul(g2, w)
        gx = gx if x.ndim == 2 else xp.reshape(gx, x.shape)
    if needs[1]:
        x2 = x if x.ndim == 2 else xp.reshape(x, (rows, w.shape[1]))
        gw = xp.matmul(xp.matrix_transpose(g2), x2)
    if b is None:
        return gx, gw
    return gx, gw, (xp.sum(g2, axis=0) if needs[2] else None)


def bmm(a: Any, b: Any) -> Tensor:
    """Batched matrix product of two 3-d tensors, (b, n, m) @ (b, m, p) → (b, n, p), as
    PyTorch's ``bmm``: no broadcasting, the batch sizes must be equal. Backward: matmul's rule
    applied to each matrix of the batch."""
    a = a if isinstance(a, Tensor) else lift(a, b)
    b = b if isinstance(b, Tensor) else lift(b, a)
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"bmm: both operands must be 3-d (batch, rows, columns); got shapes "
                         f"{a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(
            f"bmm: shapes {a.shape} and {b.shape} do not fit: batch sizes {a.shape[0]} and "
            f"{b.shape[0]} must be equal, inner sizes {a.shape[2]} and {b.shape[1]} too"
        )
    return record(B.matmul(a.data, b.data), _bmm_vjp, (a, b))


assert _matmul_vjp.rule is not None  # bmm applies matmul's rule, batched by broadcasting
_bmm_vjp = defvjp(bmm, reads="inputs", methods=("bmm",), shows="∂A = G·B^T,  ∂B = A^T·G")(
    _matmul_vjp.rule)


# ----------------------------------------------------------------------------- einsum
# Index letters, in the order an implicit output sorts them (upper case first, as NumPy and
# PyTorch do).
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, as PyTorch's ``einsum``: ``einsum("bij,bjk->bik", a, b)`` is a
    batched matrix product, ``einsum("ii", a)`` a trace, ``einsum("i,j->ij", u, v)`` an outer
    product.

    Each operand's axes are named by letters; a letter's entries are multiplied where letters
    match and summed over the letters left out of the output. Without ``->`` the output is the
    letters that occur exactly once, in alphabetical order. ``...`` stands for the remaining
    leading axes of an operand, which broadcast against each other (and, as in PyTorch, are
    summed when an explicit output leaves them out). A letter may repeat within an operand (a
    diagonal) and axes of size 1 broadcast.

    Backward: the result is linear in each operand, so the gradient for operand i is the
    einsum of the output gradient with all the other operands, written to operand i's letters
    ("bij,bjk->bik" gives "bik,bjk->bij" for a). A letter that only operand i has (summed in
    forward) gets its gradient broadcast along it (an extra operand of ones); a repeated letter
    gets it on the diagonal only (an extra identity matrix joining the repeat to a fresh letter).
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: the subscripts come first, as a string such as 'ij,jk->ik'; "
                        f"got {type(subscripts).__name__}")
    ops = tuple(o if isinstance(o, Tensor) else as_tensor(o) for o in operands)
    if not ops:
        raise ValueError("einsum: needs at least one operand")
    terms, out, used = _einsum_parse(subscripts, [o.shape for o in ops])
    data = B.einsum(",".join(terms) + "->" + out, *[o.data for o in ops])
    data = B.asarray(data)
    grads = tuple(_einsum_grad_spec(terms, out, used, i, ops[i].shape, data.dtype)
                  if ops[i].requires_grad else None for i in range(len(ops)))
    return record(data, _einsum_vjp, ops, grads)


def _einsum_parse(subscripts: str, shapes: list) -> tuple:
    """The subscripts with every ``...`` written out as letters: (input terms, output, the set
    of letters in use). Checks the letters against the operands' shapes."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: the first argument must be the subscripts string, got "
                        f"{type(subscripts).__name__}")
    eq = subscripts.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    if "->" in rhs:
        raise ValueError(f"einsum: {subscripts!r} has more than one '->'")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the subscripts {subscripts!r} name {len(terms)} operand(s) but "
                         f"{len(shapes)} were given")
    for t in terms + ([rhs] if arrow else []):
        if t.count("...") > 1:
            raise ValueError(f"einsum: {t!r} in {subscripts!r} has more than one '...'")
        bad = sorted(set(t.replace("...", "")) - set(_LETTERS))
        if bad:
            raise ValueError(f"einsum: invalid character(s) {bad} in {subscripts!r}: indices "
                             f"are letters, with '...' for broadcast axes")
    used = set(eq) & set(_LETTERS)
    broad = []
    for i, (t, shape) in enumerate(zip(terms, shapes)):
        named = len(t.replace("...", ""))
        if ("..." in t and named > len(shape)) or ("..." not in t and named != len(shape)):
            raise ValueError(f"einsum: operand {i} has shape {shape} ({len(shape)} dimensions) "
                             f"but its subscripts {t!r} name {named}")
        broad.append(len(shape) - named if "..." in t else 0)
    spare = [c for c in _LETTERS if c not in used]
    n_broad = max(broad)
    if n_broad > len(spare):
        raise ValueError(f"einsum: {subscripts!r} needs more than 52 index letters")
    ell = "".join(spare[:n_broad])
    terms = [t.replace("...", ell[n_broad - k:]) for t, k in zip(terms, broad)]
    used |= set(ell)
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise ValueError(f"einsum: output index {c!r} repeats in {subscripts!r}")
            if not any(c in t for t in terms):
                raise ValueError(f"einsum: output index {c!r} of {subscripts!r} is not an "
                                 f"index of any operand")
    else:
        counts = "".join(terms)
        out = ell + "".join(sorted(c for c in set(counts) - set(ell) if counts.count(c) == 1))
    sizes: dict = {}
    for i, (t, shape) in enumerate(zip(terms, shapes)):
        mine: dict = {}
        for c, n in zip(t, shape):
            if mine.setdefault(c, n) != n:
                raise ValueError(f"einsum: index {c!r} repeats in operand {i} with sizes "
                                 f"{mine[c]} and {n} (a diagonal needs equal sizes)")
            seen = sizes.get(c)
            if seen is None or seen == 1:
                sizes[c] = n
            elif n not in (1, seen):
                raise ValueError(f"einsum: index {c!r} has size {n} in operand {i} (shape "
                                 f"{shape}) but size {seen} in an earlier operand")
    return terms, out, used


def _einsum_grad_spec(terms: list, out: str, used: set, i: int, shape: tuple, dtype) -> tuple:
    """How to compute operand i's gradient: (subscripts, constant operands), to be applied to
    (output gradient, the other operands, the constants)."""
    others = terms[:i] + terms[i + 1:]
    elsewhere = set(out).union(*others)
    spare = iter(c for c in _LETTERS if c not in used)
    target, extra, consts, seen = [], [], [], set()
    for c, n in zip(terms[i], shape):
        if c in seen:  # a repeat: the gradient lives on the diagonal of c and a fresh letter
            d = next(spare)
            target.append(d)
            extra.append(c + d)
            consts.append(B.eye(n, dtype=dtype))
            continue
        seen.add(c)
        target.append(c)
        if c not in elsewhere:  # summed in forward: the gradient is the same along c
            extra.append(c)
            consts.append(B.ones((n,), dtype=dtype))
    return ",".join([out] + others + extra) + "->" + "".join(target), tuple(consts)


@defvjp(einsum, reads="inputs", xp=("einsum",), shows="∂A_i = einsum(G, the others)")
def _einsum_vjp(xp, ctx, g, out, *ops):
    grads: list = []
    for i, spec in enumerate(ctx.saved):
        if spec is None or not ctx.needs[i]:
            grads.append(None)
            continue
        subscripts, consts = spec
        grads.append(xp.einsum(subscripts, g, *ops[:i], *ops[i + 1:], *consts))
    return tuple(grads)


# ----------------------------------------------------------------------------- norms
def norm(x: Any, p: Any = 2, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: bool | None = None) -> Tensor:
    """The vector p-norm of x over ``axis`` (all axes by default): p = 2 (or ``'fro'``) gives
    √Σ x², p = 1 gives Σ |x|, p = inf gives max |x|.

    The 2-norm is computed as m · √Σ (x/m)² with m = max |x|, so entries whose squares would
    overflow (or underflow) still give the right norm.

    Backward: ∂‖x‖₂/∂x = x / ‖x‖₂, ∂‖x‖₁/∂x = sign(x), and ∂‖x‖∞/∂x = sign(x) at the entries
    where |x| is largest (shared evenly between ties). At a zero vector each of these is taken
    as 0, as PyTorch does, instead of 0/0.
    """
    x = as_tensor(x)
    kind = _norm_order(p)
    if x.dtype.kind != "f":
        raise TypeError(f"norm: needs a floating-point tensor, got dtype {x.dtype}")
    ax = axis_arg(axis, dim)
    if ax is None:
        axes = tuple(range(x.ndim))
    else:
        axes = tuple(sorted({normalize_axis(a, x.ndim, "norm")
                             for a in (ax if isinstance(ax, (tuple, list)) else (ax,))}))
    keep = bool(keepdims or keepdim)
    kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    a = B.abs(x.data)
    if kind == 1:
        out = B.sum(a, axis=axes, keepdims=True)
    elif a.size == 0:
        out = B.zeros(kept, dtype=a.dtype)
    elif kind == 2:
        m = B.max(a, axis=axes, keepdims=True)
        scale = B.where((m > 0) & B.isfinite(m), m, 1)
        r = a / scale
        r *= r
        out = B.sqrt(B.sum(r, axis=axes, keepdims=True))
        out *= scale
        out = B.where(B.isinf(m), m, out)  # an infinite entry makes the norm infinite
    else:
        out = B.max(a, axis=axes, keepdims=True)
    if not keep:
        out = B.reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))
    return record(out, _norm_vjp, (x,), (kind, axes, kept))


def _norm_order(p: Any) -> float:
    if isinstance(p, str):
        if p == "fro":
            return 2
    elif p in (1, 2) or p == math.inf:
        return p
    raise ValueError(f"norm: p must be 2 (or 'fro'), 1 or inf; got {p!r}")


@defvjp(norm, methods=("norm",), shows="∂||x||/∂x = x/||x|| (p = 2)")
def _norm_vjp(xp, ctx, g, out, x):
    kind, axes, kept = ctx.saved
    gk = g if g.shape == kept else xp.reshape(g, kept)
    if kind == 1:
        return (gk * xp.sign(x),)
    n = out if out.shape == kept else xp.reshape(out, kept)
    zero = n == 0
    if kind == 2:
        return (xp.where(zero, 0, gk * x / xp.where(zero, 1, n)),)
    # inf-norm: the largest |x| (all of them when tied, a NaN when there is one) take the
    # gradient, signed like x and split evenly.
    a = xp.abs(x)
    top = (a == n) | xp.isnan(a)
    count = xp.sum(xp.astype(top, x.dtype), axis=axes, keepdims=True)
    return (xp.where(top, gk * xp.sign(x) / count, 0),)
