"""optim: SGD, Adam, AdamW, RMSprop, parameter groups, state dicts, LR schedulers.

The PyTorch comparisons train the same MLP (weights copied across) in float64 and require the
parameters to agree to 1e-8 after 20 steps; without PyTorch they skip, and the hand-formula tests
below still check each update rule on a problem small enough to follow by hand.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import nn, optim
from autograd.optim import lr_scheduler


# ----------------------------------------------------------------------------- helpers
class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(5, 8, dtype=np.float64)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(8, 3, dtype=np.float64)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 5)), rng.integers(0, 3, size=16)


def _pair(torch):
    """Our MLP and PyTorch's, with identical float64 weights."""
    ag.manual_seed(0)
    ours = MLP()
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for p, t in zip(ours.parameters(), theirs.parameters()):
            t.copy_(torch.from_numpy(p.data))
    return ours, theirs


def _train(model, opt, steps, x, y):
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(ag.Tensor(x)), y).backward()
        opt.step()


def _train_torch(torch, model, opt, steps, x, y):
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()


def _assert_same_params(ours, theirs, tol=1e-8):
    for (name, p), t in zip(ours.named_parameters(), theirs.parameters()):
        diff = np.abs(p.data - t.detach().numpy()).max()
        assert diff <= tol, f"{name} differs from PyTorch by {diff:.3e}"


CONFIGS = {
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd-momentum-nesterov-wd": ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "sgd-momentum-dampening": ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.02)),
    "sgd-maximize": ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam-wd-amsgrad": ("Adam", dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.05, amsgrad=True)),
    "adamw": ("AdamW", dict(lr=0.01)),
    "adamw-amsgrad": ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, eps=1e-6)),
    "rmsprop": ("RMSprop", dict()),
    "rmsprop-centered-momentum-wd": ("RMSprop", dict(lr=0.005, alpha=0.9, momentum=0.7, centered=True,
                                                     weight_decay=0.01)),
}


# ----------------------------------------------------------------------------- vs PyTorch
@pytest.mark.parametrize("config", list(CONFIGS))
def test_twenty_steps_match_torch(torch, config):
    cls, kwargs = CONFIGS[config]
    x, y = _data()
    ours, theirs = _pair(torch)
    _train(ours, getattr(optim, cls)(ours.parameters(), **kwargs), 20, x, y)
    _train_torch(torch, theirs, getattr(torch.optim, cls)(theirs.parameters(), **kwargs), 20, x, y)
    _assert_same_params(ours, theirs)


def test_parameter_groups_match_torch(torch):
    x, y = _data()
    ours, theirs = _pair(torch)
    opt = optim.SGD([{"params": ours.fc1.parameters()},
                     {"params": ours.fc2.parameters(), "lr": 0.01, "momentum": 0.5}], lr=0.2, momentum=0.9)
    t_opt = torch.optim.SGD([{"params": theirs[0].parameters()},
                             {"params": theirs[2].parameters(), "lr": 0.01, "momentum": 0.5}],
                            lr=0.2, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.01]
    _train(ours, opt, 20, x, y)
    _train_torch(torch, theirs, t_opt, 20, x, y)
    _assert_same_params(ours, theirs)


def test_training_with_a_scheduler_matches_torch(torch):
    x, y = _data()
    ours, theirs = _pair(torch)
    opt = optim.Adam(ours.parameters(), lr=0.05)
    t_opt = torch.optim.Adam(theirs.parameters(), lr=0.05)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.001)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=7, eta_min=0.001)
    for _ in range(20):
        _train(ours, opt, 1, x, y)
        _train_torch(torch, theirs, t_opt, 1, x, y)
        sched.step()
        t_sched.step()
    _assert_same_params(ours, theirs)


def _scheduler_lrs(make, opt, steps):
    sched = make(opt)
    lrs = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    return lrs


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=3)),
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01)),
])
def test_schedulers_match_torch_step_by_step(torch, name, kwargs):
    p = nn.Parameter(np.zeros(2))
    t = torch.zeros(2, requires_grad=True)
    t2 = torch.zeros(1, requires_grad=True)
    opt = optim.SGD([{"params": [p]}, {"params": [nn.Parameter(np.zeros(1))], "lr": 0.3}], lr=0.1)
    t_opt = torch.optim.SGD([{"params": [t]}, {"params": [t2], "lr": 0.3}], lr=0.1)
    ours = _scheduler_lrs(lambda o: getattr(lr_scheduler, name)(o, **kwargs), opt, 30)
    theirs = _scheduler_lrs(lambda o: getattr(torch.optim.lr_scheduler, name)(o, **kwargs), t_opt, 30)
    assert len(ours) == len(theirs) == 31
    for e, (a, b) in enumerate(zip(ours, theirs)):
        assert a == pytest.approx(b, rel=1e-13, abs=1e-15), f"epoch {e}: {a} vs {b}"
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in t_opt.param_groups])


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=3)),
    ("CosineAnnealingLR", dict(T_max=10)),
])
def test_schedulers_resumed_with_last_epoch_match_torch(torch, name, kwargs):
    p, t = nn.Parameter(np.zeros(2)), torch.zeros(2, requires_grad=True)
    opt, t_opt = optim.SGD([p], lr=0.1), torch.optim.SGD([t], lr=0.1)
    for o in (opt.param_groups[0], t_opt.param_groups[0]):
        o["initial_lr"] = 0.1
    ours = _scheduler_lrs(lambda o: getattr(lr_scheduler, name)(o, last_epoch=5, **kwargs), opt, 12)
    theirs = _scheduler_lrs(
        lambda o: getattr(torch.optim.lr_scheduler, name)(o, last_epoch=5, **kwargs), t_opt, 12)
    for e, (a, b) in enumerate(zip(ours, theirs)):
        assert a == pytest.approx(b, rel=1e-13, abs=1e-15), f"step {e}: {a} vs {b}"


# ----------------------------------------------------------------------------- by hand
def _scalar_steps(opt_cls, steps, grad_fn, p0=1.0, **kwargs):
    """Run ``steps`` updates on one scalar parameter whose gradient is ``grad_fn(p)``."""
    p = nn.Parameter(np.array([p0]))
    opt = opt_cls([p], **kwargs)
    out = []
    for _ in range(steps):
        p.grad = np.array([grad_fn(p.data[0])])
        opt.step()
        out.append(p.data[0])
    return out


def test_sgd_momentum_nesterov_by_hand():
    # loss ½ p², so g = p. lr γ = 0.1, momentum μ = 0.9, weight decay λ = 0.1.
    got = _scalar_steps(optim.SGD, 3, lambda p: p, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)
    p, b = 1.0, None
    expected = []
    for _ in range(3):
        g = p + 0.1 * p
        b = g if b is None else 0.9 * b + g
        p -= 0.1 * (g + 0.9 * b)
        expected.append(p)
    assert got == pytest.approx(expected, rel=1e-14)
    # With dampening τ the first step still uses b = g; later ones add (1 − τ) g.
    got = _scalar_steps(optim.SGD, 2, lambda p: 2.0, lr=0.5, momentum=0.5, dampening=0.5)
    assert got == pytest.approx([1 - 0.5 * 2, 1 - 0.5 * 2 - 0.5 * (0.5 * 2 + 0.5 * 2)], rel=1e-14)


def test_adam_first_steps_by_hand():
    # Adam's first step moves by lr·sign(g) (up to ε): m̂ = g, v̂ = g².
    got = _scalar_steps(optim.Adam, 1, lambda p: 4.0, lr=0.1)
    assert got[0] == pytest.approx(1 - 0.1 * 4 / (4 + 1e-8), rel=1e-14)
    got = _scalar_steps(optim.Adam, 2, lambda p: p, lr=0.1, betas=(0.5, 0.75))
    p1 = 1 - 0.1 * 1 / (1 + 1e-8)
    m = 0.5 * 0.5 * 1 + 0.5 * p1
    v = 0.75 * 0.25 * 1 + 0.25 * p1**2
    p2 = p1 - 0.1 / (1 - 0.5**2) * m / (math.sqrt(v) / math.sqrt(1 - 0.75**2) + 1e-8)
    assert got == pytest.approx([p1, p2], rel=1e-14)


def test_adamw_decays_weights_before_the_adam_step():
    got = _scalar_steps(optim.AdamW, 1, lambda p: 4.0, p0=2.0, lr=0.1, weight_decay=0.5)
    assert got[0] == pytest.approx(2.0 * (1 - 0.1 * 0.5) - 0.1 * 4 / (4 + 1e-8), rel=1e-14)
    adam = _scalar_steps(optim.Adam, 1, lambda p: 4.0, p0=2.0, lr=0.1, weight_decay=0.5)
    g = 4.0 + 0.5 * 2.0  # Adam's L2 decay goes through the gradient instead
    assert adam[0] == pytest.approx(2.0 - 0.1 * g / (g + 1e-8), rel=1e-14)


def test_rmsprop_by_hand():
    got = _scalar_steps(optim.RMSprop, 2, lambda p: 2.0, lr=0.01, alpha=0.9)
    v1 = 0.1 * 4
    v2 = 0.9 * v1 + 0.1 * 4
    p1 = 1 - 0.01 * 2 / (math.sqrt(v1) + 1e-8)
    p2 = p1 - 0.01 * 2 / (math.sqrt(v2) + 1e-8)
    assert got == pytest.approx([p1, p2], rel=1e-14)
    got = _scalar_steps(optim.RMSprop, 2, lambda p: 2.0, lr=0.01, alpha=0.9, momentum=0.5, centered=True)
    gbar1, gbar2 = 0.1 * 2, 0.9 * 0.1 * 2 + 0.1 * 2
    b1 = 2 / (math.sqrt(v1 - gbar1**2) + 1e-8)
    b2 = 0.5 * b1 + 2 / (math.sqrt(v2 - gbar2**2) + 1e-8)
    assert got == pytest.approx([1 - 0.01 * b1, 1 - 0.01 * b1 - 0.01 * b2], rel=1e-13)


def test_defaults_are_pytorchs():
    p = [nn.Parameter(np.zeros(1))]
    assert optim.SGD(p).defaults["lr"] == 1e-3
    a = optim.Adam(p).defaults
    assert (a["lr"], a["betas"], a["eps"], a["weight_decay"], a["amsgrad"]) == (1e-3, (0.9, 0.999), 1e-8, 0.0, False)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2
    r = optim.RMSprop(p).defaults
    assert (r["lr"], r["alpha"], r["eps"], r["momentum"], r["centered"]) == (1e-2, 0.99, 1e-8, 0.0, False)


def test_step_lr_and_cosine_by_hand():
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.4)
    step = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    seen = [step.get_last_lr()[0]]
    for _ in range(9):
        step.step()
        seen.append(opt.param_groups[0]["lr"])
    assert seen == pytest.approx([0.4 * 0.5 ** (e // 3) for e in range(10)], rel=1e-15)

    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.4)
    cos = lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.1)
    seen = [cos.get_last_lr()[0]]
    for _ in range(16):
        cos.step()
        seen.append(cos.get_last_lr()[0])
    closed = [0.1 + 0.5 * (0.4 - 0.1) * (1 + math.cos(math.pi * e / 8)) for e in range(17)]
    assert seen == pytest.approx(closed, rel=1e-12, abs=1e-15)
    state = cos.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 16


# ----------------------------------------------------------------------------- mechanics
@pytest.mark.parametrize("config", list(CONFIGS))
def test_updates_are_in_place_and_keep_float32(config):
    cls, kwargs = CONFIGS[config]
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    arrays = [p.data for p in model.parameters()]
    opt = getattr(optim, cls)(model.parameters(), **kwargs)
    x, y = _data()
    x = x.astype(np.float32)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(ag.Tensor(x)), y).backward()
        opt.step()
    for p, arr in zip(model.parameters(), arrays):
        assert p.data is arr and p.dtype == np.float32 and p.is_leaf and p.grad_fn is None
    for st in opt.state.values():
        for v in st.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32


def test_zero_grad_sets_grads_to_none():
    p = nn.Parameter(np.ones(2))
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.zero_grad()
    assert p.grad is None
    (p * p).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])


def test_parameters_without_grad_are_skipped():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.array([1.0])
    opt.step()
    assert b.data[0] == 1.0 and a.data[0] < 1.0 and b not in opt.state


def test_closure_is_called_and_its_loss_returned():
    p = nn.Parameter(np.array([3.0]))
    opt = optim.SGD([p], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with ag.no_grad():
        loss = opt.step(closure)  # the closure records its graph even under no_grad
    assert loss.item() == 9.0 and p.data[0] == pytest.approx(3.0 - 0.5 * 6.0)


def test_invalid_arguments():
    p = nn.Parameter(np.ones(1))
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([p * 2])
    with pytest.raises(TypeError, match="single Tensor"):
        optim.Adam(p)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="learning rate"):
        optim.RMSprop([p], lr=-1)


def test_add_param_group_takes_defaults():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    opt = optim.Adam([a], lr=0.1, weight_decay=0.3)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["weight_decay"] == 0.3
    assert "Parameter Group 1" in repr(opt)


@pytest.mark.parametrize("config", ["sgd-momentum-nesterov-wd", "adam-wd-amsgrad", "rmsprop-centered-momentum-wd"])
def test_state_dict_resumes_training_exactly(tmp_path, config):
    """10 steps, save model and optimizer, 10 more steps — equals 10 + 10 steps after loading
    both into fresh objects from the files."""
    cls, kwargs = CONFIGS[config]
    x, y = _data()
    ag.manual_seed(0)
    model = MLP()
    opt = getattr(optim, cls)(model.parameters(), **kwargs)
    _train(model, opt, 10, x, y)
    ag.save(model.state_dict(), tmp_path / "model.npz")
    ag.save(opt.state_dict(), tmp_path / "opt.npz")
    _train(model, opt, 10, x, y)

    ag.manual_seed(1)
    resumed = MLP()
    resumed.load_state_dict(ag.load(tmp_path / "model.npz"))
    opt2 = getattr(optim, cls)(resumed.parameters(), lr=123.0)  # hyperparameters come from the file
    opt2.load_state_dict(ag.load(tmp_path / "opt.npz"))
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    _train(resumed, opt2, 10, x, y)
    for p, q in zip(model.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_state_dict_is_a_snapshot_and_checks_group_sizes():
    p = nn.Parameter(np.ones(2))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0]
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], [1.0, 1.0])
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], [1.0, 1.0])  # unchanged
    other = optim.SGD([nn.Parameter(np.ones(2)), nn.Parameter(np.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="parameters"):
        other.load_state_dict(sd)
