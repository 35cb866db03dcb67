"""nn: Module bookkeeping, state dicts and save/load, layers, activations, losses, init, scopes.

Expected values come from hand-written NumPy formulas or from PyTorch (the ``torch`` fixture,
skipped where PyTorch is absent), never from the code under test.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import autograd as ag
from autograd import graph, nn
from autograd.nn import init


# ----------------------------------------------------------------------------- helpers
class MLP(nn.Module):
    def __init__(self, dtype=None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 5, dtype=dtype)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(5, 3, dtype=dtype)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def _nodes(out):
    """Every graph node reachable from ``out`` (test-side traversal)."""
    found, stack, seen = [], [out], set()
    while stack:
        t = stack.pop()
        if t.grad_fn is None or id(t) in seen:
            continue
        seen.add(id(t))
        found.append(t.grad_fn)
        stack.extend(t.grad_fn.inputs)
    return found


def _rng(seed=0):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- Parameter
def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(np.zeros((2, 3)))
    assert isinstance(p, ag.Tensor)
    assert p.requires_grad and p.is_leaf
    assert p.dtype == np.float64  # a NumPy array keeps its dtype
    assert nn.Parameter([1, 2]).dtype == np.float32  # lists become float32
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    y = p * 2
    assert type(y) is ag.Tensor and y.requires_grad


def test_parameter_shares_the_array_of_a_tensor():
    t = ag.tensor(np.arange(3.0))
    p = nn.Parameter(t)
    p.data[0] = 7.0
    assert t.data[0] == 7.0


# ----------------------------------------------------------------------------- registration
def test_named_parameters_have_dotted_names_in_registration_order():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = MLP()
            self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2, bias=False)])
            self.heads = nn.ModuleDict({"cls": nn.Linear(2, 4), "reg": nn.Linear(2, 1)})
            self.seq = nn.Sequential(nn.Linear(1, 1), nn.Sigmoid())
            self.scale = nn.Parameter(np.ones(1))
            self.plain = ag.tensor([1.0], requires_grad=True)  # a plain Tensor is not registered

    names = [n for n, _ in Net().named_parameters()]
    assert names == [
        "scale",
        "enc.fc1.weight", "enc.fc1.bias", "enc.fc2.weight", "enc.fc2.bias",
        "blocks.0.weight", "blocks.0.bias", "blocks.2.weight",
        "heads.cls.weight", "heads.cls.bias", "heads.reg.weight", "heads.reg.bias",
        "seq.0.weight", "seq.0.bias",
    ]
    net = Net()
    assert len(list(net.parameters())) == len(names)
    assert [n for n, _ in net.named_children()] == ["enc", "blocks", "heads", "seq"]
    assert [n for n, _ in net.named_modules()][:4] == ["", "enc", "enc.fc1", "enc.act"]


def test_shared_parameters_are_listed_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_reassigning_and_deleting_attributes():
    m = MLP()
    m.fc1 = nn.Linear(4, 5)           # replacing keeps the slot's place
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    m.fc2.bias = None                  # an empty parameter slot
    assert "fc2.bias" not in dict(m.named_parameters())
    with pytest.raises(TypeError, match="weight"):
        m.fc2.weight = ag.ones(3, 5)   # a plain Tensor cannot take a parameter's slot
    del m.act
    assert [n for n, _ in m.named_children()] == ["fc1", "fc2"]
    m.act = "not a module"             # plain attributes still work
    assert m.act == "not a module"
    with pytest.raises(AttributeError, match="nope"):
        _ = m.nope


def test_assigning_before_init_is_an_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="__init__"):
        Bad()


def test_containers():
    lst = nn.ModuleList([nn.Linear(1, 1)])
    lst.append(nn.ReLU()).extend([nn.Tanh()])
    lst.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in lst] == ["Sigmoid", "Linear", "ReLU", "Tanh"]
    assert list(lst._modules) == ["0", "1", "2", "3"]
    assert isinstance(lst[1:], nn.ModuleList) and len(lst[1:]) == 3
    assert type(lst[-1]).__name__ == "Tanh"
    del lst[0]
    assert [n for n, _ in lst.named_parameters()] == ["0.weight", "0.bias"]
    with pytest.raises(IndexError):
        lst[5]
    d = nn.ModuleDict({"a": nn.ReLU()})
    d["b"] = nn.Linear(2, 2)
    assert "b" in d and list(d) == ["a", "b"] and len(d) == 2
    assert [k for k, _ in d.items()] == ["a", "b"]
    d.pop("a")
    assert d.keys() == ["b"]
    seq = nn.Sequential(OrderedDict([("first", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in seq.named_parameters()] == ["first.weight", "first.bias"]
    assert isinstance(seq[:1], nn.Sequential) and len(seq) == 2


def test_sequential_composes_in_order():
    rng = _rng(1)
    x = rng.normal(size=(5, 3))
    seq = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.ReLU(), nn.Linear(4, 2, dtype=np.float64))
    w1, b1, w2, b2 = (p.data for p in seq.parameters())
    expected = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    np.testing.assert_allclose(seq(ag.Tensor(x)).numpy(), expected, rtol=1e-13, atol=1e-15)


def test_zero_grad_train_eval_requires_grad():
    m = MLP()
    m(ag.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.training and m.fc1.training
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Empty"):
        type("Empty", (nn.Module,), {})()(1)


def test_to_double_converts_in_place():
    m = MLP()
    w = m.fc1.weight
    before = w.data.copy()
    m.double()
    assert m.fc1.weight is w and w.dtype == np.float64
    np.testing.assert_array_equal(w.data, before.astype(np.float64))
    assert m(ag.Tensor(np.ones((1, 4)))).dtype == np.float64
    m.float()
    assert w.dtype == np.float32


# ----------------------------------------------------------------------------- repr
def test_repr_shows_the_module_tree():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.2))
            self.drop = nn.Dropout(0.1)
            self.norm = nn.LayerNorm(3)
            self.emb = nn.Embedding(10, 3, padding_idx=0)
            self.loss = nn.CrossEntropyLoss()

    assert repr(Net()) == (
        "Net(\n"
        "  (body): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "    (1): LeakyReLU(negative_slope=0.2)\n"
        "  )\n"
        "  (drop): Dropout(p=0.1)\n"
        "  (norm): LayerNorm((3,), eps=1e-05, elementwise_affine=True)\n"
        "  (emb): Embedding(10, 3, padding_idx=0)\n"
        "  (loss): CrossEntropyLoss()\n"
        ")"
    )
    assert repr(nn.Softmax(axis=0)) == "Softmax(axis=0)"


# ----------------------------------------------------------------------------- state dicts
def test_state_dict_round_trip_is_exact():
    ag.manual_seed(0)
    a, b = MLP(), MLP()
    sd = a.state_dict()
    assert list(sd) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert all(type(v) is ag.Tensor and not v.requires_grad for v in sd.values())
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and pb.dtype == pa.dtype
        np.testing.assert_array_equal(pa.data, pb.data)
        assert pa.data is not pb.data
    assert all(isinstance(v, nn.Parameter) for v in a.state_dict(keep_vars=True).values())


def test_load_state_dict_accepts_arrays_and_casts_to_the_parameter_dtype():
    m = MLP()
    sd = {k: np.full(v.shape, 0.5, dtype=np.float64) for k, v in m.state_dict().items()}
    m.load_state_dict(sd)
    assert m.fc1.weight.dtype == np.float32
    assert (m.fc1.weight.data == np.float32(0.5)).all()


def test_load_state_dict_names_missing_unexpected_and_mismatched_keys():
    m = MLP()
    before = m.fc1.weight.data.copy()
    sd = dict(MLP().state_dict())
    del sd["fc2.bias"]
    sd["fc3.weight"] = ag.zeros(1)
    sd["fc1.weight"] = ag.zeros(4, 5)  # transposed shape
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(sd)
    msg = str(err.value)
    assert 'Missing key(s) in state_dict: "fc2.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "fc3.weight"' in msg
    assert "size mismatch for fc1.weight" in msg and "(4, 5)" in msg and "(5, 4)" in msg
    np.testing.assert_array_equal(m.fc1.weight.data, before)  # nothing was copied

    del sd["fc3.weight"]
    sd["fc1.weight"] = ag.zeros(5, 4)
    with pytest.raises(RuntimeError, match="fc2.bias"):
        m.load_state_dict(sd)
    sd["extra"] = ag.zeros(1)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc2.bias"] and result.unexpected_keys == ["extra"]
    assert not m.fc1.weight.data.any()
    sd["fc1.weight"] = ag.zeros(2)
    with pytest.raises(RuntimeError, match="size mismatch for fc1.weight"):
        m.load_state_dict(sd, strict=False)  # shapes are checked even when not strict


def test_buffers_are_saved_unless_not_persistent():
    m = nn.Module()
    m.register_buffer("running", ag.ones(2))
    m.register_buffer("scratch", ag.ones(3), persistent=False)
    assert list(m.state_dict()) == ["running"]
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]
    assert list(m.parameters()) == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_and_load_round_trip_exactly(tmp_path, dtype):
    ag.manual_seed(3)
    m = MLP(dtype=dtype)
    path = tmp_path / "mlp.weights"  # the exact file name is used, whatever its suffix
    assert ag.save(m.state_dict(), path) is None
    assert path.exists()
    loaded = ag.load(path)
    assert list(loaded) == list(m.state_dict())
    for k, v in m.state_dict().items():
        assert isinstance(loaded[k], ag.Tensor) and loaded[k].dtype == dtype
        np.testing.assert_array_equal(loaded[k].data, v.data)
    with np.load(path) as plain:  # an ordinary .npz
        np.testing.assert_array_equal(plain["fc1.weight"], m.fc1.weight.data)
    fresh = MLP(dtype=dtype)
    fresh.load_state_dict(ag.load(path))
    x = ag.Tensor(np.ones((2, 4), dtype=dtype))
    np.testing.assert_array_equal(fresh(x).data, m(x).data)


def test_save_and_load_nested_objects(tmp_path):
    obj = {
        "state": {0: {"step": 3, "buf": np.arange(4.0)}, 1: {"t": ag.tensor([1.0, 2.0])}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": True, "params": [0, 1],
                          "name": None, "eps": float("inf")}],
        "file": np.int64(7),
    }
    ag.save(obj, tmp_path / "opt.npz")
    back = ag.load(tmp_path / "opt.npz")
    assert back["state"][0]["step"] == 3
    np.testing.assert_array_equal(back["state"][0]["buf"], np.arange(4.0))
    assert isinstance(back["state"][0]["buf"], np.ndarray)
    assert isinstance(back["state"][1]["t"], ag.Tensor)
    np.testing.assert_array_equal(back["state"][1]["t"].data, np.array([1.0, 2.0], dtype=np.float32))
    g = back["param_groups"][0]
    assert g == {"lr": 0.1, "betas": (0.9, 0.999), "nesterov": True, "params": [0, 1], "name": None,
                 "eps": float("inf")}
    assert back["file"] == 7
    with pytest.raises(TypeError, match="object"):
        ag.save({"x": object()}, tmp_path / "bad.npz")


def test_load_reads_a_plain_numpy_npz(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.eye(2))
    back = ag.load(tmp_path / "plain.npz")
    assert list(back) == ["w"] and back["w"].dtype == np.float64


# ----------------------------------------------------------------------------- scopes
def test_module_calls_record_their_scope_on_graph_nodes():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(3, 4)
            self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Tanh()])
            self.heads = nn.ModuleDict({"out": nn.Linear(4, 2)})
            self.seq = nn.Sequential(nn.ReLU())

        def forward(self, x):
            h = self.fc1(x)
            for layer in self.layers:
                h = layer(h)
            h = self.seq(h)
            return self.heads["out"](h) * 2

    net = Net()
    y = net(ag.randn(2, 3))
    scopes = {(n.name, n.scope) for n in _nodes(y)}
    assert ("linear", ("Net", "fc1")) in scopes
    assert ("linear", ("Net", "layers", "0")) in scopes
    assert ("tanh", ("Net", "layers", "1")) in scopes
    assert ("relu", ("Net", "seq", "0")) in scopes
    assert ("linear", ("Net", "heads", "out")) in scopes
    assert ("mul", ("Net",)) in scopes
    assert graph.current_scope() == ()
    # A module called directly is a root, named by its class.
    z = net.fc1(ag.randn(1, 3))
    assert {n.scope for n in _nodes(z)} == {("Linear",)}


def test_scope_is_restored_when_forward_raises():
    m = MLP()
    with pytest.raises(ValueError):
        m(ag.randn(2, 7))
    assert graph.current_scope() == ()
    assert {n.scope for n in _nodes(m(ag.randn(1, 4)))} >= {("MLP", "fc1"), ("MLP", "act"), ("MLP", "fc2")}


# ----------------------------------------------------------------------------- layers
def test_linear_default_init_is_pytorchs_uniform():
    ag.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = layer.weight.data
    assert w.shape == (300, 400) and layer.bias.shape == (300,) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert abs(w.var() - bound**2 / 3) < 0.02 * bound**2 / 3  # U(−a, a) has variance a²/3
    ag.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.data, w)  # seeded: reproducible


def test_linear_forward_and_gradients_by_hand():
    rng = _rng(2)
    x = rng.normal(size=(6, 3))
    layer = nn.Linear(3, 2, dtype=np.float64)
    W, b = layer.weight.data, layer.bias.data
    xt = ag.tensor(x, requires_grad=True)
    y = layer(xt)
    np.testing.assert_allclose(y.numpy(), x @ W.T + b, rtol=1e-14)
    g = rng.normal(size=(6, 2))
    y.backward(g)
    np.testing.assert_allclose(layer.weight.grad.numpy(), g.T @ x, rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad.numpy(), g.sum(0), rtol=1e-13)
    np.testing.assert_allclose(xt.grad.numpy(), g @ W, rtol=1e-13)
    assert nn.Linear(3, 2, bias=False).bias is None


def test_dropout_scales_kept_entries_and_is_identity_in_eval():
    ag.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = ag.tensor(np.ones((200, 500)), requires_grad=True)
    y = drop(x)
    vals = np.unique(y.numpy())
    np.testing.assert_array_equal(vals, [0.0, 1 / 0.75])
    frac = (y.numpy() == 0).mean()
    assert abs(frac - 0.25) < 0.01
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # d(x·m/(1−p))/dx = m/(1−p)
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(1.0)(x).numpy().sum() == 0
    with pytest.raises(ValueError):
        nn.Dropout(1.5)
    drop.train()
    assert drop(ag.ones(3)).dtype == np.float32


def test_embedding_lookup_and_gradient_by_hand():
    ag.manual_seed(0)
    emb = nn.Embedding(6, 3, dtype=np.float64)
    idx = np.array([[1, 4, 1], [0, 5, 1]])
    out = emb(idx)
    np.testing.assert_array_equal(out.numpy(), emb.weight.data[idx])
    g = _rng(3).normal(size=(2, 3, 3))
    out.backward(g)
    expected = np.zeros((6, 3))
    for (i, j), k in np.ndenumerate(idx):
        expected[k] += g[i, j]
    np.testing.assert_allclose(emb.weight.grad.numpy(), expected, rtol=1e-14)
    with pytest.raises(TypeError, match="integers"):
        emb(ag.tensor([1.0, 2.0]))
    with pytest.raises(IndexError, match="6"):
        emb(np.array([6]))


def test_layernorm_by_hand():
    rng = _rng(4)
    x = rng.normal(size=(2, 3, 4))
    ln = nn.LayerNorm((3, 4), dtype=np.float64)
    ln.weight.data[...] = rng.normal(size=(3, 4))
    ln.bias.data[...] = rng.normal(size=(3, 4))
    mu = x.mean(axis=(1, 2), keepdims=True)
    var = ((x - mu) ** 2).mean(axis=(1, 2), keepdims=True)
    expected = (x - mu) / np.sqrt(var + 1e-5) * ln.weight.data + ln.bias.data
    np.testing.assert_allclose(ln(ag.Tensor(x)).numpy(), expected, rtol=1e-12)
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    with pytest.raises(ValueError, match="normalized_shape"):
        ln(ag.ones(2, 4, 3))


# ----------------------------------------------------------------------------- vs PyTorch
def test_linear_matches_torch(torch):
    rng = _rng(5)
    x = rng.normal(size=(7, 4))
    layer = nn.Linear(4, 3, dtype=np.float64)
    tl = torch.nn.Linear(4, 3, dtype=torch.float64)
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(layer.weight.data))
        tl.bias.copy_(torch.from_numpy(layer.bias.data))
    xa, xt = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = layer(xa), tl(xt)
    np.testing.assert_allclose(ya.numpy(), yt.detach().numpy(), rtol=1e-13, atol=1e-15)
    g = rng.normal(size=(7, 3))
    ya.backward(g)
    yt.backward(torch.from_numpy(g))
    for a, t in [(layer.weight, tl.weight), (layer.bias, tl.bias), (xa, xt)]:
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape, norm", [((5, 6), 6), ((2, 3, 4), (3, 4))])
def test_layernorm_matches_torch(torch, shape, norm):
    rng = _rng(6)
    x = rng.normal(size=shape) * 3 + 1
    ln = nn.LayerNorm(norm, dtype=np.float64)
    tn = torch.nn.LayerNorm(norm, dtype=torch.float64)
    w = rng.normal(size=ln.weight.shape)
    b = rng.normal(size=ln.bias.shape)
    ln.weight.data[...] = w
    ln.bias.data[...] = b
    with torch.no_grad():
        tn.weight.copy_(torch.from_numpy(w))
        tn.bias.copy_(torch.from_numpy(b))
    xa, xt = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = ln(xa), tn(xt)
    np.testing.assert_allclose(ya.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.normal(size=shape)
    ya.backward(g)
    yt.backward(torch.from_numpy(g))
    for a, t in [(ln.weight, tn.weight), (ln.bias, tn.bias), (xa, xt)]:
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_matches_torch(torch, padding_idx):
    rng = _rng(7)
    emb = nn.Embedding(5, 4, padding_idx=padding_idx, dtype=np.float64)
    te = torch.nn.Embedding(5, 4, padding_idx=padding_idx, dtype=torch.float64)
    w = rng.normal(size=(5, 4))
    emb.weight.data[...] = w
    with torch.no_grad():
        te.weight.copy_(torch.from_numpy(w))
    idx = np.array([[0, 2, 2], [4, 2, 0]])
    ya, yt = emb(idx), te(torch.from_numpy(idx))
    np.testing.assert_array_equal(ya.numpy(), yt.detach().numpy())
    g = rng.normal(size=(2, 3, 4))
    ya.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(emb.weight.grad.numpy(), te.weight.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_embedding_padding_row_starts_at_zero():
    emb = nn.Embedding(4, 3, padding_idx=-1)
    assert emb.padding_idx == 3
    assert not emb.weight.data[3].any() and emb.weight.data[:3].any()


# ----------------------------------------------------------------------------- activations
def _erf(x):
    from math import erf

    return np.vectorize(erf)(x)


def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ACTIVATION_CASES = [
    (nn.Sigmoid(), lambda z: 1 / (1 + np.exp(-z))),
    (nn.Tanh(), np.tanh),
    (nn.ReLU(), lambda z: np.maximum(z, 0)),
    (nn.Softmax(), lambda z: _softmax(z, -1)),
    (nn.Softmax(axis=0), lambda z: _softmax(z, 0)),
    (nn.Softmax(dim=0), lambda z: _softmax(z, 0)),
    (nn.LogSoftmax(), lambda z: np.log(_softmax(z, -1))),
    (nn.LeakyReLU(), lambda z: np.where(z > 0, z, 0.01 * z)),
    (nn.LeakyReLU(0.3), lambda z: np.where(z > 0, z, 0.3 * z)),
    (nn.ELU(), lambda z: np.where(z > 0, z, np.exp(z) - 1)),
    (nn.ELU(0.5), lambda z: np.where(z > 0, z, 0.5 * (np.exp(z) - 1))),
    (nn.GELU(), lambda z: z * 0.5 * (1 + _erf(z / np.sqrt(2)))),
    (nn.SiLU(), lambda z: z / (1 + np.exp(-z))),
    (nn.Softplus(), lambda z: np.log1p(np.exp(z))),
    (nn.Softplus(beta=2.0), lambda z: np.log1p(np.exp(2 * z)) / 2),
]


@pytest.mark.parametrize("module, formula", ACTIVATION_CASES, ids=lambda v: repr(v) if isinstance(v, nn.Module) else "")
def test_activation_modules_match_their_formulas(module, formula):
    z = _rng(8).normal(size=(4, 5)) * 2
    np.testing.assert_allclose(module(ag.Tensor(z)).numpy(), formula(z), rtol=1e-12, atol=1e-14)
    assert ag.gradcheck(module, [ag.tensor(z, requires_grad=True)])


# ----------------------------------------------------------------------------- losses
def test_loss_modules_match_their_formulas():
    rng = _rng(9)
    pred, target = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    P = ag.Tensor(pred)
    assert nn.SquaredError()(P, target).item() == pytest.approx(0.5 * ((pred - target) ** 2).sum(), rel=1e-13)
    assert nn.MSELoss()(P, target).item() == pytest.approx(((pred - target) ** 2).mean(), rel=1e-13)
    assert nn.MSELoss(reduction="sum")(P, target).item() == pytest.approx(((pred - target) ** 2).sum(), rel=1e-13)
    np.testing.assert_allclose(nn.MSELoss(reduction="none")(P, target).numpy(), (pred - target) ** 2, rtol=1e-13)

    p = 1 / (1 + np.exp(-pred))
    t = (target > 0).astype(np.float64)
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert nn.BCELoss()(ag.Tensor(p), t).item() == pytest.approx(bce.mean(), rel=1e-12)
    assert nn.BCEWithLogitsLoss(reduction="sum")(P, t).item() == pytest.approx(bce.sum(), rel=1e-12)

    labels = rng.integers(0, 3, size=6)
    logp = pred - np.log(np.exp(pred).sum(axis=1, keepdims=True))
    nll = -logp[np.arange(6), labels]
    assert nn.CrossEntropyLoss()(P, labels).item() == pytest.approx(nll.mean(), rel=1e-12)
    np.testing.assert_allclose(nn.NLLLoss(reduction="none")(ag.Tensor(logp), labels).numpy(), nll, rtol=1e-13)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


# ----------------------------------------------------------------------------- init
def test_init_bounds_and_spreads_follow_the_formulas():
    ag.manual_seed(1)
    w = ag.zeros(300, 200, 2, 2, dtype=np.float64)  # fan_in = 200·4, fan_out = 300·4
    fan_in, fan_out = 800, 1200

    init.xavier_uniform_(w, gain=2.0)
    a = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w.data).max() <= a and np.abs(w.data).max() > 0.999 * a

    init.xavier_normal_(w)
    assert w.data.std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.01)

    init.kaiming_uniform_(w, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.999 * bound

    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2 / fan_out), rel=0.01)

    init.kaiming_uniform_(w, a=math.sqrt(5))  # PyTorch's Linear default: bound 1/√fan_in
    assert np.abs(w.data).max() <= 1 / math.sqrt(fan_in)

    init.normal_(w, mean=3.0, std=0.5)
    assert w.data.mean() == pytest.approx(3.0, abs=0.01) and w.data.std() == pytest.approx(0.5, rel=0.01)
    init.uniform_(w, -1.0, 2.0)
    assert w.data.min() >= -1.0 and w.data.max() < 2.0 and w.data.mean() == pytest.approx(0.5, abs=0.01)
    assert init.zeros_(w) is w and not w.data.any()
    assert (init.ones_(w).data == 1).all()
    assert (init.constant_(w, 0.25).data == 0.25).all()
    assert init.glorot_uniform_ is init.xavier_uniform_ and init.he_normal_ is init.kaiming_normal_
    with pytest.raises(ValueError, match="2 dimensions"):
        init.xavier_uniform_(ag.zeros(3))


def test_init_keeps_dtype_and_is_reproducible():
    w = ag.zeros(3, 4)
    ag.manual_seed(7)
    init.kaiming_normal_(w)
    first = w.data.copy()
    assert w.dtype == np.float32
    ag.manual_seed(7)
    init.kaiming_normal_(w)
    np.testing.assert_array_equal(w.data, first)


def test_calculate_gain():
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("sigmoid") == 1.0
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


# ----------------------------------------------------------------------------- clipping
def test_clip_grad_norm_by_hand():
    a = nn.Parameter(np.zeros(3))
    b = nn.Parameter(np.zeros((2, 2)))
    ga, gb = np.array([3.0, 0.0, 4.0]), np.array([[12.0, 0.0], [0.0, 0.0]])
    a.grad, b.grad = ga.copy(), gb.copy()
    total = nn.utils.clip_grad_norm_([a, b], max_norm=6.5)
    assert total.item() == pytest.approx(13.0, rel=1e-15)
    coef = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(a.grad.numpy(), ga * coef, rtol=1e-15)
    np.testing.assert_allclose(b.grad.numpy(), gb * coef, rtol=1e-15)
    a.grad = ga.copy()
    assert nn.utils.clip_grad_norm_(a, 100.0).item() == pytest.approx(5.0)
    np.testing.assert_array_equal(a.grad.numpy(), ga)  # below the limit: unchanged
    assert nn.utils.clip_grad_norm_([a], 1.0, norm_type=math.inf).item() == 4.0
    b.grad = np.array([[np.inf, 0], [0, 0]])
    with pytest.raises(RuntimeError, match="inf"):
        nn.utils.clip_grad_norm_([b], 1.0, error_if_nonfinite=True)
    a.grad = np.array([-3.0, 0.5, 2.0])
    nn.utils.clip_grad_value_([a], 1.0)
    np.testing.assert_array_equal(a.grad.numpy(), [-1.0, 0.5, 1.0])


@pytest.mark.parametrize("norm_type, max_norm", [(2.0, 0.5), (1.0, 0.3), (math.inf, 0.1), (3.0, 100.0)])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    rng = _rng(10)
    grads = [rng.normal(size=s) for s in [(4, 3), (3,), (2, 2, 2)]]
    ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad = g.copy()
        t.grad = torch.from_numpy(g.copy())
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total.item() == pytest.approx(t_total.item(), rel=1e-13)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_flatten_and_identity_layers():
    x = ag.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Flatten()(ag.tensor(5.0)).shape == (1,)
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), np.arange(24.0).reshape(2, 12))
    assert nn.Identity()(x) is x
