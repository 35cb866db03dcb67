"""PyTorch as an independent oracle: values and gradients of every op, in float64.

Each test builds the same computation in both libraries from the same NumPy arrays, compares the
forward values, then back-propagates the same random upstream gradient through both (with
``backward(gradient=...)``) and compares the gradient of every floating input. The expected values
always come from PyTorch, never from this library.

PyTorch is reached only through the ``torch`` fixture of conftest.py, so the module imports (and
the tests skip) where PyTorch is not installed.

Tolerances: where both libraries evaluate the same formula in float64 the results agree to a few
ulps, so the default is rtol=1e-10, atol=1e-12; any looser tolerance says why next to it.

Documented differences from PyTorch, tested as our documented behaviour:
* ``max``/``min`` with an axis return values only (PyTorch returns (values, indices)) and split
  the gradient evenly among ties; the oracle for ties is ``torch.amax``/``torch.amin``, which
  split it evenly too.
* ``transpose`` with all axes is NumPy's permutation (PyTorch's ``transpose`` takes only two).

Deliberate differences where PyTorch is the one that departs from the exact math:
* ``softplus`` above 20: PyTorch returns x itself (threshold=20); ours stays exact.
* ``binary_cross_entropy``'s target gradient at p = 0 or 1: PyTorch gives ±inf, ours the finite
  derivative of the clamped loss that both compute.
* The BCE double-backward and BCE's clamp constant: PyTorch is a few 1e-10 (resp. 4e-9) off.
Each is tested against PyTorch under conditions where the two should agree, with a comment.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F

RTOL = 1e-10
ATOL = 1e-12


# ============================================================================= helpers
def assert_close(ours, theirs, rtol=RTOL, atol=ATOL, what="value"):
    """Compare one of our results (Tensor or array) with one of PyTorch's (tensor or None)."""
    ours = ours.numpy() if isinstance(ours, ag.Tensor) else np.asarray(ours)
    # force=True also reads PyTorch's lazily-zero results (a ZeroTensor from sign's derivative).
    theirs = theirs.numpy(force=True) if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch's {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def is_float(a) -> bool:
    return np.asarray(a).dtype.kind == "f"


def to_ours(a):
    """Floating arrays become leaves that require grad; anything else (labels) a constant."""
    a = np.asarray(a)
    return ag.tensor(a, requires_grad=True) if is_float(a) else ag.tensor(a)


def to_theirs(torch, a):
    a = np.asarray(a)
    return torch.tensor(a, requires_grad=True) if is_float(a) else torch.as_tensor(a)


def compare_op(torch, ours_fn, theirs_fn, arrays, rng, rtol=RTOL, atol=ATOL, grads=True):
    """Run ``ours_fn`` and ``theirs_fn(torch, ...)`` on the same arrays; compare values and the
    gradients of every floating input under one random upstream gradient."""
    xs = [to_ours(a) for a in arrays]
    ts = [to_theirs(torch, a) for a in arrays]
    out = ours_fn(*xs)
    expected = theirs_fn(torch, *ts)
    assert_close(out, expected, rtol, atol, "forward value")
    if expected.dtype == torch.float64:
        assert out.dtype == np.float64, f"float64 inputs gave a {out.dtype} result"
    if not grads:
        return
    upstream = rng.standard_normal(tuple(expected.shape))
    out.backward(gradient=upstream)
    expected.backward(gradient=torch.from_numpy(upstream))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if not t.requires_grad:
            continue
        if t.grad is None:  # no path from this input to the output (a where() condition)
            assert x.grad is None or not x.grad.numpy().any(), f"input {i} got a gradient"
            continue
        assert x.grad is not None, f"input {i} got no gradient; torch's is {t.grad}"
        assert_close(x.grad, t.grad, rtol, atol, f"gradient of input {i}")


# Input generators: each takes a NumPy Generator and returns one float64 (or integer) array.
def normal(*shape, scale=1.0):
    return lambda rng: np.asarray(scale * rng.standard_normal(shape), dtype=np.float64)


def uniform(lo, hi, *shape):
    return lambda rng: np.asarray(rng.uniform(lo, hi, shape), dtype=np.float64)


def positive(*shape):
    return uniform(0.5, 2.0, *shape)


def nonzero(*shape):
    """Magnitudes in [0.5, 2] with random signs: safe denominators, no kinks at 0."""
    return lambda rng: rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def const(values, dtype=np.float64):
    return lambda rng: np.array(values, dtype=dtype)


def labels(n_classes, *shape):
    return lambda rng: rng.integers(0, n_classes, shape).astype(np.int64)


@pytest.fixture
def rng():
    return np.random.default_rng(20240607)


def op_case(name, ours, theirs, *makers, rtol=RTOL, atol=ATOL, grads=True):
    """One parametrized op comparison: ``theirs`` takes the torch module first."""
    return pytest.param(ours, theirs, makers, rtol, atol, grads, id=name)


OP_ARGS = "ours, theirs, makers, rtol, atol, grads"


def run_case(torch, rng, ours, theirs, makers, rtol, atol, grads):
    compare_op(torch, ours, theirs, [m(rng) for m in makers], rng, rtol, atol, grads)


# ============================================================================= binary arithmetic
BINARY_OPS = {
    # name: (ours, theirs, generator of the left operand, generator of the right operand)
    "add": (lambda a, b: a + b, lambda T, a, b: a + b, normal, normal),
    "sub": (lambda a, b: a - b, lambda T, a, b: a - b, normal, normal),
    "mul": (lambda a, b: a * b, lambda T, a, b: a * b, normal, normal),
    "div": (lambda a, b: a / b, lambda T, a, b: a / b, normal, nonzero),
    "pow": (lambda a, b: a ** b, lambda T, a, b: a ** b, positive, normal),
    "maximum": (ag.maximum, lambda T, a, b: T.maximum(a, b), normal, normal),
    "minimum": (ag.minimum, lambda T, a, b: T.minimum(a, b), normal, normal),
}

BROADCAST_SHAPES = [
    ((), ()),
    ((2, 3), ()),
    ((), (3,)),
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((4, 1), (1, 5)),
    ((2, 1, 3), (4, 3)),
]


def _shape_id(shape):
    return "(" + ",".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


BINARY_CASES = [
    op_case(
        f"{name}-{_shape_id(sa)}x{_shape_id(sb)}", ours, theirs, make_a(*sa), make_b(*sb)
    )
    for name, (ours, theirs, make_a, make_b) in BINARY_OPS.items()
    for sa, sb in BROADCAST_SHAPES
]


@pytest.mark.parametrize(OP_ARGS, BINARY_CASES)
def test_binary_op_with_broadcasting(torch, rng, ours, theirs, makers, rtol, atol, grads):
    run_case(torch, rng, ours, theirs, makers, rtol, atol, grads)


# A Python number on either side of an operator, including the reflected operators.
NUMBER_CASES = [
    op_case("x+2.5", lambda x: x + 2.5, lambda T, x: x + 2.5, normal(2, 3)),
    op_case("2.5+x", lambda x: 2.5 + x, lambda T, x: 2.5 + x, normal(2, 3)),
    op_case("x-2.5", lambda x: x - 2.5, lambda T, x: x - 2.5, normal(2, 3)),
    op_case("2.5-x", lambda x: 2.5 - x, lambda T, x: 2.5 - x, normal(2, 3)),
    op_case("x*-1.5", lambda x: x * -1.5, lambda T, x: x * -1.5, normal(2, 3)),
    op_case("-1.5*x", lambda x: -1.5 * x, lambda T, x: -1.5 * x, normal(2, 3)),
    op_case("x/2.5", lambda x: x / 2.5, lambda T, x: x / 2.5, normal(2, 3)),
    op_case("2.5/x", lambda x: 2.5 / x, lambda T, x: 2.5 / x, nonzero(2, 3)),
    op_case("x**2(int)", lambda x: x ** 2, lambda T, x: x ** 2, normal(2, 3)),
    op_case("x**3.0", lambda x: x ** 3.0, lambda T, x: x ** 3.0, normal(2, 3)),
    op_case("x**2.5", lambda x: x ** 2.5, lambda T, x: x ** 2.5, positive(2, 3)),
    op_case("x**0.5", lambda x: x ** 0.5, lambda T, x: x ** 0.5, positive(2, 3)),
    op_case("x**-1.5", lambda x: x ** -1.5, lambda T, x: x ** -1.5, positive(2, 3)),
    op_case("x**-1(int)", lambda x: x ** -1, lambda T, x: x ** -1, nonzero(2, 3)),
    op_case("2.0**x", lambda x: 2.0 ** x, lambda T, x: 2.0 ** x, normal(2, 3)),
    op_case("0.5**x", lambda x: 0.5 ** x, lambda T, x: 0.5 ** x, normal(2, 3)),
    op_case("3**x(int)", lambda x: 3 ** x, lambda T, x: 3 ** x, normal(2, 3)),
    op_case("x.pow(3.0)", lambda x: x.pow(3.0), lambda T, x: x.pow(3.0), normal(4)),
    op_case("neg", lambda x: -x, lambda T, x: -x, normal(2, 3)),
    # One tensor on both sides: the two gradient contributions must add up.
    op_case("x*x", lambda x: x * x, lambda T, x: x * x, normal(2, 3)),
    op_case("x-x", lambda x: x - x, lambda T, x: x - x, normal(2, 3)),
    op_case("x/x", lambda x: x / x, lambda T, x: x / x, nonzero(2, 3)),
    op_case("x**x", lambda x: x ** x, lambda T, x: x ** x, positive(2, 3)),
    op_case("x@x", lambda x: x @ x, lambda T, x: x @ x, normal(3, 3)),
    op_case("maximum(x,0.3)", lambda x: ag.maximum(x, 0.3), lambda T, x: T.clamp(x, min=0.3),
            normal(2, 3)),
    op_case("minimum(0.3,x)", lambda x: ag.minimum(0.3, x), lambda T, x: T.clamp(x, max=0.3),
            normal(2, 3)),
]


@pytest.mark.parametrize(OP_ARGS, NUMBER_CASES)
def test_operator_with_python_number(torch, rng, ours, theirs, makers, rtol, atol, grads):
    run_case(torch, rng, ours, theirs, makers, rtol, atol, grads)


# ============================================================================= element-wise
UNARY_CASES = [
    op_case("exp", ag.exp, lambda T, x: T.exp(x), normal(2, 3)),
    op_case("log", ag.log, lambda T, x: T.log(x), uniform(0.05, 5.0, 2, 3)),
    op_case("log1p", ag.log1p, lambda T, x: T.log1p(x), uniform(-0.9, 3.0, 2, 3)),
    op_case("log1p-tiny", ag.log1p, lambda T, x: T.log1p(x), normal(5, scale=1e-12)),
    op_case("sqrt", ag.sqrt, lambda T, x: T.sqrt(x), uniform(0.05, 5.0, 2, 3)),
    op_case("abs", ag.abs, lambda T, x: T.abs(x), nonzero(2, 3)),
    op_case("sin", ag.sin, lambda T, x: T.sin(x), normal(2, 3, scale=3.0)),
    op_case("cos", ag.cos, lambda T, x: T.cos(x), normal(2, 3, scale=3.0)),
    op_case("erf", ag.erf, lambda T, x: T.erf(x), normal(2, 3, scale=2.0)),
    op_case("exp-method", lambda x: x.exp(), lambda T, x: x.exp(), normal(4)),
    op_case("abs-builtin", lambda x: abs(x), lambda T, x: abs(x), nonzero(4)),
    op_case("clip", lambda x: ag.clip(x, -0.5, 0.7), lambda T, x: T.clamp(x, -0.5, 0.7),
            normal(3, 4)),
    op_case("clip-min-only", lambda x: x.clip(min=-0.2), lambda T, x: T.clamp(x, min=-0.2),
            normal(3, 4)),
    op_case("clip-max-only", lambda x: x.clip(max=0.2), lambda T, x: T.clamp(x, max=0.2),
            normal(3, 4)),
    op_case("clamp-method", lambda x: x.clamp(-1.0, 1.0), lambda T, x: x.clamp(-1.0, 1.0),
            normal(3, 4, scale=2.0)),
]


@pytest.mark.parametrize(OP_ARGS, UNARY_CASES)
def test_elementwise_function(torch, rng, ours, theirs, makers, rtol, atol, grads):
    run_case(torch, rng, ours, theirs, makers, rtol, atol, grads)


# Kinks, ties and edges. Where a derivative is a convention (abs, relu, clip, ties) the README
# promises PyTorch's; the other points have one right answer, which PyTorch gives.
EDGE_CASES = [
    op_case("abs-at-0", ag.abs, lambda T, x: T.abs(x), const([-1.5, 0.0, 2.0, -0.0])),
    op_case("relu-at-0", F.relu, lambda T, x: T.relu(x), const([-1.5, 0.0, 2.0])),
    op_case("leaky_relu-at-0", F.leaky_relu, lambda T, x: T.nn.functional.leaky_relu(x),
            const([-1.5, 0.0, 2.0])),
    op_case("elu-at-0", F.elu, lambda T, x: T.nn.functional.elu(x), const([-1.5, 0.0, 2.0])),
    op_case("clip-at-bounds", lambda x: ag.clip(x, -1.0, 1.0), lambda T, x: T.clamp(x, -1.0, 1.0),
            const([-2.0, -1.0, -0.5, 0.0, 1.0, 2.0])),
    op_case("maximum-ties", ag.maximum, lambda T, a, b: T.maximum(a, b),
            const([1.0, 2.0, 3.0, -1.0]), const([1.0, 0.0, 3.0, 5.0])),
    op_case("minimum-ties", ag.minimum, lambda T, a, b: T.minimum(a, b),
            const([1.0, 2.0, 3.0, -1.0]), const([1.0, 0.0, 3.0, 5.0])),
    op_case("maximum-ties-broadcast", ag.maximum, lambda T, a, b: T.maximum(a, b),
            const([[1.0, 2.0, 3.0], [0.0, 5.0, 3.0]]), const([1.0, 5.0, 3.0])),
    op_case("minimum-ties-broadcast", ag.minimum, lambda T, a, b: T.minimum(a, b),
            const([[1.0, 2.0, 3.0], [0.0, 5.0, 3.0]]), const([1.0, 5.0, 3.0])),
    # 0 ** b for b ≥ 0: d/db is taken as 0 by both (the limit from b > 0); d/da is b·0^(b−1).
    op_case("pow-zero-base", lambda a, b: a ** b, lambda T, a, b: a ** b,
            const([0.0, 0.0, 0.0]), const([2.0, 1.0, 3.0])),
    # x ** 0 is the constant 1, so its derivative is 0 everywhere, including x = 0.
    op_case("pow-zero-exponent-at-zero", lambda x: x ** 0.0, lambda T, x: x ** 0.0,
            const([0.0, 1.5, -2.0])),
    op_case("pow-tensor-zero-exponent-at-zero", lambda a, b: a ** b, lambda T, a, b: a ** b,
            const([0.0, 2.0]), const([0.0, 0.0])),
    # std of a constant row: √ has an infinite slope at 0, and PyTorch takes the gradient there
    # as 0 (a valid subgradient: std is a norm of the centred data, whose subdifferential at 0
    # contains 0). var is smooth there.
    op_case("std-constant-row", lambda x: x.std(axis=1), lambda T, x: T.std(x, dim=1),
            const([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])),
    op_case("var-constant-row", lambda x: x.var(axis=1), lambda T, x: T.var(x, dim=1),
            const([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])),
    # −inf logits (masking): probability 0, no NaN in the value or the gradient.
    op_case("softmax-masked", F.softmax, lambda T, x: T.softmax(x, dim=-1),
            const([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]])),
    op_case("log_softmax-masked", F.log_softmax, lambda T, x: T.log_softmax(x, dim=-1),
            const([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -1.0]])),
    op_case("sqrt-at-0", ag.sqrt, lambda T, x: T.sqrt(x), const([0.0, 4.0])),
    op_case("log-at-0", ag.log, lambda T, x: T.log(x), const([0.0, 2.0])),
]


@pytest.mark.parametrize(OP_ARGS, EDGE_CASES)
def test_kinks_ties_and_edges(torch, rng, ours, theirs, makers, rtol, atol, grads):
    # Infinite intermediate results (sqrt'(0), log(0), 0 ** −1 inside pow's rule) make NumPy
    # warn, and the suite turns warnings into errors; the values are what is compared here.
    with np.errstate(divide="ignore", invalid="ignore"):
        run_case(torch, rng, ours, theirs, makers, rtol, atol, grads)


WHERE_CASES = [
    op_case("where-same-shape",
            lambda c, a, b: ag.where(c > 0, a, b), lambda T, c, a, b: T.where(c > 0, a, b),
            normal(3, 4), normal(3, 4), normal(3, 4)),
    op_case("where-broadcast",
            lambda c, a, b: ag.where(c > 0, a, b), lambda T, c, a, b: T.where(c > 0, a, b),
            normal(2, 1, 4), normal(3, 1), normal(4)),
    op_case("where-number-branch",
            lambda c, a: ag.where(c > 0, a, 0.5), lambda T, c, a: T.where(c > 0, a, 0.5),
            normal(3, 4), normal(3, 4)),
    op_case("where-number-first",
            lambda c, b: ag.where(c > 0, -1.0, b), lambda T, c, b: T.where(c > 0, -1.0, b),
            normal(3, 4), normal(3, 4)),
]


@pytest.mark.parametrize(OP_ARGS, WHERE_CASES)
def test_where(torch, rng, ours, theirs, makers, rtol, atol, grads):
    run_case(torch, rng, ours, theirs, makers, rtol, atol, grads)


# ============================================================================= reductions
def _dims(axis):
    """PyTorch's reductions want a dim tuple where NumPy's axis=None means all axes."""
    return tuple(range(3)) if axis is None else axis


# (our method, torch function, input scale). Continuous random data has no ties, so amax's and
# max's gradients coincide.
_REDUCTIONS = [("sum", "sum", 1.0), ("mean", "mean", 1.0), ("max", "amax", 1.0),
               ("min", "amin", 1.0), ("var", "var", 1.0), ("std", "std", 1.0),
               ("logsumexp", "logsumexp", 3.0)]
REDUCTION_CASES = [
    op_case(f"{ours}-axis={axis}-keepdims={keep}",
            lambda x, m=ours, a=axis, k=keep: getattr(x, m)(axis=a, keepdims=k),
            lambda T, x, f=theirs, a=axis, k=keep: getattr(T, f)(x, dim=_dims(a), keepdim=k),
            normal(2, 3, 4, scale=scale))
    for axis in (None, 0, -1, 1, (0, 2))
    for keep in (False, True)
    for ours, theirs, scale in _REDUCTIONS
]

REDUCTION_CASES += [
    # PyTorch's names for the same arguments.
    op_case("sum-dim-keepdim", lambda x: x.sum(dim=1, keepdim=True),
            lambda T, x: x.sum(dim=1, keepdim=True), normal(2, 3, 4)),
    op_case("mean-module-function", lambda x: ag.mean(x, 0), lambda T, x: T.mean(x, 0),
            normal(2, 3)),
    op_case("sum-module-function", lambda x: ag.sum(x), lambda T, x: T.sum(x), normal(2, 3)),
    # max/min with an int axis return values only; torch.max(x, dim) returns (values, indices).
    op_case("max-axis-vs-torch.max-values", lambda x: x.max(axis=1),
            lambda T, x: T.max(x, dim=1).values, normal(3, 5)),
    op_case("min-axis-vs-torch.min-values", lambda x: ag.min(x, axis=0),
            lambda T, x: T.min(x, dim=0).values, normal(3, 5)),
    op_case("max-full-vs-torch.max", lambda x: ag.max(x), lambda T, x: T.max(x), normal(3, 5)),
    # Ties split the gradient evenly: torch's full max/min and its amax/amin do the same.
    op_case("max-full-ties", lambda x: x.max(), lambda T, x: T.max(x),
            const([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0]])),
    op_case("min-full-ties", lambda x: x.min(), lambda T, x: T.min(x),
            const([[1.0, 0.0, 3.0], [0.0, 0.0, 2.0]])),
    op_case("max-axis-ties", lambda x: x.max(axis=1), lambda T, x: T.amax(x, dim=1),
            const([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [4.0, 4.0, 4.0]])),
    op_case("min-axis-ties-keepdims", lambda x: x.min(axis=0, keepdims=True),
            lambda T, x: T.amin(x, dim=0, keepdim=True),
            const([[1.0, 3.0, 3.0], [1.0, 0.0, 2.0], [4.0, 0.0, 2.0]])),
    # var/std: correction=1 by default (as torch); correction=0, ddof=0 and unbiased=False.
    op_case("var-correction=0", lambda x: x.var(axis=1, correction=0),
            lambda T, x: T.var(x, dim=1, correction=0), normal(3, 5)),
    op_case("var-ddof=0", lambda x: x.var(axis=1, ddof=0),
            lambda T, x: T.var(x, dim=1, correction=0), normal(3, 5)),
    op_case("var-ddof=1", lambda x: x.var(ddof=1),
            lambda T, x: T.var(x, correction=1), normal(3, 5)),
    op_case("var-unbiased=False", lambda x: x.var(axis=0, unbiased=False),
            lambda T, x: T.var(x, dim=0, unbiased=False), normal(3, 5)),
    op_case("var-correction=2", lambda x: x.var(axis=1, correction=2),
            lambda T, x: T.var(x, dim=1, correction=2), normal(3, 5)),
    op_case("std-correction=0", lambda x: x.std(axis=(0, 1), correction=0),
            lambda T, x: T.std(x, dim=(0, 1), correction=0), normal(3, 5, 2)),
    op_case("std-ddof=0-keepdims", lambda x: ag.std(x, 1, True, ddof=0),
            lambda T, x: T.std(x, dim=1, keepdim=True, correction=0), normal(3, 5)),
    op_case("var-dim-alias", lambda x: ag.var(x, dim=-1),
            lambda T, x: T.var(x, dim=-1), normal(3, 5)),
    # Large logits: both compute log Σ exp stably, so nothing overflows.
    op_case("logsumexp-large", lambda x: ag.logsumexp(x, axis=1),
            lambda T, x: T.logsumexp(x, dim=1),
            const([[1000.0, 999.0, -1000.0], [-1000.0, -1001.0, -999.5]])),
]


@pytest.mark.parametrize(OP_ARGS, REDUCTION_CASES)
def test_reduction(torch, rng, ours, theirs, makers, rtol, atol, grads):
    run_case(torch, rng, ours, theirs, makers, rtol, atol, grads)


ARG_CASES = [
    op_case("argmax-flat", lambda x: x.argmax(), lambda T, x: T.argmax(x), normal(3, 4),
            grads=False),
    op_case("argmin-flat", lambda x: ag.argmin(x), lambda T, x: T.argmin(x), normal(3, 4),
            grads=False),
    op_case("argmax-axis0", lambda x: x.argmax(axis=0), lambda T, x: T.argmax(x, dim=0),
            normal(3, 4), grads=False),
    op_case("argmax-axis-1-keepdims", lambda x: ag.argmax(x, axis=-1, keepdims=True),
            lambda T, x: T.argmax(x, dim=-1, keepdim=True), normal(2, 3, 4), grads=False),
    op_case("argmin-axis1", lambda x: x.argmin(axis=1), lambda T, x: T.argmin(x, dim=1),
            normal(2, 3, 4), grads=False),
    op_case("argmin-dim-alias", lambda x: x.argmin(dim=0), lambda T, x: T.argmin(x, dim=0),
            normal(5), grads=False),
]


@pytest.mark.parametrize(OP_ARGS, ARG_CASES)
def test_argmax_argmin(torch, rng, ours, theirs, makers, rtol, atol, grads):
    xs = [m(rng) for m in makers]
    out = ours(*[ag.tensor(x) for x in xs])
    expected = theirs(torch, *[torch.tensor(x) for x in xs]).numpy()
    assert not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), expected)
    assert out.shape == expected.shape


# ============================================================================= shape ops
SHAPE_CASES = [
    op_case("reshape", lambda x: x.reshape(4, 6), lambda T, x: x.reshape(4, 6), normal(2, 3, 4)),
    op_case("reshape-tuple-minus1", lambda x: x.reshape((3, -1)),
            lambda T, x: x.reshape((3, -1)), normal(2, 3, 4)),
    op_case("reshape-function", lambda x: ag.reshape(x, (-1,)), lambda T, x: T.reshape(x, (-1,)),
            normal(2, 3, 4)),
    op_case("view", lambda x: x.view(6, 2, 2), lambda T, x: x.view(6, 2, 2), normal(2, 3, 4)),
    op_case("transpose-2d", lambda x: x.transpose(0, 1), lambda T, x: x.transpose(0, 1),
            normal(3, 4)),
    op_case(".T-2d", lambda x: x.T, lambda T, x: x.T, normal(3, 4)),
    # Two arguments swap those axes, as PyTorch.
    op_case("transpose-swap-0-2", lambda x: x.transpose(0, 2), lambda T, x: x.transpose(0, 2),
            normal(2, 3, 4)),
    op_case("transpose-swap-negative", lambda x: ag.transpose(x, -1, 1),
            lambda T, x: T.transpose(x, -1, 1), normal(2, 3, 4)),
    # Documented difference: no arguments reverses all axes, and all axes is NumPy's
    # permutation; PyTorch's transpose takes only two, so the oracle is permute.
    op_case("transpose-no-args-reverses", lambda x: x.transpose(),
            lambda T, x: x.permute(2, 1, 0), normal(2, 3, 4)),
    op_case("transpose-all-axes-is-permutation", lambda x: x.transpose(1, 2, 0),
            lambda T, x: x.permute(1, 2, 0), normal(2, 3, 4)),
    op_case("transpose-all-axes-tuple", lambda x: x.transpose((2, 0, 1)),
            lambda T, x: x.permute(2, 0, 1), normal(2, 3, 4)),
    op_case("permute", lambda x: x.permute(2, 0, 1), lambda T, x: x.permute(2, 0, 1),
            normal(2, 3, 4)),
    op_case("permute-negative", lambda x: ag.permute(x, (-1, 0, 1)),
            lambda T, x: T.permute(x, (-1, 0, 1)), normal(2, 3, 4)),
    op_case("squeeze-all", lambda x: x.squeeze(), lambda T, x: x.squeeze(), normal(1, 3, 1, 4)),
    op_case("squeeze-axis", lambda x: x.squeeze(2), lambda T, x: x.squeeze(2), normal(1, 3, 1, 4)),
    op_case("squeeze-negative-axis", lambda x: ag.squeeze(x, -2), lambda T, x: T.squeeze(x, -2),
            normal(1, 3, 1, 4)),
    op_case("unsqueeze-0", lambda x: x.unsqueeze(0), lambda T, x: x.unsqueeze(0), normal(3, 4)),
    op_case("unsqueeze-1", lambda x: ag.unsqueeze(x, 1), lambda T, x: T.unsqueeze(x, 1),
            normal(3, 4)),
    op_case("unsqueeze-negative", lambda x: x.unsqueeze(-1), lambda T, x: x.unsqueeze(-1),
            normal(3, 4)),
    op_case("flatten", lambda x: x.flatten(), lambda T, x: x.flatten(), normal(2, 3, 4)),
    op_case("flatten-start", lambda x: x.flatten(1), lambda T, x: x.flatten(1), normal(2, 3, 4)),
    op_case("flatten-range", lambda x: ag.flatten(x, 0, 1), lambda T, x: T.flatten(x, 0, 1),
            normal(2, 3, 4, 2)),
    op_case("expand", lambda x: x.expand(4, 3), lambda T, x: x.expand(4, 3), normal(1, 3)),
    op_case("expand-minus1-new-axes", lambda x: x.expand(2, -1, 5),
            lambda T, x: x.expand(2, -1, 5), normal(3, 1)),
    op_case("broadcast_to", lambda x: ag.broadcast_to(x, (2, 4, 3)),
            lambda T, x: T.broadcast_to(x, (2, 4, 3)), normal(4, 1)),
    op_case("broadcast_to-method", lambda x: x.broadcast_to(3, 2),
            lambda T, x: x.broadcast_to((3, 2)), normal(2)),
]


@pytest.mark.parametrize(OP_ARGS, SHAPE_CASES)
def test_shape_op(torch, rng, ours, theirs, makers, rtol, atol, grads):
    run_case(torch, rng, ours, theirs, makers, rtol, atol, grads)


# Indices are written once, in NumPy terms, and converted for PyTorch.
def torch_index(torch, index):
    if isinstance(index, tuple):
        return tuple(torch_index(torch, i) for i in index)
    if isinstance(index, (np.ndarray, list)):
        return torch.as_tensor(np.asarray(index))
    return index


INDEX_CASES = [
    ("int", (2, 3, 4), 1),
    ("negative-int", (2, 3, 4), -1),
    ("int-pair", (2, 3, 4), (1, 2)),
    ("slice", (5, 4), slice(1, 4)),
    ("slice-step", (6, 4), slice(0, None, 2)),
    ("slices-2d", (5, 6), (slice(1, 4), slice(None, None, 3))),
    ("slice-and-int", (5, 6), (slice(None), 2)),
    ("ellipsis", (2, 3, 4), (Ellipsis, 1)),
    ("newaxis", (3, 4), (None, slice(None), 1)),
    ("int-array-repeated", (5, 3), np.array([0, 2, 0, 0, 4])),
    ("int-list-repeated", (5, 3), [3, 3, 1]),
    ("int-array-2d", (5, 3), np.array([[0, 1], [1, 1]])),
    ("int-array-pair-repeated", (4, 5), (np.array([0, 2, 0, 3]), np.array([1, 4, 1, 1]))),
    ("int-lists-pair", (4, 5), ([0, 3, 0], [2, 2, 2])),
    ("int-array-negative", (4, 5), np.array([-1, 0, -1])),
    ("slice-then-int-array", (4, 5), (slice(1, 3), np.array([4, 0, 4]))),
    ("bool-mask-full", (3, 4), "mask-full"),
    ("bool-mask-rows", (3, 4), np.array([True, False, True])),
    ("bool-mask-columns", (3, 4), (slice(None), np.array([False, True, True, False]))),
]


@pytest.mark.parametrize(
    "shape, index", [pytest.param(s, i, id=name) for name, s, i in INDEX_CASES]
)
def test_indexing(torch, rng, shape, index):
    data = rng.standard_normal(shape)
    if isinstance(index, str):  # a boolean mask of the tensor's own shape
        index = data > 0
    compare_op(torch, lambda x: x[index], lambda T, x: x[torch_index(T, index)], [data], rng)


def test_indexing_with_an_integer_tensor(torch, rng):
    data = rng.standard_normal((5, 2))
    idx = np.array([4, 4, 0])
    compare_op(torch, lambda x: x[ag.tensor(idx)], lambda T, x: x[T.as_tensor(idx)], [data], rng)


def test_indexing_with_a_mask_from_a_comparison(torch, rng):
    compare_op(torch, lambda x: x[x > 0.2], lambda T, x: x[x > 0.2],
               [rng.standard_normal((3, 4))], rng)


JOIN_CASES = [
    op_case("cat-axis0", lambda a, b: ag.cat([a, b]), lambda T, a, b: T.cat([a, b]),
            normal(2, 3), normal(4, 3)),
    op_case("cat-axis1", lambda a, b, c: ag.cat([a, b, c], axis=1),
            lambda T, a, b, c: T.cat([a, b, c], dim=1), normal(2, 3), normal(2, 1), normal(2, 2)),
    op_case("cat-negative-axis", lambda a, b: ag.concatenate((a, b), axis=-1),
            lambda T, a, b: T.cat((a, b), dim=-1), normal(2, 3, 2), normal(2, 3, 4)),
    op_case("cat-dim-alias", lambda a, b: ag.cat([a, b], dim=1),
            lambda T, a, b: T.cat([a, b], dim=1), normal(2, 1, 2), normal(2, 3, 2)),
    op_case("stack-axis0", lambda a, b, c: ag.stack([a, b, c]),
            lambda T, a, b, c: T.stack([a, b, c]), normal(2, 3), normal(2, 3), normal(2, 3)),
    op_case("stack-axis1", lambda a, b: ag.stack([a, b], axis=1),
            lambda T, a, b: T.stack([a, b], dim=1), normal(2, 3), normal(2, 3)),
    op_case("stack-axis-last", lambda a, b: ag.stack((a, b), axis=-1),
            lambda T, a, b: T.stack((a, b), dim=-1), normal(2, 3), normal(2, 3)),
    op_case("cat-same-tensor-twice", lambda a: ag.cat([a, a * 2.0]),
            lambda T, a: T.cat([a, a * 2.0]), normal(3)),
]


@pytest.mark.parametrize(OP_ARGS, JOIN_CASES)
def test_cat_and_stack(torch, rng, ours, theirs, makers, rtol, atol, grads):
    run_case(torch, rng, ours, theirs, makers, rtol, atol, grads)


# ============================================================================= matmul
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
]


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [pytest.param(a, b, id=f"{_shape_id(a)}@{_shape_id(b)}") for a, b in MATMUL_SHAPES],
)
def test_matmul(torch, rng, shape_a, shape_b):
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    # Sums of a few products in a possibly different order (BLAS vs. PyTorch's kernels): agree to
    # within float64 rounding of the sum, which the default tolerances cover.
    compare_op(torch, lambda x, y: x @ y, lambda T, x, y: x @ y, [a, b], rng)


def test_matmul_function_and_method(torch, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    compare_op(torch, lambda x, y: ag.matmul(x, y.matmul(x)), lambda T, x, y: T.matmul(x, y @ x),
               [a, b], rng)


def test_matmul_with_a_constant_operand(torch, rng):
    a, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    compare_op(torch, lambda x: x @ ag.tensor(w), lambda T, x: x @ T.from_numpy(w), [a], rng)


# ============================================================================= comparisons
COMPARISONS = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
}


@pytest.mark.parametrize("op", list(COMPARISONS.values()), ids=list(COMPARISONS))
@pytest.mark.parametrize("rhs", ["tensor", "broadcast", "number"])
def test_comparison(torch, op, rhs):
    a = np.array([[1.0, 2.0, 3.0], [0.5, 2.0, -1.0]])  # ties with b and with the number 2.0
    b = {"tensor": np.array([[1.0, 0.0, 4.0], [0.5, 3.0, -1.0]]),
         "broadcast": np.array([1.0, 2.0, -1.0]),
         "number": 2.0}[rhs]
    x = ag.tensor(a, requires_grad=True)
    y = ag.tensor(b) if rhs != "number" else b
    out = op(x, y)
    expected = op(torch.tensor(a, requires_grad=True),
                  torch.tensor(b) if rhs != "number" else b).numpy()
    assert not out.requires_grad
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out.numpy(), expected)


# ============================================================================= activations
def _tf(T):
    return T.nn.functional


def _named(table):
    return [pytest.param(o, t, id=n) for n, (o, t) in table.items()]


ACTIVATIONS = {
    # name: (ours, theirs)
    "sigmoid": (F.sigmoid, lambda T, x: T.sigmoid(x)),
    "tanh": (F.tanh, lambda T, x: T.tanh(x)),
    "softmax": (F.softmax, lambda T, x: T.softmax(x, dim=-1)),
    "softmax-axis0": (lambda x: F.softmax(x, axis=0), lambda T, x: T.softmax(x, dim=0)),
    "log_softmax": (F.log_softmax, lambda T, x: T.log_softmax(x, dim=-1)),
    "log_softmax-axis0": (lambda x: F.log_softmax(x, axis=0),
                          lambda T, x: T.log_softmax(x, dim=0)),
    "relu": (F.relu, lambda T, x: T.relu(x)),
    "leaky_relu": (F.leaky_relu, lambda T, x: _tf(T).leaky_relu(x)),
    "leaky_relu-slope0.2": (lambda x: F.leaky_relu(x, 0.2),
                            lambda T, x: _tf(T).leaky_relu(x, negative_slope=0.2)),
    "elu": (F.elu, lambda T, x: _tf(T).elu(x)),
    "elu-alpha0.5": (lambda x: F.elu(x, alpha=0.5), lambda T, x: _tf(T).elu(x, alpha=0.5)),
    "gelu": (F.gelu, lambda T, x: _tf(T).gelu(x)),  # torch's default approximate='none'
    "silu": (F.silu, lambda T, x: _tf(T).silu(x)),
    "softplus": (F.softplus, lambda T, x: _tf(T).softplus(x)),
}


@pytest.mark.parametrize("ours, theirs", _named(ACTIVATIONS))
def test_activation(torch, rng, ours, theirs):
    # Scale 3 reaches the saturated tails but stays below softplus's switch at 20 (see below).
    compare_op(torch, ours, theirs, [3.0 * rng.standard_normal((4, 5))], rng)


ACTIVATION_SPELLINGS = {
    "method-sigmoid": (lambda x: x.sigmoid(), lambda T, x: x.sigmoid()),
    "method-tanh": (lambda x: x.tanh(), lambda T, x: x.tanh()),
    "method-relu": (lambda x: x.relu(), lambda T, x: x.relu()),
    "method-softmax-axis": (lambda x: x.softmax(axis=1), lambda T, x: x.softmax(dim=1)),
    "method-log_softmax-dim": (lambda x: x.log_softmax(dim=1), lambda T, x: x.log_softmax(dim=1)),
    "ag.sigmoid": (ag.sigmoid, lambda T, x: T.sigmoid(x)),
    "ag.tanh": (ag.tanh, lambda T, x: T.tanh(x)),
    "ag.relu": (ag.relu, lambda T, x: T.relu(x)),
    "ag.softmax": (ag.softmax, lambda T, x: T.softmax(x, dim=-1)),
    "ag.log_softmax": (ag.log_softmax, lambda T, x: T.log_softmax(x, dim=-1)),
}


@pytest.mark.parametrize("ours, theirs", _named(ACTIVATION_SPELLINGS))
def test_activation_methods_and_top_level_names(torch, rng, ours, theirs):
    compare_op(torch, ours, theirs, [rng.standard_normal((3, 4))], rng)


SATURATING = ("sigmoid", "tanh", "softmax", "log_softmax", "elu", "gelu", "silu")


@pytest.mark.parametrize("ours, theirs", _named({n: ACTIVATIONS[n] for n in SATURATING}))
def test_activation_at_extreme_inputs(torch, rng, ours, theirs):
    # Saturated regions, where a naive formula would overflow or lose everything to rounding.
    x = np.array([[-800.0, -40.0, -1e-8, 0.0, 1e-8, 40.0, 800.0]])
    compare_op(torch, ours, theirs, [x], rng)


def test_softplus_at_large_inputs(torch, rng):
    # torch.nn.functional.softplus returns x itself above threshold=20 (an approximation, with
    # gradient exactly 1); ours computes log(1 + e^x) to full precision there. With torch's
    # threshold raised out of the way, torch evaluates log1p(exp(x)) exactly too.
    x = np.array([-60.0, -25.0, 19.0, 20.5, 25.0, 30.0, 600.0])
    compare_op(torch, F.softplus, lambda T, x: _tf(T).softplus(x, threshold=1000.0), [x[:-1]], rng)
    # At 600, exp overflows in torch's exact formula; there the true value is x to float64
    # precision, which torch's default (thresholded) softplus gives.
    compare_op(torch, F.softplus, lambda T, x: _tf(T).softplus(x), [x[-1:]], rng)


# ============================================================================= losses
def _reductions(name, ours, theirs, *makers):
    return [
        op_case(f"{name}-{r}", lambda *a, r=r: ours(*a, reduction=r),
                lambda T, *a, r=r: theirs(T, *a, reduction=r), *makers)
        for r in ("mean", "sum", "none")
    ]


_BCE_P = [0.0, 0.0, 1.0, 1.0, 0.5]  # probabilities at the ends of [0, 1], where log p = −inf
_BCE_T = [0.0, 1.0, 0.0, 1.0, 1.0]

LOSS_CASES = [
    op_case("squared_error", F.squared_error, lambda T, p, t: 0.5 * ((p - t) ** 2).sum(),
            normal(4, 3), normal(4, 3)),
    op_case("squared_error-1d", F.squared_error, lambda T, p, t: 0.5 * ((p - t) ** 2).sum(),
            normal(5), normal(5)),
    op_case("mse_loss-default", F.mse_loss, lambda T, p, t: _tf(T).mse_loss(p, t),
            normal(4, 3), normal(4, 3)),
    *_reductions("mse_loss", F.mse_loss, lambda T, p, t, reduction: _tf(T).mse_loss(
        p, t, reduction=reduction), normal(4, 3), normal(4, 3)),
    op_case("bce-default", F.binary_cross_entropy,
            lambda T, p, t: _tf(T).binary_cross_entropy(p, t),
            uniform(0.02, 0.98, 4, 3), uniform(0.0, 1.0, 4, 3)),
    *_reductions("bce", F.binary_cross_entropy,
                 lambda T, p, t, reduction: _tf(T).binary_cross_entropy(p, t, reduction=reduction),
                 uniform(0.02, 0.98, 6), const([0.0, 1.0, 1.0, 0.0, 0.3, 0.9])),
    # p exactly 0 or 1: both clamp log p at −100 and keep p(1 − p) ≥ 1e-12 in the gradient.
    # PyTorch holds that 1e-12 as a float32 constant (9.99999996e-13), so the clamped gradients
    # (about 1e12) differ by 4e-9 relative; rtol=1e-8 allows exactly that. The target is a
    # constant here: see test_bce_target_gradient_at_saturated_probabilities.
    op_case("bce-at-0-and-1",
            lambda p: F.binary_cross_entropy(p, ag.tensor(_BCE_T), reduction="none"),
            lambda T, p: _tf(T).binary_cross_entropy(p, T.tensor(_BCE_T), reduction="none"),
            const(_BCE_P), rtol=1e-8),
    op_case("bce_with_logits-default", F.binary_cross_entropy_with_logits,
            lambda T, z, t: _tf(T).binary_cross_entropy_with_logits(z, t),
            normal(4, 3, scale=3.0), uniform(0.0, 1.0, 4, 3)),
    *_reductions("bce_with_logits", F.binary_cross_entropy_with_logits,
                 lambda T, z, t, reduction: _tf(T).binary_cross_entropy_with_logits(
                     z, t, reduction=reduction),
                 normal(6, scale=3.0), const([0.0, 1.0, 1.0, 0.0, 0.3, 0.9])),
    op_case("bce_with_logits-extreme", F.binary_cross_entropy_with_logits,
            lambda T, z, t: _tf(T).binary_cross_entropy_with_logits(z, t),
            const([-800.0, -40.0, 0.0, 40.0, 800.0]), const([1.0, 0.0, 0.5, 1.0, 0.0])),
    op_case("cross_entropy-default", F.cross_entropy,
            lambda T, z, y: _tf(T).cross_entropy(z, y), normal(5, 4, scale=2.0), labels(4, 5)),
    *_reductions("cross_entropy", F.cross_entropy,
                 lambda T, z, y, reduction: _tf(T).cross_entropy(z, y, reduction=reduction),
                 normal(5, 4, scale=2.0), const([0, 3, 3, 1, 0], dtype=np.int64)),
    op_case("cross_entropy-unbatched", F.cross_entropy,
            lambda T, z, y: _tf(T).cross_entropy(z, y), normal(4), const(2, dtype=np.int64)),
    op_case("cross_entropy-large-logits", F.cross_entropy,
            lambda T, z, y: _tf(T).cross_entropy(z, y),
            const([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]]),
            const([1, 2], dtype=np.int64)),
    # Float targets of the logits' shape are class probabilities (soft labels), as in torch;
    # the gradient reaches both the logits and the targets.
    op_case("cross_entropy-probabilities", F.cross_entropy,
            lambda T, z, t: _tf(T).cross_entropy(z, t),
            normal(5, 4, scale=2.0), lambda rng: rng.dirichlet(np.ones(4), 5)),
    *_reductions("cross_entropy-probabilities", F.cross_entropy,
                 lambda T, z, t, reduction: _tf(T).cross_entropy(z, t, reduction=reduction),
                 normal(3, 4), lambda rng: rng.dirichlet(np.ones(4), 3)),
    op_case("nll_loss-default", F.nll_loss, lambda T, lp, y: _tf(T).nll_loss(lp, y),
            normal(5, 4), labels(4, 5)),
    *_reductions("nll_loss", F.nll_loss,
                 lambda T, lp, y, reduction: _tf(T).nll_loss(lp, y, reduction=reduction),
                 normal(5, 4), const([1, 1, 0, 3, 2], dtype=np.int64)),
    op_case("nll_loss-unbatched", F.nll_loss, lambda T, lp, y: _tf(T).nll_loss(lp, y),
            normal(4), const(3, dtype=np.int64)),
    op_case("nll_loss-of-log_softmax", lambda z, y: F.nll_loss(F.log_softmax(z, axis=1), y),
            lambda T, z, y: _tf(T).nll_loss(T.log_softmax(z, dim=1), y),
            normal(5, 4), labels(4, 5)),
]


@pytest.mark.parametrize(OP_ARGS, LOSS_CASES)
def test_loss(torch, rng, ours, theirs, makers, rtol, atol, grads):
    run_case(torch, rng, ours, theirs, makers, rtol, atol, grads)


def test_bce_target_gradient_at_saturated_probabilities(torch, rng):
    """A deliberate difference: at p = 0 or 1 our target gradient is that of the loss actually
    computed, −[t·max(log p, −100) + (1 − t)·max(log(1 − p), −100)], so it is finite (±100·g).
    torch.nn.functional.binary_cross_entropy returns ±inf there (its target gradient uses the
    unclamped logs, although its forward clamps them). The oracle is PyTorch differentiating
    that same clamped formula."""

    def clamped_bce(T, p, t):
        log_p = T.clamp(T.log(p), min=-100.0)
        log_q = T.clamp(T.log(1 - p), min=-100.0)
        return -(t * log_p + (1 - t) * log_q)

    p = np.array(_BCE_P)
    compare_op(
        torch,
        lambda t: F.binary_cross_entropy(ag.tensor(p), t, reduction="none"),
        lambda T, t: clamped_bce(T, T.tensor(p), t),
        [np.array(_BCE_T)], rng,
    )


def test_squared_error_backprop_text_formula(torch, rng):
    # The README's first example: E = ½ Σ_k (σ(z_k) − t_k)² with z = x w, differentiated w.r.t. w.
    x, w, t = rng.standard_normal((1, 3)), rng.standard_normal((3, 2)), rng.uniform(0, 1, (1, 2))
    compare_op(
        torch,
        lambda w: F.squared_error((ag.tensor(x) @ w).sigmoid(), ag.tensor(t)),
        lambda T, w: 0.5 * (((T.from_numpy(x) @ w).sigmoid() - T.from_numpy(t)) ** 2).sum(),
        [w], rng,
    )


# ============================================================================= second derivatives
def _grad_or_zeros(torch, out, x):
    (g,) = torch.autograd.grad(out, x, allow_unused=True)
    return torch.zeros_like(x) if g is None else g


@pytest.mark.parametrize("ours, theirs", _named(ACTIVATIONS))
def test_activation_grad_of_grad(torch, rng, ours, theirs):
    """d/dx ⟨w, d/dx ⟨u, f(x)⟩⟩: ours through backward(create_graph=True), torch through
    torch.autograd.grad(create_graph=True) (its backward(create_graph=True) warns, and the
    suite turns warnings into errors)."""
    data = 2.0 * rng.standard_normal((3, 4))
    if ours in (F.relu, F.leaky_relu):
        # The kink itself: both take the x ≤ 0 branch there, and the second derivative is 0.
        # (Not for elu: its second derivative jumps from α to 0 at 0, and there PyTorch uses
        # x < 0 while its own first derivative uses x ≤ 0; any value is a convention.)
        data[0, :2] = [0.0, 1e-3]
    u, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))

    x = ag.tensor(data, requires_grad=True)
    ours(x).backward(gradient=u, create_graph=True)
    first = x.grad
    x.grad = None
    if first.requires_grad:
        (first * ag.tensor(w)).sum().backward()
        second = x.grad
    else:  # the rule does not depend on x (relu, leaky_relu): the second derivative is 0
        second = ag.zeros_like(x)

    xt = torch.tensor(data, requires_grad=True)
    (first_t,) = torch.autograd.grad(theirs(torch, xt), xt, torch.from_numpy(u),
                                     create_graph=True)
    second_t = _grad_or_zeros(torch, (first_t * torch.from_numpy(w)).sum(), xt)

    assert_close(first, first_t, what="first derivative")
    assert_close(second, second_t, what="second derivative")


SECOND_ORDER_CASES = [
    op_case("exp", ag.exp, lambda T, x: T.exp(x), normal(5)),
    op_case("log", ag.log, lambda T, x: T.log(x), positive(5)),
    op_case("log1p", ag.log1p, lambda T, x: T.log1p(x), positive(5)),
    op_case("sqrt", ag.sqrt, lambda T, x: T.sqrt(x), positive(5)),
    op_case("sin", ag.sin, lambda T, x: T.sin(x), normal(5)),
    op_case("cos", ag.cos, lambda T, x: T.cos(x), normal(5)),
    op_case("erf", ag.erf, lambda T, x: T.erf(x), normal(5)),
    op_case("abs", ag.abs, lambda T, x: T.abs(x), nonzero(5)),
    op_case("x**3", lambda x: x ** 3.0, lambda T, x: x ** 3.0, normal(5)),
    op_case("2**x", lambda x: 2.0 ** x, lambda T, x: 2.0 ** x, normal(5)),
    op_case("1/x", lambda x: 1.0 / x, lambda T, x: 1.0 / x, nonzero(5)),
    op_case("x**x", lambda x: x ** x, lambda T, x: x ** x, positive(5)),
    op_case("x*sin(x)/(1+x*x)", lambda x: x * ag.sin(x) / (x * x + 1.0),
            lambda T, x: x * T.sin(x) / (x * x + 1.0), normal(5)),
    op_case("maximum(x,x*x)", lambda x: ag.maximum(x, x * x), lambda T, x: T.maximum(x, x * x),
            normal(5)),
    op_case("logsumexp", lambda x: x.logsumexp(axis=1), lambda T, x: T.logsumexp(x, dim=1),
            normal(2, 4)),
    op_case("var", lambda x: x.var(axis=1), lambda T, x: T.var(x, dim=1), normal(2, 4)),
    op_case("std", lambda x: x.std(), lambda T, x: T.std(x), normal(2, 4)),
    op_case("max-axis", lambda x: (x * x).max(axis=0), lambda T, x: T.amax(x * x, dim=0),
            normal(3, 4)),
    op_case("matmul-x-xT", lambda x: x @ x.T, lambda T, x: x @ x.T, normal(3, 2)),
    op_case("getitem-repeated", lambda x: x[[0, 0, 2]] ** 2.0, lambda T, x: x[[0, 0, 2]] ** 2.0,
            normal(3)),
    op_case("cat-stack", lambda x: ag.stack([x * x, ag.cat([x[1:], x[:1]]) ** 3.0]),
            lambda T, x: T.stack([x * x, T.cat([x[1:], x[:1]]) ** 3.0]), normal(4)),
    op_case("mse_loss", lambda x: F.mse_loss(x.tanh(), ag.tensor(np.linspace(-1, 1, 6))),
            lambda T, x: _tf(T).mse_loss(x.tanh(), T.linspace(-1, 1, 6)), normal(6)),
    op_case("bce_with_logits",
            lambda x: F.binary_cross_entropy_with_logits(x, ag.tensor(np.linspace(0, 1, 6))),
            lambda T, x: _tf(T).binary_cross_entropy_with_logits(x, T.linspace(0, 1, 6)),
            normal(6)),
    # PyTorch's BCE double-backward is the less accurate side here: against a 40-digit evaluation
    # of u·w·σ(x)(1 − σ(x))/n its second derivatives are off by up to 6e-10 relative (ours by
    # 2e-16), hence rtol=1e-9 for this case only.
    op_case("bce", lambda x: F.binary_cross_entropy(x.sigmoid(), ag.tensor(np.linspace(0, 1, 6))),
            lambda T, x: _tf(T).binary_cross_entropy(x.sigmoid(), T.linspace(0, 1, 6)), normal(6),
            rtol=1e-9),
]


@pytest.mark.parametrize(OP_ARGS, SECOND_ORDER_CASES)
def test_grad_of_grad(torch, rng, ours, theirs, makers, rtol, atol, grads):
    """The same second-order product as above, through ag.grad(create_graph=True)."""
    data = makers[0](rng)
    x = ag.tensor(data, requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    out, out_t = ours(x), theirs(torch, xt)
    u = rng.standard_normal(out.shape)
    w = rng.standard_normal(data.shape)

    (first,) = ag.grad(out, x, grad_outputs=u, create_graph=True)
    if first.requires_grad:
        (second,) = ag.grad((first * ag.tensor(w)).sum(), x)
    else:  # the rule does not depend on x (abs: g·sign(x)): the second derivative is 0
        second = ag.zeros_like(x)
    (first_t,) = torch.autograd.grad(out_t, xt, torch.from_numpy(u), create_graph=True)
    second_t = _grad_or_zeros(torch, (first_t * torch.from_numpy(w)).sum(), xt)

    assert_close(first, first_t, rtol, atol, "first derivative")
    assert_close(second, second_t, rtol, atol, "second derivative")


@pytest.mark.parametrize(
    "shape, target",
    [
        pytest.param((4,), np.int64(2), id="unbatched-label"),
        pytest.param((3, 4), np.array([0, 3, 3]), id="batch-labels"),
        pytest.param((3, 4), "probabilities", id="batch-probabilities"),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_hessian(torch, rng, shape, target, reduction):
    """The Hessian of softmax cross-entropy w.r.t. the logits: for one sample with a hard label
    it is diag(p) − p pᵀ, independent of the label."""
    logits = 2.0 * rng.standard_normal(shape)
    if isinstance(target, str):
        target = rng.dirichlet(np.ones(shape[-1]), shape[0])
    ours = ag.functional.hessian(
        lambda z: F.cross_entropy(z, ag.tensor(target), reduction=reduction), ag.tensor(logits)
    )
    theirs = torch.autograd.functional.hessian(
        lambda z: _tf(torch).cross_entropy(z, torch.as_tensor(target), reduction=reduction),
        torch.tensor(logits),
    )
    assert_close(ours, theirs, what="Hessian")


def test_hessian_with_two_inputs(torch, rng):
    a, b = rng.standard_normal(3), rng.standard_normal((2, 3))
    ours = ag.functional.hessian(lambda x, y: ((x * y).sin().sum() + (x ** 3.0).sum() * y.sum()),
                                 (ag.tensor(a), ag.tensor(b)))
    theirs = torch.autograd.functional.hessian(
        lambda x, y: ((x * y).sin().sum() + (x ** 3.0).sum() * y.sum()),
        (torch.tensor(a), torch.tensor(b)),
    )
    for i in range(2):
        for j in range(2):
            assert_close(ours[i][j], theirs[i][j], what=f"Hessian block ({i}, {j})")


# ============================================================================= ag.functional
# Functions written once per library; W is a constant matrix both see.
_W = np.random.default_rng(7).standard_normal((3, 4))

VECTOR_FUNCTIONS = {
    # name: (ours, theirs, input shapes); every function maps its inputs to a tensor.
    "elementwise": (lambda x: x.sin() * x.exp(), lambda T, x: x.sin() * x.exp(), [(4,)]),
    "tanh-of-Wx": (lambda x: (ag.tensor(_W) @ x).tanh(),
                   lambda T, x: (T.from_numpy(_W) @ x).tanh(), [(4,)]),
    "softmax-matrix": (lambda x: F.softmax(x, axis=1), lambda T, x: T.softmax(x, dim=1),
                       [(2, 3)]),
    "two-inputs": (lambda x, y: (x.unsqueeze(1) * y).sum(axis=0) + y.max(axis=0),
                   lambda T, x, y: (x.unsqueeze(1) * y).sum(dim=0) + T.amax(y, dim=0),
                   [(3,), (3, 2)]),
}

SCALAR_FUNCTIONS = {
    "logsumexp+cubes": (lambda x: x.logsumexp() + (x ** 3.0).sum(),
                        lambda T, x: T.logsumexp(x, dim=(0, 1)) + (x ** 3.0).sum(), [(2, 3)]),
    "quadratic-form": (lambda x: (x @ (ag.tensor(_W) @ ag.tensor(_W).T) @ x) * 0.5,
                       lambda T, x: (x @ (T.from_numpy(_W) @ T.from_numpy(_W).T) @ x) * 0.5,
                       [(3,)]),
    "two-inputs": (lambda x, y: (x * y.exp()).sum() + (x * x).sum() * y.sum(),
                   lambda T, x, y: (x * y.exp()).sum() + (x * x).sum() * y.sum(),
                   [(3,), (3,)]),
}


def _inputs(torch, rng, shapes):
    """Matching inputs for both libraries; a single input is passed bare, several as a tuple."""
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = tuple(ag.tensor(a) for a in arrays)
    theirs = tuple(torch.tensor(a) for a in arrays)
    if len(shapes) == 1:
        return arrays, ours[0], theirs[0]
    return arrays, ours, theirs


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _assert_all_close(ours, theirs, what):
    ours, theirs = _as_tuple(ours), _as_tuple(theirs)
    assert len(ours) == len(theirs), f"{what}: {len(ours)} results, torch gives {len(theirs)}"
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert_close(o, t, what=f"{what} [{i}]")


def _pick(table):
    return [pytest.param(o, t, s, id=n) for n, (o, t, s) in table.items()]


@pytest.mark.parametrize("ours, theirs, shapes", _pick(VECTOR_FUNCTIONS))
def test_jacobian(torch, rng, ours, theirs, shapes):
    _, x, xt = _inputs(torch, rng, shapes)
    jac = ag.functional.jacobian(ours, x)
    jac_t = torch.autograd.functional.jacobian(lambda *a: theirs(torch, *a), xt)
    _assert_all_close(jac, jac_t, "jacobian")


@pytest.mark.parametrize("ours, theirs, shapes", _pick(VECTOR_FUNCTIONS))
def test_vjp(torch, rng, ours, theirs, shapes):
    _, x, xt = _inputs(torch, rng, shapes)
    out_shape = tuple(theirs(torch, *_as_tuple(xt)).shape)
    v = rng.standard_normal(out_shape)
    out, vjp = ag.functional.vjp(ours, x, ag.tensor(v))
    out_t, vjp_t = torch.autograd.functional.vjp(lambda *a: theirs(torch, *a), xt,
                                                 torch.from_numpy(v))
    assert_close(out, out_t, what="function value")
    _assert_all_close(vjp, vjp_t, "vjp")


@pytest.mark.parametrize("ours, theirs, shapes", _pick(VECTOR_FUNCTIONS))
def test_jvp(torch, rng, ours, theirs, shapes):
    _, x, xt = _inputs(torch, rng, shapes)
    vs = [rng.standard_normal(s) for s in shapes]
    v = ag.tensor(vs[0]) if len(vs) == 1 else tuple(ag.tensor(a) for a in vs)
    vt = torch.from_numpy(vs[0]) if len(vs) == 1 else tuple(torch.from_numpy(a) for a in vs)
    out, jvp = ag.functional.jvp(ours, x, v)
    out_t, jvp_t = torch.autograd.functional.jvp(lambda *a: theirs(torch, *a), xt, vt)
    assert_close(out, out_t, what="function value")
    assert_close(jvp, jvp_t, what="jvp")


@pytest.mark.parametrize("ours, theirs, shapes", _pick(SCALAR_FUNCTIONS))
def test_hvp(torch, rng, ours, theirs, shapes):
    _, x, xt = _inputs(torch, rng, shapes)
    vs = [rng.standard_normal(s) for s in shapes]
    v = ag.tensor(vs[0]) if len(vs) == 1 else tuple(ag.tensor(a) for a in vs)
    vt = torch.from_numpy(vs[0]) if len(vs) == 1 else tuple(torch.from_numpy(a) for a in vs)
    out, hvp = ag.functional.hvp(ours, x, v)
    out_t, hvp_t = torch.autograd.functional.hvp(lambda *a: theirs(torch, *a), xt, vt)
    assert_close(out, out_t, what="function value")
    _assert_all_close(hvp, hvp_t, "hvp")


@pytest.mark.parametrize("ours, theirs, shapes", _pick(SCALAR_FUNCTIONS))
def test_hessian(torch, rng, ours, theirs, shapes):
    _, x, xt = _inputs(torch, rng, shapes)
    hess = ag.functional.hessian(ours, x)
    hess_t = torch.autograd.functional.hessian(lambda *a: theirs(torch, *a), xt)
    if isinstance(hess_t, tuple):
        for i, row in enumerate(hess_t):
            _assert_all_close(hess[i], row, f"Hessian row {i}")
    else:
        assert_close(hess, hess_t, what="Hessian")


@pytest.mark.parametrize("ours, theirs, shapes", _pick(SCALAR_FUNCTIONS))
def test_scalar_function_gradient_and_vjp(torch, rng, ours, theirs, shapes):
    """ag.grad and vjp with v omitted (allowed for a scalar output), against torch.autograd.grad."""
    arrays, x, _ = _inputs(torch, rng, shapes)
    leaves = [ag.tensor(a, requires_grad=True) for a in arrays]
    leaves_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    grads = ag.grad(ours(*leaves), leaves)
    grads_t = torch.autograd.grad(theirs(torch, *leaves_t), leaves_t)
    _assert_all_close(grads, grads_t, "ag.grad")
    _, vjp = ag.functional.vjp(ours, x)
    _assert_all_close(vjp, grads_t, "vjp without v")
