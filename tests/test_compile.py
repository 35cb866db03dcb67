"""ag.compile: a compiled step gives exactly the eager step's numbers, over many steps, with
everything that changes between calls (dropout draws, step counts, scheduled learning rates,
momentum buffers) read at replay time; it records again when it must; it refuses loudly what it
cannot replay.

Every comparison runs the same seeded program twice, eagerly and compiled, and asserts equality
with ``np.array_equal`` (bit for bit), never a tolerance.
"""
from __future__ import annotations

import tracemalloc
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import nn, optim
from autograd.compile import CompileError, CompileWarning

STEPS = 24


def data(n=32, d=6, classes=4, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(dtype), rng.integers(0, classes, n)


def run(make, compiled, steps=STEPS, batches=None, **compile_kw):
    """Build a fresh seeded (model, step) with ``make`` and run it ``steps`` times; return the
    losses, the final parameters and the callable (compiled or not)."""
    ag.manual_seed(7)
    model, step = make()
    f = ag.compile(step, **compile_kw) if compiled else step
    batches = batches or [data()] * steps
    losses = []
    for x, y in batches:
        out = f(ag.Tensor(x), ag.Tensor(y))
        outs = out if isinstance(out, tuple) else (out,)
        losses.append(tuple(o.numpy().copy() for o in outs))
    params = [p.numpy().copy() for p in model.parameters()]
    return losses, params, f


def assert_same(make, steps=STEPS, batches=None, **compile_kw):
    le, pe, _ = run(make, False, steps, batches)
    lc, pc, f = run(make, True, steps, batches, **compile_kw)
    for k, (a, b) in enumerate(zip(le, lc)):
        assert all(np.array_equal(u, v) for u, v in zip(a, b)), f"step {k}: {a} vs {b}"
    for a, b in zip(pe, pc):
        assert np.array_equal(a, b)
    return f


def mlp(d=6, classes=4, dtype=np.float32, dropout=0.2):
    return nn.Sequential(nn.Linear(d, 16, dtype=dtype), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(16, 16, dtype=dtype), nn.Tanh(), nn.Linear(16, classes, dtype=dtype))


def training_step(model, opt, sched=None, clip=None):
    """A whole classification step: zero_grad, cross-entropy, backward, (clipping), update,
    (scheduler); returns the loss."""

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if sched:
            sched.step()
        return loss

    return step


def classifier(optimizer, schedule=None, clip=None, dtype=np.float32, dropout=0.2):
    def make():
        model = mlp(dtype=dtype, dropout=dropout)
        opt = optimizer(model.parameters())
        return model, training_step(model, opt, schedule(opt) if schedule else None, clip)

    return make


def test_mlp_with_dropout_and_momentum_matches_eager_bit_for_bit():
    f = assert_same(classifier(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3)))
    assert f.recordings == 1 and f.replays == STEPS - 2  # one eager warm-up, one recording


@pytest.mark.parametrize("schedule", [
    lambda o: optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5),
    lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=7),
], ids=["StepLR", "CosineAnnealingLR"])
def test_adam_with_a_learning_rate_schedule_matches_eager(schedule):
    assert_same(classifier(lambda ps: optim.Adam(ps, lr=0.01), schedule=schedule))


@pytest.mark.parametrize("optimizer", [
    lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
], ids=["AdamW", "Adam-amsgrad", "RMSprop", "SGD-nesterov"])
def test_every_optimizer_matches_eager(optimizer):
    assert_same(classifier(optimizer))


def test_gradient_clipping_matches_eager():
    assert_same(classifier(lambda ps: optim.SGD(ps, lr=0.5), clip=0.1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_and_float64(dtype):
    batches = [data(dtype=dtype)] * STEPS
    assert_same(classifier(lambda ps: optim.Adam(ps, lr=0.01), dtype=dtype), batches=batches)


def test_a_new_batch_size_records_again_and_stays_exact():
    batches = [data(n=32, seed=k % 3) for k in range(8)] + [data(n=20, seed=k) for k in range(8)]
    f = assert_same(classifier(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)), batches=batches)
    assert f.recordings == 2  # one per batch size


def test_evaluation_under_no_grad_matches_eager():
    def make():
        model = mlp()
        model.eval()

        @ag.no_grad()
        def evaluate(x, y):
            logits = model(x)
            return F.cross_entropy(logits, y), logits.argmax(axis=1)

        return model, evaluate

    le, _, _ = run(make, False, steps=6)
    lc, _, f = run(make, True, steps=6)
    assert all(np.array_equal(u, v) for a, b in zip(le, lc) for u, v in zip(a, b))
    assert f.replays == 4


def test_train_then_eval_mode_records_again():
    ag.manual_seed(1)
    model = mlp(dropout=0.5)
    x = ag.Tensor(data()[0])
    f = ag.compile(lambda x: model(x).sum())
    for _ in range(3):
        f(x)
    model.eval()
    outs = [f(x).item() for _ in range(3)]
    assert f.recordings == 2
    assert outs[0] == outs[1] == outs[2] == model(x).sum().item()  # no dropout in eval


def test_returned_tensors_are_fresh():
    make = classifier(lambda ps: optim.SGD(ps, lr=0.1))
    ag.manual_seed(0)
    model, step = make()
    f = ag.compile(step)
    x, y = data()
    losses = [f(ag.Tensor(x), ag.Tensor(y)) for _ in range(6)]
    values = [float(loss.item()) for loss in losses]
    assert len(set(values)) == 6  # each call's loss kept its own value
    assert losses[2].grad_fn is None and not losses[2].requires_grad


def test_learning_rate_set_by_hand_is_read_at_replay():
    ag.manual_seed(0)
    w = nn.Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.1)

    def step():
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()

    f = ag.compile(step)
    for _ in range(3):
        f()
    before = w.numpy().copy()
    opt.param_groups[0]["lr"] = 0.25
    f()
    np.testing.assert_array_equal(w.numpy(), before - 0.25 * 2 * before)
    assert f.recordings == 1  # the rate is read at replay, nothing recorded again


def test_a_changed_hyperparameter_or_replaced_parameter_records_again():
    ag.manual_seed(0)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = data()

    def step(x, y):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    f = ag.compile(step)
    for _ in range(3):
        f(ag.Tensor(x), ag.Tensor(y))
    opt.param_groups[0]["momentum"] = 0.5
    f(ag.Tensor(x), ag.Tensor(y))
    assert f.recordings == 2
    model[0].weight.data = model[0].weight.data.copy()
    f(ag.Tensor(x), ag.Tensor(y))
    assert f.recordings == 3


@pytest.mark.parametrize("bad", [
    ("item", lambda loss: loss.item()),
    ("bool", lambda loss: bool(loss > 1.0)),
    ("numpy", lambda loss: float(loss.numpy())),
    ("tolist", lambda loss: loss.tolist()),
], ids=lambda b: b[0] if isinstance(b, tuple) else "")
def test_python_decisions_on_traced_values_raise(bad):
    name, use = bad
    ag.manual_seed(0)
    model = mlp()
    x, y = data()

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        use(loss)
        return loss

    f = ag.compile(step)
    f(ag.Tensor(x), ag.Tensor(y))
    with pytest.raises(CompileError, match=rf"{name}.*test_compile\.py:\d+"):
        f(ag.Tensor(x), ag.Tensor(y))


def test_fallback_runs_eagerly_says_so_once_and_matches_eager():
    def make():
        model = mlp()
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            if loss.item() > 100:  # a data-dependent branch
                raise AssertionError("diverged")
            return loss

        return model, step

    le, pe, _ = run(make, False, steps=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lc, pc, f = run(make, True, steps=6, fallback=True)
    assert [w.category for w in caught] == [CompileWarning]
    assert ".item()" in str(caught[0].message) and f.eager_only
    assert all(np.array_equal(u, v) for a, b in zip(le, lc) for u, v in zip(a, b))
    assert all(np.array_equal(a, b) for a, b in zip(pe, pc))


def test_a_hook_cannot_be_replayed_so_it_raises():
    ag.manual_seed(0)
    model = mlp()
    model[0].weight.register_hook(lambda g: None)
    x, y = data()
    f = ag.compile(lambda x, y: F.cross_entropy(model(x), y).backward())
    f(ag.Tensor(x), ag.Tensor(y))
    with pytest.raises(CompileError, match="gradient hook"):
        f(ag.Tensor(x), ag.Tensor(y))


def test_returning_an_array_numpy_made_outside_the_recorder_raises():
    # ndarray.diagonal() is a view NumPy makes in C, unseen by the recorder, which has no name for
    # it: the recording refuses it (it used to build a program that failed with a TypeError).
    f = ag.compile(lambda x: ag.Tensor((x * 2.0).data.diagonal()))
    x = ag.Tensor(np.ones((3, 3)))
    f(x)  # warm-up, eager
    with pytest.raises(CompileError, match="returned an array NumPy derived from a traced one"):
        f(x)


def test_labels_are_checked_at_every_replay():
    ag.manual_seed(0)
    model = mlp()
    x, y = data()
    f = ag.compile(lambda x, y: F.cross_entropy(model(x), y))
    for _ in range(3):
        f(ag.Tensor(x), ag.Tensor(y))
    bad = y.copy()
    bad[3] = 9
    with pytest.raises(IndexError, match=r"label 9 \(at position 3\)"):
        f(ag.Tensor(x), ag.Tensor(bad))


def test_a_replay_allocates_little_and_its_buffers_stay_within_the_eager_peak():
    """The memory a replay keeps (its arena of reused buffers) is no more than an eager step's
    peak, and while it runs it allocates almost nothing more: what it returns, Python objects,
    and NumPy's own 32 KiB buffer for strided reductions (which eager steps allocate too)."""
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 512), nn.Tanh(), nn.Linear(512, 512), nn.Tanh(),
                          nn.Linear(512, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = ag.Tensor(rng.standard_normal((128, 256)).astype(np.float32))
    y = ag.Tensor(rng.integers(0, 10, 128))

    step = training_step(model, opt)

    def peak(f):
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        f(x, y)
        current, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top - base, current - base

    for _ in range(2):
        step(x, y)
    eager_peak, _ = peak(step)
    f = ag.compile(step)
    for _ in range(3):
        f(x, y)
    replay_peak, replay_left = peak(f)
    program = next(iter(f._cache.values())).program
    assert program.held_bytes <= eager_peak
    assert replay_peak < 0.02 * eager_peak


def test_explain_lists_one_array_operation_per_line():
    ag.manual_seed(0)
    model = mlp()
    x, y = data()
    f = ag.compile(lambda x, y: F.cross_entropy(model(x), y))
    assert "nothing recorded yet" in f.explain()
    for _ in range(2):
        f(ag.Tensor(x), ag.Tensor(y))
    text = f.explain()
    ops = [ln for ln in text.splitlines() if ln.startswith(("op ", "in place"))]
    assert any("matmul" in ln for ln in ops) and any("maximum" in ln for ln in ops)
    assert text.splitlines()[-1].startswith(f"-- {len(ops)} array operations")


def test_explain_shows_host_calls_briefly():
    """A host call's argument can be a parameter group, whose repr prints every weight: explain
    shows its keys and brief values on one line instead."""
    ag.manual_seed(0)
    model = mlp(dropout=0.0)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    step = training_step(model, opt)

    f = ag.compile(step)
    x, y = data()
    for _ in range(2):
        f(ag.Tensor(x), ag.Tensor(y))
    lines = f.explain().splitlines()
    host = [ln for ln in lines if ln.startswith("host")]
    assert host and any("'lr': 0.05" in ln and "'params': <list of" in ln for ln in host), host
    assert max(len(ln) for ln in lines) < 250, max(lines, key=len)


def test_an_argument_that_requires_grad_gets_its_gradient_at_every_replay():
    def chain(x):
        x.grad = None
        y = x
        for _ in range(10):
            y = (y * 0.5 + 1.0).tanh()
        y.sum().backward()
        return x.grad

    f = ag.compile(chain)
    for k in range(4):
        x0 = np.linspace(-1, 1, 5) + k
        xe, xc = ag.tensor(x0, requires_grad=True), ag.tensor(x0, requires_grad=True)
        ge, gc = chain(xe), f(xc)
        assert np.array_equal(ge.numpy(), gc.numpy())
        assert np.array_equal(xc.grad.numpy(), xe.grad.numpy())  # the argument's own .grad
    assert f.replays == 2


def test_recording_in_one_thread_leaves_another_threads_eager_work_alone():
    """While one thread records, every Tensor's array is briefly a traced view; another thread
    computing with the same tensors meanwhile gets plain, correct results."""
    import threading

    ag.manual_seed(0)
    model = mlp(dropout=0.0)
    x, y = data()
    xt = ag.Tensor(x)
    expected = model(xt).sum().item()
    stop, seen = threading.Event(), []

    def other():
        while not stop.is_set():
            seen.append(model(xt).sum().item())

    f = ag.compile(lambda x, y: F.cross_entropy(model(x), y))
    t = threading.Thread(target=other)
    t.start()
    try:
        for _ in range(30):
            f.clear()  # record again and again while the other thread works
            for _ in range(2):
                f(xt, ag.Tensor(y))
    finally:
        stop.set()
        t.join()
    assert f.recordings == 30
    assert seen and all(v == expected for v in seen)


@pytest.mark.parametrize("momentum", [0.1, None], ids=["momentum", "cumulative"])
def test_a_cnn_with_batch_norm_in_train_then_eval_matches_eager(momentum):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 6)

    def one_run(compiled):
        ag.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4, momentum=momentum),
                              nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3),
                              nn.Linear(64, 3))
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        step = training_step(model, opt)

        def evaluate(x):
            return model(x)

        train = ag.compile(step) if compiled else step
        ev = ag.compile(evaluate) if compiled else evaluate
        outs = [train(ag.Tensor(x), ag.Tensor(y)).numpy().copy() for _ in range(STEPS)]
        model.eval()
        outs += [ev(ag.Tensor(x)).numpy().copy() for _ in range(4)]
        bn = model[1]
        return (outs, bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(),
                int(bn.num_batches_tracked.item()))

    runs = [one_run(compiled) for compiled in (False, True)]
    (oe, me, ve, ne), (oc, mc, vc, nc) = runs
    assert all(np.array_equal(a, b) for a, b in zip(oe, oc))
    assert np.array_equal(me, mc) and np.array_equal(ve, vc) and ne == nc == STEPS


class _TinyTransformer(nn.Module):
    """Embedding, causal attention with attention dropout, LayerNorm, dropout, read-out."""

    def __init__(self, vocab=11, width=8):
        super().__init__()
        self.vocab = vocab
        self.emb = nn.Embedding(vocab, width)
        self.att = nn.MultiheadAttention(width, 2, dropout=0.2, batch_first=True)
        self.ln = nn.LayerNorm(width)
        self.drop = nn.Dropout(0.1)
        self.out = nn.Linear(width, vocab)

    def forward(self, idx):
        h = self.emb(idx)
        n = idx.shape[1]
        causal = np.triu(np.ones((n, n), dtype=bool), 1)  # True = not attended, as in torch
        a, _ = self.att(h, h, h, attn_mask=causal, need_weights=False)
        return self.out(self.drop(self.ln(h + a)))


class _TinyLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(6, 8, num_layers=2, batch_first=True)
        self.out = nn.Linear(8, 4)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h[:, -1])


def _token_batches(steps, vocab=11, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, vocab, (3, 7)), rng.integers(0, vocab, (3, 7))) for _ in range(steps)]


@pytest.mark.parametrize("kind", ["transformer", "lstm"])
def test_attention_and_recurrent_models_match_eager_bit_for_bit(kind):
    # Fresh batches and fresh dropout masks at every step: a replay that froze either (or the
    # random draws of attention dropout) would drift from the eager losses at once.
    def make():
        model = _TinyTransformer() if kind == "transformer" else _TinyLSTM()
        opt = optim.Adam(model.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss.backward()
            opt.step()
            return loss

        return model, step

    if kind == "transformer":
        batches = _token_batches(8)
    else:
        rng = np.random.default_rng(1)
        batches = [(rng.standard_normal((3, 5, 6)).astype(np.float32), rng.integers(0, 4, 3))
                   for _ in range(8)]
    f = assert_same(make, batches=batches)
    assert f.replays == 6


def test_an_embedding_index_out_of_range_is_caught_at_replay():
    model = _TinyTransformer()
    f = ag.compile(lambda x: model(x))
    for _ in range(3):
        f(ag.Tensor(np.zeros((2, 4), dtype=np.int64)))
    with pytest.raises(IndexError, match="embedding: index 11 is out of range for 11 rows"):
        f(ag.Tensor(np.full((2, 4), 11, dtype=np.int64)))


def test_a_learned_exponent_compiles_and_a_replay_that_needs_the_other_rule_raises():
    """x ** p with a trained exponent p: pow's rule picks its form by whether p >= 1, and the
    replay checks that p still goes the recorded way instead of replaying the other form."""

    def make():
        w = nn.Parameter(np.array([0.5, 1.5, 2.0, 3.0]))
        p = nn.Parameter(np.array(2.5))
        opt = optim.SGD([w, p], lr=0.01)

        def step(x, y):
            opt.zero_grad()
            loss = ((w * x[0]) ** p).sum()
            loss.backward()
            opt.step()
            return loss

        return SimpleNamespace(parameters=lambda: [w, p]), step

    batches = [(np.abs(data(4, 4)[0]) + 0.1, np.zeros(4))] * 12
    assert_same(make, batches=batches)

    w = nn.Parameter(np.array([0.5, 1.5]))
    p = nn.Parameter(np.array(1.2))
    f = ag.compile(lambda: (w ** p).sum().backward())
    for _ in range(3):
        f()
    want = 1.2 * np.array([0.5, 1.5]) ** 0.2  # p x^(p−1), accumulated over the three calls
    np.testing.assert_allclose(w.grad.numpy(), 3 * want, rtol=1e-14)
    p.data[...] = 0.5  # now the general form is needed: the replay says so, loudly
    with pytest.raises(RuntimeError, match="an exponent >= 1"):
        f()
