"""Element-wise ops: arithmetic, exp/log/..., where, clip, maximum/minimum, comparisons.

Each op is its forward followed by its backward rule (a vector-Jacobian product) and the rule's
registration (``graph.defvjp``). Rules may return gradients of the broadcast shape: the engine
sums them back to each input's shape. A rule skips the gradient of an input that needs none
(``ctx.needs[i]`` is false), such as a constant or the data fed to a layer.
"""
from __future__ import annotations

import functools
import math
from typing import Any
from collections.abc import Callable

from .. import backend as B
from ..graph import Op, defvjp, nondifferentiable, record
from ..state import branch
from ..tensor import Tensor, as_tensor, lift
from ._args import floating, promote

__all__ = [
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "log1p", "sqrt", "abs", "sin", "cos",
    "erf", "atan2", "sign", "clip", "maximum", "minimum", "where", "astype", "isnan",
]


def _binary(op: Op, f, a: Any, b: Any, real: bool = False) -> Tensor:
    """Apply the broadcasting array function ``f`` to two operands and record it as ``op``
    (``real``: defined on real numbers, so two integer operands give float32)."""
    if not isinstance(a, Tensor):
        a = lift(a, b)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    da, db = a.data, b.data
    if da.dtype is not db.dtype:
        da, db = promote(da, db)
    if real and da.dtype.kind not in "fc":
        da, db = floating(da), floating(db)
    try:
        out = f(da, db)
    except ValueError:
        raise ValueError(
            f"{op.name}: shapes {a.shape} and {b.shape} cannot be broadcast together"
        ) from None
    return record(out, op, (a, b))


# IEEE's inf and nan from 1/0, 0/0, 0 ** −1, log 0, exp(1000), as PyTorch gives them: silently.
_QUIET_DIVIDE = functools.partial(B.quiet, B.divide)
_QUIET_POW = functools.partial(B.quiet, B.pow)


# ----------------------------------------------------------------------------- arithmetic
def add(a: Any, b: Any) -> Tensor:
    """a + b with broadcasting."""
    return _binary(_add_vjp, B.add, a, b)


@defvjp(add, reads="nothing", xp=("add",), methods=("__add__", "__radd__", "add"))
def _add_vjp(xp, ctx, g, out, a, b):
    # d(a+b)/da = d(a+b)/db = 1; the engine undoes any broadcasting.
    return g, g


def sub(a: Any, b: Any) -> Tensor:
    """a − b with broadcasting."""
    return _binary(_sub_vjp, B.subtract, a, b)


@defvjp(sub, reads="nothing", xp=("subtract",), methods=("__sub__", "sub"),
        reflected=("__rsub__",))
def _sub_vjp(xp, ctx, g, out, a, b):
    return g, (-g if ctx.needs[1] else None)


def mul(a: Any, b: Any) -> Tensor:
    """a · b, element-wise with broadcasting."""
    return _binary(_mul_vjp, B.multiply, a, b)


@defvjp(mul, reads="inputs", xp=("multiply",), methods=("__mul__", "__rmul__", "mul"))
def _mul_vjp(xp, ctx, g, out, a, b):
    # Product rule: d(ab) = b da + a db.
    need_a, need_b = ctx.needs
    return (g * b if need_a else None), (g * a if need_b else None)


def div(a: Any, b: Any) -> Tensor:
    """a / b, element-wise with broadcasting."""
    return _binary(_div_vjp, _QUIET_DIVIDE, a, b, real=True)


@defvjp(div, xp=("divide",), methods=("__truediv__", "div"), reflected=("__rtruediv__",))
def _div_vjp(xp, ctx, g, out, a, b):
    # Quotient rule: d(a/b)/da = 1/b, d(a/b)/db = −a/b² = −out/b (reusing the forward's result).
    need_a, need_b = ctx.needs
    return (g / b if need_a else None), (-(g * out) / b if need_b else None)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - the operator's name
    """a ** b, element-wise with broadcasting."""
    return _binary(_pow_vjp, _QUIET_POW, a, b)


@defvjp(pow, xp=("pow",), methods=("__pow__", "pow"), reflected=("__rpow__",),
        shows="∂a = b·a^(b−1),  ∂b = a^b·ln a")
def _pow_vjp(xp, ctx, g, out, a, b):
    # d(a^b)/da = b a^(b−1), taken as 0 where b = 0 (a^0 = 1 is constant; PyTorch agrees).
    # d(a^b)/db = a^b ln a, taken as 0 where a = 0 (the limit for b > 0) and NaN where a < 0 (no
    # real logarithm), computed without evaluating log at a ≤ 0.
    need_a, need_b = ctx.needs
    ga = None
    if need_a:
        # (branch: a compiled step checks at each replay that a traced exponent still goes
        # the recorded way)
        if b.ndim == 0 and branch(b >= 1, "an exponent >= 1"):  # x**2: no 0 ** negative occurs
            ga = g * b * a ** (b - 1)
        elif b.ndim == 0 and branch(b == 0, "an exponent of 0"):  # x**0 is constant: its
            ga = g * 0  # derivative is 0 even at x = 0
        else:  # 0 ** (b − 1) < 0 is +inf, silently (as PyTorch); 0**(0 − 1) is never formed
            zero = b == 0
            with xp.errstate(divide="ignore"):
                ga = xp.where(zero, 0, g * b * xp.where(zero, 1, a) ** (b - 1))
    gb = None
    if need_b:
        positive = a > 0
        log_a = xp.where(a < 0, math.nan, xp.log(xp.where(positive, a, 1)))
        gb = xp.where(a == 0, 0, g * out * log_a)
    return ga, gb


def neg(a: Any) -> Tensor:
    """−a."""
    a = as_tensor(a)
    return record(-a.data, _neg_vjp, (a,))


@defvjp(neg, reads="nothing", xp=("negative",), methods=("__neg__", "neg"))
def _neg_vjp(xp, ctx, g, out, a):
    return (-g,)


# ----------------------------------------------------------------------------- functions
def exp(x: Any) -> Tensor:
    """e^x."""
    x = as_tensor(x)
    return record(B.quiet(B.exp, floating(x.data)), _exp_vjp, (x,))


@defvjp(exp, reads="output", xp=("exp",), methods=("exp",), shows="exp' = y")
def _exp_vjp(xp, ctx, g, out, x):
    return (g * out,)  # (e^x)' = e^x: the forward's output is the derivative


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    x = as_tensor(x)
    return record(B.quiet(B.log, floating(x.data)), _log_vjp, (x,))


@defvjp(log, reads="inputs", xp=("log",), methods=("log",), shows="log' = 1/x")
def _log_vjp(xp, ctx, g, out, x):
    return (g / x,)


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for small x."""
    x = as_tensor(x)
    return record(B.quiet(B.log1p, floating(x.data)), _log1p_vjp, (x,))


@defvjp(log1p, reads="inputs", xp=("log1p",), methods=("log1p",), shows="f' = 1/(1 + x)")
def _log1p_vjp(xp, ctx, g, out, x):
    return (g / (x + 1),)


def sqrt(x: Any) -> Tensor:
    """√x."""
    x = as_tensor(x)
    return record(B.quiet(B.sqrt, floating(x.data)), _sqrt_vjp, (x,))


@defvjp(sqrt, reads="output", xp=("sqrt",), methods=("sqrt",), shows="sqrt' = 1/(2y)")
def _sqrt_vjp(xp, ctx, g, out, x):
    with xp.errstate(divide="ignore"):  # at x = 0 the derivative is +inf, silently (as PyTorch)
        return (g / (out * 2),)  # (√x)' = 1 / (2√x), reusing √x


def abs(x: Any) -> Tensor:  # noqa: A001
    """|x|; its gradient at 0 (and at NaN) is taken as 0, as PyTorch's."""
    x = as_tensor(x)
    return record(B.abs(x.data), _abs_vjp, (x,))


@defvjp(abs, reads="inputs", xp=("abs",), methods=("abs", "__abs__"), shows="abs' = sign(x)")
def _abs_vjp(xp, ctx, g, out, x):
    # sign(x), with 0 where x is 0 or NaN (NumPy's sign(NaN) is NaN; PyTorch's gradient is 0).
    return (xp.where(x > 0, g, xp.where(x < 0, -g, 0)),)


def sin(x: Any) -> Tensor:
    """sin x."""
    x = as_tensor(x)
    return record(B.sin(floating(x.data)), _sin_vjp, (x,))


@defvjp(sin, reads="inputs", xp=("sin",), methods=("sin",), shows="sin' = cos x")
def _sin_vjp(xp, ctx, g, out, x):
    return (g * xp.cos(x),)


def cos(x: Any) -> Tensor:
    """cos x."""
    x = as_tensor(x)
    return record(B.cos(floating(x.data)), _cos_vjp, (x,))


@defvjp(cos, reads="inputs", xp=("cos",), methods=("cos",), shows="cos' = −sin x")
def _cos_vjp(xp, ctx, g, out, x):
    return (-(g * xp.sin(x)),)


def erf(x: Any) -> Tensor:
    """The error function erf x = 2/√π ∫₀ˣ e^(−t²) dt."""
    x = as_tensor(x)
    return record(B.erf(floating(x.data)), _erf_vjp, (x,))


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@defvjp(erf, reads="inputs", xp=("erf",), methods=("erf",), shows="erf' = 2/√π·e^(−x²)")
def _erf_vjp(xp, ctx, g, out, x):
    return (g * (xp.exp(-(x * x)) * _TWO_OVER_SQRT_PI),)


def atan2(y: Any, x: Any) -> Tensor:
    """The angle of the point (x, y), in (−π, π], element-wise with broadcasting."""
    return _binary(_atan2_vjp, B.atan2, y, x, real=True)


@defvjp(atan2, reads="inputs", xp=("atan2",), methods=("atan2",),
        shows="∂y = x/r²,  ∂x = −y/r²")
def _atan2_vjp(xp, ctx, g, out, y, x):
    # atan2(y, x) = atan(y/x) up to a constant: ∂/∂y = x/(x² + y²), ∂/∂x = −y/(x² + y²).
    need_y, need_x = ctx.needs
    g_r2 = g / (x * x + y * y)
    return (g_r2 * x if need_y else None), (-(g_r2 * y) if need_x else None)


def sign(x: Any) -> Tensor:
    """−1, 0 or 1 by the sign of x; piecewise constant, so it records nothing."""
    x = as_tensor(x)
    return Tensor(B.sign(x.data))


nondifferentiable(sign, xp=("sign",), methods=("sign",))


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """x limited to [min, max]; the gradient passes where min ≤ x ≤ max (PyTorch's convention)."""
    x = as_tensor(x)
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    if any(isinstance(v, Tensor) and v.requires_grad for v in (min, max)):
        # Bounds that need gradients: compose, so each bound gets the gradient where it binds.
        y = x if min is None else maximum(x, min)
        return y if max is None else minimum(y, max)
    lo, hi = _bound(min), _bound(max)
    return record(B.clip(x.data, lo, hi), _clip_vjp, (x,), (lo, hi))


def _bound(v: Any) -> Any:
    # A NumPy float64 scalar bound acts as the Python float it subclasses, so float32 stays float32.
    if isinstance(v, Tensor):
        return v.data
    return float(v) if isinstance(v, float) else v


@defvjp(clip, reads="inputs", xp=("clip",), methods=("clip", "clamp"),
        shows="f' = 1[lo ≤ x ≤ hi]")
def _clip_vjp(xp, ctx, g, out, x):
    lo, hi = ctx.saved
    inside = True
    if lo is not None:
        inside = x >= lo
    if hi is not None:
        inside = (x <= hi) if lo is None else inside * (x <= hi)
    return (g * inside,)


def maximum(a: Any, b: Any) -> Tensor:
    """Element-wise max of a and b (NaN if either is); at ties each side gets half the gradient."""
    return _binary(_maximum_vjp, B.maximum, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Element-wise min of a and b (NaN if either is); at ties each side gets half the gradient."""
    return _binary(_minimum_vjp, B.minimum, a, b)


def _ties_split(xp, g, a, b):
    # A tie (a == b) splits the gradient evenly: the mean of the two one-sided derivatives.
    return xp.where(a == b, g * 0.5, g)


@defvjp(maximum, reads="inputs", xp=("maximum",), methods=("maximum",),
        shows="to the larger; ties split")
def _maximum_vjp(xp, ctx, g, out, a, b):
    # The larger input gets the gradient. Where a comparison involves NaN it is false, so both
    # inputs keep the gradient there, as in PyTorch.
    share = _ties_split(xp, g, a, b)
    return xp.where(a < b, 0, share), xp.where(a > b, 0, share)


@defvjp(minimum, reads="inputs", xp=("minimum",), methods=("minimum",),
        shows="to the smaller; ties split")
def _minimum_vjp(xp, ctx, g, out, a, b):
    share = _ties_split(xp, g, a, b)
    return xp.where(a > b, 0, share), xp.where(a < b, 0, share)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcasting all three); cond gets no gradient."""
    # A copy of the condition: the rule reads it in backward, and the caller may change theirs.
    c = B.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=B.bool, copy=True)
    if not isinstance(a, Tensor):
        a = lift(a, b) if isinstance(b, Tensor) else as_tensor(a)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    da, db = a.data, b.data
    if da.dtype is not db.dtype:
        da, db = promote(da, db)
    try:
        out = B.where(c, da, db)
    except ValueError:
        raise ValueError(
            f"where: shapes {c.shape}, {a.shape} and {b.shape} cannot be broadcast together"
        ) from None
    return record(out, _where_vjp, (a, b), c)


@defvjp(where, reads="nothing", xp=("where",))
def _where_vjp(xp, ctx, g, out, a, b):
    c = ctx.saved
    return xp.where(c, g, 0), xp.where(c, 0, g)


def astype(x: Any, dtype: Any) -> Tensor:
    """x converted to ``dtype``; the gradient is converted back to x's dtype."""
    x = as_tensor(x)
    dtype = B.asarray(0, dtype=dtype).dtype
    if x.data.dtype == dtype:
        return x
    if x.requires_grad and dtype.kind not in "fc":
        return Tensor(x.data.astype(dtype))
    return record(x.data.astype(dtype), _astype_vjp, (x,))


@defvjp(astype, reads="nothing", xp=("astype",), methods=("astype", "to"))
def _astype_vjp(xp, ctx, g, out, x):
    return (xp.astype(g, x.dtype),)


# ----------------------------------------------------------------------------- comparisons
#: A comparison's type, declared on each one below: a type checker cannot infer the type of a
#: function made by a call while it reads tensor.py, which names these as Tensor's operators.
_Comparison = Callable[[Any, Any], Tensor]


def _comparison(f, name: str, symbol: str, xp_name: str, methods: tuple, reflected: tuple = ()
                ) -> _Comparison:
    """A boolean op on two operands; comparisons are piecewise constant and record nothing."""

    def op(a: Any, b: Any) -> Tensor:
        ad = a.data if isinstance(a, Tensor) else a
        bd = b.data if isinstance(b, Tensor) else b
        return Tensor(f(ad, bd))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"a {symbol} b, element-wise: a boolean tensor that records nothing."
    nondifferentiable(op, xp=(xp_name,), methods=methods, reflected=reflected)
    return op


lt: _Comparison = _comparison(B.less, "lt", "<", "less", ("__lt__",))
le: _Comparison = _comparison(B.less_equal, "le", "<=", "less_equal", ("__le__",))
gt: _Comparison = _comparison(B.greater, "gt", ">", "greater", ("__gt__",))
ge: _Comparison = _comparison(B.greater_equal, "ge", ">=", "greater_equal", ("__ge__",))
eq: _Comparison = _comparison(B.equal, "eq", "==", "equal", ("__eq__",))
ne: _Comparison = _comparison(B.not_equal, "ne", "!=", "not_equal", ("__ne__",))
# Boolean masks combine as in NumPy and PyTorch.
logical_and: _Comparison = _comparison(B.logical_and, "logical_and", "and", "logical_and", ("__and__", "__rand__"))
logical_or: _Comparison = _comparison(B.logical_or, "logical_or", "or", "logical_or", ("__or__", "__ror__"))
logical_xor: _Comparison = _comparison(B.logical_xor, "logical_xor", "xor", "logical_xor", ("__xor__", "__rxor__"))


def logical_not(x: Any) -> Tensor:
    """Element-wise not of a boolean tensor (records nothing)."""
    return Tensor(B.logical_not(x.data if isinstance(x, Tensor) else x))


nondifferentiable(logical_not, xp=("logical_not",), methods=("__invert__",))


def isnan(x: Any) -> Tensor:
    """Where x is NaN (a boolean tensor; records nothing)."""
    return Tensor(B.isnan(x.data if isinstance(x, Tensor) else x))


nondifferentiable(isnan, xp=("isnan",), methods=("isnan",))
