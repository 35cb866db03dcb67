"""The tensor ops of the model building blocks (issue 8): split, chunk, tril, triu, masked_fill,
cumsum, square, pow, norm, bmm, einsum; and F.dropout, F.embedding, F.one_hot.

Values and gradients come from PyTorch (the ``torch`` fixture), in float64 and float32, from
finite differences (``ag.gradcheck``/``ag.gradgradcheck``), or from formulas worked out here in
NumPy. Every error names what was wrong.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import nn

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _as(torch, a, grad=True):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return torch.tensor(a, requires_grad=grad)
    return torch.as_tensor(a)


def compare(torch, ours_fn, theirs_fn, arrays, dtype, seed=0):
    """Values and the gradients of every floating input, ours against PyTorch's, under one
    random upstream gradient; floating inputs are cast to ``dtype``."""
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in map(np.asarray, arrays)]
    xs = [ag.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [_as(torch, a) for a in arrays]
    out, expected = ours_fn(*xs), theirs_fn(*ts)
    tol = TOL[dtype]
    assert out.dtype == dtype, f"{dtype.__name__} inputs gave {out.dtype}"
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tol)
    g = _rng(seed + 1).standard_normal(out.shape).astype(dtype)
    out.backward(g)
    expected.backward(torch.from_numpy(g))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if t.requires_grad:
            assert x.grad is not None and x.grad.dtype == dtype, f"input {i}"
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), err_msg=f"input {i}",
                                       **tol)


def normal(*shape):
    return _rng(sum(shape) + len(shape)).standard_normal(shape)


def pieces(parts, scales=None):
    """Join pieces back, each scaled differently, so that each piece's gradient is checked."""
    return [p * (i + 1.5) for i, p in enumerate(parts)]


# ----------------------------------------------------------------------------- PyTorch oracle
# name: (ours, theirs, inputs); `theirs` receives torch tensors and the torch module as `T`.
ORACLE = {
    "split int": (lambda x: ag.cat(pieces(ag.split(x, 2, axis=1)), axis=1),
                  lambda T, x: T.cat(pieces(T.split(x, 2, dim=1)), dim=1), [normal(3, 5)]),
    "split list dim=": (lambda x: ag.cat(pieces(x.split([1, 0, 2], dim=0)), 0),
                        lambda T, x: T.cat(pieces(x.split([1, 0, 2], 0)), 0), [normal(3, 2)]),
    "chunk 5 in 4": (lambda x: ag.cat(pieces(ag.chunk(x, 4, -1)), -1),
                     lambda T, x: T.cat(pieces(T.chunk(x, 4, -1)), -1), [normal(2, 5)]),
    "chunk method": (lambda x: ag.cat(pieces(x.chunk(3)), 0),
                     lambda T, x: T.cat(pieces(x.chunk(3)), 0), [normal(7, 2)]),
    "tril": (lambda x: ag.tril(x), lambda T, x: T.tril(x), [normal(4, 3)]),
    "tril -1 batched": (lambda x: x.tril(-1), lambda T, x: x.tril(-1), [normal(2, 3, 4)]),
    "triu 2": (lambda x: ag.triu(x, diagonal=2), lambda T, x: T.triu(x, diagonal=2),
               [normal(3, 5)]),
    "triu batched": (lambda x: x.triu(), lambda T, x: x.triu(), [normal(2, 4, 4)]),
    "masked_fill number": (lambda x: x.masked_fill(x.data > 0.3, -2.5),
                           lambda T, x: x.masked_fill(x > 0.3, -2.5), [normal(3, 4)]),
    "masked_fill broadcast": (
        lambda x: ag.masked_fill(x, np.array([True, False, True, False]), 7.0),
        lambda T, x: T.masked_fill(x, T.tensor([True, False, True, False]), 7.0),
        [normal(2, 3, 4)]),
    "masked_fill tensor value": (
        lambda x, v: x.masked_fill(np.array([[True], [False], [True]]), v),
        lambda T, x, v: x.masked_fill(T.tensor([[True], [False], [True]]), v),
        [normal(3, 4), np.array(0.75)]),
    "cumsum": (lambda x: ag.cumsum(x, 1), lambda T, x: T.cumsum(x, 1), [normal(3, 5)]),
    "cumsum dim=0": (lambda x: x.cumsum(dim=0), lambda T, x: x.cumsum(dim=0), [normal(4, 2, 3)]),
    "cumsum -1": (lambda x: x.cumsum(-1), lambda T, x: x.cumsum(-1), [normal(2, 6)]),
    "square": (lambda x: ag.square(x), lambda T, x: T.square(x), [normal(3, 4)]),
    "square method": (lambda x: x.square(), lambda T, x: x.square(), [normal(5)]),
    "pow scalar": (lambda x: ag.pow(x, 3.0), lambda T, x: T.pow(x, 3.0), [normal(3, 4)]),
    "pow tensors": (lambda x, y: ag.pow(x, y), lambda T, x, y: T.pow(x, y),
                    [np.abs(normal(3, 4)) + 0.5, normal(4)]),
    "norm 2": (lambda x: x.norm(), lambda T, x: x.norm(), [normal(3, 4)]),
    "norm 2 axis keepdims": (lambda x: x.norm(2, 1, True), lambda T, x: x.norm(2, 1, True),
                             [normal(3, 4)]),
    "norm fro dims": (lambda x: x.norm("fro", axis=(0, 2)), lambda T, x: x.norm("fro", dim=(0, 2)),
                      [normal(2, 3, 4)]),
    "norm 1 dim=": (lambda x: ag.norm(x, 1, dim=0, keepdim=True),
                    lambda T, x: T.norm(x, 1, dim=0, keepdim=True), [normal(3, 4)]),
    "norm inf": (lambda x: x.norm(math.inf, axis=-1), lambda T, x: x.norm(float("inf"), dim=-1),
                 [normal(3, 4)]),
    "norm inf ties": (lambda x: x.norm(math.inf, 1), lambda T, x: x.norm(float("inf"), 1),
                      [np.array([[3.0, -3.0, 1.0], [2.0, -1.0, -2.0]])]),
    "bmm": (lambda a, b: ag.bmm(a, b), lambda T, a, b: T.bmm(a, b), [normal(2, 3, 4), normal(2, 4, 5)]),
    "bmm method": (lambda a, b: a.bmm(b), lambda T, a, b: a.bmm(b), [normal(3, 1, 2), normal(3, 2, 2)]),
}

EINSUM = [  # subscripts, operand shapes
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(5,), (5,)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij->j", [(3, 4)]),
    ("ii", [(4, 4)]),  # trace
    ("ii->i", [(3, 3)]),  # diagonal
    ("iij->j", [(2, 2, 3)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),  # broadcast batch axes
    ("...ij,jk", [(2, 3, 4), (4, 5)]),
    ("...i,...i", [(2, 3), (3,)]),
    ("...ij->ij", [(2, 3, 4)]),  # an explicit output without '...' sums those axes (PyTorch)
    ("i...->...", [(2, 3, 4)]),
    ("iI", [(2, 3)]),  # implicit order: upper case first
    ("bAc,cD->bDA", [(2, 3, 4), (4, 5)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),  # a size-1 axis broadcasts
    ("i j , j k -> i k", [(2, 3), (3, 2)]),  # spaces are ignored
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(ORACLE))
def test_against_torch(torch, name, dtype):
    ours, theirs, arrays = ORACLE[name]
    compare(torch, ours, lambda *ts: theirs(torch, *ts), arrays, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("eq, shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum_against_torch(torch, eq, shapes, dtype):
    arrays = [normal(*s) + 0.1 * k for k, s in enumerate(shapes)]
    compare(torch, lambda *xs: ag.einsum(eq, *xs), lambda *ts: torch.einsum(eq, *ts), arrays, dtype)


@pytest.mark.parametrize("eq, shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum_second_derivatives(eq, shapes):
    leaves = [ag.tensor(normal(*s) + 0.1 * k, requires_grad=True) for k, s in enumerate(shapes)]
    assert ag.gradcheck(lambda *xs: ag.einsum(eq, *xs), leaves)
    assert ag.gradgradcheck(lambda *xs: ag.einsum(eq, *xs), leaves)


def test_einsum_by_hand():
    a, b = normal(3, 3), normal(3, 4)
    np.testing.assert_allclose(ag.einsum("ii", a).numpy(), np.trace(a), rtol=1e-14)
    np.testing.assert_allclose(ag.einsum("ij,ik->jk", a, b).numpy(), a.T @ b, rtol=1e-13)
    x = ag.tensor(a, requires_grad=True)
    ag.einsum("ii->", x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.eye(3))  # d trace / dA = I
    x.grad = None
    ag.einsum("ij->i", x).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad.numpy(), np.repeat([[1.0], [2.0], [3.0]], 3, axis=1))


@pytest.mark.parametrize("n, arg", [(5, 2), (6, 3), (0, 2), (4, 7), (5, [2, 0, 3]), (3, [3])])
def test_split_sizes_as_torch(torch, n, arg):
    ours = [p.shape for p in ag.split(ag.zeros(n, 2), arg)]
    assert ours == [tuple(p.shape) for p in torch.split(torch.zeros(n, 2), arg)]


@pytest.mark.parametrize("n, chunks", [(5, 4), (6, 4), (2, 5), (0, 3), (7, 1), (9, 3)])
def test_chunk_sizes_as_torch(torch, n, chunks):
    ours = ag.chunk(ag.zeros(2, n), chunks, axis=1)
    assert isinstance(ours, tuple)
    assert [p.shape for p in ours] == [tuple(p.shape) for p in torch.chunk(torch.zeros(2, n), chunks, 1)]


def test_norm_at_zero_has_zero_gradient_as_torch(torch):
    for p in (2, "fro", 1, math.inf):
        x = ag.zeros(2, 3, requires_grad=True)
        x.norm(p).backward()
        t = torch.zeros(2, 3, requires_grad=True)
        t.norm(p).backward()
        assert not np.isnan(x.grad.numpy()).any()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
        x = ag.tensor(np.array([[0.0, 0.0], [3.0, 4.0]]), requires_grad=True)
        x.norm(p, axis=1).sum().backward()  # one zero row among others
        assert not np.isnan(x.grad.numpy()).any() and not x.grad.numpy()[0].any()


@pytest.mark.parametrize("dtype, big", [(np.float32, 1e20), (np.float32, 1e-30), (np.float64, 1e200),
                                        (np.float64, 1e-200)])
def test_norm_neither_overflows_nor_underflows(dtype, big):
    x = ag.tensor(np.array([3.0, -4.0], dtype=dtype) * dtype(big), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        n = x.norm()
        n.backward()
    assert n.dtype == dtype
    np.testing.assert_allclose(n.item(), 5 * big, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [0.6, -0.8], rtol=1e-6)  # x / ‖x‖


def test_norm_of_inf_and_nan():
    assert ag.tensor([1.0, -math.inf]).norm().item() == math.inf
    assert math.isnan(ag.tensor([1.0, math.nan]).norm().item())


def test_masked_fill_by_hand():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = ag.tensor(np.array(-1.0), requires_grad=True)
    mask = np.array([[True, False, False], [False, False, True]])
    y = x.masked_fill(ag.Tensor(mask), v)
    np.testing.assert_array_equal(y.numpy(), [[-1, 1, 2], [3, 4, -1]])
    y.backward(np.full((2, 3), 2.0))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2, 2], [2, 2, 0]])
    assert v.grad.item() == 4.0  # the gradient summed over the two filled places
    y32 = ag.ones(2, 3).masked_fill(mask, -math.inf)
    assert y32.dtype == np.float32 and y32.numpy()[0, 0] == -math.inf


def test_cumsum_by_hand_and_0d():
    x = ag.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = ag.cumsum(x, 0)
    np.testing.assert_array_equal(y.numpy(), [1, 3, 6])
    y.backward(np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [111, 110, 100])  # Σ_{i ≥ j} g_i
    s = ag.tensor(np.array(2.0), requires_grad=True)
    z = s.cumsum(0)
    assert z.shape == () and z.item() == 2.0
    z.backward()
    assert s.grad.item() == 1.0


def test_square_and_pow_by_hand():
    x = ag.tensor(np.array([-1.5, 0.0, 2.0]), requires_grad=True)
    ag.square(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-3.0, 0.0, 4.0])
    assert ag.pow(ag.tensor([2.0]), 3).item() == 8.0


def test_float32_stays_float32():
    x = ag.randn(3, 4, requires_grad=True)
    outs = [*ag.split(x, 2, 1), *ag.chunk(x, 2), ag.tril(x), ag.triu(x), x.masked_fill(x.data > 0, 1e40),
            x.cumsum(0), ag.square(x), x.norm(), x.norm(1, 0), x.norm(math.inf),
            ag.bmm(x.reshape(1, 3, 4), x.reshape(1, 4, 3)), ag.einsum("ij,kj->ik", x, x),
            F.dropout(x, 0.3)]
    for y in outs:
        assert y.dtype == np.float32
        (y * 1.0).sum().backward()
    assert x.grad.dtype == np.float32


# ----------------------------------------------------------------------------- errors
ERRORS = [
    (lambda: ag.einsum("ij,jk", ag.ones(2, 3)), ValueError, "name 2 operand"),
    (lambda: ag.einsum("ij->k", ag.ones(2, 3)), ValueError, "'k'"),
    (lambda: ag.einsum("ij->ii", ag.ones(2, 3)), ValueError, "repeats"),
    (lambda: ag.einsum("i1", ag.ones(2, 3)), ValueError, "invalid character"),
    (lambda: ag.einsum("ijk", ag.ones(2, 3)), ValueError, r"shape \(2, 3\)"),
    (lambda: ag.einsum("ij,jk", ag.ones(2, 3), ag.ones(4, 5)), ValueError, "'j' has size 4"),
    (lambda: ag.einsum("ii", ag.ones(2, 3)), ValueError, "sizes 2 and 3"),
    (lambda: ag.einsum("...i...", ag.ones(2, 3)), ValueError, "more than one '...'"),
    (lambda: ag.einsum(ag.ones(2), "i"), TypeError, "subscripts"),
    (lambda: ag.bmm(ag.ones(2, 3), ag.ones(3, 2)), ValueError, r"3-d.*\(2, 3\) and \(3, 2\)"),
    (lambda: ag.bmm(ag.ones(2, 3, 4), ag.ones(3, 4, 5)), ValueError, r"\(2, 3, 4\) and \(3, 4, 5\)"),
    (lambda: ag.bmm(ag.ones(2, 3, 4), ag.ones(2, 5, 5)), ValueError, "inner sizes 4 and 5"),
    (lambda: ag.tril(ag.ones(3)), ValueError, r"tril.*\(3,\)"),
    (lambda: ag.ones(3).triu(), ValueError, r"triu.*\(3,\)"),
    (lambda: ag.ones(2, 3).masked_fill(np.ones((2, 3)), 0.0), TypeError, "boolean"),
    (lambda: ag.ones(2, 3).masked_fill(np.ones((3, 2), bool), 0.0), ValueError,
     r"\(3, 2\).*\(2, 3\)"),
    (lambda: ag.ones(3).masked_fill(np.ones((2, 3), bool), 0.0), ValueError, r"\(2, 3\).*\(3,\)"),
    (lambda: ag.ones(3).masked_fill(np.ones(3, bool), ag.ones(2)), ValueError, "0-d"),
    (lambda: ag.split(ag.ones(5), [2, 2]), ValueError, r"\[2, 2\].*add up to 5"),
    (lambda: ag.split(ag.ones(5), 0), ValueError, "split_size"),
    (lambda: ag.split(ag.ones(5), 2, axis=1), ValueError, "axis 1 is out of range"),
    (lambda: ag.split(ag.ones(5, 2), 2, axis=1, dim=0), TypeError, "axis or dim"),
    (lambda: ag.chunk(ag.ones(5), 0), ValueError, "chunks must be positive"),
    (lambda: ag.cumsum(ag.ones(3)), TypeError, "axis"),
    (lambda: ag.ones(3).cumsum(2), ValueError, "axis 2"),
    (lambda: ag.ones(3).norm(3), ValueError, "p must be"),
    (lambda: ag.ones(3).norm("nuc"), ValueError, "'nuc'"),
    (lambda: ag.norm(ag.tensor(np.arange(3))), TypeError, "int64"),
    (lambda: F.dropout(ag.ones(3), 1.5), ValueError, "1.5"),
    (lambda: F.dropout(ag.tensor(np.arange(3)), 0.5), TypeError, "int64"),
    (lambda: F.embedding(np.array([0.0, 1.0]), ag.ones(3, 2)), TypeError, "integers"),
    (lambda: F.embedding(np.array([0, 3]), ag.ones(3, 2)), IndexError, "index 3 .* 3 rows"),
    (lambda: F.embedding(np.array([-1]), ag.ones(3, 2)), IndexError, "index -1"),
    (lambda: F.embedding(np.array([0]), ag.ones(3)), ValueError, "2-d"),
    (lambda: F.embedding(np.array([0]), ag.ones(3, 2), padding_idx=3), ValueError, "padding_idx 3"),
    (lambda: F.one_hot(np.array([0.0, 1.0])), TypeError, "integers"),
    (lambda: F.one_hot(np.array([0, -1]), 3), ValueError, "non-negative; got -1"),
    (lambda: F.one_hot(np.array([0, 3]), 3), ValueError, "class value 3 .* num_classes=3"),
    (lambda: F.one_hot(np.array([], dtype=np.int64)), ValueError, "empty"),
]


@pytest.mark.parametrize("fn, exc, match", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_name_what_was_wrong(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


# ----------------------------------------------------------------------------- dropout
def _numpy_mask(seed, shape, p):
    """The mask F.dropout draws after ag.manual_seed(seed), worked out from NumPy directly."""
    return np.random.default_rng(seed).random(shape, dtype=np.float32) >= p


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_scaling_and_gradient(dtype):
    p = 0.3
    x = ag.tensor(_rng(1).standard_normal((40, 50)).astype(dtype), requires_grad=True)
    ag.manual_seed(7)
    y = F.dropout(x, p)
    keep = _numpy_mask(7, (40, 50), p)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.numpy(), np.where(keep, x.numpy() / (1 - p), 0), rtol=1e-6)
    g = _rng(2).standard_normal((40, 50)).astype(dtype)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), np.where(keep, g / (1 - p), 0), rtol=1e-6)


def test_dropout_is_reproducible_under_manual_seed():
    x = ag.ones(100, 100)
    ag.manual_seed(3)
    a = F.dropout(x, 0.5).numpy()
    ag.manual_seed(3)
    b = F.dropout(x, 0.5).numpy()
    c = F.dropout(x, 0.5).numpy()  # the generator has moved on
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    ag.manual_seed(3)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).numpy(), a)  # the module draws the same


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_expected_value(p):
    ag.manual_seed(11)
    y = F.dropout(ag.ones(400, 500), p).numpy()
    assert abs((y == 0).mean() - p) < 0.005  # 200,000 draws: the fraction is within 4 sigma
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / (1 - p)], rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02


def test_dropout_off_and_edges():
    x = ag.randn(3, 4, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    assert not y.numpy().any()
    y.sum().backward()
    assert not x.grad.numpy().any()
    assert ag.gradcheck(lambda a: (ag.manual_seed(5), F.dropout(a, 0.4))[1],
                        (ag.tensor(normal(4, 5), requires_grad=True),))


# ----------------------------------------------------------------------------- embedding, one_hot
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding_idx", [None, 1, -1])
def test_embedding_against_torch(torch, dtype, padding_idx):
    idx = np.array([[0, 1, 3], [3, 3, 2]])
    compare(torch, lambda w: F.embedding(idx, w, padding_idx=padding_idx),
            lambda w: torch.nn.functional.embedding(torch.from_numpy(idx), w, padding_idx=padding_idx),
            [normal(4, 5)], dtype)


def test_embedding_module_uses_the_function():
    emb = nn.Embedding(5, 3, padding_idx=0)
    idx = ag.tensor(np.array([0, 2, 2]), dtype=ag.int64)
    out = emb(idx)
    assert out.grad_fn.name == "embedding"
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:, 0], [0, 0, 2, 0, 0])


@pytest.mark.parametrize("labels, n", [([0, 2, 1], -1), ([[1, 0], [3, 3]], 5), ([], 3), (2, 4)])
def test_one_hot_against_torch(torch, labels, n):
    arr = np.array(labels, dtype=np.int64)
    ours = F.one_hot(ag.tensor(arr, dtype=ag.int64), n)
    theirs = torch.nn.functional.one_hot(torch.from_numpy(arr), n)
    assert ours.dtype == np.int64 and not ours.requires_grad
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_tensor_methods_exist():
    x = ag.ones(2, 2)
    for name in ("split", "chunk", "tril", "triu", "masked_fill", "cumsum", "square", "norm", "bmm",
                 "pow"):
        assert callable(getattr(x, name)), name


# ----------------------------------------------------------------------------- float32 erf
def test_float32_erf_is_within_4_ulp_and_exact_at_the_ends():
    """The backend's float32 erf (what GELU uses) against the float64 one, in float32 units in
    the last place, over the whole range where erf is not yet ±1, and at the ends."""
    x = np.linspace(-4.5, 4.5, 400001).astype(np.float32)
    exact = np.array([math.erf(v) for v in x[::50].astype(np.float64)])
    ours = ag.erf(ag.Tensor(x[::50])).numpy()
    assert ours.dtype == np.float32
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert (np.abs(ours - exact) / ulp).max() <= 4
    ends = ag.erf(ag.tensor(np.array([-np.inf, -1e30, -4.0, 0.0, 4.0, 1e30, np.inf], np.float32)))
    np.testing.assert_array_equal(ends.numpy(), [-1, -1, -1, 0, 1, 1, 1])
    assert np.isnan(ag.erf(ag.tensor(np.array([np.nan], np.float32))).numpy()).all()
    tiny = np.float32(1e-30)
    assert ag.erf(ag.Tensor(np.array([tiny]))).numpy()[0] == pytest.approx(2 / math.sqrt(math.pi) * 1e-30, rel=1e-6)
