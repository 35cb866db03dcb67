"""Gradient hooks (Tensor.register_hook, register_post_accumulate_grad_hook, queue_callback) and
module forward hooks, checked against PyTorch and against hand-derived gradients."""
from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
from autograd import engine, nn

rng = np.random.default_rng(7)


def leaf(*shape):
    return ag.Tensor(rng.standard_normal(shape), requires_grad=True)


def test_leaf_hook_replaces_the_gradient_before_accumulation(torch):
    x0 = rng.standard_normal(4)
    x = ag.Tensor(x0.copy(), requires_grad=True)
    xt = torch.tensor(x0.copy(), requires_grad=True)
    seen, seen_t = [], []
    x.register_hook(lambda g: (seen.append(g.numpy().copy()), g * 3.0)[1])
    xt.register_hook(lambda g: (seen_t.append(g.numpy().copy()), g * 3.0)[1])
    for _ in range(2):  # twice: the hook sees each pass's gradient, .grad accumulates the results
        ((x * x).sum() + x.sin().sum()).backward()
        ((xt * xt).sum() + xt.sin().sum()).backward()
    np.testing.assert_allclose(seen[0], 2 * x0 + np.cos(x0), rtol=1e-12)
    np.testing.assert_allclose(np.array(seen), np.array(seen_t), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_hook_on_an_intermediate_changes_what_flows_below(torch):
    x0 = rng.standard_normal((3, 2))
    x = ag.Tensor(x0.copy(), requires_grad=True)
    xt = torch.tensor(x0.copy(), requires_grad=True)
    y, yt = x.tanh(), xt.tanh()
    y.retain_grad()
    yt.retain_grad()
    y.register_hook(lambda g: g * 0.5)
    yt.register_hook(lambda g: g * 0.5)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), yt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), y.numpy(), rtol=1e-12)  # 2y · 0.5


def test_removed_hook_no_longer_runs_and_hooks_run_in_order():
    x = leaf(3)
    calls = []
    h1 = x.register_hook(lambda g: calls.append(1))
    x.register_hook(lambda g: calls.append(2))
    x.sum().backward()
    h1.remove()
    h1.remove()  # harmless
    x.sum().backward()
    assert calls == [1, 2, 2]


def test_hook_returning_the_wrong_shape_is_refused():
    x = leaf(3)
    x.register_hook(lambda g: ag.ones(4, dtype=np.float64))
    with pytest.raises(RuntimeError, match=r"shape \(4,\).*shape \(3,\)"):
        x.sum().backward()


def test_hooks_need_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.ones(2).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="only leaf"):
        (leaf(2) * 2.0).register_post_accumulate_grad_hook(lambda t: None)


def test_hooks_apply_to_ag_grad_and_under_create_graph():
    x = leaf(3)
    x.register_hook(lambda g: g * 2.0)
    (gx,) = ag.grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(gx.numpy(), 6 * x.numpy() ** 2, rtol=1e-12)
    (ggx,) = ag.grad(gx.sum(), x)  # the hook's doubling is part of the recorded gradient
    np.testing.assert_allclose(ggx.numpy(), 2 * 6 * 2 * x.numpy(), rtol=1e-12)


def test_post_accumulate_hooks_fire_when_the_last_use_is_done():
    """In a two-layer net, the second layer's weight is final before backward reaches the first
    layer: its hook runs first, and each hook already sees its own final .grad."""
    x = ag.Tensor(rng.standard_normal((5, 4)))
    w1, w2 = leaf(4, 3), leaf(3, 2)
    events = []
    w1.register_post_accumulate_grad_hook(lambda t: events.append(("w1", t.grad.numpy().copy())))
    w2.register_post_accumulate_grad_hook(lambda t: events.append(("w2", t.grad.numpy().copy())))
    h = (x @ w1).tanh()
    h.register_hook(lambda g: events.append(("h", None)))  # runs between the two layers
    loss = ((h @ w2) ** 2).sum()
    loss.backward()
    assert [e[0] for e in events] == ["w2", "h", "w1"]
    np.testing.assert_array_equal(events[0][1], w2.grad.numpy())
    np.testing.assert_array_equal(events[2][1], w1.grad.numpy())
    out = h.numpy() @ w2.numpy()  # the hand-derived gradient of w2
    np.testing.assert_allclose(w2.grad.numpy(), h.numpy().T @ (2 * out), rtol=1e-12)


def test_post_accumulate_hook_of_a_shared_weight_waits_for_every_use():
    w = leaf(3, 3)
    x = ag.Tensor(rng.standard_normal((2, 3)))
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    y = ((x @ w).tanh() @ w).sum()
    y.backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], w.grad.numpy())
    assert ag.gradcheck(lambda w_: ((x @ w_).tanh() @ w_).sum(), [w])


def test_queue_callback_runs_after_every_grad_is_written():
    a, b = leaf(2), leaf(2)
    state = []
    loss = (a * b).sum()
    loss.register_hook(lambda g: engine.queue_callback(
        lambda: state.append((a.grad is not None, b.grad is not None))))
    loss.backward()
    assert state == [(True, True)]
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        engine.queue_callback(lambda: None)


def test_queue_callback_runs_at_the_end_of_ag_grad_too():
    # As PyTorch's: a callback belongs to the backward pass, whichever call started it.
    a = leaf(3)
    ran = []
    y = (a * a).sum()
    y.register_hook(lambda g: engine.queue_callback(lambda: ran.append(True)))
    (ga,) = ag.grad(y, [a])
    assert ran == [True]
    np.testing.assert_allclose(ga.numpy(), 2 * a.numpy(), rtol=1e-12)


def test_forward_hooks_and_pre_hooks(torch):
    m = nn.Linear(3, 2, dtype=np.float64)
    x = ag.Tensor(rng.standard_normal((4, 3)))
    seen = []
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2.0,))
    post = m.register_forward_hook(lambda mod, args, out: seen.append((mod, args[0], out)) or out + 1.0)
    y = m(x)
    expected = (2 * x.numpy()) @ m.weight.numpy().T + m.bias.numpy() + 1.0
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    assert seen[0][0] is m and np.allclose(seen[0][1].numpy(), 2 * x.numpy())
    pre.remove()
    post.remove()
    np.testing.assert_allclose(m(x).numpy(), x.numpy() @ m.weight.numpy().T + m.bias.numpy(),
                               rtol=1e-12)
