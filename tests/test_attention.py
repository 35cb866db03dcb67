"""F.scaled_dot_product_attention and nn.MultiheadAttention.

Values and gradients against PyTorch (float64 and float32) over masks of every kind and
broadcast shape, against finite differences (first and second derivatives), and against the
formula written out in NumPy; MultiheadAttention loads a PyTorch state dict and then gives
PyTorch's outputs and gradients.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import graph, nn

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=2e-5)}


def normal(seed, *shape, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def numpy_attention(q, k, v, allowed=None, add=None, scale=None, keep=None, p=0.0):
    """The formula, in NumPy: softmax(s·Q Kᵀ + M) V, masked rows giving zeros."""
    s = (q @ np.swapaxes(k, -1, -2)) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if add is not None:
        s = s + add
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)
    den = e.sum(axis=-1, keepdims=True)
    w = e / np.where(den == 0, 1, den)
    if keep is not None:
        w = w * keep / (1 - p)
    return w @ v


# ----------------------------------------------------------------------------- the function
L, S, D = 3, 5, 4
BOOL = np.random.default_rng(1).random((L, S)) > 0.4
BOOL[:, 0] = True  # every query keeps a key
FLOAT = normal(2, L, S)
FLOAT_INF = np.where(BOOL, FLOAT, -np.inf)
CAUSAL = np.tril(np.ones((L, S), bool))

# name: (query, key, value shapes, mask or None, keyword arguments)
SDPA = {
    "plain": ((2, L, D), (2, S, D), (2, S, D), None, {}),
    "2-d inputs": ((L, D), (S, D), (S, D), None, {}),
    "4-d heads": ((2, 3, L, D), (2, 3, S, D), (2, 3, S, 6), None, {}),
    "batch broadcast": ((2, 1, L, D), (1, 3, S, D), (1, 3, S, D), None, {}),
    "value batch only": ((1, L, D), (1, S, D), (4, S, 2), None, {}),
    "scale": ((2, L, D), (2, S, D), (2, S, D), None, {"scale": 0.37}),
    "bool (L, S)": ((2, L, D), (2, S, D), (2, S, D), BOOL, {}),
    "bool (B, 1, L, S)": ((2, 3, L, D), (2, 3, S, D), (2, 3, S, D),
                          np.random.default_rng(3).random((2, 1, L, S)) > 0.5, {}),
    "bool (S,) per key": ((2, L, D), (2, S, D), (2, S, D), np.array([1, 0, 1, 1, 0], bool), {}),
    "bool, a query masked out": ((2, L, D), (2, S, D), (2, S, D),
                                 np.array([[1, 1, 0, 0, 1], [0] * 5, [1, 0, 1, 0, 1]], bool), {}),
    "float (L, S)": ((2, L, D), (2, S, D), (2, S, D), FLOAT, {}),
    "float with -inf": ((2, L, D), (2, S, D), (2, S, D), FLOAT_INF, {}),
    "float (B, L, 1)": ((2, L, D), (2, S, D), (2, S, D), normal(4, 2, L, 1), {}),
    "float, a query at -inf": ((2, L, D), (2, S, D), (2, S, D),
                               np.where(np.arange(L)[:, None] == 1, -np.inf, FLOAT), {}),
    "causal L < S": ((2, L, D), (2, S, D), (2, S, D), None, {"is_causal": True}),
    "causal L = S": ((2, S, D), (2, S, D), (2, S, D), None, {"is_causal": True}),
    "causal L > S": ((2, 7, D), (2, S, D), (2, S, D), None, {"is_causal": True}),
}


def _sdpa_arrays(name, seed=10):
    qs, ks, vs, mask, kw = SDPA[name]
    return normal(seed, *qs), normal(seed + 1, *ks), normal(seed + 2, *vs), mask, kw


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(SDPA))
def test_sdpa_against_torch(torch, name, dtype):
    q, k, v, mask, kw = _sdpa_arrays(name)
    float_mask = mask is not None and mask.dtype.kind == "f"
    arrays = [q, k, v] + ([mask] if float_mask else [])
    ours = [ag.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    m_ours = ours[3] if float_mask else mask
    m_theirs = theirs[3] if float_mask else (None if mask is None else torch.from_numpy(mask))
    out = F.scaled_dot_product_attention(*ours[:3], attn_mask=m_ours, **kw)
    expected = torch.nn.functional.scaled_dot_product_attention(*theirs[:3], attn_mask=m_theirs, **kw)
    assert out.dtype == dtype and out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOL[dtype])
    g = normal(99, *out.shape).astype(dtype)
    out.backward(g)
    expected.backward(torch.from_numpy(g))
    for i, (a, t) in enumerate(zip(ours, theirs)):
        assert a.grad.dtype == dtype and not np.isnan(a.grad.numpy()).any()
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), err_msg=f"input {i}", **TOL[dtype])


@pytest.mark.parametrize("name", ["plain", "batch broadcast", "value batch only", "bool (L, S)",
                                  "bool, a query masked out", "float with -inf",
                                  "float, a query at -inf", "causal L > S", "scale"])
def test_sdpa_first_and_second_derivatives(name):
    q, k, v, mask, kw = _sdpa_arrays(name, seed=20)
    arrays = [q, k, v] + ([mask] if mask is not None and mask.dtype.kind == "f" else [])
    leaves = [ag.tensor(a, requires_grad=True) for a in arrays]

    def fn(q, k, v, m=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask if m is None else m, **kw)

    assert ag.gradcheck(fn, leaves)
    assert ag.gradgradcheck(fn, leaves)


CHUNKED = ["plain", "4-d heads", "batch broadcast", "value batch only", "bool (B, 1, L, S)",
           "bool, a query masked out", "float (B, L, 1)", "float, a query at -inf", "causal L > S"]


@pytest.mark.parametrize("name", CHUNKED)
def test_sdpa_in_chunks_matches_torch_and_finite_differences(torch, name, monkeypatch):
    """Long inputs are processed a chunk of the first batch axis at a time; here every batch
    item is its own chunk."""
    from autograd.ops import attention

    monkeypatch.setattr(attention, "_CHUNK", 1)
    test_sdpa_against_torch(torch, name, np.float64)
    q, k, v, mask, kw = _sdpa_arrays(name, seed=25)
    arrays = [q, k, v] + ([mask] if mask is not None and mask.dtype.kind == "f" else [])
    leaves = [ag.tensor(a, requires_grad=True) for a in arrays]

    def fn(q, k, v, m=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask if m is None else m, **kw)

    assert len(fn(*leaves).grad_fn.saved[6]) == q.shape[0] or q.ndim == 2
    assert ag.gradcheck(fn, leaves)
    if name in ("plain", "batch broadcast", "float, a query at -inf"):  # the slow check, thrice
        assert ag.gradgradcheck(fn, leaves)


def test_sdpa_dropout_in_chunks_draws_the_same_mask(monkeypatch):
    from autograd.ops import attention

    q, k, v = normal(55, 3, 2, L, D), normal(56, 3, 2, S, D), normal(57, 3, 2, S, D)
    xs = [ag.tensor(a) for a in (q, k, v)]
    ag.manual_seed(4)
    whole = F.scaled_dot_product_attention(*xs, dropout_p=0.5).numpy()
    monkeypatch.setattr(attention, "_CHUNK", 1)
    ag.manual_seed(4)
    np.testing.assert_allclose(F.scaled_dot_product_attention(*xs, dropout_p=0.5).numpy(), whole,
                               rtol=1e-13)


def test_sdpa_matches_the_formula_in_numpy():
    q, k, v = normal(30, 2, L, D), normal(31, 2, S, D), normal(32, 2, S, 3)
    for mask, kw, expected in [
        (None, {}, numpy_attention(q, k, v)),
        (BOOL, {}, numpy_attention(q, k, v, allowed=BOOL)),
        (FLOAT, {"scale": 2.0}, numpy_attention(q, k, v, add=FLOAT, scale=2.0)),
        (None, {"is_causal": True}, numpy_attention(q, k, v, allowed=CAUSAL)),
    ]:
        out = F.scaled_dot_product_attention(ag.tensor(q), ag.tensor(k), ag.tensor(v),
                                             attn_mask=mask, **kw)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_sdpa_fully_masked_query_gives_zeros_as_torch(torch):
    q, k, v = normal(40, 1, L, D), normal(41, 1, S, D), normal(42, 1, S, D)
    mask = BOOL.copy()
    mask[2] = False
    ours = [ag.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ours, attn_mask=mask)
    assert not out.numpy()[0, 2].any()
    out.sum().backward()
    assert not ours[0].grad.numpy()[0, 2].any()  # the masked query passes no gradient
    theirs = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(a) for a in (q, k, v)), attn_mask=torch.from_numpy(mask))
    np.testing.assert_allclose(out.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_sdpa_dropout_by_hand_and_reproducible():
    q, k, v = normal(50, 2, L, D), normal(51, 2, S, D), normal(52, 2, S, D)
    p = 0.4
    xs = [ag.tensor(a, requires_grad=True) for a in (q, k, v)]
    ag.manual_seed(9)
    out = F.scaled_dot_product_attention(*xs, dropout_p=p)
    keep = np.random.default_rng(9).random((2, L, S), dtype=np.float32) >= p  # the same draw
    np.testing.assert_allclose(out.numpy(), numpy_attention(q, k, v, keep=keep, p=p), rtol=1e-12)
    ag.manual_seed(9)
    again = F.scaled_dot_product_attention(*xs, dropout_p=p)
    np.testing.assert_array_equal(out.numpy(), again.numpy())

    def fn(q, k, v):
        ag.manual_seed(9)  # the same mask at every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p, attn_mask=BOOL)

    assert ag.gradcheck(fn, xs)
    assert ag.gradgradcheck(fn, xs)


def test_sdpa_large_scores_stay_finite(torch):
    rng = np.random.default_rng(60)
    q, k, v = (rng.standard_normal(s).astype(np.float32) * 300 for s in [(2, L, D), (2, S, D), (2, S, D)])
    xs = [ag.tensor(a, requires_grad=True) for a in (q, k, v)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.scaled_dot_product_attention(*xs, is_causal=True)
        out.sum().backward()
    for t in [out] + [x.grad for x in xs]:
        assert np.isfinite(t.numpy()).all()
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    expected = torch.nn.functional.scaled_dot_product_attention(*ts, is_causal=True)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-2)


def test_sdpa_keeps_no_weights_matrix_for_backward():
    """Backward recomputes the softmax: the node holds its inputs, its output, and row
    statistics (…, L, 1), nothing of the scores' size."""
    q = ag.randn(2, 3, 64, 8, requires_grad=True)
    k, v = ag.randn(2, 3, 64, 8), ag.randn(2, 3, 64, 8)
    node = F.scaled_dot_product_attention(q, k, v, is_causal=True).grad_fn
    scores = 2 * 3 * 64 * 64
    saved = [a for a in node.saved if hasattr(a, "size")]
    assert max(a.size for a in saved) < scores  # the causal mask (64, 64) and the row maxima
    assert graph.REGISTRY["scaled_dot_product_attention"].rule is not None


SDPA_ERRORS = [
    (lambda: F.scaled_dot_product_attention(ag.ones(4), ag.ones(2, 4), ag.ones(2, 4)), ValueError,
     r"at least 2 dimensions.*\(4,\)"),
    (lambda: F.scaled_dot_product_attention(ag.ones(3, 4), ag.ones(5, 3), ag.ones(5, 4)), ValueError,
     r"feature sizes \(4 and 3\)"),
    (lambda: F.scaled_dot_product_attention(ag.ones(3, 4), ag.ones(5, 4), ag.ones(6, 4)), ValueError,
     r"lengths \(5 and 6\)"),
    (lambda: F.scaled_dot_product_attention(ag.ones(2, 3, 4), ag.ones(3, 5, 4), ag.ones(3, 5, 4)),
     ValueError, "do not broadcast"),
    (lambda: F.scaled_dot_product_attention(ag.ones(3, 4), ag.ones(5, 4, dtype=ag.float64),
                                            ag.ones(5, 4)), TypeError, "float32, float64 and float32"),
    (lambda: F.scaled_dot_product_attention(ag.ones(3, 4), ag.ones(5, 4), ag.ones(5, 4),
                                            attn_mask=np.ones((4, 5), bool)), ValueError,
     r"\(4, 5\).*\(3, 5\)"),
    (lambda: F.scaled_dot_product_attention(ag.ones(3, 4), ag.ones(5, 4), ag.ones(5, 4),
                                            attn_mask=np.ones((3, 5), np.int64)), TypeError, "int64"),
    (lambda: F.scaled_dot_product_attention(ag.ones(3, 4), ag.ones(5, 4), ag.ones(5, 4),
                                            attn_mask=np.ones((3, 5), bool), is_causal=True),
     ValueError, "not both"),
    (lambda: F.scaled_dot_product_attention(ag.ones(3, 4), ag.ones(5, 4), ag.ones(5, 4),
                                            dropout_p=1.5), ValueError, "1.5"),
    (lambda: F.scaled_dot_product_attention(ag.ones(3, 4), ag.ones(0, 4), ag.ones(0, 4)), ValueError,
     "no positions"),
]


@pytest.mark.parametrize("fn, exc, match", SDPA_ERRORS, ids=[str(i) for i in range(len(SDPA_ERRORS))])
def test_sdpa_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


# ----------------------------------------------------------------------------- the module
E, H = 8, 2


def _pair(torch, dtype, **kw):
    """Our module and PyTorch's, with PyTorch's random weights loaded into ours."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, dtype=getattr(torch, np.dtype(dtype).name), **kw)
    with torch.no_grad():  # non-zero biases, so that they are tested too
        for name, p in theirs.named_parameters():
            if "bias" in name:
                p.normal_()
    ours = nn.MultiheadAttention(E, H, dtype=dtype, **kw)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _masked(L_, S_):
    """A module-convention boolean mask (True = masked) that leaves every query a key."""
    m = np.random.default_rng(7).random((L_, S_)) > 0.6
    m[:, 0] = False
    return m


def _kpm(N, S_, dtype):
    m = np.zeros((N, S_), bool)
    m[0, -2:] = True
    m[-1, 1] = True
    return m if dtype is bool else np.where(m, -1.5, 0.25).astype(dtype)


# name: (module kwargs, forward kwargs builder(N, L, S, dtype) -> dict, self-attention?)
MHA = {
    "self": ({}, lambda N, L, S, dt: {}, True),
    "self, batch_first": ({"batch_first": True}, lambda N, L, S, dt: {}, True),
    "cross, batch_first": ({"batch_first": True}, lambda N, L, S, dt: {}, False),
    "no weights": ({}, lambda N, L, S, dt: {"need_weights": False}, False),
    "weights per head": ({}, lambda N, L, S, dt: {"average_attn_weights": False}, False),
    "bool attn_mask": ({}, lambda N, L, S, dt: {"attn_mask": _masked(L, S)}, False),
    "bool attn_mask, no weights": ({"batch_first": True}, lambda N, L, S, dt: {
        "attn_mask": np.triu(np.ones((L, S), bool), 1), "need_weights": False}, False),
    "float attn_mask": ({}, lambda N, L, S, dt: {"attn_mask": normal(5, L, S).astype(dt)}, False),
    "3-d attn_mask": ({}, lambda N, L, S, dt: {
        "attn_mask": np.random.default_rng(6).random((N * H, L, S)) > 0.7}, False),
    "key_padding_mask": ({"batch_first": True}, lambda N, L, S, dt: {
        "key_padding_mask": _kpm(N, S, bool)}, False),
    "key_padding_mask, no weights": ({}, lambda N, L, S, dt: {
        "key_padding_mask": _kpm(N, S, bool), "need_weights": False}, False),
    "float key_padding_mask + float attn_mask": ({}, lambda N, L, S, dt: {
        "key_padding_mask": _kpm(N, S, dt), "attn_mask": normal(8, L, S).astype(dt)}, False),
    "both bool, no weights": ({"batch_first": True}, lambda N, L, S, dt: {
        "key_padding_mask": _kpm(N, S, bool), "attn_mask": np.triu(np.ones((L, S), bool), 1),
        "need_weights": False}, False),
    "causal hint": ({"batch_first": True}, lambda N, L, S, dt: {
        "attn_mask": np.triu(np.ones((L, L), bool), 1), "is_causal": True,
        "need_weights": False}, True),
    "causal hint, weights": ({}, lambda N, L, S, dt: {
        "attn_mask": np.triu(np.ones((L, L), bool), 1), "is_causal": True}, True),
    "kdim vdim": ({"kdim": 5, "vdim": 3}, lambda N, L, S, dt: {}, False),
    "no bias": ({"bias": False}, lambda N, L, S, dt: {}, False),
    "bias_kv, zero_attn, masks": ({"add_bias_kv": True, "add_zero_attn": True}, lambda N, L, S, dt: {
        "key_padding_mask": _kpm(N, S, bool), "attn_mask": np.zeros((L, S), bool)}, False),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(MHA))
def test_multihead_attention_loads_torch_weights(torch, name, dtype):
    kw, fwd, self_attention = MHA[name]
    ours, theirs = _pair(torch, dtype, **kw)
    N, L_, S_ = 3, 4, 6
    if self_attention:
        S_ = L_
    bf = kw.get("batch_first", False)

    def shape(T, n):
        return (N, T, n) if bf else (T, N, n)

    x = normal(70, *shape(L_, E)).astype(dtype)
    if self_attention:
        arrays = [x]
    else:
        arrays = [x, normal(71, *shape(S_, kw.get("kdim", E))).astype(dtype),
                  normal(72, *shape(S_, kw.get("vdim", E))).astype(dtype)]
    xs = [ag.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    args_ours = xs * 3 if self_attention else xs
    args_theirs = ts * 3 if self_attention else ts
    f_kw = fwd(N, L_, S_, dtype)
    f_kw = {k: v for k, v in f_kw.items() if v is not None}
    t_kw = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in f_kw.items()}
    out, w = ours(*args_ours, **f_kw)
    t_out, t_w = theirs(*args_theirs, **t_kw)
    tol = TOL[dtype]
    assert out.dtype == dtype and out.shape == tuple(t_out.shape)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), **tol)
    if t_w is None:
        assert w is None
    else:
        np.testing.assert_allclose(w.numpy(), t_w.detach().numpy(), **tol)
    g = normal(73, *out.shape).astype(dtype)
    loss = (out * ag.tensor(g)).sum() + (0.0 if w is None else (w * w).sum())
    t_loss = (t_out * torch.from_numpy(g)).sum() + (0.0 if t_w is None else (t_w * t_w).sum())
    loss.backward()
    t_loss.backward()
    for a, t in zip(xs, ts):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), **tol)
    params = dict(theirs.named_parameters())
    for name_, p in ours.named_parameters():
        assert p.grad is not None, name_
        np.testing.assert_allclose(p.grad.numpy(), params[name_].grad.numpy(), err_msg=name_, **tol)


@pytest.mark.parametrize("kw", [{}, {"kdim": 5, "vdim": 3, "bias": False}, {"add_bias_kv": True}])
def test_multihead_attention_state_dict_keys_as_torch(torch, kw):
    ours = nn.MultiheadAttention(E, H, **kw)
    theirs = torch.nn.MultiheadAttention(E, H, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert ours.state_dict()[k].shape == tuple(v.shape)


def test_multihead_attention_unbatched(torch):
    ours, theirs = _pair(torch, np.float64)
    x = normal(80, 4, E)
    mask = np.triu(np.ones((4, 4), bool), 1)
    for kw in [{}, {"average_attn_weights": False}, {"attn_mask": mask},
               {"key_padding_mask": np.array([False, False, True, False])}]:
        out, w = ours(ag.tensor(x), ag.tensor(x), ag.tensor(x), **kw)
        t_kw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        t_out, t_w = theirs(*[torch.from_numpy(x)] * 3, **t_kw)
        np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(w.numpy(), t_w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_multihead_attention_initialisation():
    ag.manual_seed(0)
    m = nn.MultiheadAttention(64, 4)
    bound = math.sqrt(6 / (64 + 3 * 64))  # Xavier-uniform over the (3E, E) packed weight
    w = m.in_proj_weight.numpy()
    assert w.shape == (192, 64) and np.abs(w).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert not m.in_proj_bias.numpy().any() and not m.out_proj.bias.numpy().any()
    assert np.abs(m.out_proj.weight.numpy()).max() <= 1 / math.sqrt(64)  # Linear's own init
    assert m.in_proj_weight.dtype == np.float32


def test_multihead_attention_fully_masked_query(torch):
    """need_weights=False gives zeros there, as PyTorch; need_weights=True, where PyTorch
    returns NaN, refuses."""
    ours, theirs = _pair(torch, np.float64)
    x = normal(90, 3, 2, E)
    mask = np.zeros((3, 3), bool)
    mask[1] = True  # query 1 may attend to nothing
    out, _ = ours(*[ag.tensor(x)] * 3, attn_mask=mask, need_weights=False)
    t_out, _ = theirs(*[torch.from_numpy(x)] * 3, attn_mask=torch.from_numpy(mask), need_weights=False)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="every key masked.*need_weights=False"):
        ours(*[ag.tensor(x)] * 3, attn_mask=mask)


def test_multihead_attention_dropout_in_training_only():
    m = nn.MultiheadAttention(E, H, dropout=0.5, batch_first=True)
    x = ag.randn(2, 5, E)
    ag.manual_seed(1)
    a, wa = m(x, x, x)
    ag.manual_seed(1)
    b, wb = m(x, x, x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # reproducible under the seed
    assert (wa.numpy() == 0).any()  # weights after dropout, as PyTorch returns them
    m.eval()
    c, _ = m(x, x, x)
    d, _ = m(x, x, x)
    np.testing.assert_array_equal(c.numpy(), d.numpy())
    plain = nn.MultiheadAttention(E, H, batch_first=True)
    plain.load_state_dict(m.state_dict())
    np.testing.assert_allclose(plain(x, x, x)[0].numpy(), c.numpy(), rtol=1e-6)


def test_multihead_attention_mixed_mask_kinds():
    """A boolean mask combines with a float one as the additive 0 / −inf (PyTorch warns that
    mixing is deprecated, so the oracle here is the all-float equivalent)."""
    m = nn.MultiheadAttention(E, H, dtype=np.float64)
    x = ag.tensor(normal(94, 4, 3, E))
    kpm = _kpm(3, 4, np.float64)
    causal = np.triu(np.ones((4, 4), bool), 1)
    for need in (True, False):
        a, _ = m(x, x, x, key_padding_mask=kpm, attn_mask=causal, need_weights=need)
        b, _ = m(x, x, x, key_padding_mask=kpm, attn_mask=np.where(causal, -np.inf, 0.0),
                 need_weights=need)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_multihead_attention_causal_without_a_mask_builds_one():
    m = nn.MultiheadAttention(E, H, batch_first=True, dtype=np.float64)
    x = ag.tensor(normal(95, 2, 5, E))
    mask = np.triu(np.ones((5, 5), bool), 1)
    for need in (True, False):
        a, _ = m(x, x, x, is_causal=True, need_weights=need)
        b, _ = m(x, x, x, attn_mask=mask, need_weights=need)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_multihead_attention_gradcheck():
    m = nn.MultiheadAttention(4, 2, batch_first=True, dtype=np.float64)
    x = ag.tensor(normal(96, 2, 3, 4), requires_grad=True)
    mask = np.triu(np.ones((3, 3), bool), 1)
    assert ag.gradcheck(lambda x: m(x, x, x, attn_mask=mask, need_weights=False)[0], (x,))
    assert ag.gradcheck(lambda x: m(x, x, x, attn_mask=mask)[1], (x,))


MHA_ERRORS = [
    (lambda: nn.MultiheadAttention(10, 3), ValueError, r"embed_dim \(10\).*num_heads \(3\)"),
    (lambda: nn.MultiheadAttention(8, 2)(ag.ones(3, 2, 6), ag.ones(3, 2, 8), ag.ones(3, 2, 8)),
     ValueError, r"query of shape \(3, 2, 6\) should have 8"),
    (lambda: nn.MultiheadAttention(8, 2)(ag.ones(3, 2, 8), ag.ones(4, 2, 8), ag.ones(5, 2, 8)),
     ValueError, "same length"),
    (lambda: nn.MultiheadAttention(8, 2)(ag.ones(3, 2, 8), ag.ones(4, 3, 8), ag.ones(4, 3, 8)),
     ValueError, "different batch sizes"),
    (lambda: nn.MultiheadAttention(8, 2)(ag.ones(3, 2, 8), ag.ones(4, 8), ag.ones(4, 8)),
     ValueError, "all be 3-d"),
    (lambda: nn.MultiheadAttention(8, 2)(ag.ones(3, 2, 8), ag.ones(4, 2, 8), ag.ones(4, 2, 8),
                                         attn_mask=np.zeros((4, 3), bool)), ValueError,
     r"attn_mask of shape \(4, 3\).*\(3, 4\)"),
    (lambda: nn.MultiheadAttention(8, 2)(ag.ones(3, 2, 8), ag.ones(4, 2, 8), ag.ones(4, 2, 8),
                                         key_padding_mask=np.zeros((4, 2), bool)), ValueError,
     r"key_padding_mask of shape \(4, 2\).*\(2, 4\)"),
    (lambda: nn.MultiheadAttention(8, 2)(ag.ones(3, 2, 8), ag.ones(4, 2, 8), ag.ones(4, 2, 8),
                                         attn_mask=np.zeros((3, 4), np.int64)), TypeError, "int64"),
]


@pytest.mark.parametrize("fn, exc, match", MHA_ERRORS, ids=[str(i) for i in range(len(MHA_ERRORS))])
def test_multihead_attention_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()
