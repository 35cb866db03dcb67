"""Extreme inputs for every activation and loss, in float32 and float64.

Saturating inputs (±1000, ±inf, logits near 1e4, probabilities exactly 0 and 1) must give the
finite values and gradients the mathematics gives, with no NaN, no spurious inf and no NumPy
warning. Every test turns warnings into errors itself (pyproject does too, globally), and every
expected value is written out by hand or computed here with a NumPy formula that is stable at
these inputs (exp only of −|x|, log1p, erfc), never with the library.
"""
from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pytest
import scipy.special

import autograd as ag
import autograd.nn.functional as F

DTYPES = [np.float32, np.float64]
INF = np.inf


@contextlib.contextmanager
def warnings_as_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def tol(dtype):
    """Relative tolerance: a few units in the last place of ``dtype``."""
    return 4 * float(np.finfo(dtype).eps)


def forward_backward(fn, values, dtype, cotangent=None):
    """``y = fn(x)`` and ``x.grad`` after ``y.backward(cotangent)``, both as NumPy arrays.

    Runs with warnings as errors; checks that y and x.grad keep the input's dtype and shape.
    """
    with warnings_as_errors():
        x = ag.Tensor(np.array(values, dtype=dtype), requires_grad=True)
        y = fn(x)
        if cotangent is None:
            cotangent = np.ones(y.shape)
        y.backward(np.asarray(cotangent, dtype=dtype))
    assert y.dtype == dtype
    assert x.grad.dtype == dtype and x.grad.shape == x.shape
    return y.numpy(), x.grad.numpy()


# ----------------------------------------------------------------------------- stable formulas
def stable_sigmoid(x):
    """σ(x) from e = exp(−|x|) ≤ 1: 1/(1 + e) for x ≥ 0, e/(1 + e) for x < 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def stable_sigmoid_grad(x):
    """σ'(x) = e/(1 + e)² with e = exp(−|x|) (σ' is even, so no cancellation in 1 − σ)."""
    e = np.exp(-np.abs(x))
    return e / (1.0 + e) ** 2


def normal_cdf(x):
    return 0.5 * scipy.special.erfc(-x / math.sqrt(2.0))  # accurate in both tails


def normal_pdf(x):
    # Beyond |x| = 40 the density underflows to 0 anyway (e^-800); clamping keeps x² finite.
    x = np.minimum(np.abs(x), 40.0)
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def tanh_grad(x):
    """1 − tanh² x = 4e/(1 + e)² with e = exp(−2|x|) ≤ 1."""
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


E1 = math.exp(-1.0)  # the softmax of (0, −1) is (1, e⁻¹) / (1 + e⁻¹)
E2 = math.exp(-2.0)


# ----------------------------------------------------------------------------- sigmoid, tanh
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sigmoid", [F.sigmoid, ag.sigmoid, lambda x: x.sigmoid()],
                         ids=["F", "ag", "method"])
def test_sigmoid_saturates_to_exactly_0_and_1(sigmoid, dtype):
    y, g = forward_backward(sigmoid, [-INF, -1000.0, 1000.0, INF], dtype)
    np.testing.assert_array_equal(y, [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_tails_keep_their_relative_accuracy(dtype):
    x = np.array([-80.0, -30.0, -5.0, 5.0, 30.0])
    y, g = forward_backward(F.sigmoid, x, dtype)
    np.testing.assert_allclose(y, stable_sigmoid(x), rtol=100 * tol(dtype), atol=0)
    # σ' = σ(1 − σ): where σ rounds to 1 the gradient underflows to 0, which is within atol.
    np.testing.assert_allclose(g, stable_sigmoid_grad(x), rtol=100 * tol(dtype), atol=np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_saturates_to_exactly_plus_minus_1(dtype):
    y, g = forward_backward(F.tanh, [-INF, -1000.0, 1000.0, INF], dtype)
    np.testing.assert_array_equal(y, [-1.0, -1.0, 1.0, 1.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 0.0])


# ----------------------------------------------------------------------------- softmax family
V3 = np.array([0.5, -1.25, 2.0])  # a cotangent with distinct entries


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_logits_1e4_apart(dtype):
    y, g = forward_backward(F.softmax, [1e4, 0.0, -1e4], dtype, V3)
    np.testing.assert_array_equal(y, [1.0, 0.0, 0.0])
    # Jᵀv = p ⊙ (v − p·v) with p = (1, 0, 0): exactly zero.
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_two_large_close_logits(dtype):
    v = np.array([1.5, -0.5])
    y, g = forward_backward(F.softmax, [1e4, 1e4 - 1], dtype, v)
    p = np.array([1.0, E1]) / (1.0 + E1)
    np.testing.assert_allclose(y, p, rtol=tol(dtype))
    np.testing.assert_allclose(g, p * (v - p @ v), rtol=10 * tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_batch_of_large_logits_along_an_axis(dtype, axis):
    logits = np.array([[1e4, 0.0, -1e4], [1e4, 1e4 - 1, 1e4 - 2]])
    p = np.array([[1.0, 0.0, 0.0], np.array([1.0, E1, E2]) / (1.0 + E1 + E2)])
    v = np.array([[0.5, -1.0, 2.0], [1.0, 0.25, -3.0]])
    expected_grad = p * (v - np.sum(v * p, axis=1, keepdims=True))
    if axis == 0:  # the same rows as columns
        logits, p, v, expected_grad = logits.T, p.T, v.T, expected_grad.T
    y, g = forward_backward(lambda x: F.softmax(x, axis=axis), logits, dtype, v)
    np.testing.assert_allclose(y, p, rtol=tol(dtype), atol=0)
    np.testing.assert_allclose(g, expected_grad, rtol=10 * tol(dtype), atol=10 * tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_with_a_minus_inf_mask(dtype):
    y, g = forward_backward(F.softmax, [0.0, -1.0, -INF], dtype, V3)
    p = np.array([1.0, E1, 0.0]) / (1.0 + E1)
    np.testing.assert_allclose(y, p, rtol=tol(dtype), atol=0)
    np.testing.assert_allclose(g, p * (V3 - p @ V3), rtol=10 * tol(dtype), atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_of_logits_1e4_apart(dtype):
    y, g = forward_backward(F.log_softmax, [1e4, 0.0, -1e4], dtype, V3)
    # log Σ e^(z − max) = log(1 + e^−1e4 + e^−2e4) = 0 exactly in floating point.
    np.testing.assert_array_equal(y, [0.0, -1e4, -2e4])
    # ∂/∂z: v − p Σv with p = (1, 0, 0).
    np.testing.assert_allclose(g, [V3[0] - V3.sum(), V3[1], V3[2]], rtol=tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_of_two_large_close_logits(dtype):
    v = np.array([1.5, -0.5])
    y, g = forward_backward(F.log_softmax, [1e4, 1e4 - 1], dtype, v)
    lse = math.log1p(E1)  # log(e⁰ + e⁻¹) after shifting by the max
    np.testing.assert_allclose(y, [-lse, -1.0 - lse], rtol=tol(dtype))
    p = np.array([1.0, E1]) / (1.0 + E1)
    np.testing.assert_allclose(g, v - p * v.sum(), rtol=10 * tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_with_a_minus_inf_mask(dtype):
    y, g = forward_backward(F.log_softmax, [0.0, -1.0, -INF], dtype, V3)
    lse = math.log1p(E1)
    np.testing.assert_allclose(y, [-lse, -1.0 - lse, -INF], rtol=tol(dtype))
    p = np.array([1.0, E1, 0.0]) / (1.0 + E1)
    np.testing.assert_allclose(g, V3 - p * V3.sum(), rtol=10 * tol(dtype), atol=0)
    assert np.all(np.isfinite(g))


# ----------------------------------------------------------------------------- logsumexp
def lse_grad_rtol(value, dtype):
    """The gradient is exp(x − out) (as in PyTorch), so it inherits the rounding of out itself:
    an absolute error of ½ ulp(out) ≈ |out|·eps/2 in the exponent, a relative error of that size
    in the gradient (3e-5 at out ≈ 1000 in float32). Allow exactly that, plus a few ulps."""
    return (abs(value) + 4.0) * float(np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values, expected, expected_grad", [
    ([1000.0, 1000.0], 1000.0 + math.log(2.0), [0.5, 0.5]),
    ([-1000.0, -1000.0], -1000.0 + math.log(2.0), [0.5, 0.5]),
    ([1e4, 0.0, -1e4], 1e4, [1.0, 0.0, 0.0]),
    ([1e4, 1e4 - 1], 1e4 + math.log1p(E1), [1.0 / (1.0 + E1), E1 / (1.0 + E1)]),
    ([0.0, -INF], 0.0, [1.0, 0.0]),
], ids=["1000,1000", "-1000,-1000", "1e4,0,-1e4", "1e4,1e4-1", "0,-inf"])
def test_logsumexp_of_large_values(values, expected, expected_grad, dtype):
    y, g = forward_backward(lambda x: x.logsumexp(), values, dtype)
    assert y.shape == ()
    np.testing.assert_allclose(y, expected, rtol=tol(dtype))
    np.testing.assert_allclose(g, expected_grad, rtol=lse_grad_rtol(expected, dtype), atol=0)
    assert abs(float(np.sum(g)) - 1.0) <= lse_grad_rtol(expected, dtype)  # the weights sum to 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_along_an_axis_with_keepdims(dtype):
    values = [[1000.0, 1000.0], [1e4, 1e4 - 1]]
    y, g = forward_backward(lambda x: ag.logsumexp(x, axis=1, keepdims=True), values, dtype)
    np.testing.assert_allclose(y, [[1000.0 + math.log(2.0)], [1e4 + math.log1p(E1)]], rtol=tol(dtype))
    np.testing.assert_allclose(g, [[0.5, 0.5], [1.0 / (1.0 + E1), E1 / (1.0 + E1)]], rtol=lse_grad_rtol(1e4, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_of_all_minus_inf_is_minus_inf_without_warning(dtype):
    """log Σ e^(−inf) = log 0 = −inf, as PyTorch returns (silently)."""
    with warnings_as_errors():
        y = ag.Tensor(np.array([-INF, -INF], dtype), requires_grad=True).logsumexp()
    assert y.item() == -INF


# ----------------------------------------------------------------------------- cross-entropy
LOGITS = [[1e4, 0.0, -1e4], [0.0, 1e4, 1e4 - 1]]
LABELS = np.array([2, 2])
SOFTMAX_OF_LOGITS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0 / (1.0 + E1), E1 / (1.0 + E1)]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_with_logits_near_1e4(dtype):
    y, g = forward_backward(lambda z: F.cross_entropy(z, LABELS), LOGITS, dtype)
    # loss_i = logsumexp(z_i) − z_i[label_i]: 1e4 − (−1e4), and (1e4 + log(1 + e⁻¹)) − (1e4 − 1).
    per_sample = np.array([2e4, 1.0 + math.log1p(E1)])
    np.testing.assert_allclose(y, per_sample.mean(), rtol=tol(dtype))
    onehot = np.eye(3)[LABELS]
    np.testing.assert_allclose(g, (SOFTMAX_OF_LOGITS - onehot) / 2, rtol=10 * tol(dtype), atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_per_sample_with_logits_near_1e4(dtype):
    v = np.array([2.0, -0.5])
    y, g = forward_backward(lambda z: F.cross_entropy(z, LABELS, reduction="none"), LOGITS, dtype, v)
    np.testing.assert_allclose(y, [2e4, 1.0 + math.log1p(E1)], rtol=tol(dtype))
    onehot = np.eye(3)[LABELS]
    np.testing.assert_allclose(g, v[:, None] * (SOFTMAX_OF_LOGITS - onehot), rtol=10 * tol(dtype), atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_soft_targets_with_logits_near_1e4(dtype):
    targets = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], dtype)
    y, g = forward_backward(lambda z: F.cross_entropy(z, targets, reduction="sum"), LOGITS, dtype)
    # −Σ t log p: row 0 is −(0.5·0 + 0.5·(−1e4)) (t = 0 hides log p = −2e4); row 1 as above.
    np.testing.assert_allclose(y, 5e3 + 1.0 + math.log1p(E1), rtol=tol(dtype))
    # ∂/∂z = p Σ_c t_c − t, and each row of t sums to 1.
    np.testing.assert_allclose(g, SOFTMAX_OF_LOGITS - targets, rtol=10 * tol(dtype), atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nll_loss_of_very_negative_log_probabilities(dtype):
    y, g = forward_backward(lambda lp: F.nll_loss(lp, LABELS), [[0.0, -1e4, -2e4], [-1e4, 0.0, -INF]], dtype)
    assert np.isinf(y) and y > 0  # −log p of an impossible label is +inf: the math is infinite
    y, g = forward_backward(lambda lp: F.nll_loss(lp, LABELS), [[0.0, -1e4, -2e4], [-1e4, 0.0, -3e4]], dtype)
    np.testing.assert_allclose(y, (2e4 + 3e4) / 2, rtol=tol(dtype))
    np.testing.assert_array_equal(g, [[0.0, 0.0, -0.5], [0.0, 0.0, -0.5]])


# ----------------------------------------------------------------------------- binary cross-entropy
P01 = [0.0, 0.0, 1.0, 1.0]  # probabilities exactly at the ends
T01 = np.array([0.0, 1.0, 0.0, 1.0])
DTYPES_BCE = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES_BCE)
def test_binary_cross_entropy_at_p_exactly_0_and_1_is_clamped_at_100(dtype):
    """PyTorch clamps each log at −100: a certain wrong prediction costs exactly 100."""
    t = T01.astype(dtype)
    y, _ = forward_backward(lambda p: F.binary_cross_entropy(p, t, reduction="none"), P01, dtype)
    np.testing.assert_array_equal(y, [0.0, 100.0, 100.0, 0.0])
    y, _ = forward_backward(lambda p: F.binary_cross_entropy(p, t), P01, dtype)
    np.testing.assert_array_equal(y, 50.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_gradient_at_p_exactly_0_and_1_is_finite(dtype):
    """∂/∂p = (p − t) / max(p(1 − p), 1e-12), PyTorch's formula: ±1e12 at a certain wrong answer."""
    t = T01.astype(dtype)
    y, g = forward_backward(lambda p: F.binary_cross_entropy(p, t, reduction="none"), P01, dtype)
    eps = float(np.asarray(1e-12, dtype))  # the denominator's floor, rounded to dtype
    np.testing.assert_allclose(g, [0.0, -1.0 / eps, 1.0 / eps, 0.0], rtol=tol(dtype))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))


@pytest.mark.parametrize("dtype", DTYPES_BCE)
def test_binary_cross_entropy_target_gradient_at_p_exactly_0_and_1(dtype):
    """∂/∂t = log(1 − p) − log p with both logs clamped at −100: +100 at p = 0, −100 at p = 1."""
    with warnings_as_errors():
        p = ag.Tensor(np.array(P01, dtype))
        t = ag.Tensor(T01.astype(dtype), requires_grad=True)
        F.binary_cross_entropy(p, t, reduction="sum").backward()
    assert t.grad.dtype == dtype
    np.testing.assert_array_equal(t.grad.numpy(), [100.0, 100.0, -100.0, -100.0])


Z1000 = np.array([-1000.0, -1000.0, 1000.0, 1000.0, -1000.0, 1000.0])
T1000 = np.array([0.0, 1.0, 0.0, 1.0, 0.25, 0.25])


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits_at_plus_minus_1000(dtype):
    t = T1000.astype(dtype)
    y, g = forward_backward(lambda z: F.binary_cross_entropy_with_logits(z, t, reduction="none"), Z1000, dtype)
    # The stable form max(z, 0) − z t + log(1 + e^−|z|), here log1p(0) = 0.
    expected = np.maximum(Z1000, 0) - Z1000 * T1000 + np.log1p(np.exp(-np.abs(Z1000)))
    np.testing.assert_allclose(expected, [0.0, 1000.0, 1000.0, 0.0, 250.0, 750.0])  # the formula, by eye
    np.testing.assert_allclose(y, expected, rtol=tol(dtype))
    np.testing.assert_allclose(g, stable_sigmoid(Z1000) - T1000, rtol=tol(dtype), atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits_target_gradient_at_plus_minus_1000(dtype):
    with warnings_as_errors():
        z = ag.Tensor(Z1000.astype(dtype))
        t = ag.Tensor(T1000.astype(dtype), requires_grad=True)
        loss = F.binary_cross_entropy_with_logits(z, t)
        loss.backward()
    np.testing.assert_allclose(loss.numpy(), np.mean([0.0, 1000.0, 1000.0, 0.0, 250.0, 750.0]), rtol=tol(dtype))
    assert t.grad.dtype == dtype
    np.testing.assert_allclose(t.grad.numpy(), -Z1000 / 6, rtol=tol(dtype))  # ∂/∂t = −z, averaged


# ----------------------------------------------------------------------------- squared errors
@pytest.mark.parametrize("dtype", DTYPES)
def test_squared_error_and_mse_of_large_values(dtype):
    pred, target = [1e4, -1e4], np.array([-1e4, 1e4], dtype)
    y, g = forward_backward(lambda p: F.squared_error(p, target), pred, dtype)
    np.testing.assert_array_equal(y, 0.5 * (4e8 + 4e8))
    np.testing.assert_array_equal(g, [2e4, -2e4])
    y, g = forward_backward(lambda p: F.mse_loss(p, target), pred, dtype)
    np.testing.assert_array_equal(y, 4e8)
    np.testing.assert_array_equal(g, [2e4, -2e4])  # 2 (p − t) / n


# ----------------------------------------------------------------------------- other activations
def _gelu(x):
    return x * normal_cdf(x)


def _gelu_grad(x):
    return normal_cdf(x) + x * normal_pdf(x)


def _silu_grad(x):
    s = stable_sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


ACTIVATIONS = {
    # name: (function, value formula, derivative formula)
    "relu": (F.relu, lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float)),
    "leaky_relu": (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01)),
    "elu": (F.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
            lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))),
    "gelu": (F.gelu, _gelu, _gelu_grad),
    "silu": (F.silu, lambda x: x * stable_sigmoid(x), _silu_grad),
    "softplus": (F.softplus, lambda x: np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))), stable_sigmoid),
    "sigmoid": (F.sigmoid, stable_sigmoid, stable_sigmoid_grad),
    "tanh": (F.tanh, np.tanh, lambda x: tanh_grad(x)),
}
LARGE = np.array([-1000.0, -20.0, 20.0, 1000.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_at_plus_minus_1000(name, dtype):
    fn, value, derivative = ACTIVATIONS[name]
    y, g = forward_backward(fn, LARGE, dtype)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))
    # The values' atol only covers results far below any dtype's resolution (gelu(−20) ≈ −5.5e-88).
    np.testing.assert_allclose(y, value(LARGE), rtol=100 * tol(dtype), atol=1e-30)
    # Derivatives computed from the output (σ(1 − σ), 1 − tanh², y + α) cannot resolve a slope
    # below eps where the output rounds to its limit (σ'(20) ≈ 2e-9 is 0 in float32): atol = eps.
    np.testing.assert_allclose(g, derivative(LARGE), rtol=100 * tol(dtype), atol=np.finfo(dtype).eps)


def test_activation_values_at_plus_minus_1000_by_eye():
    """The formulas above, at ±1000, are the obvious limits."""
    x = np.array([-1000.0, 1000.0])
    limits = {"relu": ([0, 1000], [0, 1]), "leaky_relu": ([-10, 1000], [0.01, 1]), "elu": ([-1, 1000], [0, 1]),
              "gelu": ([0, 1000], [0, 1]), "silu": ([0, 1000], [0, 1]), "softplus": ([0, 1000], [0, 1]),
              "sigmoid": ([0, 1], [0, 0]), "tanh": ([-1, 1], [0, 0])}
    for name, (_, value, derivative) in ACTIVATIONS.items():
        np.testing.assert_allclose(value(x), limits[name][0], err_msg=name)
        np.testing.assert_allclose(derivative(x), limits[name][1], err_msg=name)


HUGE = {np.float32: 1e30, np.float64: 1e300}  # finite, but their squares overflow


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_at_huge_finite_inputs(name, dtype):
    """At ±(largest squares-overflow values) every activation is in its linear or flat regime."""
    fn, value, derivative = ACTIVATIONS[name]
    x = np.array([-HUGE[dtype], HUGE[dtype]])
    y, g = forward_backward(fn, x, dtype)
    np.testing.assert_allclose(y, value(x), rtol=100 * tol(dtype), atol=1e-30)
    np.testing.assert_allclose(g, derivative(x), rtol=100 * tol(dtype), atol=1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "softplus", "sigmoid", "tanh"])
def test_activation_at_plus_minus_inf(name, dtype):
    """Where the limit at ±inf is finite (or is inf itself), those activations give it."""
    fn, _, derivative = ACTIVATIONS[name]
    expected = {"relu": [0, INF], "leaky_relu": [-INF, INF], "elu": [-1, INF], "softplus": [0, INF],
                "sigmoid": [0, 1], "tanh": [-1, 1]}[name]
    y, g = forward_backward(fn, [-INF, INF], dtype, cotangent=[1.0, 1.0])
    np.testing.assert_array_equal(y, expected)
    # The derivative's limits (0.01 is not a float32 number, hence a tolerance).
    np.testing.assert_allclose(g, derivative(np.array([-1e4, 1e4])), rtol=tol(dtype), atol=0)
