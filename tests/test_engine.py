"""Engine semantics: accumulation, graph shapes, freeing, grad mode, errors, dtype policy."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import engine


def leaf(values, dtype=np.float64):
    return ag.Tensor(np.array(values, dtype=dtype), requires_grad=True)


# ----------------------------------------------------------------------------- accumulation
def test_gradients_accumulate_over_two_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.array([1.0, 2.0, 3.0]) + 3.0)


def test_diamond_sums_both_paths():
    x = leaf([0.3, -0.7])
    y = x * 2.0
    z = (y.exp() + y.sin()).sum()
    z.backward()
    xv = np.array([0.3, -0.7])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * xv) + 2 * np.cos(2 * xv), rtol=1e-14)


def test_reuse_of_one_tensor_as_both_operands():
    x = leaf([1.5, -2.0])
    (x * x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([1.5, -2.0]) ** 2)


def test_broadcast_gradient_has_the_leaf_shape():
    a, b = leaf(np.ones((4, 1))), leaf(np.arange(5.0).reshape(1, 5))
    (a * b).sum().backward()
    assert a.grad.shape == (4, 1) and b.grad.shape == (1, 5)
    np.testing.assert_array_equal(a.grad.numpy(), np.full((4, 1), 10.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((1, 5), 4.0))


def test_backward_with_gradient_for_a_non_scalar_output():
    x = leaf([1.0, 2.0])
    (x * x).backward(gradient=np.array([10.0, 100.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, 400.0])


def test_backward_of_a_leaf_itself():
    x = leaf([1.0, 2.0])
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_grads_of_two_leaves_never_share_memory():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x + y).sum().backward()
    x.grad.data += 1
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


def test_retain_grad_fills_an_intermediate():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), 2 * 3.0 * np.array([1.0, 2.0]))
    assert (x * 2.0).grad is None  # not retained: as in PyTorch


# ----------------------------------------------------------------------------- freeing
def test_second_backward_through_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = x.exp().sum()
    y.backward()
    assert y.grad_fn.freed
    with pytest.raises(RuntimeError, match="second time.*'sum'"):
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]))  # not double-counted


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = x.exp().sum()
    y.backward(retain_graph=True)
    assert not y.grad_fn.freed
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]))


def test_saved_values_are_released_after_backward():
    x = leaf(np.ones((2, 3)))
    y = x[np.array([0, 0])].sum()
    node = y.grad_fn.inputs[0].grad_fn
    assert node.saved is not None
    y.backward()
    assert node.saved is None and node.freed


# ----------------------------------------------------------------------------- depth
def test_a_100000_op_chain_backpropagates_without_recursion():
    n = 100_000
    x = leaf(1.0)
    y = x
    for _ in range(n // 2):
        y = y * 1.00001
        y = y + 0.5
    assert sys.getrecursionlimit() <= 10_000
    y.backward()
    assert x.grad.item() == pytest.approx(math.exp((n // 2) * math.log1p(1e-5)), rel=1e-9)


def test_topological_order_is_deterministic():
    def build():
        x = leaf([1.0, 2.0])
        a, b = x.sin(), x.cos()
        return ((a * b) + a.exp() - b).sum()

    names = [[t.grad_fn.name for t in engine.topological_order([build()])] for _ in range(2)]
    assert names[0] == names[1]
    assert names[0][0] == "sum"


# ----------------------------------------------------------------------------- grad mode
def test_no_grad_records_nothing_and_enable_grad_restores():
    x = leaf([1.0])
    with ag.no_grad():
        assert not ag.is_grad_enabled()
        y = x * 2.0
        with ag.enable_grad():
            z = x * 2.0
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_as_a_decorator():
    @ag.no_grad()
    def f(t):
        return t * 2.0

    assert not f(leaf([1.0])).requires_grad
    assert ag.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_requires_grad_():
    x = ag.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2.0).requires_grad_(False)


def test_plain_backward_records_no_graph_of_its_own():
    x = leaf([1.0, 2.0])
    (x.tanh() * x).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad


# ----------------------------------------------------------------------------- ag.grad
def test_grad_returns_gradients_without_touching_dot_grad():
    x, y = leaf([1.0, 2.0]), leaf([3.0])
    gx, gy = ag.grad((x * y).sum(), [x, y])
    np.testing.assert_array_equal(gx.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(gy.numpy(), [3.0])
    assert x.grad is None and y.grad is None


def test_grad_of_a_gradient_gives_second_derivatives():
    x = leaf([0.5, 2.0])
    (g,) = ag.grad((x**3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), 3 * np.array([0.5, 2.0]) ** 2)
    (h,) = ag.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * np.array([0.5, 2.0]))


def test_gradient_penalty_through_backward_create_graph():
    x = leaf([1.0, -2.0])
    (x.sin() * x).sum().backward(create_graph=True)
    penalty = (x.grad * x.grad).sum()  # d/dx of Σ (sin x + x cos x)²
    g = x.grad.numpy()
    x.grad = None
    penalty.backward()
    xv = np.array([1.0, -2.0])
    expected = 2 * g * (2 * np.cos(xv) - xv * np.sin(xv))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_grad_unused_input():
    x, y = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="input 1.*not used"):
        ag.grad((x * 2.0).sum(), [x, y])
    gx, gy = ag.grad((x * 2.0).sum(), [x, y], allow_unused=True)
    assert gy is None and gx.item() == 2.0


def test_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    (gy,) = ag.grad((y * y).sum(), y)
    np.testing.assert_array_equal(gy.numpy(), [6.0, 12.0])


# ----------------------------------------------------------------------------- errors
def test_non_scalar_backward_needs_gradient():
    with pytest.raises(RuntimeError, match=r"one-element.*\(2,\)"):
        (leaf([1.0, 2.0]) * 2.0).backward()


def test_integer_data_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        ag.Tensor(np.array([1, 2]), requires_grad=True)


def test_backward_of_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.tensor([1.0]).sum().backward()


def test_broadcast_mismatch_names_both_shapes_and_the_op():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        ag.ones(2, 3) + ag.ones(4)
    with pytest.raises(ValueError, match=r"mul: shapes \(5,\) and \(2,\)"):
        ag.ones(5) * ag.ones(2)


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        ag.ones(2, 3) @ ag.ones(4, 5)


def test_gradient_of_the_wrong_shape_is_rejected():
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(2,\)"):
        (leaf([1.0, 2.0]) * 2.0).backward(np.ones(3))


def test_a_rule_returning_the_wrong_shape_is_caught_by_the_engine():
    class Bad(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return ag.ones(7, dtype=np.float64)

    with pytest.raises(RuntimeError, match=r"'Bad'.*\(7,\).*\(2,\)"):
        Bad.apply(leaf([1.0, 2.0])).sum().backward()


def test_cross_entropy_names_the_bad_label():
    with pytest.raises(IndexError, match=r"label 5 \(at position 1\).*3 classes"):
        F.cross_entropy(ag.zeros(2, 3), [0, 5])
    with pytest.raises(IndexError, match=r"label -1"):
        F.nll_loss(ag.zeros(2, 3), [-1, 0])


def test_loss_shape_mismatch_is_an_error_not_a_broadcast():
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 1\)"):
        F.mse_loss(ag.zeros(4), ag.zeros(4, 1))


def test_grad_assignment_checks_the_shape():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        x.grad = np.ones(3)
    x.grad = None
    assert x.grad is None


# ----------------------------------------------------------------------------- dtype policy
def test_lists_and_scalars_become_float32_and_arrays_keep_their_dtype():
    assert ag.tensor([1, 2]).dtype == np.float32
    assert ag.tensor(3.5).dtype == np.float32
    assert ag.tensor(np.arange(3.0)).dtype == np.float64
    assert ag.tensor(np.arange(3)).dtype == np.int64
    assert ag.tensor([1, 2], dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("scalar", [0.5, 2, np.float64(0.5)])
def test_float32_times_a_python_or_numpy_scalar_stays_float32(scalar):
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    for y in (x * scalar, scalar * x, x + scalar, x / scalar, scalar - x, x**scalar):
        assert y.dtype == np.float32
    (x * scalar).sigmoid().sum().backward()
    assert x.grad.dtype == np.float32


def test_float32_gradients_through_every_activation_stay_float32():
    x = ag.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    acts = [F.sigmoid, F.tanh, F.relu, F.leaky_relu, F.elu, F.gelu, F.silu, F.softplus,
            F.softmax, F.log_softmax]
    for f in acts:
        x.grad = None
        f(x).sum().backward()
        assert f(x).dtype == np.float32 and x.grad.dtype == np.float32, f.__name__


# ----------------------------------------------------------------------------- Tensor basics
def test_identity_hashing_survives_eq_returning_a_tensor():
    a, b = ag.tensor([1.0]), ag.tensor([1.0])
    assert isinstance(a == b, ag.Tensor) and bool(a == b)
    assert len({a, b}) == 2


def test_comparisons_do_not_require_grad():
    x = leaf([1.0, -1.0])
    for r in (x > 0, x >= 0, x < 0, x <= 0, x == 1.0, x != 1.0):
        assert not r.requires_grad and r.dtype == np.bool_


def test_repr_shows_values_and_grad_fn():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x.sum()) == "tensor(3., grad_fn=<SumBackward>)"
    assert "dtype=float64" in repr(ag.tensor(np.ones(1)))


def test_basic_tensor_facts():
    x = ag.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.size() == (2, 3)
    assert x.size(1) == 3 and len(x) == 2 and x.T.shape == (3, 2)
    assert isinstance(x.numpy(), np.ndarray) and x.tolist()[1] == [4.0, 5.0, 6.0]
    assert x[1, 2].item() == 6.0 and np.asarray(x).shape == (2, 3)


def test_ndarray_on_the_left_defers_to_the_tensor():
    x = leaf([1.0, 2.0])
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, ag.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


# ----------------------------------------------------------------------------- Function
class Cube(ag.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3.0 * x * x * ctx.scale, None


def test_user_function_gradient_and_gradcheck():
    x = leaf([0.5, -1.5])
    Cube.apply(x, 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, -1.5]) ** 2)
    assert ag.gradcheck(lambda t: Cube.apply(t, 2.0), (leaf([0.3, 0.8]),))


def test_user_function_second_derivative_when_backward_uses_tensor_ops():
    x = leaf([0.5, -1.5])
    (g,) = ag.grad(Cube.apply(x, 1.0).sum(), x, create_graph=True)
    (h,) = ag.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * np.array([0.5, -1.5]))


def test_gradcheck_names_the_worst_entry():
    class Wrong(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g * 3.0  # the true derivative is 2x

    with pytest.raises(ag.GradcheckError, match=r"input 0\[.*\].*by backward but.*finite differences"):
        ag.gradcheck(Wrong.apply, (leaf([1.0, 2.0]),))


# ----------------------------------------------------------------------------- memory and aliasing
def test_backward_releases_intermediate_values_unless_retained():
    import gc
    import weakref

    def build():
        x = leaf(np.ones((50, 50)))
        loss = (x * 2.0).exp().sum()
        inner = loss.grad_fn.inputs[0]  # exp's output, held only by the graph
        return x, loss, weakref.ref(inner.data)

    x, loss, ref = build()
    loss.backward()
    gc.collect()
    assert ref() is None  # freed: holding the loss no longer holds the activations
    stub = loss.grad_fn.inputs[0]
    assert stub.released and stub.shape == (50, 50) and stub.grad_fn.name == "exp"

    x, loss, ref = build()
    loss.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None


def test_create_graph_grads_of_two_leaves_are_distinct_and_writable():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    ((a + b) * 1.0).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    a.grad.data *= 0.5
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    w = leaf([1.0, 2.0])
    (w.sum() * 2.0).backward(create_graph=True)
    w.grad.data[...] = 0.0  # not a read-only broadcast view


def test_a_function_returning_a_saved_tensor_does_not_alias_the_input():
    class Identity(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return ctx.saved_tensors[0]  # deliberately the input itself

    x = leaf([1.0, 2.0])
    Identity.apply(x).sum().backward()
    x.data += 1.0
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])


def test_grad_needs_one_grad_output_per_output():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="2 outputs but 1 grad_outputs"):
        ag.grad([x * 2.0, x * 3.0], [x], grad_outputs=[np.ones(2)])


def test_grad_runs_only_the_part_of_the_graph_leading_to_its_inputs():
    calls = []

    class Spy(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    x = leaf([1.0, 2.0])
    h = Spy.apply(x)  # the input of interest: nothing below it needs to run
    (gh,) = ag.grad((h * h).sum(), h)
    np.testing.assert_array_equal(gh.numpy(), [2.0, 4.0])
    assert calls == []
    (gx,) = ag.grad((h * h).sum(), x)
    assert calls == [1] and gx.numpy().tolist() == [2.0, 4.0]


def test_numpy_integer_scalars_keep_float32():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    assert (x * np.int64(3)).dtype == np.float32 and (x ** np.int64(2)).dtype == np.float32


def test_sqrt_at_zero_has_an_infinite_gradient_without_a_warning():
    x = leaf([0.0, 4.0])
    x.sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [np.inf, 0.25])


def test_max_with_a_nan_sends_the_gradient_to_the_nan():
    x = leaf([1.0, np.nan, 0.0])
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])


def test_float_labels_of_the_batch_shape_are_a_clear_error():
    with pytest.raises(TypeError, match="class labels must be integers"):
        F.cross_entropy(ag.zeros(3, 4), ag.tensor([0, 2, 1]))


def test_clip_with_tensor_bounds_that_require_grad():
    x, lo = leaf([0.0, 2.0]), leaf([0.5, 0.5])
    x.clip(lo, 1.5).sum().backward()
    np.testing.assert_array_equal(lo.grad.numpy(), [1.0, 0.0])
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_zero_d_gradients_stay_arrays_across_accumulations():
    p = leaf(0.3)
    for _ in range(2):
        (p * p * 3.0).backward()
    assert isinstance(p.grad.data, np.ndarray) and p.grad.item() == pytest.approx(3.6)


def test_jacobian_with_create_graph_stays_differentiable_to_the_caller():
    from autograd import functional as AF

    x = leaf([0.5, -1.0])
    J = AF.jacobian(lambda v: v**3, x, create_graph=True)  # diag(3 x²)
    J.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, -1.0]))
