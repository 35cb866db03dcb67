"""F.linear, the fused x Wᵀ + b that nn.Linear uses: values and derivatives."""
from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F

rng = np.random.default_rng(7)


def T(*shape):
    return ag.Tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("x_shape", [(3,), (4, 3), (2, 4, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_matches_the_formula_and_gradchecks(x_shape, with_bias):
    x, w, b = T(*x_shape), T(5, 3), T(5)
    args = (x, w, b) if with_bias else (x, w)
    y = F.linear(*args)
    expected = x.numpy() @ w.numpy().T + (b.numpy() if with_bias else 0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-13)
    assert ag.gradcheck(F.linear, args)
    assert ag.gradgradcheck(F.linear, args)


def test_linear_gradients_by_hand():
    x, w, b = T(4, 3), T(5, 3), T(5)
    g = rng.standard_normal((4, 5))
    F.linear(x, w, b).backward(g)
    np.testing.assert_allclose(x.grad.numpy(), g @ w.numpy(), rtol=1e-13)
    np.testing.assert_allclose(w.grad.numpy(), g.T @ x.numpy(), rtol=1e-13)
    np.testing.assert_allclose(b.grad.numpy(), g.sum(axis=0), rtol=1e-13)


def test_linear_keeps_float32_and_names_bad_shapes():
    x = ag.randn(2, 3)
    w, b = ag.randn(4, 3, requires_grad=True), ag.randn(4, requires_grad=True)
    y = F.linear(x, w, b)
    y.sum().backward()
    assert y.dtype == np.float32 and w.grad.dtype == np.float32 and b.grad.dtype == np.float32
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 2\)"):
        F.linear(x, ag.randn(4, 2))


def test_linear_agrees_with_torch(torch):
    x, w, b = T(6, 3), T(5, 3), T(5)
    g = rng.standard_normal((6, 5))
    F.linear(x, w, b).backward(g)
    tx, tw, tb = (torch.tensor(a.numpy(), requires_grad=True) for a in (x, w, b))
    torch.nn.functional.linear(tx, tw, tb).backward(torch.tensor(g))
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
