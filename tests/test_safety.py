"""Never a silently wrong gradient: in-place changes, threads, anomaly mode, IEEE special values,
and the edges around the arithmetic (loading, dtypes, NaN conventions, empty reductions).

Expected values come from PyTorch (the ``torch`` fixture), from hand-derived formulas, or from
the behaviour a user can see (an error, or no warning).
"""
from __future__ import annotations

import threading
import warnings
import zipfile

import numpy as np
import pytest

import autograd as ag
from autograd import nn, optim
from autograd.serialization import LoadError

rng = np.random.default_rng(5)


def leaf(values):
    return ag.Tensor(np.array(values, dtype=np.float64), requires_grad=True)


# ----------------------------------------------------------------------------- 1. versions
def test_an_optimizer_step_between_forward_and_backward_raises():
    W = nn.Parameter(np.array([1.0, -2.0, 3.0]), name="W")
    opt = optim.SGD([W], lr=0.5)
    loss1, loss2 = (W * W).sum(), (W * W * W).sum()
    loss1.backward()
    opt.step()
    W.grad = None
    with pytest.raises(RuntimeError, match=r"backward of 'mul'.*'W'.*modified by an in-place"):
        loss2.backward()  # the recorded W was [1, -2, 3]; the array now holds the stepped values


def test_a_step_through_a_view_is_seen():
    """x @ W.T saves the transposed view of W: stepping W changes the view's values too."""
    W = nn.Parameter(rng.standard_normal((2, 3)))
    x = ag.Tensor(rng.standard_normal((4, 3)))
    loss = (x @ W.T).tanh().sum()
    with ag.no_grad():
        W -= 0.1
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        loss.backward()


@pytest.mark.parametrize("write", [
    lambda c, d: c.__setitem__(0, 100.0),  # into the constant itself
    lambda c, d: d.__setitem__(0, 100.0),  # through a detached copy of it
    lambda c, d: c.zero_(),
    lambda c, d: c.__iadd__(1.0),
])
def test_writing_into_a_saved_constant_raises(write):
    x = leaf([1.0, 2.0, 3.0])
    c = ag.tensor([4.0, 5.0, 6.0], dtype=np.float64)
    d = c.detach()
    y = (x * c).sum()
    write(c, d)
    with pytest.raises(RuntimeError, match=r"backward of 'mul': its input 1"):
        y.backward()


def test_a_write_through_detach_of_the_input_raises():
    x = leaf([1.0, 2.0, 3.0])
    y = (x * x).sum()
    x.detach()[0] = 10.0
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        y.backward()


def test_values_backward_does_not_read_may_change():
    x = leaf([1.0, 2.0, 3.0])
    c = ag.tensor([4.0, 5.0, 6.0], dtype=np.float64)
    y = ((x + c) * 2.0).sum()  # add reads neither input; the product reads x + c, not c
    c[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_an_output_read_by_its_rule_and_changed_under_no_grad_raises():
    x = leaf([0.5, 1.0])
    y = x.exp()  # exp's rule reads its output
    with ag.no_grad():
        y += 1.0
    with pytest.raises(RuntimeError, match=r"backward of 'exp': its output"):
        y.sum().backward()


def test_a_second_backward_after_a_step_raises_even_with_retain_graph():
    W = nn.Parameter(np.array([1.0, 2.0]))
    opt = optim.SGD([W], lr=0.1)
    loss = (W * W).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        loss.backward()


def test_function_saved_tensors_are_checked():
    class Square(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2.0 * x

    x = leaf([1.0, 2.0])
    y = Square.apply(x).sum()
    with ag.no_grad():
        x += 1.0
    with pytest.raises(RuntimeError, match=r"'Square'.*modified by an in-place"):
        y.backward()


def test_function_saved_tensors_outside_its_inputs_are_checked():
    c = ag.tensor([3.0, 4.0], dtype=np.float64)

    class ScaleBy(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(c)  # a tensor that is not an input
            return x * c

        @staticmethod
        def backward(ctx, g):
            (k,) = ctx.saved_tensors
            return g * k

    x = leaf([1.0, 2.0])
    y = ScaleBy.apply(x).sum()
    c[0] = 30.0
    with pytest.raises(RuntimeError, match=r"ScaleBy.backward: saved tensor 0"):
        y.backward()


def test_versions_count_in_place_changes_and_training_loops_never_trip():
    w = nn.Parameter(rng.standard_normal(3))
    assert w._version == 0
    opt = optim.Adam([w], lr=0.1)
    x = ag.Tensor(rng.standard_normal((5, 3)))
    for _ in range(5):
        opt.zero_grad()
        ((x @ w).tanh() ** 2).sum().backward()
        opt.step()
    assert w._version == 5
    w.grad.zero_()
    np.testing.assert_array_equal(w.grad.numpy(), 0.0)


def test_training_with_steps_matches_pytorch(torch):
    """The version checks never fire in an ordinary loop, and the numbers are PyTorch's."""
    w0 = rng.standard_normal((3, 2))
    x = rng.standard_normal((6, 3))
    w = nn.Parameter(w0.copy())
    wt = torch.tensor(w0.copy(), requires_grad=True)
    opt, opt_t = optim.SGD([w], lr=0.1, momentum=0.9), torch.optim.SGD([wt], lr=0.1, momentum=0.9)
    for _ in range(10):
        opt.zero_grad()
        opt_t.zero_grad()
        (ag.Tensor(x) @ w).sigmoid().sum().backward()
        (torch.tensor(x) @ wt).sigmoid().sum().backward()
        opt.step()
        opt_t.step()
    np.testing.assert_allclose(w.numpy(), wt.detach().numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- 2. threads
def test_grad_mode_is_per_thread():
    """One thread toggles no_grad as fast as it can while another records: every op of the
    recording thread must be recorded, and grad mode must be on again when both are done."""
    stop = threading.Event()
    errors: list = []

    def toggler():
        while not stop.is_set():
            with ag.no_grad():
                ag.ones(2) * 2.0

    def recorder():
        x = ag.tensor([1.0, 2.0], requires_grad=True)
        for _ in range(2000):
            y = x * 3.0
            if not y.requires_grad:
                errors.append("an op was not recorded")
                return

    t1, t2 = threading.Thread(target=toggler), threading.Thread(target=recorder)
    t1.start()
    t2.start()
    t2.join()
    stop.set()
    t1.join()
    assert errors == []
    assert ag.is_grad_enabled()


def test_a_backward_in_one_thread_does_not_switch_off_recording_in_another():
    seen = []
    go = threading.Event()

    def slow_hook(g):
        go.set()  # the other thread records while this backward is running
        done.wait(5)
        return g

    done = threading.Event()
    x = leaf([1.0, 2.0])
    y = (x * 2.0)
    y.register_hook(slow_hook)

    def other():
        go.wait(5)
        seen.append((ag.tensor([1.0], requires_grad=True) * 2.0).requires_grad)
        done.set()

    t = threading.Thread(target=other)
    t.start()
    y.sum().backward()
    t.join()
    assert seen == [True]


def test_two_threads_train_two_models_at_once():
    def train(seed, out):
        r = np.random.default_rng(seed)
        x, t = ag.Tensor(r.standard_normal((16, 4))), ag.Tensor(r.standard_normal((16, 1)))
        w = nn.Parameter(r.standard_normal((4, 1)))
        opt = optim.SGD([w], lr=0.05)
        for _ in range(200):
            opt.zero_grad()
            ((x @ w - t) ** 2).mean().backward()
            with ag.no_grad():  # toggles this thread's grad mode, and only this thread's
                (x * 2.0).sum()
            opt.step()
        out[seed] = w.numpy().copy()

    alone: dict = {}
    train(1, alone)
    train(2, alone)
    together: dict = {}
    threads = [threading.Thread(target=train, args=(s, together)) for s in (1, 2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for s in (1, 2):
        np.testing.assert_array_equal(together[s], alone[s])


# ----------------------------------------------------------------------------- 3. generators
def test_no_grad_covers_a_generator_body():
    x = leaf([1.0, 2.0])

    @ag.no_grad()
    def targets():
        for k in range(3):
            yield x * float(k)

    outside = []
    for t in targets():
        assert not t.requires_grad
        outside.append(ag.is_grad_enabled())  # the consumer's own code still records
    assert outside == [True, True, True]


# ----------------------------------------------------------------------------- 4. in-place
def test_in_place_on_a_leaf_that_requires_grad_raises():
    w = leaf([1.0, 2.0])
    for op in (lambda: w.__iadd__(1.0), lambda: w.__imul__(2.0), lambda: w.__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError, match="requires grad"):
            op()


def test_manual_sgd_under_no_grad_updates_in_place_and_keeps_training():
    w = nn.Parameter(np.array([2.0, -1.0]))
    alias = w
    opt = optim.SGD([w], lr=0.1)
    for step in range(4):
        loss = (w * w).sum()
        loss.backward()
        if step % 2:
            opt.step()
        else:
            with ag.no_grad():
                w -= 0.1 * w.grad
        w.grad = None
    assert w is alias and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.numpy(), np.array([2.0, -1.0]) * 0.8 ** 4, rtol=1e-12)


def test_in_place_outside_a_graph_changes_every_reference():
    a = ag.tensor([1.0, 2.0])
    b = a
    a += 1.0
    a *= ag.tensor([2.0, 3.0])
    assert b is a
    np.testing.assert_array_equal(b.numpy(), [4.0, 9.0])
    assert a._version == 2
    with pytest.raises(TypeError, match=r"x \+= \.\.\..*int64"):
        ag.tensor(np.array([1, 2])).__iadd__(0.5)  # float into an integer tensor


def test_in_place_inside_a_graph_gives_a_new_recorded_tensor():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    z = y
    y *= y  # a new tensor bound to y; z keeps the product's old values
    np.testing.assert_array_equal(z.numpy(), [2.0, 4.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 8.0 * x.numpy(), rtol=1e-12)  # d(4x²)/dx


# ----------------------------------------------------------------------------- anomaly mode
def test_anomaly_mode_names_the_op_and_the_line_of_a_forward_nan():
    x = leaf([-1.0, 1.0])
    with ag.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"forward of 'sqrt' produced NaN.*test_safety.py:\d+"):
            x.sqrt()


def test_anomaly_mode_names_where_the_forward_of_a_bad_backward_ran():
    x = leaf([0.0, 1.0])
    with ag.detect_anomaly():
        y = x.sqrt().sum()  # forward finite; backward 1/(2√0) = inf
        with pytest.raises(FloatingPointError,
                           match=r"backward of 'sqrt' returned Inf.*test_safety.py:\d+.*x\.sqrt"):
            y.backward()


def test_outside_anomaly_mode_special_values_flow_silently(torch):
    x = leaf([0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.sqrt().sum().backward()
    xt = torch.tensor([0.0, 1.0], requires_grad=True)
    xt.sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


SPECIALS = {
    "log(0)": (lambda t: t.log(), [0.0, -1.0, 2.0]),
    "exp(1000)": (lambda t: t.exp(), [1000.0, -1000.0, 0.0]),
    "1/0 and 0/0": (lambda t: ag.tensor([1.0, 0.0, 1.0], dtype=np.float64) / t, [0.0, 0.0, 2.0]),
    "sqrt(-1)": (lambda t: t.sqrt(), [-1.0, 0.0, 4.0]),
    "var of one element": (lambda t: t[:1].var(), [3.0, 1.0, 2.0]),
    "std of one element": (lambda t: t[:1].std(), [3.0, 1.0, 2.0]),
    "mean of nothing": (lambda t: t[:0].mean(), [1.0, 2.0, 3.0]),
    "softmax of inf": (lambda t: ag.nn.functional.softmax(t), [np.inf, 1.0, 2.0]),
    "log_softmax of -inf": (lambda t: ag.nn.functional.log_softmax(t), [-np.inf, 1.0, 2.0]),
    "0 ** -1": (lambda t: t ** -1.0, [0.0, 2.0, 4.0]),
    "log1p(-1)": (lambda t: t.log1p(), [-1.0, 0.0, 1.0]),
}


@pytest.mark.parametrize("name", list(SPECIALS))
def test_numpy_warnings_do_not_leak_and_values_are_ieee(name, torch):
    fn, values = SPECIALS[name]
    x = leaf(values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning from NumPy fails the test
        y = fn(x)
        y.sum().backward()
    torch_fns = {
        "1/0 and 0/0": lambda t: torch.tensor([1.0, 0.0, 1.0]) / t,
        "softmax of inf": lambda t: torch.softmax(t, -1),
        "log_softmax of -inf": lambda t: torch.log_softmax(t, -1),
    }
    xt = torch.tensor(values, requires_grad=True)
    tfn = torch_fns.get(name, lambda t: fn(t))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's own advice about std of one element
        yt = tfn(xt)
        yt.sum().backward()
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(np.isnan(x.grad.numpy()), np.isnan(xt.grad.numpy()))
    finite = np.isfinite(xt.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy()[finite], xt.grad.numpy()[finite], rtol=1e-12)


# ----------------------------------------------------------------------------- 5. load_state_dict
def test_load_state_dict_checks_everything_before_copying_anything():
    m = nn.Linear(2, 2)
    w0, b0 = m.weight.numpy().copy(), m.bias.numpy().copy()
    for bad_bias in (["a", "b"], np.array([1 + 1j, 2j]), object()):
        with pytest.raises(RuntimeError, match="bias"):
            m.load_state_dict({"weight": np.ones((2, 2)), "bias": bad_bias})
        np.testing.assert_array_equal(m.weight.numpy(), w0)
        np.testing.assert_array_equal(m.bias.numpy(), b0)


# ----------------------------------------------------------------------------- 6. empty and 0-d
REDUCTIONS = [
    ("max over the non-empty axis", lambda t: t.max(axis=1), lambda t: t.max(dim=1).values, (0, 3)),
    ("min over the non-empty axis", lambda t: t.min(axis=1), lambda t: t.min(dim=1).values, (0, 3)),
    ("logsumexp over the empty axis", lambda t: t.logsumexp(axis=0),
     lambda t: t.logsumexp(dim=0), (0, 3)),
    ("sum over the empty axis", lambda t: t.sum(axis=0), lambda t: t.sum(dim=0), (0, 3)),
    ("0-d sum axis 0", lambda t: t.sum(axis=0), lambda t: t.sum(dim=0), ()),
    ("0-d mean axis -1", lambda t: t.mean(axis=-1), lambda t: t.mean(dim=-1), ()),
    ("0-d max axis 0", lambda t: t.max(axis=0), lambda t: t.max(dim=0).values, ()),
    ("0-d logsumexp axis 0", lambda t: t.logsumexp(axis=0), lambda t: t.logsumexp(dim=0), ()),
    ("0-d squeeze 0", lambda t: t.squeeze(0), lambda t: t.squeeze(0), ()),
    ("0-d argmax 0", lambda t: t.argmax(axis=0), lambda t: t.argmax(dim=0), ()),
]


@pytest.mark.parametrize("case", REDUCTIONS, ids=[c[0] for c in REDUCTIONS])
def test_reductions_of_empty_and_0d_tensors_match_pytorch(case, torch):
    _, ours, theirs, shape = case
    values = rng.standard_normal(shape) if shape else np.array(2.5)
    out = ours(ag.Tensor(values.copy()))
    expected = theirs(torch.tensor(values.copy())).numpy()
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


def test_reducing_over_an_empty_axis_without_identity_says_so():
    with pytest.raises(ValueError, match=r"max\(\): cannot reduce over axis 0 of length 0"):
        ag.zeros(0, 3).max(axis=0)
    with pytest.raises(ValueError, match=r"argmin\(\).*no elements"):
        ag.zeros(0, 3).argmin()


# ----------------------------------------------------------------------------- 8. ag.load
def _write_npy_member(path, name, header_shape, payload):
    with zipfile.ZipFile(path, "w") as z, z.open(name, "w") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": header_shape})
        f.write(payload)


def test_load_names_what_a_wrong_file_is(tmp_path, torch):
    ckpt = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, ckpt)
    with pytest.raises(LoadError, match="PyTorch checkpoint"):
        ag.load(ckpt)
    cases = {
        "empty.npz": (b"", "it is empty"),
        "array.npy": (None, "single NumPy array"),
        "pickle.pkl": (b"\x80\x04\x95" + b"\x00" * 20, "pickle"),
        "other.zip": ("zip", "only .npy arrays are expected"),
    }
    for name, (content, message) in cases.items():
        p = tmp_path / name
        if content is None:
            np.save(p, np.ones(3))
        elif content == "zip":
            with zipfile.ZipFile(p, "w") as z:
                z.writestr("notes.txt", "hello")
        else:
            p.write_bytes(content)
        with pytest.raises(LoadError, match=message):
            ag.load(p)


def test_load_refuses_damaged_files_with_clear_errors(tmp_path):
    good = tmp_path / "good.npz"
    ag.save(nn.Linear(3, 2).state_dict(), good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="damaged or truncated"):
        ag.load(truncated)
    liar = tmp_path / "liar.npz"
    _write_npy_member(liar, "w.npy", (10**9,), b"\x00" * 16)
    with pytest.raises(LoadError, match="announces 8,000,000,000 bytes"):
        ag.load(liar)
    objects = tmp_path / "objects.npz"
    with zipfile.ZipFile(objects, "w") as z, z.open("x.npy", "w") as f:
        np.lib.format.write_array(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(LoadError, match="never unpickles"):
        ag.load(objects)
    tree = tmp_path / "tree.npz"
    with zipfile.ZipFile(tree, "w") as z, z.open("__autograd_tree__.npy", "w") as f:
        np.lib.format.write_array(f, np.asarray("{not json"))
    with pytest.raises(LoadError, match="damaged __autograd_tree__"):
        ag.load(tree)


def test_load_caps_how_far_a_small_file_may_expand(tmp_path):
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, big=np.zeros(100_000_000, dtype=np.float32))  # 400 MB of zeros
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(LoadError, match="would take more than"):
        ag.load(bomb)
    small = tmp_path / "small.npz"
    np.savez_compressed(small, z=np.zeros(1000))
    assert ag.load(small, max_bytes=10_000)["z"].shape == (1000,)


# ----------------------------------------------------------------------------- 9. dtypes
PROMOTIONS = [
    ("float32 tensor + 0-d float64 tensor", lambda m: m.ones(3) + m.tensor(np.float64(2.0))),
    ("float32 * 0-d float64 array tensor",
     lambda m: m.ones(3) * m.tensor(np.array(2.0, dtype=np.float64))),
    ("int64 / int64", lambda m: m.tensor(np.array([1, 2])) / m.tensor(np.array([2, 4]))),
    ("exp of int64", lambda m: m.tensor(np.array([1, 2])).exp()),
    ("sqrt of int64", lambda m: m.tensor(np.array([1, 4])).sqrt()),
    ("int64 + float32", lambda m: m.tensor(np.array([1, 2])) + m.ones(2)),
    ("float32 + float64 (both with axes)", lambda m: m.ones(2) + m.ones(2, dtype=m.float64)),
    ("float32 * python float", lambda m: m.ones(2) * 0.1),
]


@pytest.mark.parametrize("case", PROMOTIONS, ids=[c[0] for c in PROMOTIONS])
def test_dtype_promotion_follows_pytorch(case, torch):
    _, fn = case
    torch.set_default_dtype(torch.float32)
    try:
        expected = fn(torch).dtype
    finally:
        torch.set_default_dtype(torch.float64)
    assert str(fn(ag).dtype) == str(expected).replace("torch.", "")


def test_a_float32_linear_layer_on_integer_input_stays_float32():
    layer = nn.Linear(3, 2)
    out = layer(ag.tensor(np.array([[1, 2, 3]])))
    assert out.dtype == np.float32
    expected = np.array([[1, 2, 3]], np.float32) @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


def test_mixed_precision_gradients_take_each_inputs_dtype():
    x = ag.ones(3, requires_grad=True)
    c = ag.tensor(np.float64(2.0), requires_grad=True)
    (x * c).sum().backward()
    assert x.grad.dtype == np.float32 and c.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    assert c.grad.item() == 3.0


# ----------------------------------------------------------------------------- 10. NaN conventions
NAN_CASES = {  # name: (ours, PyTorch's)
    "relu": (lambda t: t.relu(), lambda torch, t: torch.relu(t)),
    "abs": (lambda t: t.abs(), lambda torch, t: torch.abs(t)),
    "elu": (lambda t: ag.nn.functional.elu(t), lambda torch, t: torch.nn.functional.elu(t)),
    "leaky_relu": (lambda t: ag.nn.functional.leaky_relu(t, 0.1),
                   lambda torch, t: torch.nn.functional.leaky_relu(t, 0.1)),
    "clip": (lambda t: t.clip(-0.5, 0.5), lambda torch, t: torch.clamp(t, -0.5, 0.5)),
}


@pytest.mark.parametrize("name", list(NAN_CASES))
def test_gradients_at_nan_follow_pytorch(name, torch):
    ours, theirs = NAN_CASES[name]
    values = [np.nan, 1.0, -1.0, 0.0]
    x = leaf(values)
    ours(x).sum().backward()
    xt = torch.tensor(values, requires_grad=True)
    theirs(torch, xt).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("fn", ["maximum", "minimum"])
def test_maximum_and_minimum_at_nan_follow_pytorch(fn, torch):
    a0 = [np.nan, 1.0, 2.0, np.nan, 3.0]
    b0 = [0.0, np.nan, 2.0, np.nan, 1.0]
    a, b = leaf(a0), leaf(b0)
    getattr(ag, fn)(a, b).sum().backward()
    at = torch.tensor(a0, requires_grad=True)
    bt = torch.tensor(b0, requires_grad=True)
    getattr(torch, fn)(at, bt).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), at.grad.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), bt.grad.numpy())
