"""Gradients of every differentiable op, activation and loss, checked against NumPy.

Each entry of the tables below is a ``Case``: an autograd function ``fn``, a NumPy reference
``ref`` written here by hand, and float64 inputs. For every case:

* ``test_value_and_gradient_match_numpy``: the forward value equals ``ref``, and the gradient
  backward() gives for a random cotangent ``v`` equals central differences of
  ``sum(ref(*inputs) * v)`` computed with NumPy alone (an oracle that shares no code with the
  library); every leaf's ``.grad`` has the leaf's shape and dtype.
* ``test_gradcheck`` / ``test_gradgradcheck``: ``ag.gradcheck`` (the whole Jacobian) and
  ``ag.gradgradcheck`` (second derivatives through ``create_graph=True``) pass.
* ``test_float32_stays_float32``: with float32 inputs (and Python-number constants) the output
  and every gradient stay float32, and the gradient still agrees with the NumPy oracle.

Reductions are checked over axis/keepdims combinations drawn by hypothesis. Inputs keep away
from kinks (0 for abs/relu, ties for max/maximum, the bounds of clip) and from domain edges
(log of positives, ...), so that finite differences are meaningful.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given
from hypothesis import strategies as st

import autograd as ag
import autograd.nn.functional as F

RNG = np.random.default_rng(1234)  # the cases are built once, at import, in a fixed order


# ----------------------------------------------------------------------------- input makers
def uniform(shape, lo, hi):
    return RNG.uniform(lo, hi, size=shape)


def signed(shape, lo=0.3, hi=2.0):
    """Values with |x| in [lo, hi] and random signs: away from the kink at 0."""
    return RNG.uniform(lo, hi, size=shape) * RNG.choice([-1.0, 1.0], size=shape)


def avoiding(shape, lo, hi, points, gap=0.1):
    """Uniform values in [lo, hi] at least ``gap`` from every one of ``points``."""
    out = RNG.uniform(lo, hi, size=shape)
    bad = np.zeros(out.shape, bool)
    for p in points:
        bad |= np.abs(out - p) < gap
    while bad.any():
        out[bad] = RNG.uniform(lo, hi, size=int(bad.sum()))
        bad[...] = False
        for p in points:
            bad |= np.abs(out - p) < gap
    return out


def distinct(shape, seed=None):
    """Values that differ pairwise by at least 0.15: no ties for max/min, nonzero variance."""
    rng = RNG if seed is None else np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=int))
    vals = rng.permutation(n) * 0.25 - n * 0.125 + rng.uniform(-0.05, 0.05, size=n)
    return vals.reshape(shape)


# ----------------------------------------------------------------------------- NumPy references
def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def np_gelu(x):
    return x * 0.5 * (1.0 + scipy.special.erf(x / math.sqrt(2.0)))


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0.0)) - 1.0))


def np_leaky_relu(x, slope=0.01):
    return np.where(x > 0, x, slope * x)


def np_reduce_losses(losses, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](losses)


def np_nll(logp, labels):
    if logp.ndim == 1:
        return -logp[labels]
    return -logp[np.arange(logp.shape[0]), labels]


# ----------------------------------------------------------------------------- the case type
@dataclass
class Case:
    id: str
    fn: Callable  # Tensors -> Tensor, with the library
    ref: Callable  # arrays -> array, with NumPy
    inputs: tuple  # float64 arrays
    grad: tuple = None  # which inputs require grad (default: all)
    out32: object = np.float32  # dtype of the output for float32 inputs

    def __post_init__(self):
        self.inputs = tuple(np.asarray(a, dtype=np.float64) for a in self.inputs)
        if self.grad is None:
            self.grad = (True,) * len(self.inputs)

    def leaves(self, dtype=np.float64):
        return [ag.Tensor(a.astype(dtype), requires_grad=g) for a, g in zip(self.inputs, self.grad)]


CASES: list[Case] = []


def case(id, fn, ref, *inputs, **kw):
    CASES.append(Case(id, fn, ref, inputs, **kw))


# ----------------------------------------------------------------------------- binary ops
# Broadcasting shape pairs, each in both operand orders (scalar+scalar and (3,)+(3,) are their
# own mirror images); () with (2, 3) adds a 0-d tensor broadcast against a matrix.
PAIRS = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((4, 1), (1, 5)), ((2, 1, 3), (4, 3)), ((), (2, 3))]
PAIRS += [(b, a) for a, b in PAIRS if a != b]


def gen_any(sa, sb):
    return uniform(sa, -2, 2), uniform(sb, -2, 2)


def gen_div(sa, sb):
    return uniform(sa, -2, 2), signed(sb, 0.5, 2.0)  # denominators away from 0


def gen_pow(sa, sb):
    return uniform(sa, 0.5, 2.0), uniform(sb, -1.5, 2.5)  # positive bases: a**b and its log


def gen_untied(sa, sb):
    """Operands whose broadcast pairs all differ by >= 0.1, so maximum/minimum have no ties."""
    while True:
        a, b = uniform(sa, -2, 2), uniform(sb, -2, 2)
        if np.min(np.abs(a - b)) >= 0.1:
            return a, b


BINARY = [
    ("add", operator.add, np.add, gen_any),
    ("sub", operator.sub, np.subtract, gen_any),
    ("mul", operator.mul, np.multiply, gen_any),
    ("div", operator.truediv, np.divide, gen_div),
    ("pow", operator.pow, np.power, gen_pow),
    ("maximum", ag.maximum, np.maximum, gen_untied),
    ("minimum", ag.minimum, np.minimum, gen_untied),
]

for _name, _fn, _ref, _gen in BINARY:
    for _sa, _sb in PAIRS:
        case(f"{_name}{_sa}{_sb}", _fn, _ref, *_gen(_sa, _sb))
    # Only one operand requiring grad: the rules skip the other side's gradient.
    case(f"{_name}-grad-a-only", _fn, _ref, *_gen((2, 3), (3,)), grad=(True, False))
    case(f"{_name}-grad-b-only", _fn, _ref, *_gen((2, 3), (3,)), grad=(False, True))

# A Tensor with a Python number on either side (the number takes the tensor's dtype).
case("add-number", lambda x: x + 2.5, lambda x: x + 2.5, uniform((2, 3), -2, 2))
case("radd-number", lambda x: 2.5 + x, lambda x: 2.5 + x, uniform((2, 3), -2, 2))
case("sub-number", lambda x: x - 2.5, lambda x: x - 2.5, uniform((2, 3), -2, 2))
case("rsub-number", lambda x: 2.5 - x, lambda x: 2.5 - x, uniform((2, 3), -2, 2))
case("mul-number", lambda x: x * -1.5, lambda x: x * -1.5, uniform((2, 3), -2, 2))
case("rmul-number", lambda x: -1.5 * x, lambda x: -1.5 * x, uniform((2, 3), -2, 2))
case("div-number", lambda x: x / 4.0, lambda x: x / 4.0, uniform((2, 3), -2, 2))
case("rdiv-number", lambda x: 3.0 / x, lambda x: 3.0 / x, signed((2, 3), 0.5, 2.0))
case("pow-float-exponent", lambda x: x ** 2.5, lambda x: x ** 2.5, uniform((2, 3), 0.3, 2.0))
case("pow-negative-exponent", lambda x: x ** -1.5, lambda x: x ** -1.5, uniform((2, 3), 0.3, 2.0))
case("pow-int-exponent-negative-base", lambda x: x ** 3, lambda x: x ** 3, signed((2, 3)))
case("pow-square", lambda x: x ** 2, lambda x: x ** 2, uniform((2, 3), -2, 2))
case("rpow-number-base", lambda x: 2.5 ** x, lambda x: 2.5 ** x, uniform((2, 3), -2, 2))
case("rpow-fraction-base", lambda x: 0.5 ** x, lambda x: 0.5 ** x, uniform((2, 3), -2, 2))
case("pow-method", lambda x, y: x.pow(y), np.power, *gen_pow((2, 3), (2, 3)))
case("maximum-number", lambda x: ag.maximum(x, 0.3), lambda x: np.maximum(x, 0.3),
     avoiding((2, 3), -2, 2, [0.3]))
case("minimum-number-first", lambda x: ag.minimum(0.3, x), lambda x: np.minimum(0.3, x),
     avoiding((2, 3), -2, 2, [0.3]))
case("maximum-method", lambda x, y: x.maximum(y), np.maximum, *gen_untied((3,), (2, 3)))
case("minimum-method", lambda x, y: x.minimum(y), np.minimum, *gen_untied((3,), (2, 3)))

# where: the condition broadcasts with both branches and gets no gradient.
COND23 = np.array([[True, False, True], [False, False, True]])
COND3 = np.array([False, True, True])
case("where(2,3)(3,)", lambda a, b: ag.where(COND23, a, b), lambda a, b: np.where(COND23, a, b),
     uniform((2, 3), -2, 2), uniform((3,), -2, 2))
case("where-cond-broadcast", lambda a, b: ag.where(COND3, a, b), lambda a, b: np.where(COND3, a, b),
     uniform((2, 1), -2, 2), uniform((), -2, 2))
case("where-number-else", lambda a: ag.where(COND23, a, 0.5), lambda a: np.where(COND23, a, 0.5),
     uniform((2, 3), -2, 2))
case("where-number-then", lambda b: ag.where(COND3, 0.5, b), lambda b: np.where(COND3, 0.5, b),
     uniform((2, 3), -2, 2))
case("where-tensor-cond", lambda x: ag.where(x > 0, x * 2.0, -x),
     lambda x: np.where(x > 0, x * 2.0, -x), signed((3, 4)))
case("where-tensor-cond-object", lambda a, b: ag.where(ag.Tensor(COND23), a, b),
     lambda a, b: np.where(COND23, a, b), uniform((2, 3), -2, 2), uniform((2, 3), -2, 2),
     grad=(False, True))

# ----------------------------------------------------------------------------- element-wise
case("neg", lambda x: -x, np.negative, uniform((2, 3), -2, 2))
case("exp", ag.exp, np.exp, uniform((2, 3), -2, 2))
case("exp-method", lambda x: x.exp(), np.exp, uniform((4,), -2, 2))
case("log", ag.log, np.log, uniform((2, 3), 0.2, 3.0))
case("log-method", lambda x: x.log(), np.log, uniform((4,), 0.2, 3.0))
case("log1p", ag.log1p, np.log1p, uniform((2, 3), -0.8, 3.0))
case("sqrt", ag.sqrt, np.sqrt, uniform((2, 3), 0.2, 3.0))
case("abs", ag.abs, np.abs, signed((2, 3)))
case("abs-builtin", lambda x: abs(x), np.abs, signed((4,)))
case("sin", ag.sin, np.sin, uniform((2, 3), -3, 3))
case("cos", ag.cos, np.cos, uniform((2, 3), -3, 3))
case("erf", ag.erf, scipy.special.erf, uniform((2, 3), -2, 2))
case("erf-method", lambda x: x.erf(), scipy.special.erf, uniform((4,), -2, 2))
case("clip", lambda x: ag.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
     avoiding((3, 4), -1.5, 1.5, [-0.5, 0.5]))
case("clip-min-only", lambda x: ag.clip(x, min=-0.5), lambda x: np.maximum(x, -0.5),
     avoiding((3, 4), -1.5, 1.5, [-0.5]))
case("clip-max-only", lambda x: x.clip(max=0.5), lambda x: np.minimum(x, 0.5),
     avoiding((3, 4), -1.5, 1.5, [0.5]))
case("clamp", lambda x: x.clamp(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
     avoiding((3, 4), -1.5, 1.5, [-0.5, 0.5]))
case("astype-float64", lambda x: (x * 2.0).astype(np.float64).exp(), lambda x: np.exp(2.0 * x),
     uniform((2, 3), -2, 2), out32=np.float64)
case("astype-float64-ag-dtype", lambda x: x.astype(ag.float64).exp(), np.exp,
     uniform((2, 3), -2, 2), out32=np.float64)

# ----------------------------------------------------------------------------- shape ops
X234 = uniform((2, 3, 4), -2, 2)
case("reshape", lambda x: x.reshape(4, 6), lambda x: x.reshape(4, 6), X234)
case("reshape-tuple-minus1", lambda x: ag.reshape(x, (-1, 2)), lambda x: x.reshape(-1, 2), X234)
case("view", lambda x: x.view(3, 8), lambda x: x.reshape(3, 8), X234)
case("transpose-no-args", lambda x: x.transpose(), lambda x: x.transpose(), X234)
case("transpose-two-args", lambda x: x.transpose(0, 2), lambda x: np.swapaxes(x, 0, 2), X234)
case("transpose-two-negative", lambda x: ag.transpose(x, -1, -2), lambda x: np.swapaxes(x, -1, -2), X234)
case("transpose-permutation", lambda x: x.transpose(2, 0, 1), lambda x: np.transpose(x, (2, 0, 1)), X234)
case("transpose-matrix", lambda x: x.transpose(1, 0), lambda x: x.T, uniform((2, 3), -2, 2))
case("permute", lambda x: x.permute(1, 2, 0), lambda x: np.transpose(x, (1, 2, 0)), X234)
case("permute-function-tuple", lambda x: ag.permute(x, (2, 1, 0)), lambda x: np.transpose(x, (2, 1, 0)), X234)
case("swapaxes", lambda x: x.swapaxes(0, -1), lambda x: np.swapaxes(x, 0, -1), X234)
case("T-matrix", lambda x: x.T, lambda x: x.T, uniform((2, 3), -2, 2))
case("T-3d", lambda x: x.T, lambda x: x.T, X234)
case("mT", lambda x: x.mT, lambda x: np.swapaxes(x, -1, -2), X234)
X2131 = uniform((2, 1, 3, 1), -2, 2)
case("squeeze-all", lambda x: x.squeeze(), np.squeeze, X2131)
case("squeeze-axis", lambda x: x.squeeze(1), lambda x: np.squeeze(x, 1), X2131)
case("squeeze-negative", lambda x: ag.squeeze(x, -1), lambda x: np.squeeze(x, -1), X2131)
case("squeeze-tuple", lambda x: x.squeeze((1, 3)), lambda x: np.squeeze(x, (1, 3)), X2131)
case("unsqueeze-front", lambda x: x.unsqueeze(0), lambda x: x[None], uniform((2, 3), -2, 2))
case("unsqueeze-middle", lambda x: ag.unsqueeze(x, 1), lambda x: x[:, None], uniform((2, 3), -2, 2))
case("unsqueeze-negative", lambda x: x.unsqueeze(-1), lambda x: x[..., None], uniform((2, 3), -2, 2))
case("flatten", lambda x: x.flatten(), lambda x: x.reshape(-1), X234)
case("flatten-start", lambda x: x.flatten(1), lambda x: x.reshape(2, 12), X234)
case("flatten-range", lambda x: ag.flatten(x, 0, 1), lambda x: x.reshape(6, 4), X234)
case("flatten-0d", lambda x: x.flatten(), lambda x: x.reshape(1), uniform((), -2, 2))
case("expand", lambda x: x.expand(2, 3, 4), lambda x: np.broadcast_to(x, (2, 3, 4)),
     uniform((3, 1), -2, 2))
case("expand-minus1", lambda x: x.expand(3, -1), lambda x: np.broadcast_to(x, (3, 4)),
     uniform((1, 4), -2, 2))
case("broadcast_to", lambda x: ag.broadcast_to(x, (2, 4, 3)), lambda x: np.broadcast_to(x, (2, 4, 3)),
     uniform((3,), -2, 2))
case("broadcast_to-method", lambda x: x.broadcast_to(4, 3), lambda x: np.broadcast_to(x, (4, 3)),
     uniform((), -2, 2))

# Indexing: the gradient is scattered back, accumulating where an index repeats.
X43 = uniform((4, 3), -2, 2)
MASK43 = np.array([[True, False, True], [False, False, False], [True, True, False], [False, True, True]])
INDEXES = {
    "int": 1,
    "negative-int": -1,
    "slice": slice(1, 3),
    "negative-step": slice(None, None, -1),
    "negative-step-2d": (slice(3, 0, -2), slice(None, None, -1)),
    "int-and-slice": (slice(None), 1),
    "ellipsis-negative-step": (Ellipsis, slice(None, None, -2)),
    "newaxis": (None, slice(1, None)),
    "int-array-repeated": np.array([0, 2, 0, 0]),
    "list-repeated": [3, 3, 1],
    "int-array-2d-repeated": np.array([[1, 1], [3, 1]]),
    "negative-int-array": np.array([-1, -1, 0]),
    "two-arrays-repeated": (np.array([0, 0, 3, 0]), np.array([2, 2, 2, 1])),
    "slice-and-array": (slice(1, None), np.array([2, 2, 0])),
    "array-and-negative-step": (np.array([3, 1, 3]), slice(None, None, -1)),
    "bool-mask": MASK43,
    "bool-rows": np.array([True, False, True, True]),
}
for _name, _index in INDEXES.items():
    case(f"getitem-{_name}", lambda x, i=_index: x[i], lambda x, i=_index: x[i], X43)
case("getitem-3d-mixed", lambda x: x[1, ::-1, [0, 3, 3]], lambda x: x[1, ::-1, [0, 3, 3]], X234)
case("getitem-int-tensor-repeated", lambda x: x[ag.Tensor(np.array([2, 2, 1]))],
     lambda x: x[np.array([2, 2, 1])], X43)
case("getitem-mask-from-comparison", lambda x: x[x > 0], lambda x: x[x > 0], signed((4, 3)))
case("getitem-twice", lambda x: x[1:][::-1, 0] * x[0, 0], lambda x: x[1:][::-1, 0] * x[0, 0], X43)

# Joining.
A23, B13, C33 = uniform((2, 3), -2, 2), uniform((1, 3), -2, 2), uniform((3, 3), -2, 2)
case("concatenate-axis0", lambda a, b, c: ag.concatenate([a, b, c]), lambda a, b, c: np.concatenate([a, b, c]),
     A23, B13, C33)
case("cat-axis1", lambda a, b: ag.cat([a, b], axis=1), lambda a, b: np.concatenate([a, b], axis=1),
     uniform((2, 3), -2, 2), uniform((2, 1), -2, 2))
case("cat-dim-negative", lambda a, b: ag.cat((a, b), dim=-1), lambda a, b: np.concatenate([a, b], axis=-1),
     uniform((2, 2, 3), -2, 2), uniform((2, 2, 2), -2, 2))
case("cat-constant-in-middle", lambda a, b, c: ag.cat([a, b, c]), lambda a, b, c: np.concatenate([a, b, c]),
     A23, B13, C33, grad=(True, False, True))
case("cat-same-tensor-twice", lambda a: ag.cat([a, a * 2.0]), lambda a: np.concatenate([a, 2.0 * a]), A23)
for _axis in (0, 1, -1):
    case(f"stack-axis{_axis}", lambda a, b, c, k=_axis: ag.stack([a, b, c], axis=k),
         lambda a, b, c, k=_axis: np.stack([a, b, c], axis=k),
         uniform((2, 3), -2, 2), uniform((2, 3), -2, 2), uniform((2, 3), -2, 2))
case("stack-dim", lambda a, b: ag.stack([a, b], dim=1), lambda a, b: np.stack([a, b], axis=1),
     uniform((3,), -2, 2), uniform((3,), -2, 2))

# ----------------------------------------------------------------------------- matmul
MATMUL_SHAPES = [
    ((3,), (3,)),  # 1-d @ 1-d: a scalar
    ((3,), (3, 2)),  # 1-d @ 2-d
    ((2, 3), (3,)),  # 2-d @ 1-d
    ((2, 3), (3, 4)),
    ((4, 2, 3), (3, 5)),  # batched @ matrix: the matrix's gradient sums over the batch
    ((3, 4), (2, 4, 5)),
    ((2, 1, 2, 3), (3, 3, 2)),  # batch dims (2, 1) and (3,) broadcast to (2, 3)
    ((3,), (2, 3, 4)),  # 1-d @ batched
    ((2, 3, 4), (4,)),  # batched @ 1-d
]
for _sa, _sb in MATMUL_SHAPES:
    case(f"matmul{_sa}{_sb}", operator.matmul, np.matmul, uniform(_sa, -2, 2), uniform(_sb, -2, 2))
case("matmul-function-grad-a-only", ag.matmul, np.matmul, uniform((4, 2, 3), -2, 2),
     uniform((3, 2), -2, 2), grad=(True, False))
case("matmul-method-grad-b-only", lambda a, b: a.matmul(b), np.matmul, uniform((2, 3), -2, 2),
     uniform((2, 3, 2), -2, 2), grad=(False, True))
case("matmul-1d-grad-b-only", operator.matmul, np.matmul, uniform((3,), -2, 2),
     uniform((3, 2), -2, 2), grad=(False, True))

# ----------------------------------------------------------------------------- activations
SMOOTH = uniform((2, 3, 4), -3, 3)
case("sigmoid", F.sigmoid, np_sigmoid, SMOOTH)
case("sigmoid-ag", ag.sigmoid, np_sigmoid, uniform((5,), -3, 3))
case("sigmoid-method", lambda x: x.sigmoid(), np_sigmoid, uniform((5,), -3, 3))
case("tanh", F.tanh, np.tanh, SMOOTH)
case("tanh-method", lambda x: x.tanh(), np.tanh, uniform((5,), -3, 3))
for _axis in (-1, 0, 1, 2):
    case(f"softmax-axis{_axis}", lambda x, k=_axis: F.softmax(x, axis=k),
         lambda x, k=_axis: np_softmax(x, k), SMOOTH)
    case(f"log_softmax-axis{_axis}", lambda x, k=_axis: F.log_softmax(x, axis=k),
         lambda x, k=_axis: np_log_softmax(x, k), SMOOTH)
case("softmax-default-axis", F.softmax, np_softmax, uniform((3, 4), -3, 3))
case("softmax-dim-alias", lambda x: x.softmax(dim=0), lambda x: np_softmax(x, 0), uniform((3, 4), -3, 3))
case("softmax-1d", ag.softmax, np_softmax, uniform((5,), -3, 3))
case("log_softmax-default-axis", ag.log_softmax, np_log_softmax, uniform((3, 4), -3, 3))
case("log_softmax-method-dim", lambda x: x.log_softmax(dim=0), lambda x: np_log_softmax(x, 0),
     uniform((3, 4), -3, 3))
case("relu", F.relu, lambda x: np.maximum(x, 0.0), signed((3, 4)))
case("relu-method", lambda x: x.relu(), lambda x: np.maximum(x, 0.0), signed((5,)))
case("leaky_relu", F.leaky_relu, np_leaky_relu, signed((3, 4)))
case("leaky_relu-slope", lambda x: F.leaky_relu(x, 0.2), lambda x: np_leaky_relu(x, 0.2), signed((3, 4)))
case("leaky_relu-negative_slope", lambda x: x.leaky_relu(negative_slope=0.3),
     lambda x: np_leaky_relu(x, 0.3), signed((5,)))
case("elu", F.elu, np_elu, signed((3, 4), 0.1, 3.0))
case("elu-alpha", lambda x: F.elu(x, alpha=0.5), lambda x: np_elu(x, 0.5), signed((3, 4), 0.1, 3.0))
case("gelu", F.gelu, np_gelu, uniform((3, 4), -4, 4))
case("gelu-method", lambda x: x.gelu(), np_gelu, uniform((5,), -4, 4))
case("silu", F.silu, lambda x: x * np_sigmoid(x), uniform((3, 4), -4, 4))
case("softplus", F.softplus, lambda x: np.log1p(np.exp(x)), uniform((3, 4), -4, 4))
case("softplus-method", lambda x: x.softplus(), lambda x: np.log1p(np.exp(x)), uniform((5,), -4, 4))

# ----------------------------------------------------------------------------- losses
P34, T34 = uniform((3, 4), -2, 2), uniform((3, 4), -2, 2)
case("squared_error", F.squared_error, lambda p, t: 0.5 * np.sum((p - t) ** 2), P34, T34)
case("squared_error-target-constant", F.squared_error, lambda p, t: 0.5 * np.sum((p - t) ** 2),
     P34, T34, grad=(True, False))
# A list target becomes a float32 constant (the dtype policy), so the reference rounds it too.
T34_AS_FLOAT32 = T34.astype(np.float32).astype(np.float64)
case("squared_error-target-list", lambda p: F.squared_error(p, T34.tolist()),
     lambda p: 0.5 * np.sum((p - T34_AS_FLOAT32) ** 2), P34)
for _red in ("mean", "sum", "none"):
    case(f"mse_loss-{_red}", lambda p, t, r=_red: F.mse_loss(p, t, reduction=r),
         lambda p, t, r=_red: np_reduce_losses((p - t) ** 2, r), P34, T34)
case("mse_loss-default", F.mse_loss, lambda p, t: np.mean((p - t) ** 2), uniform((5,), -2, 2),
     uniform((5,), -2, 2), grad=(True, False))


def np_bce(p, t):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def np_bce_logits(z, t):
    return np.log1p(np.exp(z)) - t * z


PROB, SOFT_T = uniform((3, 4), 0.05, 0.95), uniform((3, 4), 0.0, 1.0)
HARD_T = RNG.integers(0, 2, size=(3, 4)).astype(np.float64)
for _red in ("mean", "sum", "none"):
    case(f"binary_cross_entropy-{_red}", lambda p, t, r=_red: F.binary_cross_entropy(p, t, reduction=r),
         lambda p, t, r=_red: np_reduce_losses(np_bce(p, t), r), PROB, SOFT_T)
    case(f"bce_with_logits-{_red}",
         lambda z, t, r=_red: F.binary_cross_entropy_with_logits(z, t, reduction=r),
         lambda z, t, r=_red: np_reduce_losses(np_bce_logits(z, t), r), uniform((3, 4), -4, 4), SOFT_T)
case("binary_cross_entropy-hard-targets", F.binary_cross_entropy, lambda p, t: np.mean(np_bce(p, t)),
     PROB, HARD_T, grad=(True, False))
case("bce_with_logits-hard-targets", F.binary_cross_entropy_with_logits,
     lambda z, t: np.mean(np_bce_logits(z, t)), uniform((3, 4), -4, 4), HARD_T, grad=(True, False))

LABELS = np.array([2, 0, 2])  # class 2 repeats
SINGLE_LABEL = 1
for _red in ("mean", "sum", "none"):
    case(f"cross_entropy-labels-{_red}", lambda z, r=_red: F.cross_entropy(z, LABELS, reduction=r),
         lambda z, r=_red: np_reduce_losses(np_nll(np_log_softmax(z), LABELS), r), uniform((3, 4), -3, 3))
    case(f"cross_entropy-soft-{_red}", lambda z, t, r=_red: F.cross_entropy(z, t, reduction=r),
         lambda z, t, r=_red: np_reduce_losses(-np.sum(t * np_log_softmax(z), axis=-1), r),
         uniform((3, 4), -3, 3), uniform((3, 4), 0.0, 1.0))
    case(f"nll_loss-{_red}", lambda lp, r=_red: F.nll_loss(lp, LABELS, reduction=r),
         lambda lp, r=_red: np_reduce_losses(np_nll(lp, LABELS), r), uniform((3, 4), -3, 0))
case("cross_entropy-labels-tensor", lambda z: F.cross_entropy(z, ag.Tensor(LABELS)),
     lambda z: np.mean(np_nll(np_log_softmax(z), LABELS)), uniform((3, 4), -3, 3))
case("cross_entropy-single-sample", lambda z: F.cross_entropy(z, SINGLE_LABEL),
     lambda z: np_nll(np_log_softmax(z), SINGLE_LABEL), uniform((4,), -3, 3))
case("nll_loss-single-sample", lambda lp: F.nll_loss(lp, SINGLE_LABEL),
     lambda lp: np_nll(lp, SINGLE_LABEL), uniform((4,), -3, 0))
case("nll_loss-of-log_softmax", lambda z: F.nll_loss(F.log_softmax(z), LABELS),
     lambda z: np.mean(np_nll(np_log_softmax(z), LABELS)), uniform((3, 4), -3, 3))

# A small composite: a one-layer network with the squared-error cost of the README.
case("one-layer-network", lambda x, w: F.squared_error((x @ w).sigmoid(), [[0.0, 1.0]]),
     lambda x, w: 0.5 * np.sum((np_sigmoid(x @ w) - np.array([[0.0, 1.0]])) ** 2),
     uniform((1, 3), -1, 1), uniform((3, 2), -1, 1), grad=(False, True))

assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
IDS = [c.id for c in CASES]


# ----------------------------------------------------------------------------- the oracle
def numpy_gradient(ref, arrays, v, i, eps=1e-6):
    """∂/∂arrays[i] of sum(ref(*arrays) * v) by central differences, in NumPy only."""
    grad = np.zeros_like(arrays[i])
    for k in np.ndindex(arrays[i].shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[i][k] += eps
        minus[i][k] -= eps
        grad[k] = (np.sum(ref(*plus) * v) - np.sum(ref(*minus) * v)) / (2 * eps)
    return grad


def cotangent(shape):
    return np.asarray(np.random.default_rng(7).standard_normal(shape))


def check_case(c: Case, dtype, value_tol, grad_tol):
    """Forward against ref and backward against NumPy finite differences, at ``dtype``."""
    leaves = c.leaves(dtype)
    out = c.fn(*leaves)
    expected = np.asarray(c.ref(*c.inputs))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, **value_tol)
    v = cotangent(out.shape)
    out.backward(v.astype(out.dtype))
    for i, (leaf, wants) in enumerate(zip(leaves, c.grad)):
        if not wants:
            assert leaf.grad is None
            continue
        assert leaf.grad is not None, f"input {i} got no gradient"
        assert leaf.grad.shape == leaf.shape
        assert leaf.grad.dtype == leaf.dtype
        np.testing.assert_allclose(leaf.grad.numpy(), numpy_gradient(c.ref, c.inputs, v, i), **grad_tol,
                                   err_msg=f"gradient of input {i}")
    return out


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_value_and_gradient_match_numpy(c):
    check_case(c, np.float64, dict(rtol=1e-12, atol=1e-12), dict(rtol=1e-6, atol=1e-6))


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_gradcheck(c):
    assert ag.gradcheck(c.fn, c.leaves()) is True


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_gradgradcheck(c):
    assert ag.gradgradcheck(c.fn, c.leaves()) is True


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_float32_stays_float32(c):
    out = check_case(c, np.float32, dict(rtol=2e-5, atol=2e-5), dict(rtol=2e-3, atol=2e-3))
    assert out.dtype == c.out32


# ----------------------------------------------------------------------------- reductions
@st.composite
def reduction_inputs(draw, min_count=1):
    """A shape, an axis argument (None, an int, a tuple; negative or not) and keepdims."""
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim)))
    form = draw(st.sampled_from(["none", "int", "tuple"]) if ndim else st.sampled_from(["none", "tuple"]))
    if form == "none":
        axis = None
    elif form == "int":
        a = draw(st.integers(0, ndim - 1))
        axis = a - ndim if draw(st.booleans()) else a
    else:
        chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim else []
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in chosen)
    axes = range(ndim) if axis is None else [a % ndim for a in ((axis,) if isinstance(axis, int) else axis)]
    count = int(np.prod([shape[a] for a in axes], dtype=int))
    assume(count >= min_count)
    keepdims = draw(st.booleans())
    torch_names = draw(st.booleans())  # dim=/keepdim= instead of axis=/keepdims=
    x = distinct(shape, seed=draw(st.integers(0, 2**32 - 1)))
    return x, axis, keepdims, torch_names


def np_logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return s.reshape(np.sum(x, axis=axis, keepdims=keepdims).shape)


def check_reduction(name, x, axis, keepdims, torch_names, ref, **extra):
    def fn(t):
        method = getattr(t, name)
        if torch_names:
            return method(dim=axis, keepdim=keepdims, **extra)
        return method(axis=axis, keepdims=keepdims, **extra)

    c = Case(name, fn, ref, (x,))
    check_case(c, np.float64, dict(rtol=1e-12, atol=1e-12), dict(rtol=1e-6, atol=1e-6))
    assert ag.gradcheck(fn, c.leaves())
    assert ag.gradgradcheck(fn, c.leaves())
    out = check_case(c, np.float32, dict(rtol=2e-5, atol=2e-5), dict(rtol=2e-3, atol=2e-3))
    assert out.dtype == np.float32


NUMPY_REDUCTIONS = {
    "sum": np.sum,
    "mean": np.mean,
    "max": np.max,
    "min": np.min,
    "logsumexp": np_logsumexp,
}


@pytest.mark.parametrize("name", list(NUMPY_REDUCTIONS))
@given(args=reduction_inputs())
def test_reduction(name, args):
    x, axis, keepdims, torch_names = args
    ref = NUMPY_REDUCTIONS[name]
    check_reduction(name, x, axis, keepdims, torch_names, lambda a: ref(a, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("name", ["var", "std"])
@given(args=reduction_inputs(min_count=2), correction=st.sampled_from([None, 0, 1]))
def test_var_std(name, args, correction):
    """Unbiased by default (correction=1, as PyTorch); std = √var. Needs 2+ reduced elements."""
    x, axis, keepdims, torch_names = args
    ddof = 1 if correction is None else correction
    extra = {} if correction is None else {"correction": correction}
    ref = getattr(np, name)
    check_reduction(name, x, axis, keepdims, torch_names,
                    lambda a: ref(a, axis=axis, keepdims=keepdims, ddof=ddof), **extra)


@given(args=reduction_inputs())
def test_reduction_functions_match_methods(args):
    """ag.sum/mean/max/min/logsumexp(x, axis) are the same ops as the methods."""
    x, axis, keepdims, _ = args
    for name, ref in NUMPY_REDUCTIONS.items():
        fn = getattr(ag, name)
        assert ag.gradcheck(lambda t, fn=fn: fn(t, axis, keepdims), [ag.Tensor(x, requires_grad=True)])
        np.testing.assert_allclose(fn(ag.Tensor(x), axis, keepdims).numpy(), ref(x, axis=axis, keepdims=keepdims),
                                   rtol=1e-12, atol=1e-12)


def test_max_min_ties_split_the_gradient():
    """The documented tie rule, derived by hand: k tied winners get 1/k of the gradient each."""
    x = ag.Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = ag.Tensor(np.array([1.0, 5.0, 1.0]), requires_grad=True)
    y.min().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.5, 0, 0.5])
    a = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = ag.Tensor(np.array([1.0, 0.0]), requires_grad=True)
    ag.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 0.0])


# ----------------------------------------------------------------------------- astype
def test_astype_gradient_is_cast_back_to_the_input_dtype():
    """float32 -> float64 and float64 -> float32: each leaf's gradient has the leaf's dtype."""
    x32 = ag.Tensor(np.array([0.5, -1.25, 2.0], np.float32), requires_grad=True)
    y = x32.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x32.grad.dtype == np.float32
    np.testing.assert_array_equal(x32.grad.numpy(), np.array([1.0, -2.5, 4.0], np.float32))

    x64 = ag.Tensor(np.array([0.1, 0.2]), requires_grad=True)
    y = x64.astype(np.float32) * 3.0
    assert y.dtype == np.float32
    y.sum().backward()
    assert x64.grad.dtype == np.float64
    np.testing.assert_array_equal(x64.grad.numpy(), [3.0, 3.0])


def test_astype_second_derivative_through_float32():
    """d/dx of the gradient of sum(float32(x)²) is 2 (hand-derived), through both casts."""
    x = ag.Tensor(np.array([0.5, -1.5, 3.0]), requires_grad=True)
    y = x.astype(np.float32)
    (gx,) = ag.grad((y * y).sum(), x, create_graph=True)
    assert gx.dtype == np.float64
    np.testing.assert_allclose(gx.numpy(), [1.0, -3.0, 6.0])
    gx.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_astype_float32_round_trip_gradcheck_with_a_coarse_step():
    """float64 -> float32 rounds, so use a step of 1e-3: the rounding (~6e-8) then moves a
    difference quotient by < 1e-4, inside gradcheck's tolerance; x ↦ float32(x)·3 is linear."""
    x = ag.Tensor(np.array([0.5, -1.25, 2.0]), requires_grad=True)
    assert ag.gradcheck(lambda t: t.astype(np.float32) * 3.0, [x], eps=1e-3)
    assert ag.gradgradcheck(lambda t: t.astype(np.float32) ** 2, [x], eps=1e-3)


# ----------------------------------------------------------------------------- dtype leaks
def test_clip_with_numpy_float64_bounds_keeps_float32():
    """Elsewhere a NumPy float64 scalar counts as a Python float (x * np.float64(0.5) stays
    float32); clip's bounds should too, in the output and in the gradient."""
    x = ag.Tensor(np.array([0.1, 0.9, -2.0], np.float32), requires_grad=True)
    y = x.clip(np.float64(-0.5), np.float64(0.5))
    y.sum().backward()
    assert y.dtype == np.float32
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0])


def test_numpy_float64_scalars_count_as_python_floats():
    x = ag.Tensor(np.array([0.5, 1.5], np.float32), requires_grad=True)
    y = x * np.float64(0.5) + np.float64(1.0) - x ** np.float64(2.0)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), 0.5 - 2.0 * np.array([0.5, 1.5]), rtol=1e-6)


def test_float32_leaf_with_float64_constant_gets_float32_grad():
    """As in PyTorch, a leaf's gradient has the leaf's dtype, whatever the other operand is."""
    x = ag.Tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    w = ag.Tensor(np.array([0.5, 0.25, 2.0]))  # float64 constant
    (x * w).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.array([0.5, 0.25, 2.0], np.float32))


def test_cross_entropy_float32_logits_float64_soft_targets_grad_dtype():
    z = ag.Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    F.cross_entropy(z, np.full((2, 3), 1.0 / 3.0)).backward()
    assert z.grad.dtype == np.float32


@pytest.mark.parametrize("make", [
    lambda x: x * x * 0.1 + 0.2 - x / 3.0,
    lambda x: (x ** 2.0) * (2.0 ** x),
    lambda x: 1.0 - (1.0 / x),
    lambda x: ag.where(x > 1.5, x, 0.25) * ag.maximum(x, 0.5) * ag.minimum(x, 2.5),
    lambda x: x.clip(0.5, 2.5) * x.mean() + x.var() + x.std() + x.logsumexp(),
    lambda x: F.leaky_relu(x, 0.1) + F.elu(x, 0.5) + F.gelu(x) + F.silu(x) + F.softplus(x),
    lambda x: F.mse_loss(x, 0.5 * x.detach()) + F.binary_cross_entropy(x / 4.0, x.detach() / 4.0)
    + F.binary_cross_entropy_with_logits(x, x.detach() / 4.0) + F.cross_entropy(x, np.array([1])),
], ids=["arithmetic", "pow", "rdiv", "where-max-min", "reductions", "activations", "losses"])
def test_python_float_constants_keep_float32_in_second_derivatives(make):
    """float32 stays float32 through first and second derivatives, with Python-float constants."""
    x = ag.Tensor(np.array([[1.0, 2.0, 3.0]], np.float32), requires_grad=True)
    y = make(x)
    assert y.dtype == np.float32
    (gx,) = ag.grad(y.sum(), x, create_graph=True)
    assert gx.dtype == np.float32 and gx.shape == x.shape
    gx.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


# ----------------------------------------------------------------------------- the checker itself
class _CubeWithWrongSlope(ag.Function):
    """x³ with a backward that is 1% off: gradcheck must notice."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ag.Tensor(x.data ** 3)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3.03 * x * x


class _CubeWithFlatBackward(ag.Function):
    """x³ with the right first derivative computed off the graph: its second derivative is lost."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ag.Tensor(x.data ** 3)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ag.Tensor(3.0 * x.data ** 2)


def test_gradcheck_rejects_a_wrong_first_derivative():
    x = ag.Tensor(np.array([0.5, 1.5, -2.0]), requires_grad=True)
    with pytest.raises(ag.GradcheckError):
        ag.gradcheck(_CubeWithWrongSlope.apply, [x])
    assert ag.gradcheck(_CubeWithFlatBackward.apply, [x]) is True


def test_gradgradcheck_rejects_a_wrong_second_derivative():
    x = ag.Tensor(np.array([0.5, 1.5, -2.0]), requires_grad=True)
    with pytest.raises(ag.GradcheckError):
        ag.gradgradcheck(_CubeWithFlatBackward.apply, [x])
    assert ag.gradgradcheck(lambda t: t ** 3, [x]) is True
