"""Normalisation: batch, layer and group norm against PyTorch (values, gradients, running
statistics over training steps, state dicts), finite-difference first and second derivatives,
huge inputs, and errors. Expected values come from PyTorch, finite differences or formulas
written out here, never from this library."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import nn

from _torch_compare import DTYPES, against_torch


def _rng(seed):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- functions
BATCH_NORM = [  # input shape, affine parts given
    ((4, 3), ("weight", "bias")),
    ((4, 3, 5), ("weight", "bias")),
    ((3, 2, 4, 5), ("weight", "bias")),
    ((3, 2, 4, 5), ("weight",)),
    ((3, 2, 4, 5), ()),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape, parts", BATCH_NORM)
def test_batch_norm_matches_torch(torch, shape, parts, training, dtype):
    rng = _rng(len(shape))
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 0.5
    mean, var = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    arrays = [x] + [rng.standard_normal(c) for _ in parts]

    def ours(x, *p):
        kw = dict(zip(parts, p))
        return F.batch_norm(x, ag.tensor(mean, dtype=dtype), ag.tensor(var, dtype=dtype),
                            training=training, eps=1e-3, **kw)

    def theirs(x, *p):
        kw = dict(zip(parts, p))
        return torch.nn.functional.batch_norm(x, torch.tensor(mean, dtype=x.dtype),
                                              torch.tensor(var, dtype=x.dtype),
                                              training=training, eps=1e-3, **kw)

    against_torch(torch, ours, theirs, arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, norm", [((4, 6), 6), ((2, 3, 4), (3, 4)), ((2, 3, 2, 5), (2, 5))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(torch, shape, norm, affine, dtype):
    rng = _rng(3)
    nshape = (norm,) if isinstance(norm, int) else norm
    arrays = [rng.standard_normal(shape) * 3 - 1]
    if affine:
        arrays += [rng.standard_normal(nshape), rng.standard_normal(nshape)]
    against_torch(torch, lambda *a: F.layer_norm(a[0], nshape, *a[1:]),
                  lambda *a: torch.nn.functional.layer_norm(a[0], nshape, *a[1:]), arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, groups", [((2, 6, 5), 3), ((2, 4, 3, 3), 2), ((3, 4, 2, 2), 4),
                                           ((2, 4), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(torch, shape, groups, affine, dtype):
    rng = _rng(4)
    arrays = [rng.standard_normal(shape) * 2 + 1]
    if affine:
        arrays += [rng.standard_normal(shape[1]), rng.standard_normal(shape[1])]
    against_torch(torch, lambda *a: F.group_norm(a[0], groups, *a[1:]),
                  lambda *a: torch.nn.functional.group_norm(a[0], groups, *a[1:]), arrays, dtype)


@pytest.mark.parametrize("f, shapes", [
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [(3, 2, 2, 2), (2,), (2,)]),
    (lambda x: F.batch_norm(x, None, None, training=True, eps=0.1), [(4, 3)]),
    (lambda x, w, b: F.batch_norm(x, ag.tensor(np.array([0.3, -0.2])), ag.tensor(np.array([1.5, 0.7])),
                                  w, b), [(3, 2, 3), (2,), (2,)]),
    (lambda x, w, b: F.layer_norm(x, (2, 3), w, b), [(2, 2, 3), (2, 3), (2, 3)]),
    (lambda x, w: F.layer_norm(x, 4, w), [(3, 4), (4,)]),
    (lambda x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    (lambda x: F.group_norm(x, 3, eps=0.5), [(2, 6, 2)]),
])
def test_norms_pass_gradcheck_and_gradgradcheck(f, shapes):
    rng = _rng(5)
    xs = [ag.tensor(rng.standard_normal(s), dtype=np.float64, requires_grad=True) for s in shapes]
    assert ag.gradcheck(f, xs)
    assert ag.gradgradcheck(f, xs)


def test_layer_norm_double_backward_matches_torch(torch):
    rng = _rng(6)
    x0, w0 = rng.standard_normal((3, 5)), rng.standard_normal(5)
    x, w = ag.tensor(x0, requires_grad=True), ag.tensor(w0, requires_grad=True)
    (gx,) = ag.grad((F.layer_norm(x, 5, w) ** 3).sum(), [x], create_graph=True)
    (gx * gx).sum().backward()
    xt, wt = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    (gxt,) = torch.autograd.grad((torch.nn.functional.layer_norm(xt, (5,), wt) ** 3).sum(), [xt],
                                 create_graph=True)
    (gxt * gxt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("norm, axis", [
    (lambda x: F.layer_norm(x, 4), 1),
    (lambda x: F.group_norm(x.reshape(2, 2, 2), 1), 1),
    (lambda x: F.batch_norm(x, None, None, training=True), 0),
])
def test_norms_of_huge_float32_inputs_stay_finite_and_silent(norm, axis):
    """(x − μ)² overflows float32 beyond ~1.8e19; the result must still be the standardised x
    (at this scale eps is negligible: (x − μ)/σ, computed here in float64)."""
    base = np.array([[-1.0, 2.0, 0.5, -1.5], [3.0, -2.0, 1.0, -2.0]])
    x = ag.Tensor((base * 1e25).astype(np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = norm(x)
        y.backward(np.ones(y.shape, dtype=np.float32))
    d = base - base.mean(axis=axis, keepdims=True)
    expected = d / np.sqrt((d * d).mean(axis=axis, keepdims=True))
    np.testing.assert_allclose(y.numpy().reshape(base.shape), expected, rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32 and np.isfinite(x.grad.numpy()).all()


def test_batch_norm_updates_the_running_statistics_it_is_given_in_place(torch):
    rng = _rng(7)
    x = rng.standard_normal((5, 3, 4))
    rm, rv = ag.tensor(np.zeros(3)), ag.tensor(np.ones(3))
    arrays_before = rm.data, rv.data
    F.batch_norm(ag.tensor(x), rm, rv, training=True, momentum=0.2)
    assert rm.data is arrays_before[0] and rv.data is arrays_before[1]  # updated in place
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.2)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-13)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-13)  # the unbiased variance
    n = 5 * 4
    np.testing.assert_allclose(rv.numpy(), 0.8 + 0.2 * x.var(axis=(0, 2)) * n / (n - 1), rtol=1e-13)


# ----------------------------------------------------------------------------- modules
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("cls, shape", [("BatchNorm2d", (4, 3, 5, 2)), ("BatchNorm1d", (6, 3)),
                                        ("BatchNorm1d", (4, 3, 5))])
def test_batch_norm_module_tracks_statistics_as_torch_then_evaluates_with_them(torch, cls, shape,
                                                                              momentum):
    m = getattr(nn, cls)(3, momentum=momentum, dtype=np.float64)
    tm = getattr(torch.nn, cls)(3, momentum=momentum, dtype=torch.float64)
    rng = _rng(8)
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    m.weight.data[...], m.bias.data[...] = w, b
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(w))
        tm.bias.copy_(torch.from_numpy(b))
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        xa, xt = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, yt = m(xa), tm(xt)
        g = rng.standard_normal(shape)
        y.backward(g)
        yt.backward(torch.from_numpy(g))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        m.zero_grad()
        tm.zero_grad()
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(m, name).numpy(), getattr(tm, name).numpy(), rtol=1e-12)
    m.eval()
    tm.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(m(ag.tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-13)
    before = m.running_mean.numpy().copy()
    m(ag.tensor(x))
    assert np.array_equal(m.running_mean.numpy(), before)  # eval leaves the statistics alone


@pytest.mark.parametrize("kw", [dict(track_running_stats=False), dict(affine=False),
                                dict(bias=False), dict(eps=0.1)])
def test_batch_norm_module_options_match_torch(torch, kw):
    m = nn.BatchNorm2d(3, dtype=np.float64, **kw)
    tm = torch.nn.BatchNorm2d(3, dtype=torch.float64, **kw)
    assert list(m.state_dict()) == list(tm.state_dict())
    rng = _rng(9)
    for mode in ("train", "eval"):
        getattr(m, mode)()
        getattr(tm, mode)()
        x = rng.standard_normal((4, 3, 2, 3)) + 1
        np.testing.assert_allclose(m(ag.tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-10, atol=1e-12)


def test_batch_norm_state_dict_holds_the_statistics_and_loads_pytorchs(torch):
    tm = torch.nn.BatchNorm2d(4, dtype=torch.float32)
    tm.train()
    with torch.no_grad():
        for _ in range(3):
            tm(torch.randn(8, 4, 3, 3, dtype=torch.float32) * 2 + 1)
        tm.weight.uniform_(0.5, 1.5)
        tm.bias.uniform_(-1, 1)
    m = nn.BatchNorm2d(4)
    state = m.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert list(state) == list(tm.state_dict())
    assert state["num_batches_tracked"].dtype == np.int64 and state["num_batches_tracked"].shape == ()
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert int(m.num_batches_tracked.item()) == 3
    m.eval()
    tm.eval()
    x = _rng(10).standard_normal((2, 4, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(m(ag.Tensor(x)).numpy(), tm(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_group_norm_module_loads_a_pytorch_state_dict_and_agrees(torch):
    tm = torch.nn.GroupNorm(2, 6, dtype=torch.float64)
    with torch.no_grad():
        tm.weight.normal_()
        tm.bias.normal_()
    m = nn.GroupNorm(2, 6, dtype=np.float64)
    assert list(m.state_dict()) == list(tm.state_dict())
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = _rng(11).standard_normal((3, 6, 4))
    np.testing.assert_allclose(m(ag.tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-13)


def test_layer_norm_module_records_one_op():
    ln = nn.LayerNorm(4)
    y = ln(ag.randn(2, 4, requires_grad=True))
    assert y.grad_fn.name == "layer_norm" and y.dtype == np.float32


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, match", [
    (lambda: F.batch_norm(ag.zeros(4, 3), ag.zeros(2), ag.ones(2)), r"running_mean must have shape \(3,\)"),
    (lambda: F.batch_norm(ag.zeros(4, 3), None, None), r"training=False needs running_mean and running_var"),
    (lambda: F.batch_norm(ag.zeros(1, 3), None, None, training=True), r"more than one value per channel"),
    (lambda: F.batch_norm(ag.zeros(4), None, None, training=True), r"shape \(N, C\) or \(N, C, \*\)"),
    (lambda: F.layer_norm(ag.zeros(2, 3), (2, 3), ag.ones(3)),
     r"weight must have shape normalized_shape \(2, 3\)"),
    (lambda: F.layer_norm(ag.zeros(2, 3), 4), r"does not end in normalized_shape \(4,\)"),
    (lambda: F.group_norm(ag.zeros(2, 6, 3), 4), r"num_groups=4 does not divide the 6 channels"),
    (lambda: F.group_norm(ag.zeros(2, 6), 2, ag.ones(3)), r"weight must have shape \(6,\)"),
    (lambda: nn.BatchNorm2d(3)(ag.zeros(2, 3, 4)), r"BatchNorm2d: expected an input of shape \(N, C, H, W\)"),
    (lambda: nn.BatchNorm1d(3)(ag.zeros(2, 4)), r"has 4 channels, not 3"),
    (lambda: nn.GroupNorm(4, 6), r"num_channels=6 must be divisible by num_groups=4"),
])
def test_bad_arguments_get_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mixed_dtypes_are_refused_rather_than_promoted():
    with pytest.raises(TypeError, match="input is float32 but weight is float64"):
        F.layer_norm(ag.zeros(2, 3), 3, ag.ones(3, dtype=np.float64))
