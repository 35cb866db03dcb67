"""Element-wise ops: arithmetic, exp/log/..., where, clip, maximum/minimum, comparisons.

Each op is its forward followed by its backward rule (a vector-Jacobian product). A rule has the
signature ``rule(xp, node, g, out, *inputs)`` and returns one gradient per input; ``xp`` is the
array backend or, under ``create_graph=True``, the namespace of these very ops (see engine.py).
Rules may return gradients of the broadcast shape: the engine sums them back to each input's shape.
A rule skips the gradient of an input that needs none (``node.inputs[i].requires_grad``), such
as a constant or the data fed to a layer.
"""
from __future__ import annotations

import math
from typing import Any

from .. import backend as B
from ..engine import reads, record
from ..tensor import Tensor, lift


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _binary(name: str, f, rule, a: Any, b: Any) -> Tensor:
    """Apply the broadcasting array function ``f`` to two operands and record it as ``name``."""
    if not isinstance(a, Tensor):
        a = lift(a, b)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    try:
        out = f(a.data, b.data)
    except ValueError:
        raise ValueError(
            f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together"
        ) from None
    return record(out, name, (a, b), rule)


# ----------------------------------------------------------------------------- arithmetic
def add(a: Any, b: Any) -> Tensor:
    """a + b with broadcasting."""
    return _binary("add", B.add, _add_vjp, a, b)


@reads(inputs=False, output=False)
def _add_vjp(xp, node, g, out, a, b):
    # d(a+b)/da = d(a+b)/db = 1; the engine undoes any broadcasting.
    return g, g


def sub(a: Any, b: Any) -> Tensor:
    """a − b with broadcasting."""
    return _binary("sub", B.subtract, _sub_vjp, a, b)


@reads(inputs=False, output=False)
def _sub_vjp(xp, node, g, out, a, b):
    return g, (-g if node.inputs[1].requires_grad else None)


def mul(a: Any, b: Any) -> Tensor:
    """a · b, element-wise with broadcasting."""
    return _binary("mul", B.multiply, _mul_vjp, a, b)


@reads(output=False)
def _mul_vjp(xp, node, g, out, a, b):
    # Product rule: d(ab) = b da + a db.
    need_a, need_b = node.inputs[0].requires_grad, node.inputs[1].requires_grad
    return (g * b if need_a else None), (g * a if need_b else None)


def div(a: Any, b: Any) -> Tensor:
    """a / b, element-wise with broadcasting."""
    return _binary("div", B.true_divide, _div_vjp, a, b)


def _div_vjp(xp, node, g, out, a, b):
    # Quotient rule: d(a/b)/da = 1/b, d(a/b)/db = −a/b² = −out/b (reusing the forward's result).
    need_a, need_b = node.inputs[0].requires_grad, node.inputs[1].requires_grad
    return (g / b if need_a else None), (-(g * out) / b if need_b else None)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - the operator's name
    """a ** b, element-wise with broadcasting."""
    return _binary("pow", B.power, _pow_vjp, a, b)


def _pow_vjp(xp, node, g, out, a, b):
    # d(a^b)/da = b a^(b−1), taken as 0 where b = 0 (a^0 = 1 is constant; PyTorch agrees).
    # d(a^b)/db = a^b ln a, taken as 0 where a = 0 (the limit for b > 0) and NaN where a < 0 (no
    # real logarithm), computed without evaluating log at a ≤ 0.
    need_a, need_b = node.inputs[0].requires_grad, node.inputs[1].requires_grad
    ga = None
    if need_a:
        if b.ndim == 0 and b >= 1:  # the common x**2: no 0 ** negative can occur
            ga = g * b * a ** (b - 1)
        elif b.ndim == 0 and b == 0:  # x**0 is constant, so its derivative is 0 even at x = 0
            ga = g * 0
        else:  # 0 ** (b − 1) < 0 is +inf, silently (as PyTorch); 0**(0 − 1) is never formed
            zero = b == 0
            with B.errstate(divide="ignore"):
                ga = xp.where(zero, 0, g * b * xp.where(zero, 1, a) ** (b - 1))
    gb = None
    if need_b:
        positive = a > 0
        log_a = xp.where(a < 0, math.nan, xp.log(xp.where(positive, a, 1)))
        gb = xp.where(a == 0, 0, g * out * log_a)
    return ga, gb


def neg(a: Any) -> Tensor:
    """−a."""
    a = _t(a)
    return record(-a.data, "neg", (a,), _neg_vjp)


@reads(inputs=False, output=False)
def _neg_vjp(xp, node, g, out, a):
    return (-g,)


def rsub(a: Any, b: Any) -> Tensor:
    return sub(b, a)


def rdiv(a: Any, b: Any) -> Tensor:
    return div(b, a)


def rpow(a: Any, b: Any) -> Tensor:
    return pow(b, a)


# ----------------------------------------------------------------------------- functions
def exp(x: Any) -> Tensor:
    """e^x."""
    x = _t(x)
    return record(B.exp(x.data), "exp", (x,), _exp_vjp)


@reads(inputs=False)
def _exp_vjp(xp, node, g, out, x):
    return (g * out,)  # (e^x)' = e^x: the forward's output is the derivative


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    x = _t(x)
    return record(B.log(x.data), "log", (x,), _log_vjp)


def _log_vjp(xp, node, g, out, x):
    return (g / x,)


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for small x."""
    x = _t(x)
    return record(B.log1p(x.data), "log1p", (x,), _log1p_vjp)


def _log1p_vjp(xp, node, g, out, x):
    return (g / (x + 1),)


def sqrt(x: Any) -> Tensor:
    """√x."""
    x = _t(x)
    return record(B.sqrt(x.data), "sqrt", (x,), _sqrt_vjp)


@reads(inputs=False)
def _sqrt_vjp(xp, node, g, out, x):
    with B.errstate(divide="ignore"):  # at x = 0 the derivative is +inf, silently (as PyTorch)
        return (g / (out * 2),)  # (√x)' = 1 / (2√x), reusing √x


def abs(x: Any) -> Tensor:  # noqa: A001
    """|x|; its gradient at 0 is taken as 0 (the subgradient PyTorch uses)."""
    x = _t(x)
    return record(B.abs(x.data), "abs", (x,), _abs_vjp)


def _abs_vjp(xp, node, g, out, x):
    return (g * xp.sign(x),)


def sin(x: Any) -> Tensor:
    """sin x."""
    x = _t(x)
    return record(B.sin(x.data), "sin", (x,), _sin_vjp)


def _sin_vjp(xp, node, g, out, x):
    return (g * xp.cos(x),)


def cos(x: Any) -> Tensor:
    """cos x."""
    x = _t(x)
    return record(B.cos(x.data), "cos", (x,), _cos_vjp)


def _cos_vjp(xp, node, g, out, x):
    return (-(g * xp.sin(x)),)


def erf(x: Any) -> Tensor:
    """The error function erf x = 2/√π ∫₀ˣ e^(−t²) dt."""
    x = _t(x)
    return record(B.erf(x.data), "erf", (x,), _erf_vjp)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf_vjp(xp, node, g, out, x):
    return (g * (xp.exp(-(x * x)) * _TWO_OVER_SQRT_PI),)


def sign(x: Any) -> Tensor:
    """−1, 0 or 1 by the sign of x; piecewise constant, so it records nothing."""
    x = _t(x)
    return Tensor(B.sign(x.data))


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """x limited to [min, max]; the gradient passes where min ≤ x ≤ max (PyTorch's convention)."""
    x = _t(x)
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    if any(isinstance(v, Tensor) and v.requires_grad for v in (min, max)):
        # Bounds that need gradients: compose, so each bound gets the gradient where it binds.
        y = x if min is None else maximum(x, min)
        return y if max is None else minimum(y, max)
    lo, hi = _bound(min), _bound(max)
    return record(B.clip(x.data, lo, hi), "clip", (x,), _clip_vjp, (lo, hi))


def _bound(v: Any) -> Any:
    # A NumPy float64 scalar bound acts as the Python float it subclasses, so float32 stays float32.
    if isinstance(v, Tensor):
        return v.data
    return float(v) if isinstance(v, float) else v


def _clip_vjp(xp, node, g, out, x):
    lo, hi = node.saved
    inside = True
    if lo is not None:
        inside = x >= lo
    if hi is not None:
        inside = (x <= hi) if lo is None else inside * (x <= hi)
    return (g * inside,)


def maximum(a: Any, b: Any) -> Tensor:
    """Element-wise max of a and b; at ties each side gets half the gradient."""
    return _binary("maximum", B.maximum, _maximum_vjp, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Element-wise min of a and b; at ties each side gets half the gradient."""
    return _binary("minimum", B.minimum, _maximum_vjp, a, b)


def _maximum_vjp(xp, node, g, out, a, b):
    # The input equal to the output gets the gradient; a tie (a == b) splits it evenly, which is
    # also the mean of the two one-sided derivatives.
    share = xp.where(a == b, g * 0.5, g)
    return xp.where(a == out, share, 0), xp.where(b == out, share, 0)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcasting all three); cond gets no gradient."""
    c = cond.data if isinstance(cond, Tensor) else B.asarray(cond)
    if not isinstance(a, Tensor):
        a = lift(a, b) if isinstance(b, Tensor) else _t(a)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    try:
        out = B.where(c, a.data, b.data)
    except ValueError:
        raise ValueError(
            f"where: shapes {c.shape}, {a.shape} and {b.shape} cannot be broadcast together"
        ) from None
    return record(out, "where", (a, b), _where_vjp, c)


@reads(inputs=False, output=False)
def _where_vjp(xp, node, g, out, a, b):
    c = node.saved
    return xp.where(c, g, 0), xp.where(c, 0, g)


def astype(x: Any, dtype: Any) -> Tensor:
    """x converted to ``dtype``; the gradient is converted back to x's dtype."""
    x = _t(x)
    dtype = B.asarray(0, dtype=dtype).dtype
    if x.data.dtype == dtype:
        return x
    if x.requires_grad and dtype.kind not in "fc":
        return Tensor(x.data.astype(dtype))
    return record(x.data.astype(dtype), "astype", (x,), _astype_vjp)


@reads(inputs=False, output=False)
def _astype_vjp(xp, node, g, out, x):
    return (xp.astype(g, x.dtype),)


# ----------------------------------------------------------------------------- comparisons
def _compare(f, a: Any, b: Any) -> Tensor:
    """A boolean tensor; comparisons are piecewise constant and never require grad."""
    ad = a.data if isinstance(a, Tensor) else a
    bd = b.data if isinstance(b, Tensor) else b
    return Tensor(f(ad, bd))


def _comparison(f, name: str, symbol: str):
    def op(a: Any, b: Any) -> Tensor:
        return _compare(f, a, b)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"a {symbol} b, element-wise: a boolean tensor that records nothing."
    return op


lt = _comparison(B.less, "lt", "<")
le = _comparison(B.less_equal, "le", "<=")
gt = _comparison(B.greater, "gt", ">")
ge = _comparison(B.greater_equal, "ge", ">=")
eq = _comparison(B.equal, "eq", "==")
ne = _comparison(B.not_equal, "ne", "!=")
logical_and = _comparison(B.logical_and, "logical_and", "and")
logical_or = _comparison(B.logical_or, "logical_or", "or")
logical_xor = _comparison(B.logical_xor, "logical_xor", "xor")


def logical_not(x: Any) -> Tensor:
    """Element-wise not of a boolean tensor (records nothing)."""
    return Tensor(B.logical_not(x.data if isinstance(x, Tensor) else x))


def isnan(x: Any) -> Tensor:
    """Where x is NaN (a boolean tensor; records nothing)."""
    return Tensor(B.isnan(x.data if isinstance(x, Tensor) else x))
