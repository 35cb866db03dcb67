"""Convolution, pooling and padding: values and gradients against PyTorch over tables of
configurations in float32 and float64, second derivatives, errors, and the layer modules
(initialisation, repr, state dicts).

Every expected value comes from PyTorch (the ``torch`` fixture) or from finite differences
(``ag.gradcheck``/``ag.gradgradcheck``), never from this library.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import backend as B
from autograd import nn

from _torch_compare import DTYPES, against_torch


def _rng(seed):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- convolution
CONV2D = [  # input shape, weight shape, keyword arguments
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 8, 5), (6, 2, 2, 3), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    ((2, 4, 6, 7), (4, 1, 3, 3), dict(padding=1, groups=4)),                  # depthwise
    ((2, 4, 6, 7), (8, 1, 3, 3), dict(padding="same", groups=4)),             # depthwise, ×2
    ((2, 3, 6, 7), (5, 3, 2, 4), dict(padding="same")),                       # even kernel
    ((2, 3, 6, 7), (5, 3, 2, 3), dict(padding="same", dilation=(3, 2))),
    ((2, 3, 6, 7), (5, 3, 3, 3), dict(padding="valid", stride=(1, 3))),
    ((2, 3, 5, 4), (2, 3, 5, 4), {}),                                         # one window
    ((2, 3, 6, 6), (2, 3, 1, 1), dict(stride=2)),                             # 1×1
    ((2, 3, 9, 4), (4, 3, 3, 2), dict(stride=3, padding=2, dilation=(2, 1))),
    ((2, 4, 8, 8), (4, 4, 2, 2), dict(stride=2)),                             # windows tile
    ((3, 6, 6), (4, 3, 3, 3), dict(padding=1)),                               # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs, ws, kw", CONV2D)
def test_conv2d_matches_torch(torch, xs, ws, kw, bias, dtype):
    rng = _rng(len(xs) + ws[0])
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)]
    if bias:
        arrays.append(rng.standard_normal(ws[0]))
    against_torch(torch, lambda *a: F.conv2d(*a, **kw), lambda *a: torch.nn.functional.conv2d(*a, **kw),
                  arrays, dtype)


CONV1D = [
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 9), (6, 2, 4), dict(stride=2, padding=2, dilation=2, groups=2)),
    ((2, 4, 8), (4, 1, 5), dict(padding="same", groups=4)),
    ((2, 3, 8), (2, 3, 4), dict(padding="same")),
    ((3, 7), (2, 3, 3), dict(stride=3)),                                      # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs, ws, kw", CONV1D)
def test_conv1d_matches_torch(torch, xs, ws, kw, dtype):
    rng = _rng(7)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])]
    against_torch(torch, lambda *a: F.conv1d(*a, **kw), lambda *a: torch.nn.functional.conv1d(*a, **kw),
                  arrays, dtype)


CONV_T = [  # input shape, weight shape (in, out/groups, kH, kW), keyword arguments
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((2, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 3, 4), (4, 3, 2, 3), dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2),
                                     groups=2)),
    ((2, 4, 5, 3), (4, 1, 3, 3), dict(groups=4, dilation=2, padding=2)),
    ((1, 2, 3, 3), (2, 3, 4, 4), dict(stride=2, padding=1)),                  # even kernel
    ((2, 5, 5), (2, 3, 3, 3), dict(stride=2)),                                # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs, ws, kw", CONV_T)
def test_conv_transpose2d_matches_torch(torch, xs, ws, kw, dtype):
    rng = _rng(3)
    groups = kw.get("groups", 1)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1] * groups)]
    against_torch(torch, lambda *a: F.conv_transpose2d(*a, **kw),
                  lambda *a: torch.nn.functional.conv_transpose2d(*a, **kw), arrays, dtype)


@pytest.mark.parametrize("f, args", [
    (lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), groups=2),
     [(2, 4, 5, 4), (2, 2, 3, 2), (2,)]),
    (lambda x, w, b: F.conv2d(x, w, b, padding="same", dilation=2), [(1, 2, 5, 5), (3, 2, 2, 2), (3,)]),
    (lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), [(2, 3, 7), (2, 3, 3), (2,)]),
    (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
     [(1, 2, 3, 3), (2, 2, 3, 3), (2,)]),
])
def test_convolutions_pass_gradcheck_and_gradgradcheck(f, args):
    rng = _rng(11)
    xs = [ag.tensor(rng.standard_normal(s), dtype=np.float64, requires_grad=True) for s in args]
    assert ag.gradcheck(f, xs)
    assert ag.gradgradcheck(f, xs)


def test_conv2d_double_backward_matches_torch(torch):
    """A gradient penalty |∂L/∂x|² + |∂L/∂W|², differentiated through create_graph, against
    PyTorch: ∂L/∂x depends on W and ∂L/∂W on x, so both second-order paths are exercised."""
    rng = _rng(12)
    x0, w0, b0 = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    g0 = rng.standard_normal((2, 6, 3, 6))
    kw = dict(stride=(2, 1), padding=1, groups=2)
    x, w, b = (ag.tensor(a, requires_grad=True) for a in (x0, w0, b0))
    gx, gw = ag.grad(F.conv2d(x, w, b, **kw), [x, w], grad_outputs=[g0], create_graph=True)
    ((gx * gx).sum() + (gw * gw).sum()).backward()
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x0, w0, b0))
    gxt, gwt = torch.autograd.grad(torch.nn.functional.conv2d(xt, wt, bt, **kw), [xt, wt],
                                   grad_outputs=[torch.tensor(g0)], create_graph=True)
    ((gxt * gxt).sum() + (gwt * gwt).sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv2d_skips_gradients_nobody_needs():
    rng = _rng(13)
    x = ag.Tensor(rng.standard_normal((2, 3, 5, 5)))           # an input image: no gradient
    w = ag.Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None and w.grad.shape == (4, 3, 3, 3)


# ----------------------------------------------------------------------------- pooling
MAX_POOL2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
    dict(kernel_size=3, stride=1, dilation=2, padding=1),
    dict(kernel_size=(3, 1), stride=(2, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", MAX_POOL2D)
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 8, 5)])
def test_max_pool2d_matches_torch(torch, shape, kw, dtype):
    x = _rng(1).permutation(np.prod(shape)).reshape(shape) * 0.1  # distinct: no ties
    against_torch(torch, lambda a: F.max_pool2d(a, **kw), lambda a: torch.nn.functional.max_pool2d(a, **kw),
                  [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=3)])
def test_max_pool1d_matches_torch(torch, kw, dtype):
    x = _rng(2).permutation(2 * 3 * 9).reshape(2, 3, 9) * 0.1
    against_torch(torch, lambda a: F.max_pool1d(a, **kw), lambda a: torch.nn.functional.max_pool1d(a, **kw),
                  [x], dtype)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=2, stride=1)])
def test_max_pool_ties_give_each_window_gradient_to_one_element_as_torch(torch, kw):
    x = np.zeros((1, 2, 4, 5))
    x[0, 1, 1:3, 1:4] = 1.0  # plateaus: every window is a tie
    against_torch(torch, lambda a: F.max_pool2d(a, **kw), lambda a: torch.nn.functional.max_pool2d(a, **kw),
                  [x], np.float64)
    xt = ag.Tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, **kw)
    y.sum().backward()
    assert xt.grad.numpy().sum() == y.numpy().size  # one unit of gradient per window, no more


AVG_POOL2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), count_include_pad=False),
    dict(kernel_size=3, stride=1, padding=1, divisor_override=4),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", AVG_POOL2D)
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 8, 5)])
def test_avg_pool2d_matches_torch(torch, shape, kw, dtype):
    x = _rng(4).standard_normal(shape)
    against_torch(torch, lambda a: F.avg_pool2d(a, **kw), lambda a: torch.nn.functional.avg_pool2d(a, **kw),
                  [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, padding=1, count_include_pad=False)])
def test_avg_pool1d_matches_torch(torch, kw, dtype):
    x = _rng(5).standard_normal((2, 3, 10))
    against_torch(torch, lambda a: F.avg_pool1d(a, **kw), lambda a: torch.nn.functional.avg_pool1d(a, **kw),
                  [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, size", [((2, 3, 7, 5), (3, 2)), ((2, 3, 6, 6), 3), ((2, 3, 5, 5), 1),
                                         ((2, 3, 5, 7), (None, 4)), ((3, 9, 4), (4, 4))])
def test_adaptive_avg_pool2d_matches_torch(torch, shape, size, dtype):
    x = _rng(6).standard_normal(shape)
    against_torch(torch, lambda a: F.adaptive_avg_pool2d(a, size),
                  lambda a: torch.nn.functional.adaptive_avg_pool2d(a, size), [x], dtype)


@pytest.mark.parametrize("f", [
    lambda x: F.max_pool2d(x, 3, 2, 1),
    lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    lambda x: F.avg_pool1d(x.reshape(2, 2, -1), 3, 2, 1),
    lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
])
def test_pooling_passes_gradcheck_and_gradgradcheck(f):
    x = ag.tensor(_rng(8).permutation(2 * 2 * 5 * 4).reshape(2, 2, 5, 4) * 0.3, dtype=np.float64,
                  requires_grad=True)
    assert ag.gradcheck(f, [x])
    assert ag.gradgradcheck(f, [x])


def test_pooling_of_huge_float32_values_neither_overflows_nor_warns():
    big = np.float32(3e38)
    x = ag.Tensor(np.full((1, 1, 4, 4), big, dtype=np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.avg_pool2d(x, 2) + F.max_pool2d(x, 2) * 0 + F.adaptive_avg_pool2d(x, 2) * 0
        y.backward(np.ones(y.shape, dtype=np.float32))
    np.testing.assert_allclose(y.numpy(), big, rtol=1e-6)
    assert y.dtype == np.float32 and np.isfinite(x.grad.numpy()).all()


# ----------------------------------------------------------------------------- padding
PADS = [(1, 2), (2, 1, 0, 3), (1, 1, 2, 0, 1, 1), (0, 0, 3, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", PADS)
def test_pad_matches_torch(torch, pad, mode, dtype):
    # PyTorch's copying modes pad the spatial axes of a (N, C, *spatial) batch only.
    x = _rng(9).standard_normal((2, 4, 5, 4, 6)[:2 + len(pad) // 2])
    against_torch(torch, lambda a: F.pad(a, pad, mode), lambda a: torch.nn.functional.pad(a, pad, mode),
                  [x], dtype)


@pytest.mark.parametrize("pad, value", [((-1, 2, 0, -2), 3.0), ((2, -3), None), ((1, 1, 1, 1, 1, 1), -1.5)])
def test_pad_constant_crops_and_fills_as_torch(torch, pad, value):
    x = _rng(10).standard_normal((2, 3, 5, 6))
    against_torch(torch, lambda a: F.pad(a, pad, value=value),
                  lambda a: torch.nn.functional.pad(a, pad, value=value), [x], np.float64)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_passes_gradcheck_and_gradgradcheck(mode):
    x = ag.tensor(_rng(11).standard_normal((2, 3, 4)), dtype=np.float64, requires_grad=True)
    f = lambda a: F.pad(a, (2, 1, 1, 2), mode)  # noqa: E731
    assert ag.gradcheck(f, [x]) and ag.gradgradcheck(f, [x])


# ----------------------------------------------------------------------------- errors
def _raises(match, fn, exc=ValueError):
    with pytest.raises(exc, match=match):
        fn()


X4 = ag.zeros(2, 3, 6, 6)


@pytest.mark.parametrize("call, match", [
    (lambda: F.conv2d(X4, ag.zeros(4, 2, 3, 3)), r"input has 3 channels .* expects 2"),
    (lambda: F.conv2d(X4, ag.zeros(4, 2, 3, 3), groups=2),
     r"groups=2 does not divide the 3 input channels"),
    (lambda: F.conv2d(ag.zeros(2, 4, 6, 6), ag.zeros(3, 2, 3, 3), groups=2),
     r"groups=2 does not divide the 3 output"),
    (lambda: F.conv2d(ag.zeros(2, 4, 6, 6), ag.zeros(4, 1, 3, 3), groups=2),
     r"4 channels .* expects 2 \(1 per group × groups=2\)"),
    (lambda: F.conv2d(X4, ag.zeros(4, 3, 7, 3)), r"kernel 7×3 .* larger than the padded input 6×6"),
    (lambda: F.conv2d(X4, ag.zeros(4, 3, 3, 3), dilation=3),
     r"spanning 7×7 .* larger than the padded input 6×6"),
    (lambda: F.conv2d(X4, ag.zeros(4, 3, 3, 3), padding="full"),
     r"padding must be .*'valid' or 'same'; got 'full'"),
    (lambda: F.conv2d(X4, ag.zeros(4, 3, 3, 3), padding="same", stride=2), r"'same' needs stride 1"),
    (lambda: F.conv2d(ag.zeros(6, 6), ag.zeros(4, 3, 3, 3)),
     r"expected an input of shape \(N, C, H, W\)"),
    (lambda: F.conv1d(X4, ag.zeros(4, 3, 3)), r"expected an input of shape \(N, C, L\)"),
    (lambda: F.conv2d(X4, ag.zeros(4, 3, 3)),
     r"weight must have shape \(out_channels, in_channels/groups, kH, kW\)"),
    (lambda: F.conv2d(X4, ag.zeros(4, 3, 3, 3), ag.zeros(3)), r"bias must have shape \(4,\)"),
    (lambda: F.conv2d(X4, ag.zeros(4, 3, 3, 3), stride=0), r"stride must be at least 1"),
    (lambda: F.conv_transpose2d(X4, ag.zeros(4, 2, 3, 3)), r"input has 3 channels .* expects 4"),
    (lambda: F.conv_transpose2d(X4, ag.zeros(3, 2, 3, 3), stride=2, output_padding=2),
     r"output_padding \(2, 2\) must be smaller than the stride"),
    (lambda: F.max_pool2d(X4, 7), r"kernel 7×7 .* larger than the padded input 6×6"),
    (lambda: F.max_pool2d(X4, 3, padding=2), r"padding 2 must be at most half the kernel size"),
    (lambda: F.avg_pool2d(ag.zeros(6), 2), r"expected an input of shape \(N, C, H, W\)"),
    (lambda: F.max_pool2d(X4, 2, ceil_mode=True), r"ceil_mode=True is not supported"),
    (lambda: F.adaptive_avg_pool2d(X4, (7, 2)), r"output_size \(7, 2\) is larger"),
    (lambda: F.pad(X4, (1, 1), mode="mirror"), r"mode must be one of .*; got 'mirror'"),
    (lambda: F.pad(X4, (1, 1, 1)), r"even length"),
    (lambda: F.pad(X4, (6, 0), mode="reflect"),
     r"reflect padding \(6, 0\) of axis 3 must be smaller than its size 6"),
])
def test_bad_arguments_get_clear_errors(call, match):
    exc = NotImplementedError if "ceil_mode" in match else ValueError
    _raises(match, call, exc)


def test_mixed_dtypes_are_refused_rather_than_promoted():
    with pytest.raises(TypeError, match="input is float32 but weight is float64"):
        F.conv2d(X4, ag.zeros(4, 3, 3, 3, dtype=np.float64))


# ----------------------------------------------------------------------------- modules
@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Conv2d(4, 6, 3), 4 * 9),
    (lambda: nn.Conv2d(4, 6, (2, 5), groups=2), 2 * 10),
    (lambda: nn.Conv1d(3, 5, 4), 3 * 4),
    (lambda: nn.ConvTranspose2d(4, 6, 3), 6 * 9),                 # weight (in, out/groups, k, k)
    (lambda: nn.ConvTranspose2d(4, 6, 3, groups=2), 3 * 9),
])
def test_default_initialisation_is_pytorchs(make, fan_in):
    """kaiming_uniform_(a=√5) is U(±√(6/(1+5))·√(3/fan_in)) = U(±1/√fan_in); the bias is
    U(±1/√fan_in) too, with fan_in from the weight's shape as PyTorch computes it."""
    ag.manual_seed(0)
    bound = 1 / math.sqrt(fan_in)
    ws, bs = [], []
    for _ in range(40):
        m = make()
        ws.append(m.weight.numpy().ravel())
        bs.append(m.bias.numpy().ravel())
        assert m.weight.dtype == np.float32
    w, b = np.concatenate(ws), np.concatenate(bs)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.97 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert abs(w.mean()) < 0.05 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound


@pytest.mark.parametrize("call", [
    "Conv2d(1, 16, 3, padding=1)",
    "Conv2d(4, 8, (3, 5), stride=2, dilation=2, groups=2, bias=False, padding_mode='reflect')",
    "Conv2d(3, 4, 3, padding='same')",
    "Conv1d(3, 4, 5, stride=2)",
    "ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)",
    "MaxPool2d(2)",
    "AvgPool2d(3, stride=2, padding=1)",
    "AdaptiveAvgPool2d((3, 2))",
    "BatchNorm2d(16)",
    "BatchNorm1d(5, momentum=None, affine=False)",
    "GroupNorm(2, 6)",
])
def test_module_reprs_read_as_pytorchs(torch, call):
    assert repr(eval("nn." + call)) == repr(eval("torch.nn." + call))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"])
def test_conv2d_module_loads_a_pytorch_state_dict_and_agrees(torch, mode, padding):
    tm = torch.nn.Conv2d(4, 6, (3, 2), padding=padding, padding_mode=mode, groups=2)
    m = nn.Conv2d(4, 6, (3, 2), padding=padding, padding_mode=mode, groups=2, dtype=np.float64)
    state = tm.state_dict()
    assert list(m.state_dict()) == list(state)
    m.load_state_dict({k: v.numpy() for k, v in state.items()})
    x = _rng(14).standard_normal((2, 4, 7, 5))
    np.testing.assert_allclose(m(ag.tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-13)


def test_conv_transpose2d_module_loads_a_pytorch_state_dict_and_agrees(torch):
    tm = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2)
    m = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, dtype=np.float64)
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = _rng(15).standard_normal((2, 4, 4, 5))
    for size in (None, (8, 10), (2, 6, 7, 9)):
        ours = m(ag.tensor(x), output_size=size).numpy()
        theirs = tm(torch.tensor(x), output_size=size).detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="not reachable"):
        m(ag.tensor(x), output_size=(11, 9))


def test_a_small_cnn_matches_pytorch_through_a_training_step(torch):
    """Conv, ReLU, pooling, linear with the same weights: same loss and same gradients."""
    ag.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(6, 3))
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Conv2d(4, 6, 3, stride=2, padding=1), torch.nn.ReLU(),
                                 torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(6, 3)).float()
    tmodel.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    x = _rng(16).standard_normal((5, 1, 8, 8)).astype(np.float32)
    labels = np.array([0, 2, 1, 1, 0])
    loss = F.cross_entropy(model(ag.Tensor(x)), labels)
    loss.backward()
    tloss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(labels))
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-5)
    for (name, p), tp in zip(model.named_parameters(), tmodel.parameters()):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=2e-4, atol=1e-6, err_msg=name)


def test_modules_reject_channel_counts_groups_do_not_divide():
    with pytest.raises(ValueError, match="in_channels=3 must be divisible by groups=2"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        nn.Conv2d(3, 4, 3, padding="same", stride=2)


# ----------------------------------------------------------------------------- window buffers
def test_window_buffers_are_reused_only_once_nothing_refers_to_them():
    shape = (4, 3, 3, 8, 32, 32)  # 3.5 MB of float32: pooled
    a = B._buffer(shape, np.float32)
    b = B._buffer(shape, np.float32)
    assert a is not b  # a is still referred to
    view = a[0]
    del a
    c = B._buffer(shape, np.float32)
    assert c is not b and c is not view.base  # a view keeps its base from reuse
    freed = {id(view.base), id(c)}
    del view, c
    assert id(B._buffer(shape, np.float32)) in freed  # free again: reused
    small = B._buffer((10, 10), np.float32)
    assert small is not B._buffer((10, 10), np.float32)  # small arrays are never pooled


def test_a_training_loop_reuses_the_window_copy_of_each_step():
    x = ag.Tensor(_rng(17).standard_normal((2, 16, 32, 32)).astype(np.float32))  # cols: 1.2 MB
    w = ag.Tensor(_rng(18).standard_normal((8, 16, 3, 3)).astype(np.float32), requires_grad=True)
    seen = []
    for _ in range(3):
        y = F.conv2d(x, w, padding=1)
        seen.append(id(y.grad_fn.saved.cols))
        y.sum().backward()
    assert len(set(seen)) == 1  # the node released its copy; the next step took it back
    kept = F.conv2d(x, w, padding=1)
    other = F.conv2d(x, w, padding=1)
    assert kept.grad_fn.saved.cols is not other.grad_fn.saved.cols  # a live graph keeps its own
