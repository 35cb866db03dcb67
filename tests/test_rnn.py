"""Recurrent layers (``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` and their cells) and the scan ops behind
them (``autograd.ops.recurrent``).

Expected values come from PyTorch (the ``torch`` fixture; PyTorch's weights are loaded into ours
through the state dict, so every comparison is also a state-dict round trip), from
``ag.gradcheck``/``ag.gradgradcheck`` (float64 finite differences), or from hand-written NumPy.
Each PyTorch comparison checks the outputs, then back-propagates one fixed random weighting of
all of them and checks the gradient of every parameter, of the input and of the initial state.

Tolerances: float64 agrees with PyTorch to a few ulps of the values involved (rtol 1e-10,
atol 1e-12); float32 to its own rounding (rtol 1e-4, atol 1e-5).
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
from autograd import graph, nn
from autograd.ops import recurrent as R

I, H, T, N = 3, 4, 5, 2  # input size, hidden size, steps, batch
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-5)}
KINDS = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {}), ("LSTM", {})]
CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("GRUCell", {}), ("LSTMCell", {})]


def _id(kind_kw):
    kind, kw = kind_kw
    return kind + ("-relu" if kw.get("nonlinearity") == "relu" else "")


# ----------------------------------------------------------------------------- PyTorch oracle
def _pair(torch, kind, dtype, **kw):
    """PyTorch's module and ours, holding PyTorch's freshly drawn weights."""
    tdtype = torch.float64 if dtype is np.float64 else torch.float32
    theirs = getattr(torch.nn, kind)(I, H, dtype=tdtype, **kw)
    ours = getattr(nn, kind)(I, H, dtype=dtype, **kw)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _flat(out) -> list:
    if isinstance(out, (tuple, list)):
        return [y for o in out for y in _flat(o)]
    return [out]


def _compare(torch, ours, theirs, x, hx, dtype, rng):
    """Run both modules on ``x`` and ``hx`` (None, an array, or a pair of arrays) and compare
    outputs, then the gradients of parameters, input and initial state."""
    tol = TOL[dtype]
    xo, xt = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if hx is None:
        out_o, out_t, hs_o, hs_t = ours(xo), theirs(xt), [], []
    else:
        pairs = hx if isinstance(hx, tuple) else (hx,)
        hs_o = [ag.tensor(h, requires_grad=True) for h in pairs]
        hs_t = [torch.tensor(h, requires_grad=True) for h in pairs]
        wrap = tuple if isinstance(hx, tuple) else (lambda hs: hs[0])
        out_o, out_t = ours(xo, wrap(hs_o)), theirs(xt, wrap(hs_t))
    ys_o, ys_t = _flat(out_o), _flat(out_t)
    assert len(ys_o) == len(ys_t)
    loss_o = loss_t = 0
    for yo, yt in zip(ys_o, ys_t):
        assert yo.dtype == dtype and yo.shape == tuple(yt.shape)
        np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), **tol)
        w = rng.normal(size=yo.shape).astype(dtype)
        loss_o = loss_o + (yo * ag.Tensor(w)).sum()
        loss_t = loss_t + (yt * torch.from_numpy(w)).sum()
    loss_o.backward()
    loss_t.backward()
    named_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad.dtype == dtype, name
        np.testing.assert_allclose(p.grad.numpy(), named_t[name].grad.numpy(), err_msg=name, **tol)
    w_ih = ours.weight_ih_l0 if hasattr(ours, "weight_ih_l0") else ours.weight_ih
    assert np.abs(w_ih.grad.numpy()).max() > 0  # the comparison is not one of zeros
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), err_msg="input", **tol)
    for k, (ho, ht) in enumerate(zip(hs_o, hs_t)):
        np.testing.assert_allclose(ho.grad.numpy(), ht.grad.numpy(), err_msg=f"state {k}", **tol)


# layer configurations: (constructor arguments, batched, given initial state, dtype)
LAYERS = [
    (dict(), True, False, np.float64),
    (dict(), True, True, np.float32),
    (dict(num_layers=2), True, True, np.float64),
    (dict(num_layers=2, batch_first=True), True, False, np.float32),
    (dict(num_layers=3, bias=False, batch_first=True), True, True, np.float64),
    (dict(bidirectional=True), True, True, np.float64),
    (dict(num_layers=2, bidirectional=True, batch_first=True), True, True, np.float32),
    (dict(num_layers=2, bidirectional=True), False, True, np.float64),
    (dict(num_layers=2), False, False, np.float32),
    (dict(batch_first=True), False, True, np.float64),  # batch_first does not apply unbatched
]


@pytest.mark.parametrize("config", LAYERS, ids=lambda c: "-".join(
    [f"{k}={v}" for k, v in c[0].items()] + ["batched" if c[1] else "unbatched",
                                             "h0" if c[2] else "no-h0", c[3].__name__]))
@pytest.mark.parametrize("kind", KINDS, ids=_id)
def test_layer_matches_torch(torch, kind, config):
    kw, batched, with_state, dtype = config
    rng = np.random.default_rng(len(LAYERS) * KINDS.index(kind) + LAYERS.index(config))
    ours, theirs = _pair(torch, kind[0], dtype, **kind[1], **kw)
    states = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    if batched:
        shape = (N, T, I) if kw.get("batch_first") else (T, N, I)
        state_shape = (states, N, H)
    else:
        shape, state_shape = (T, I), (states, H)
    x = rng.normal(size=shape).astype(dtype)
    hx = None
    if with_state:
        hx = rng.normal(size=state_shape).astype(dtype)
        if kind[0] == "LSTM":
            hx = (hx, rng.normal(size=state_shape).astype(dtype))
    _compare(torch, ours, theirs, x, hx, dtype, rng)


# cell configurations: (constructor arguments, batched, given state, dtype)
CELL_CONFIGS = [
    (dict(), True, True, np.float64),
    (dict(), True, False, np.float32),
    (dict(), False, True, np.float64),
    (dict(bias=False), True, True, np.float32),
]


@pytest.mark.parametrize("config", CELL_CONFIGS, ids=lambda c: "-".join(
    [f"{k}={v}" for k, v in c[0].items()] + ["batched" if c[1] else "unbatched",
                                             "hx" if c[2] else "no-hx", c[3].__name__]))
@pytest.mark.parametrize("kind", CELLS, ids=_id)
def test_cell_matches_torch(torch, kind, config):
    kw, batched, with_state, dtype = config
    rng = np.random.default_rng(10 * CELLS.index(kind) + CELL_CONFIGS.index(config))
    ours, theirs = _pair(torch, kind[0], dtype, **kind[1], **kw)
    x = rng.normal(size=(N, I) if batched else (I,)).astype(dtype)
    hx = None
    if with_state:
        hx = rng.normal(size=(N, H) if batched else (H,)).astype(dtype)
        if kind[0] == "LSTMCell":
            hx = (hx, rng.normal(size=hx.shape).astype(dtype))
    _compare(torch, ours, theirs, x, hx, dtype, rng)


@pytest.mark.parametrize("kind", CELLS, ids=_id)
def test_cell_unrolled_over_steps_matches_torch(torch, kind):
    """Gradients flow through the state over several steps of a cell."""
    rng = np.random.default_rng(7)
    ours, theirs = _pair(torch, kind[0], np.float64, **kind[1])
    xs = rng.normal(size=(T, N, I))
    lstm = kind[0] == "LSTMCell"
    so = st = None
    loss_o = loss_t = 0
    for t in range(T):
        so = ours(ag.Tensor(xs[t]), so)
        st = theirs(torch.from_numpy(xs[t]), st)
        h_o, h_t = (so[0], st[0]) if lstm else (so, st)
        w = rng.normal(size=(N, H))
        loss_o = loss_o + (h_o * ag.Tensor(w)).sum()
        loss_t = loss_t + (h_t * torch.from_numpy(w)).sum()
    np.testing.assert_allclose(loss_o.item(), loss_t.item(), rtol=1e-12)
    loss_o.backward()
    loss_t.backward()
    named_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), named_t[name].grad.numpy(), err_msg=name,
                                   **TOL[np.float64])


def test_second_derivatives_match_torch(torch):
    """The gradient of a gradient through a 2-layer LSTM: d/dW ‖∂L/∂x‖², against PyTorch."""
    rng = np.random.default_rng(3)
    ours, theirs = _pair(torch, "LSTM", np.float64, num_layers=2)
    x = rng.normal(size=(T, N, I))
    w = rng.normal(size=(T, N, H))
    xo, xt = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (go,) = ag.grad((ours(xo)[0] * ag.Tensor(w)).sum(), [xo], create_graph=True)
    (gt,) = torch.autograd.grad((theirs(xt)[0] * torch.from_numpy(w)).sum(), [xt], create_graph=True)
    (go * go).sum().backward()
    (gt * gt).sum().backward()
    named_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), named_t[name].grad.numpy(), err_msg=name,
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_inter_layer_dropout_of_one_zeroes_the_second_layers_input_as_torch(torch, kind):
    """Dropout p = 1 is deterministic: in training, layer 2 sees zeros; the output itself is
    not dropped (dropout comes after every layer but the last)."""
    rng = np.random.default_rng(5)
    ours, theirs = _pair(torch, kind, np.float64, num_layers=2, dropout=1.0)
    _compare(torch, ours, theirs, rng.normal(size=(T, N, I)), None, np.float64, rng)
    assert np.abs(ours(ag.Tensor(rng.normal(size=(T, N, I))))[0].numpy()).max() > 0


def test_inter_layer_dropout_masks_the_first_layers_output():
    """Training mode, p = 0.5: layer 2 receives layer 1's output times a keep-mask / (1 − p),
    the mask drawn as ``nn.Dropout`` draws it; eval mode applies no dropout."""
    rng = np.random.default_rng(6)
    x = ag.Tensor(rng.normal(size=(T, N, I)))
    two = nn.GRU(I, H, num_layers=2, dropout=0.5, dtype=np.float64)
    one = nn.GRU(I, H, dtype=np.float64)
    top = nn.GRU(H, H, dtype=np.float64)
    state = dict(two.state_dict())
    one.load_state_dict({k: v for k, v in state.items() if k.endswith("l0")})
    top.load_state_dict({k.replace("l1", "l0"): v for k, v in state.items() if k.endswith("l1")})
    ag.manual_seed(11)
    got = two(x)[0].numpy()
    ag.manual_seed(11)
    keep = ag.creation.generator().random((T, N, H)) >= 0.5
    expected = top(one(x)[0] * ag.Tensor(keep / 0.5))[0].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    assert 0.2 < keep.mean() < 0.8
    two.eval()
    np.testing.assert_allclose(two(x)[0].numpy(), top(one(x)[0])[0].numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("kind", KINDS, ids=_id)
def test_state_dict_names_shapes_and_order_are_torchs(torch, kind):
    for kw in (dict(), dict(num_layers=2, bidirectional=True), dict(num_layers=2, bias=False)):
        ours = getattr(nn, kind[0])(I, H, **kind[1], **kw)
        theirs = getattr(torch.nn, kind[0])(I, H, **kind[1], **kw)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
               [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    for kw in (dict(), dict(bias=False)):
        ours = getattr(nn, kind[0] + "Cell")(I, H, **kind[1], **kw)
        theirs = getattr(torch.nn, kind[0] + "Cell")(I, H, **kind[1], **kw)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
               [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM", "LSTMCell"])
def test_our_state_dict_loads_into_torch_and_through_save_and_load(torch, tmp_path, kind):
    rng = np.random.default_rng(8)
    kw = {} if kind.endswith("Cell") else dict(num_layers=2, bidirectional=True)
    ours = getattr(nn, kind)(I, H, dtype=np.float64, **kw)
    theirs = getattr(torch.nn, kind)(I, H, **kw)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = rng.normal(size=(N, I) if kind.endswith("Cell") else (T, N, I))
    for a, b in zip(_flat(ours(ag.Tensor(x))), _flat(theirs(torch.from_numpy(x)))):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL[np.float64])
    ag.save(ours.state_dict(), tmp_path / "rnn.npz")
    again = getattr(nn, kind)(I, H, dtype=np.float64, **kw)
    again.load_state_dict(ag.load(tmp_path / "rnn.npz"))
    for a, b in zip(_flat(ours(ag.Tensor(x))), _flat(again(ag.Tensor(x)))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell"])
def test_initialisation_is_uniform_in_plus_minus_one_over_sqrt_hidden(kind):
    ag.manual_seed(0)
    hidden = 256  # the smallest tensors, RNN biases, then have 256 draws
    kw = {} if kind.endswith("Cell") else dict(num_layers=2)
    m = getattr(nn, kind)(8, hidden, **kw)
    bound = 1 / np.sqrt(hidden)
    for name, p in m.named_parameters():
        v = p.numpy()
        assert p.dtype == np.float32, name
        assert np.abs(v).max() <= bound, name
        assert v.max() > 0.9 * bound and v.min() < -0.9 * bound, name  # spread over the range
        assert abs(v.mean()) < 0.1 * bound, name
    ag.manual_seed(0)
    again = getattr(nn, kind)(8, hidden, **kw)
    for (_, p), (_, q) in zip(m.named_parameters(), again.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_repr_and_attributes_follow_torch(torch):
    for kind, kw in [("LSTM", dict(num_layers=2, bidirectional=True)),
                     ("RNN", dict(bias=False, batch_first=True, dropout=0.5, num_layers=2)),
                     ("GRU", {}), ("GRUCell", dict(bias=False)), ("LSTMCell", {})]:
        assert repr(getattr(nn, kind)(I, H, **kw)) == repr(getattr(torch.nn, kind)(I, H, **kw))
    m = nn.LSTM(I, H, 2, bidirectional=True)
    assert (m.input_size, m.hidden_size, m.num_layers, m.bias, m.batch_first, m.dropout,
            m.bidirectional, m.proj_size, m.mode) == (I, H, 2, True, False, 0.0, True, 0, "LSTM")
    assert [[tuple(w.shape) for w in ws] for ws in m.all_weights] == \
           [[tuple(w.shape) for w in ws] for ws in torch.nn.LSTM(I, H, 2, bidirectional=True).all_weights]
    assert repr(nn.RNN(I, H, nonlinearity="relu")) == "RNN(3, 4, nonlinearity=relu)"
    assert repr(nn.RNNCell(I, H, nonlinearity="relu")) == repr(torch.nn.RNNCell(I, H, nonlinearity="relu"))


def test_positional_arguments_in_torchs_order():
    m = nn.RNN(I, H, 2, "relu", False, True, 0.25, True)
    assert (m.num_layers, m.mode, m.bias, m.batch_first, m.dropout, m.bidirectional) == \
           (2, "RNN_RELU", False, True, 0.25, True)
    m = nn.LSTM(I, H, 2, False, True, 0.25, True)
    assert (m.num_layers, m.bias, m.batch_first, m.dropout, m.bidirectional) == (2, False, True, 0.25, True)
    c = nn.RNNCell(I, H, False, "relu")
    assert (c.bias, c.nonlinearity, c.bias_ih) == (False, "relu", None)


# ----------------------------------------------------------------------------- gradcheck
SCANS = {
    "rnn": (lambda *a, rev: R.rnn_scan(*a, reverse=rev), 1, 1),
    "rnn-relu": (lambda *a, rev: R.rnn_scan(*a, nonlinearity="relu", reverse=rev), 1, 1),
    "gru": (lambda *a, rev: R.gru_scan(*a, reverse=rev), 3, 1),
    "lstm": (lambda *a, rev: R.lstm_scan(*a, reverse=rev), 4, 2),
}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("name", list(SCANS))
def test_scan_ops_gradcheck_and_gradgradcheck(name, reverse, bias):
    """Every output of the op (states and, for GRU and LSTM, gates) against finite differences,
    first and second derivatives, in both directions, with and without b_hh."""
    fn, gates, states = SCANS[name]
    rng = np.random.default_rng([list(SCANS).index(name), reverse, bias])
    hidden = 2
    shapes = [(3, 2, gates * hidden)] + [(2, hidden)] * states + [(gates * hidden, hidden)]
    shapes += [(gates * hidden,)] if bias else []
    arrays = [rng.normal(size=s) for s in shapes]
    if name == "rnn-relu":  # keep pre-activations away from relu's kink
        arrays[0] = arrays[0] + np.where(arrays[0] >= 0, 0.5, -0.5)
    leaves = [ag.tensor(a, requires_grad=True) for a in arrays]
    assert ag.gradcheck(lambda *a: fn(*a, rev=reverse), leaves)
    assert ag.gradgradcheck(lambda *a: fn(*a, rev=reverse), leaves)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_layer_gradcheck_input_and_initial_state(kind):
    """The wiring of a 2-layer bidirectional layer, batch_first, against finite differences in
    its input and initial state."""
    ag.manual_seed(1)
    m = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64)
    rng = np.random.default_rng(2)
    x = ag.tensor(rng.normal(size=(2, 3, 2)), requires_grad=True)
    h0 = ag.tensor(rng.normal(size=(4, 2, 3)), requires_grad=True)
    c0 = ag.tensor(rng.normal(size=(4, 2, 3)), requires_grad=True)
    if kind == "LSTM":
        assert ag.gradcheck(lambda x, h, c: ag.cat([m(x, (h, c))[0].reshape(-1),
                                                     m(x, (h, c))[1][1].reshape(-1)]), (x, h0, c0))
    else:
        assert ag.gradcheck(lambda x, h: ag.cat([m(x, h)[0].reshape(-1), m(x, h)[1].reshape(-1)]), (x, h0))


# ----------------------------------------------------------------------------- design and care
def test_one_node_per_layer_and_direction_whatever_the_length():
    """The recurrence is one op per layer and direction: the graph does not grow with T."""
    def nodes(out):
        seen, stack = set(), [out]
        while stack:
            t = stack.pop()
            if t.grad_fn is not None and t.grad_fn not in seen:
                seen.add(t.grad_fn)
                stack.extend(t.grad_fn.inputs)
        return seen

    m = nn.LSTM(I, H, num_layers=2, bidirectional=True)
    short = nodes(m(ag.randn(3, N, I))[0])
    long = nodes(m(ag.randn(50, N, I))[0])
    assert len(short) == len(long)
    assert sum(n.op is graph.REGISTRY["lstm_scan"] for n in long) == 4


@pytest.mark.parametrize("kind", KINDS, ids=_id)
def test_huge_inputs_stay_finite_and_silent_in_float32(torch, kind):
    """Saturated gates: no overflow, NaN or warning (pytest turns warnings into errors), and
    still PyTorch's values."""
    rng = np.random.default_rng(9)
    ours, theirs = _pair(torch, kind[0], np.float32, **kind[1])
    x = (rng.normal(size=(T, N, I)) * 1e4).astype(np.float32)
    out, _ = ours(ag.Tensor(x))
    assert np.isfinite(out.numpy()).all()
    if kind[0] != "RNN" or kind[1].get("nonlinearity") != "relu":  # relu grows without bound
        np.testing.assert_allclose(out.numpy(), theirs(torch.from_numpy(x))[0].detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
    out.sum().backward()
    assert all(np.isfinite(p.grad.numpy()).all() for p in ours.parameters())


def test_unbatched_and_batched_give_the_same_values():
    """Checked without PyTorch: one sequence alone equals the same sequence in a batch of one."""
    ag.manual_seed(4)
    m = nn.LSTM(I, H, num_layers=2, bidirectional=True, dtype=np.float64)
    x = np.random.default_rng(4).normal(size=(T, I))
    out1, (h1, c1) = m(ag.Tensor(x))
    outb, (hb, cb) = m(ag.Tensor(x[:, None, :]))
    np.testing.assert_allclose(out1.numpy(), outb.numpy()[:, 0], rtol=1e-14)
    np.testing.assert_allclose(h1.numpy(), hb.numpy()[:, 0], rtol=1e-14)
    np.testing.assert_allclose(c1.numpy(), cb.numpy()[:, 0], rtol=1e-14)


def test_rnn_step_by_hand():
    """One tanh RNN layer, two steps, worked out in NumPy from the definition."""
    m = nn.RNN(2, 2, dtype=np.float64)
    w_ih, w_hh = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[0.1, 0.2], [-0.3, 0.4]])
    b_ih, b_hh = np.array([0.1, -0.2]), np.array([0.05, 0.0])
    m.load_state_dict(dict(weight_ih_l0=w_ih, weight_hh_l0=w_hh, bias_ih_l0=b_ih, bias_hh_l0=b_hh))
    x = np.array([[[1.0, 2.0]], [[-1.0, 0.5]]])  # (T=2, N=1, 2)
    h1 = np.tanh(x[0] @ w_ih.T + b_ih + b_hh)
    h2 = np.tanh(x[1] @ w_ih.T + b_ih + h1 @ w_hh.T + b_hh)
    out, h_n = m(ag.Tensor(x))
    np.testing.assert_allclose(out.numpy(), np.stack([h1, h2]), rtol=1e-15)
    np.testing.assert_allclose(h_n.numpy(), h2[None], rtol=1e-15)
    # d h2.sum() / d W_hh = (1 − h2²)ᵀ h1 (h1 itself does not depend on W_hh)
    h_n.sum().backward()
    np.testing.assert_allclose(m.weight_hh_l0.grad.numpy(), (1 - h2 * h2).T @ h1, rtol=1e-14)


def test_module_conversion_to_double_and_back():
    m = nn.GRU(I, H)
    x = np.random.default_rng(0).normal(size=(T, N, I))
    m.double()
    out, h = m(ag.Tensor(x))
    assert out.dtype == np.float64 and h.dtype == np.float64
    m.float()
    out, h = m(ag.Tensor(x.astype(np.float32)))
    assert out.dtype == np.float32 and h.dtype == np.float32


# ----------------------------------------------------------------------------- errors
def _err(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.type, str(info.value)


def test_wrong_input_size_names_both_sizes():
    for m, x in [(nn.LSTM(3, 4), ag.zeros(5, 2, 7)), (nn.GRU(3, 4), ag.zeros(5, 7)),
                 (nn.RNNCell(3, 4), ag.zeros(2, 7)), (nn.LSTMCell(3, 4), ag.zeros(7))]:
        kind, msg = _err(lambda m=m, x=x: m(x))
        assert kind is ValueError and "7 features" in msg and "input_size is 3" in msg, msg


def test_wrong_initial_state_shape_names_both_shapes():
    x = ag.zeros(5, 2, 3)
    cases = [
        (lambda: nn.RNN(3, 4, num_layers=2)(x, ag.zeros(1, 2, 4)), "(2, 2, 4)", "(1, 2, 4)"),
        (lambda: nn.GRU(3, 4)(x, ag.zeros(1, 3, 4)), "(1, 2, 4)", "(1, 3, 4)"),
        (lambda: nn.LSTM(3, 4, bidirectional=True)(x, (ag.zeros(2, 2, 4), ag.zeros(2, 2, 5))),
         "(2, 2, 4)", "(2, 2, 5)"),
        (lambda: nn.LSTM(3, 4)(ag.zeros(5, 3), (ag.zeros(1, 1, 4), ag.zeros(1, 1, 4))),
         "(1, 4)", "(1, 1, 4)"),  # an unbatched input wants unbatched states
        (lambda: nn.GRUCell(3, 4)(ag.zeros(2, 3), ag.zeros(3, 4)), "(2, 4)", "(3, 4)"),
        (lambda: nn.LSTMCell(3, 4)(ag.zeros(3), (ag.zeros(4), ag.zeros(1, 4))), "(4,)", "(1, 4)"),
    ]
    for fn, expected, got in cases:
        kind, msg = _err(fn)
        assert kind is ValueError and expected in msg and got in msg, msg


def test_bad_nonlinearity_is_named():
    for fn in (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"),
               lambda: nn.RNNCell(3, 4, nonlinearity="sigmoid"),
               lambda: R.rnn_scan(ag.zeros(1, 1, 2), ag.zeros(1, 2), ag.zeros(2, 2), nonlinearity="sigmoid")):
        kind, msg = _err(fn)
        assert kind is ValueError and "'sigmoid'" in msg and "tanh" in msg and "relu" in msg, msg


def test_other_bad_arguments_and_inputs_are_named():
    cases = [
        (lambda: nn.LSTM(3, 4, proj_size=2), NotImplementedError, "proj_size=2"),
        (lambda: nn.GRU(3, 4, num_layers=2, dropout=1.5), ValueError, "dropout"),
        (lambda: nn.GRU(3, 0), ValueError, "hidden_size must be at least 1, got 0"),
        (lambda: nn.RNN(3, 4, num_layers=0), ValueError, "num_layers must be at least 1"),
        (lambda: nn.RNN(3.5, 4), TypeError, "input_size must be an int"),
        (lambda: nn.LSTM(3, 4)(ag.zeros(2, 5, 2, 3)), ValueError, "(2, 5, 2, 3)"),
        (lambda: nn.LSTM(3, 4)(ag.zeros(0, 2, 3)), ValueError, "empty"),
        (lambda: nn.LSTM(3, 4)(ag.zeros(5, 2, 3), ag.zeros(1, 2, 4)), TypeError, "pair (h_0, c_0)"),
        (lambda: nn.LSTMCell(3, 4)(ag.zeros(2, 3), ag.zeros(2, 4)), TypeError, "pair of tensors"),
        (lambda: nn.LSTMCell(3, 4)(ag.zeros(2, 3), (ag.zeros(2, 4), None)), TypeError, "NoneType"),
        (lambda: nn.RNNCell(3, 4)(ag.zeros(1, 2, 3)), ValueError, "(1, 2, 3)"),
        (lambda: nn.GRU(3, 4)(np.zeros((5, 2, 3))), TypeError, "float64 but the parameters are float32"),
        (lambda: nn.GRU(3, 4)(ag.zeros(5, 2, 3), np.zeros((1, 2, 4))), TypeError, "h_0 has dtype float64"),
        (lambda: R.lstm_scan(ag.zeros(2, 1, 8), ag.zeros(1, 2), ag.zeros(1, 2), ag.zeros(6, 2)),
         ValueError, "(4·H, H)"),
        (lambda: R.gru_scan(ag.zeros(2, 1, 6), ag.zeros(3, 2), ag.zeros(6, 2)), ValueError,
         "h0 must have shape (1, 2)"),
    ]
    for fn, kind, text in cases:
        got, msg = _err(fn)
        assert got is kind and text in msg, (text, msg)


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.LSTM(3, 4, dropout=0.3)
