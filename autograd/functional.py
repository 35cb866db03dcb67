"""Derivatives as functions: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``.

Each takes a function of one Tensor or of a tuple of Tensors, as ``torch.autograd.functional``,
and differentiates it at ``inputs`` without touching any ``.grad``.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Callable

from . import backend as B
from . import engine, graph
from .ops.shape import concatenate, reshape, stack
from .tensor import Tensor


def _prepare(inputs: Any, create_graph: bool = False) -> tuple[tuple, bool]:
    """The inputs as tensors to differentiate with respect to. Fresh leaves, so that nothing
    reaches the caller's graph, except under ``create_graph`` where an input that requires grad
    is passed through an identity op: the results then stay differentiable back to it."""
    single = isinstance(inputs, Tensor)
    xs = (inputs,) if single else tuple(inputs)
    fresh = []
    for x in xs:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if create_graph and x.requires_grad:
            fresh.append(reshape(x, x.shape))
        else:
            fresh.append(Tensor(x.data, requires_grad=True))
    return tuple(fresh), single


def _call(func: Callable, xs: tuple) -> Tensor:
    with graph.enable_grad():
        out = func(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"the function must return a single Tensor; got {type(out).__name__}")
    return out


def _grads(out: Tensor, xs: tuple, v: Any, create_graph: bool) -> tuple:
    if not out.requires_grad:
        return tuple(Tensor(B.zeros(x.shape, dtype=x.dtype)) for x in xs)
    gs = engine.grad(out, xs, v, retain_graph=True, create_graph=create_graph, allow_unused=True)
    return tuple(g if g is not None else Tensor(B.zeros(x.shape, dtype=x.dtype)) for g, x in zip(gs, xs))


def _unpack(values: tuple, single: bool) -> Any:
    return values[0] if single else values


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple:
    """(func(inputs), vᵀ J): the vector-Jacobian product. ``v`` may be omitted for a scalar output."""
    xs, single = _prepare(inputs, create_graph)
    out = _call(func, xs)
    res = _grads(out, xs, v, create_graph)
    return (out if create_graph else out.detach()), _unpack(res, single)


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple:
    """(func(inputs), J v): the Jacobian-vector product, by the double-vjp trick.

    uᵀJ is linear in u, so the gradient of ⟨uᵀJ, v⟩ with respect to u is J v.
    """
    xs, single = _prepare(inputs, create_graph)
    vs = (v,) if single or isinstance(v, Tensor) else tuple(v)
    if v is None:
        if any(x.data.size != 1 for x in xs):
            raise RuntimeError("jvp: v is needed when an input has more than one element")
        vs = tuple(Tensor(B.ones_like(x.data)) for x in xs)
    out = _call(func, xs)
    u = Tensor(B.zeros(out.shape, dtype=out.dtype), requires_grad=True)
    if not out.requires_grad:
        return out.detach(), Tensor(B.zeros(out.shape, dtype=out.dtype))
    gs = engine.grad(out, xs, u, create_graph=True, allow_unused=True)
    terms = [(g * vi).sum() for g, vi in zip(gs, vs) if g is not None and g.requires_grad]
    if not terms:
        return out.detach(), Tensor(B.zeros(out.shape, dtype=out.dtype))
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    (jv,) = engine.grad(total, [u], create_graph=create_graph, allow_unused=True)
    jv = jv if jv is not None else Tensor(B.zeros(out.shape, dtype=out.dtype))
    return (out if create_graph else out.detach()), jv


def jacobian(func: Callable, inputs: Any, create_graph: bool = False) -> Any:
    """∂ func / ∂ inputs, of shape out.shape + input.shape (a tuple over inputs given a tuple)."""
    xs, single = _prepare(inputs, create_graph)
    out = _call(func, xs)
    n = out.data.size
    rows: list[list] = [[] for _ in xs]
    for j in range(n):
        seed = B.zeros(n, dtype=out.dtype)
        seed[j] = 1
        gs = _grads(out, xs, seed.reshape(out.shape), create_graph)
        for r, g in enumerate(gs):
            rows[r].append(g)
    jac = tuple(reshape(stack(r), out.shape + x.shape) if create_graph
                else Tensor(B.stack([g.data for g in r]).reshape(out.shape + x.shape))
                for r, x in zip(rows, xs))
    return _unpack(jac, single)


def hessian(func: Callable, inputs: Any, create_graph: bool = False) -> Any:
    """The matrix of second derivatives of a scalar ``func``, of shape input.shape + input.shape."""
    xs, single = _prepare(inputs, create_graph)

    def gradient(*ys: Any) -> Any:
        out = _call(func, ys)
        if out.data.size != 1:
            raise RuntimeError(f"hessian: the function must return one element; got shape {out.shape}")
        gs = _grads(out, ys, None, True)
        return gs[0] if single else _concat_flat(gs)

    if single:
        return jacobian(gradient, xs[0], create_graph)
    cols = jacobian(gradient, xs, create_graph)  # cols[j]: (Σ sizes,) + xs[j].shape
    rows, start = [], 0
    for xi in xs:
        n = xi.data.size
        rows.append(tuple(c[start:start + n].reshape(xi.shape + xj.shape) for c, xj in zip(cols, xs)))
        start += n
    return tuple(rows)


def _concat_flat(gs: tuple) -> Tensor:
    return concatenate([reshape(g, (-1,)) for g in gs])


def hvp(func: Callable, inputs: Any, v: Any, create_graph: bool = False) -> tuple:
    """(func(inputs), H v): the Hessian of a scalar ``func`` times ``v``, by differentiating
    ⟨∇func, v⟩ once more (never forming H)."""
    xs, single = _prepare(inputs, create_graph)
    vs = (v,) if single else tuple(v)
    out = _call(func, xs)
    gs = _grads(out, xs, None, True)
    terms = [(g * vi).sum() for g, vi in zip(gs, vs) if g.requires_grad]
    if not terms:
        return out.detach(), _unpack(tuple(Tensor(B.zeros(x.shape, dtype=x.dtype)) for x in xs), single)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    res = _grads(total, xs, None, create_graph)
    return (out if create_graph else out.detach()), _unpack(res, single)
