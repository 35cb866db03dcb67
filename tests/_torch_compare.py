"""Shared by the convolution and normalisation tests: run one of our ops and PyTorch's on the
same inputs, backpropagate the same cotangent, and compare values and every gradient."""
from __future__ import annotations

import warnings

import numpy as np

import autograd as ag

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def against_torch(torch, ours, theirs, arrays, dtype, seed=0):
    """Run ``ours`` and ``theirs`` on the same arrays (all requiring grad), backpropagate the
    same random cotangent, and compare the outputs and every input's gradient."""
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    xs = [ag.Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ours(*xs)
        g = np.random.default_rng(seed + 100).standard_normal(y.shape).astype(dtype)
        y.backward(g)
    with warnings.catch_warnings():  # PyTorch warns that 'same' padding may copy the input
        warnings.simplefilter("ignore")
        yt = theirs(*ts)
    yt.backward(torch.from_numpy(g))
    assert y.dtype == dtype and y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL[dtype])
    for k, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad.dtype == dtype, f"input {k}"
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL[dtype], err_msg=f"input {k}")
