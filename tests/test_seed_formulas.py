"""The formulas of docs/derivations.md, checked against hand-written NumPy.

For a one-layer network z_k = Σ_j x_j w_{j,k} with cost E = ½ Σ_k (g(z_k) − t_k)², the text
derives ∂E/∂w_{j,k} = (g(z_k) − t_k) g'(z_k) x_j, with σ' = p(1 − p), tanh' = 1 − tanh², and the
softmax Jacobian diag(p) − p pᵀ. Every expected value here is computed in NumPy from those
formulas, never by the engine.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import functional as AF

rng = np.random.default_rng(1234)
M, K = 5, 4  # inputs per neuron, neurons in the layer


def _np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _np_softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _layer(activation):
    x = rng.standard_normal(M)
    w = rng.standard_normal((M, K))
    t = rng.uniform(0, 1, K)
    W = ag.Tensor(w.copy(), requires_grad=True)
    E = F.squared_error(activation(ag.Tensor(x) @ W), ag.Tensor(t))
    E.backward()
    return x, w, t, W.grad.numpy()


@pytest.mark.parametrize(
    "name, activation, g, g_prime",
    [
        ("sigmoid", F.sigmoid, _np_sigmoid, lambda z: _np_sigmoid(z) * (1 - _np_sigmoid(z))),
        ("tanh", F.tanh, np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    ],
)
def test_one_layer_gradient_is_the_texts_formula(name, activation, g, g_prime):
    x, w, t, grad = _layer(activation)
    z = x @ w
    expected = np.outer(x, (g(z) - t) * g_prime(z))  # (g(z_k) − t_k) g'(z_k) x_j
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-14)


def test_one_layer_softmax_gradient_goes_through_the_jacobian():
    x, w, t, grad = _layer(lambda z: F.softmax(z, axis=-1))
    p = _np_softmax(x @ w)
    J = np.diag(p) - np.outer(p, p)  # ∂p_i/∂z_k
    dE_dz = J.T @ (p - t)
    np.testing.assert_allclose(grad, np.outer(x, dE_dz), rtol=1e-12, atol=1e-14)


def test_squared_error_value_and_gradient():
    p, t = rng.standard_normal(6), rng.standard_normal(6)
    P = ag.Tensor(p.copy(), requires_grad=True)
    E = F.squared_error(P, ag.Tensor(t))
    assert E.item() == pytest.approx(0.5 * np.sum((p - t) ** 2), rel=1e-14)
    E.backward()
    np.testing.assert_allclose(P.grad.numpy(), p - t, rtol=1e-14)


def test_sigmoid_derivative_is_p_one_minus_p():
    z = np.linspace(-8, 8, 33)
    Z = ag.Tensor(z.copy(), requires_grad=True)
    Z.sigmoid().sum().backward()
    p = _np_sigmoid(z)
    np.testing.assert_allclose(Z.grad.numpy(), p * (1 - p), rtol=1e-12, atol=1e-16)


def test_tanh_derivative_is_one_minus_tanh_squared():
    z = np.linspace(-5, 5, 33)
    Z = ag.Tensor(z.copy(), requires_grad=True)
    Z.tanh().sum().backward()
    np.testing.assert_allclose(Z.grad.numpy(), 1 - np.tanh(z) ** 2, rtol=1e-12, atol=1e-16)


def test_softmax_jacobian_is_diag_p_minus_p_pT():
    z = rng.standard_normal(5)
    J = AF.jacobian(lambda v: F.softmax(v, axis=-1), ag.Tensor(z)).numpy()
    p = _np_softmax(z)
    np.testing.assert_allclose(J, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)


def test_softmax_backward_never_builds_the_jacobian_but_matches_it():
    z, g = rng.standard_normal((3, 7)), rng.standard_normal((3, 7))
    Z = ag.Tensor(z.copy(), requires_grad=True)
    F.softmax(Z, axis=1).backward(g)
    for row in range(3):
        p = _np_softmax(z[row])
        J = np.diag(p) - np.outer(p, p)
        np.testing.assert_allclose(Z.grad.numpy()[row], J.T @ g[row], rtol=1e-12, atol=1e-15)


def test_softmax_with_two_classes_and_z1_zero_is_the_sigmoid():
    z2 = np.linspace(-6, 6, 13)
    Z2 = ag.Tensor(z2.copy(), requires_grad=True)
    logits = ag.stack([ag.zeros_like(Z2, dtype=np.float64), Z2], axis=1)
    p2 = F.softmax(logits, axis=1)[:, 1]
    np.testing.assert_allclose(p2.numpy(), _np_sigmoid(z2), rtol=1e-12)
    p2.sum().backward()
    s = _np_sigmoid(z2)
    np.testing.assert_allclose(Z2.grad.numpy(), s * (1 - s), rtol=1e-11, atol=1e-16)


def test_second_derivatives_of_sigmoid_and_tanh():
    z = np.linspace(-3, 3, 7)
    Z = ag.Tensor(z.copy(), requires_grad=True)
    (g,) = ag.grad(Z.sigmoid().sum(), Z, create_graph=True)
    (h,) = ag.grad(g.sum(), Z)
    p = _np_sigmoid(z)
    np.testing.assert_allclose(h.numpy(), p * (1 - p) * (1 - 2 * p), rtol=1e-11, atol=1e-15)

    (g,) = ag.grad(Z.tanh().sum(), Z, create_graph=True)
    (h,) = ag.grad(g.sum(), Z)
    y = np.tanh(z)
    np.testing.assert_allclose(h.numpy(), -2 * y * (1 - y**2), rtol=1e-11, atol=1e-15)


def test_hessian_of_softmax_cross_entropy_is_diag_p_minus_p_pT():
    z = rng.standard_normal(4)
    H = AF.hessian(lambda v: F.cross_entropy(v, 2), ag.Tensor(z)).numpy()
    p = _np_softmax(z)
    np.testing.assert_allclose(H, np.diag(p) - np.outer(p, p), rtol=1e-11, atol=1e-15)
