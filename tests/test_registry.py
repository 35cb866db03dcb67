"""Every registered op is tested: this file enumerates the registry, and an op without a line in
the tables below fails the suite.

Each differentiable op (its own rule, or a composition of other ops) has one line in ``CASES``:
a function of float64 tensors that applies it, and the inputs. From that line alone:

* ``test_gradcheck``: the whole Jacobian against central finite differences;
* ``test_gradgradcheck``: second derivatives, for every op whose registration claims them;
* ``test_reads_declaration``: the memory case. With ``KEEP_BELOW = 0``, each input reaches the
  op as an intermediate made by an op whose rule reads nothing (``x + 0.0``), and the op's output
  is consumed by one (``y + 0.0``), so every value its registration says the rule does not read
  is replaced by a stub without values; first and second derivatives must still be right. A rule
  that reads what it declared it does not fails here with ``NoValuesError``.

Ops that record nothing (comparisons, ``sign``, ``argmax``) are listed in ``CONSTANT`` with a
call each; the test checks that their results never require grad.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import graph, memory
from test_memory import stubs_in_graph
from autograd.ops import recurrent as R
from autograd.ops import conv as CV
from autograd.ops import shape as S

RNG = np.random.default_rng(2024)


def T(*shape, lo=-2.0, hi=2.0):
    """A float64 leaf of uniform values in [lo, hi]."""
    return RNG.uniform(lo, hi, size=shape)


def away(*shape, points=(0.0,), gap=0.2, lo=-2.0, hi=2.0):
    """Values at least ``gap`` from each of ``points`` (no kinks for finite differences)."""
    out = RNG.uniform(lo, hi, size=shape)
    for p in points:
        near = np.abs(out - p) < gap
        out[near] = p + np.where(out[near] >= p, gap, -gap) * 1.5
    return out


def distinct(*shape):
    """Values pairwise at least 0.2 apart: no ties for max/min."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) * 0.3 - n * 0.15).reshape(shape)


def apart(*shape):
    """Two arrays that differ by 0.5 everywhere, either way round: no ties for maximum/minimum."""
    a = T(*shape)
    return a, a + RNG.choice([-0.5, 0.5], size=shape)


@dataclass
class Case:
    fn: Callable
    inputs: tuple
    tol: dict = field(default_factory=dict)


def case(fn, *inputs, **tol):
    return Case(fn, inputs, tol)


LABELS = np.array([2, 0, 1])
MASK = np.arange(12).reshape(3, 4) % 5 == 1
NO_TIES = np.array([[0.5, -1.1, 0.7, 1.9], [-0.3, 1.3, -1.7, 0.9], [1.5, -0.6, 0.4, -1.2]])  # |x| distinct, ≠ 0
CASES = {
    # elementwise
    "add": case(lambda a, b: a + b, T(3, 4), T(4)),
    "sub": case(lambda a, b: a - b, T(3, 4), T(3, 1)),
    "mul": case(lambda a, b: a * b, T(3, 4), T(4)),
    "div": case(lambda a, b: a / b, T(3, 4), away(4, gap=0.5)),
    "pow": case(lambda a, b: a ** b, T(3, 4, lo=0.5, hi=2.0), T(4)),
    "neg": case(lambda a: -a, T(3, 4)),
    "exp": case(lambda a: a.exp(), T(3, 4)),
    "log": case(lambda a: a.log(), T(3, 4, lo=0.5)),
    "log1p": case(lambda a: a.log1p(), T(3, 4, lo=-0.5)),
    "sqrt": case(lambda a: a.sqrt(), T(3, 4, lo=0.5)),
    "abs": case(lambda a: a.abs(), away(3, 4)),
    "sin": case(lambda a: a.sin(), T(3, 4)),
    "cos": case(lambda a: a.cos(), T(3, 4)),
    "erf": case(lambda a: a.erf(), T(3, 4)),
    "atan2": case(lambda y, x: ag.atan2(y, x), T(3, 4), away(4, gap=0.5)),
    "clip": case(lambda a: a.clip(-1.0, 1.0), away(3, 4, points=(-1.0, 1.0))),
    "maximum": case(lambda a, b: ag.maximum(a, b), *apart(3, 4)),
    "minimum": case(lambda a, b: ag.minimum(a, b), *apart(3, 4)),
    "where": case(lambda a, b: ag.where(np.arange(12).reshape(3, 4) % 3 == 0, a, b), T(3, 4), T(4)),
    "astype": case(lambda a: a.astype(np.float32).astype(np.float64) * a, T(3),
                   eps=1e-3, atol=1e-3, rtol=1e-3),
    # reductions
    "sum": case(lambda a: a.sum(axis=1), T(3, 4)),
    "mean": case(lambda a: a.mean(axis=(0, 2), keepdims=True), T(2, 3, 4)),
    "max": case(lambda a: a.max(axis=0), distinct(3, 4)),
    "min": case(lambda a: a.min(), distinct(3, 4)),
    "var": case(lambda a: a.var(axis=1), T(3, 4)),
    "std": case(lambda a: a.std(axis=0), T(3, 4)),
    "logsumexp": case(lambda a: a.logsumexp(axis=-1), T(3, 4)),
    # shape
    "reshape": case(lambda a: a.reshape(4, 3), T(3, 4)),
    "clone": case(lambda a: a.clone() * a, T(3, 4)),
    "permute_dims": case(lambda a: S.permute_dims(a, (2, 0, 1)), T(2, 3, 4)),
    "transpose": case(lambda a: a.transpose(0, 2), T(2, 3, 4)),
    "permute": case(lambda a: a.permute(1, 2, 0), T(2, 3, 4)),
    "swapaxes": case(lambda a: a.swapaxes(0, 1), T(2, 3)),
    "matrix_transpose": case(lambda a: S.matrix_transpose(a), T(2, 3, 4)),
    "expand_dims": case(lambda a: S.expand_dims(a, 1), T(3, 4)),
    "unsqueeze": case(lambda a: a.unsqueeze(0), T(3, 4)),
    "squeeze": case(lambda a: a.squeeze(1), T(3, 1, 4)),
    "flatten": case(lambda a: a.flatten(1), T(2, 3, 4)),
    "broadcast_to": case(lambda a: a.broadcast_to(2, 3, 4), T(3, 1)),
    "expand": case(lambda a: a.expand(2, -1, 4), T(3, 1)),
    "getitem": case(lambda a: a[np.array([0, 2, 0]), 1:], T(3, 4)),
    "scatter_add": case(lambda a: S.scatter_add(a, np.array([1, 1, 3]), (5,)), T(3)),
    "concatenate": case(lambda a, b: ag.cat([a, b], axis=1), T(2, 3), T(2, 2)),
    "stack": case(lambda a, b: ag.stack([a, b], axis=-1), T(2, 3), T(2, 3)),
    # linear algebra
    "matmul": case(lambda a, b: a @ b, T(2, 3, 4), T(4, 5)),
    "linear": case(lambda x, w, b: F.linear(x, w, b), T(3, 4), T(5, 4), T(5)),
    # activations
    "sigmoid": case(lambda a: a.sigmoid(), T(3, 4)),
    "tanh": case(lambda a: a.tanh(), T(3, 4)),
    "softmax": case(lambda a: F.softmax(a, axis=0), T(3, 4)),
    "log_softmax": case(lambda a: F.log_softmax(a), T(3, 4)),
    "relu": case(lambda a: a.relu(), away(3, 4)),
    "leaky_relu": case(lambda a: F.leaky_relu(a, 0.1), away(3, 4)),
    "elu": case(lambda a: F.elu(a, 0.7), away(3, 4)),
    "gelu": case(lambda a: F.gelu(a), T(3, 4)),
    "silu": case(lambda a: F.silu(a), T(3, 4)),
    "softplus": case(lambda a: F.softplus(a), T(3, 4)),
    # losses
    "squared_error": case(lambda p, t: F.squared_error(p, t), T(3, 4), T(3, 4)),
    "mse_loss": case(lambda p, t: F.mse_loss(p, t), T(3, 4), T(3, 4)),
    "binary_cross_entropy": case(lambda p, t: F.binary_cross_entropy(p, t, reduction="none"),
                                 T(3, 4, lo=0.1, hi=0.9), T(3, 4, lo=0.0, hi=1.0)),
    "binary_cross_entropy_with_logits": case(
        lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="sum"), T(3, 4),
        T(3, 4, lo=0.0, hi=1.0)),
    "nll_loss": case(lambda lp: F.nll_loss(lp, LABELS), T(3, 4)),
    "cross_entropy": case(lambda z: F.cross_entropy(z, LABELS), T(3, 4)),
    # recurrent layers: T = 3 steps, batch 2, hidden size 2 (one direction each way)
    "rnn_scan": case(lambda xw, h0, w, b: R.rnn_scan(xw, h0, w, b), T(3, 2, 2), T(2, 2), T(2, 2), T(2)),
    "gru_scan": case(lambda xw, h0, w, b: R.gru_scan(xw, h0, w, b, reverse=True),
                     T(3, 2, 6), T(2, 2), T(6, 2), T(6)),
    "lstm_scan": case(lambda xw, h0, c0, w, b: R.lstm_scan(xw, h0, c0, w, b),
                      T(3, 2, 8), T(2, 2), T(2, 2), T(8, 2), T(8)),
    # model building blocks: convolution, pooling, padding, normalisation
    "im2col": case(lambda a: CV.im2col(a, (2, 3), (2, 1), ((1, 0), (0, 2)), (1, 2)), T(2, 3, 4, 5)),
    "col2im": case(lambda c: CV.col2im(c, (2, 3, 4, 5), (2, 3), (2, 1), ((1, 0), (0, 2)), (1, 2)),
                   T(3, 2, 3, 2, 2, 3)),
    "conv1d": case(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
                   T(2, 4, 7), T(4, 2, 2), T(4)),
    "conv2d": case(lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=1,
                                            dilation=(2, 1), groups=2),
                   T(2, 4, 5, 6), T(4, 2, 2, 3), T(4)),
    "conv_transpose2d": case(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                                output_padding=(1, 0), groups=2),
                             T(2, 4, 3, 2), T(4, 1, 3, 2), T(2)),
    "max_pool1d": case(lambda x: F.max_pool1d(x, 3, 2, 1), distinct(2, 2, 7)),
    "max_pool2d": case(lambda x: F.max_pool2d(x, (2, 3), (2, 1), (1, 1), dilation=(1, 2)),
                       distinct(2, 2, 5, 6)),
    "avg_pool1d": case(lambda x: F.avg_pool1d(x, 3, 2, 1), T(2, 2, 7)),
    "avg_pool2d": case(lambda x: F.avg_pool2d(x, (3, 2), (2, 1), (1, 1), count_include_pad=False),
                       T(2, 2, 5, 4)),
    "adaptive_avg_pool2d": case(lambda x: F.adaptive_avg_pool2d(x, (3, 2)), T(2, 2, 5, 4)),
    "pad": case(lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), T(2, 3, 4)),
    "batch_norm": case(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                       T(3, 2, 2, 3), T(2), T(2)),
    "layer_norm": case(lambda x, w, b: F.layer_norm(x, (2, 3), w, b), T(3, 2, 3), T(2, 3), T(2, 3)),
    "group_norm": case(lambda x, w, b: F.group_norm(x, 2, w, b), T(2, 4, 3), T(4), T(4)),
    # model building blocks (issue 8): tensor ops, dropout, embedding, attention
    "split": case(lambda a: a.split([1, 3], 1)[1] * a.split(2, 1)[0].sum(), T(3, 4)),
    "chunk": case(lambda a: ag.chunk(a, 3, dim=0)[2], T(5, 2)),
    "tril": case(lambda a: ag.tril(a, diagonal=-1), T(2, 3, 4)),
    "triu": case(lambda a: a.triu(1), T(3, 4)),
    "masked_fill": case(lambda a, v: a.masked_fill(MASK, v), T(3, 4), T()),
    "cumsum": case(lambda a: a.cumsum(1), T(3, 4)),
    "square": case(lambda a: ag.square(a), T(3, 4)),
    "norm": case(lambda a: a.norm(2, axis=1, keepdims=True) + a.norm(1, dim=0).sum()
                 + a.norm(float("inf")), NO_TIES),
    "bmm": case(lambda a, b: ag.bmm(a, b), T(2, 3, 4), T(2, 4, 2)),
    "einsum": case(lambda a, b, c: ag.einsum("bij,bjk,k->bi", a, b, c), T(2, 3, 4), T(2, 4, 2), T(2)),
    "dropout": case(lambda a: F.dropout(a, 0.0) * 2.0 + F.dropout(a, 1.0), T(3, 4)),
    "embedding": case(lambda w: F.embedding(np.array([[1, 0], [1, 3]]), w, padding_idx=2), T(4, 3)),
    "scaled_dot_product_attention": case(
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
        T(2, 3, 4), T(2, 5, 4), T(2, 5, 3), T(3, 5)),
}

X = ag.tensor(distinct(2, 3))
CONSTANT = {
    "sign": lambda: X.sign(),
    "lt": lambda: X < 0.0, "le": lambda: X <= 0.0, "gt": lambda: X > 0.0, "ge": lambda: X >= 0.0,
    "eq": lambda: X == 0.0, "ne": lambda: X != 0.0,
    "logical_and": lambda: (X > 0) & (X < 1), "logical_or": lambda: (X > 0) | (X < 1),
    "logical_xor": lambda: (X > 0) ^ (X < 1), "logical_not": lambda: ~(X > 0),
    "isnan": lambda: X.isnan(),
    "argmax": lambda: X.argmax(axis=1), "argmin": lambda: X.argmin(),
    # model building blocks (issue 8)
    "one_hot": lambda: F.one_hot(np.array([2, 0, 1]), 4),
}


def differentiable_ops():
    return [k for k, op in graph.REGISTRY.items() if op.differentiable]


def test_every_registered_op_has_a_case():
    differentiable = set(differentiable_ops())
    constant = {k for k, op in graph.REGISTRY.items() if not op.differentiable}
    assert differentiable - set(CASES) == set(), "registered ops without a line in CASES"
    assert constant - set(CONSTANT) == set(), "ops that record nothing without a line in CONSTANT"
    assert set(CASES) - differentiable == set(), "CASES names ops that are not registered"
    assert set(CONSTANT) - constant == set()


def leaves(c: Case):
    return tuple(ag.Tensor(a.copy(), requires_grad=True) for a in c.inputs)


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    c = CASES[name]
    assert ag.gradcheck(c.fn, leaves(c), **c.tol)


@pytest.mark.parametrize("name", [k for k in CASES if graph.REGISTRY[k].second_order])
def test_gradgradcheck(name):
    c = CASES[name]
    assert ag.gradgradcheck(c.fn, leaves(c), **c.tol)


@pytest.mark.parametrize(
    "name", [k for k in CASES if graph.REGISTRY[k].rule is not None
             and not (graph.REGISTRY[k].reads_inputs and graph.REGISTRY[k].reads_output)])
def test_reads_declaration(name, monkeypatch):
    monkeypatch.setattr(memory, "KEEP_BELOW", 0)
    c = CASES[name]

    def with_unread_values_stubbed(*xs):
        return c.fn(*[x + 0.0 for x in xs]) + 0.0

    assert stubs_in_graph(with_unread_values_stubbed(*leaves(c))) > 0  # the path under test is taken
    assert ag.gradcheck(with_unread_values_stubbed, leaves(c), **c.tol)
    if graph.REGISTRY[name].second_order:
        assert ag.gradgradcheck(with_unread_values_stubbed, leaves(c), **c.tol)


@pytest.mark.parametrize("name", list(CONSTANT))
def test_ops_that_record_nothing(name):
    with ag.enable_grad():
        out = CONSTANT[name]()
    assert not out.requires_grad and out.grad_fn is None


def test_the_create_graph_namespace_has_every_name_the_rules_use():
    """Rules call ``xp.<name>``: each such name must exist in the backend and in graph.XP."""
    import inspect
    import re

    import autograd.backend as B

    used = set()
    for op in graph.REGISTRY.values():
        if op.rule is not None:
            used |= set(re.findall(r"\bxp\.(\w+)", inspect.getsource(op.rule)))
    assert used, "no xp names found: the scan is broken"
    assert {n for n in used if not hasattr(graph.XP, n)} == set()
    assert {n for n in used if not hasattr(B, n)} == set()
