"""What the graph keeps: values a backward rule never reads are not held by the graph.

A consumer whose rule does not read its inputs (add, reshape, tanh, ...) stores a
ReleasedTensor stub for a large intermediate whose producer's rule does not read its own output
(matmul, add, ...). These tests force that path for every array size (KEEP_BELOW = 0) and check
that gradients, second derivatives, retain_grad, ag.grad and pictures are unaffected, so that a
wrong `reads=` declaration would show up as a wrong number here (tests/test_registry.py
checks every registered op the same way, one op at a time).
"""
from __future__ import annotations

import gc
import math
import os
import platform
import subprocess
import sys
import weakref

import numpy as np
import pytest

import autograd as ag
import autograd.nn.functional as F
from autograd import memory

rng = np.random.default_rng(11)


def T(*shape, positive=False):
    a = rng.standard_normal(shape)
    return ag.Tensor(np.abs(a) + 0.5 if positive else a, requires_grad=True)


@pytest.fixture
def keep_nothing(monkeypatch):
    monkeypatch.setattr(memory, "KEEP_BELOW", 0)


def stubs_in_graph(out):
    """How many inputs recorded in the graph of ``out`` are stubs."""
    count, stack, seen = 0, [out], set()
    while stack:
        t = stack.pop()
        if t.grad_fn is None or t.grad_fn in seen:
            continue
        seen.add(t.grad_fn)
        for p in t.grad_fn.inputs:
            count += p.released
            stack.append(p)
    return count


# Each composes a producer whose rule ignores its output with a consumer whose rule ignores its
# inputs, so that intermediates are stubbed; together they cover the common producer-consumer pairs.
COMPOSITES = {
    "matmul-add-tanh": (lambda x, w, b: ((x @ w) + b).tanh(), lambda: (T(4, 3), T(3, 5), T(5))),
    "mul-sub-sigmoid": (lambda x, w: ((x * w) - 1.0).sigmoid(), lambda: (T(4, 3), T(3))),
    "mul-neg-exp-reshape": (lambda x: (-(x * 0.5)).exp().reshape(-1), lambda: (T(2, 3),)),
    "matmul-transpose-softmax": (lambda x, w: F.softmax((x @ w).T, axis=0), lambda: (T(4, 3), T(3, 2))),
    "linear-log_softmax": (lambda x, w, b: F.log_softmax(F.linear(x, w, b), axis=1),
                           lambda: (T(4, 3), T(5, 3), T(5))),
    "add-relu-where": (lambda x: ag.where(x > 0, (x + 0.3).relu(), x * 2.0), lambda: (T(6),)),
    "mul-cat-getitem-sqrt": (lambda x: ag.cat([x * 2.0, x + 1.0])[1:].sqrt(),
                             lambda: (T(4, positive=True),)),
    "mul-expand-sum": (lambda x: (x * 2.0).expand(3, 4).sum(axis=0), lambda: (T(4),)),
    "mul-mean-add": (lambda x: (x * 3.0).mean(axis=0) + 1.0, lambda: (T(3, 4),)),
    # float32 in the middle: finite differences need a coarse step there
    "add-astype": (lambda x: (x + 1.0).astype(np.float32).astype(np.float64) * x, lambda: (T(3),),
                   dict(eps=1e-3, atol=1e-3, rtol=1e-3)),
    "squared_error-add": (lambda p, t: F.squared_error(p, t) + 1.0, lambda: (T(3, 2), T(3, 2))),
    "add-getitem-scatter": (lambda x: (x + 1.0)[np.array([0, 0, 2])] * x[:3], lambda: (T(4),)),
}


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_stubbed_graphs_differentiate_correctly(name, keep_nothing):
    fn, make, *tolerances = COMPOSITES[name]
    tol = tolerances[0] if tolerances else {}
    args = make()
    assert stubs_in_graph(fn(*args)) > 0  # the path under test is really taken
    assert ag.gradcheck(fn, args, **tol)
    assert ag.gradgradcheck(fn, args, **tol)


def test_stubbed_and_kept_graphs_give_identical_gradients(monkeypatch):
    x, w, b = T(8, 5), T(5, 6), T(6)
    grads = []
    for keep_below in (0, 10**9):
        monkeypatch.setattr(memory, "KEEP_BELOW", keep_below)
        for p in (x, w, b):
            p.grad = None
        F.cross_entropy(((x @ w) + b).tanh(), [0, 1, 2, 3, 4, 5, 0, 1]).backward()
        grads.append([p.grad.numpy().copy() for p in (x, w, b)])
    for a, c in zip(*grads):
        np.testing.assert_array_equal(a, c)


def test_the_forward_pass_keeps_only_what_backward_reads():
    x, w, b = T(64, 32), T(32, 64), T(64)  # 4096 elements per intermediate: above KEEP_BELOW
    product = x @ w
    ref = weakref.ref(product.data)
    h = (product + b).tanh()
    del product
    gc.collect()
    assert ref() is None  # x @ w is read by neither matmul's nor add's rule: not kept
    h.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), (1 - h.numpy() ** 2).sum(axis=0), rtol=1e-12)


def test_retain_grad_and_ag_grad_reach_a_stubbed_intermediate(keep_nothing):
    x, w, b = T(4, 3), T(3, 5), T(5)
    h = x @ w
    y = (h + b).tanh()
    assert y.grad_fn.inputs[0].released  # the graph holds a stub of h + b
    (gh,) = ag.grad(y.sum(), h, retain_graph=True)
    expected = 1 - y.numpy() ** 2
    np.testing.assert_allclose(gh.numpy(), expected, rtol=1e-12)
    h.retain_grad()
    y.sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), expected, rtol=1e-12)


def test_a_root_that_is_also_stubbed_is_processed_once(keep_nothing):
    x, w = T(4, 3), T(3, 5)
    h = x @ w
    y = h + 1.0  # the add node holds a stub of h; h itself is also a root below
    gx, gw = ag.grad([y.sum(), h.sum()], [x, w])
    ones = np.ones((4, 5))
    np.testing.assert_allclose(gx.numpy(), 2 * ones @ w.numpy().T, rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), 2 * x.numpy().T @ ones, rtol=1e-12)


def test_pictures_show_a_stub_without_values(keep_nothing):
    pytest.importorskip("graphviz")
    x, w = T(2, 2), T(2, 2)
    y = ((x @ w) + 1.0).tanh()
    src = ag.viz.draw_graph(y).source
    assert "values not kept" in src and src.count("<b>matmul</b>") == 1


def test_a_stub_refuses_to_be_read_as_values(keep_nothing):
    x, w = T(3, 4), T(4, 5)
    y = (x @ w) + 1.0
    stub = y.grad_fn.inputs[0]
    assert stub.released and stub.shape == (3, 5) and stub.dtype == np.float64
    for read in (stub.numpy, stub.item, stub.tolist, lambda: np.asarray(stub), lambda: stub * 2.0,
                 lambda: stub.sum()):
        with pytest.raises(RuntimeError, match="not kept"):
            read()


def test_a_stub_shows_the_live_tensors_name_and_retained_grad():
    x, w, b = T(32, 16), T(16, 64), T(64)  # 2048-element intermediates: stubbed by default
    h = x @ w
    s = h + b
    h.name = "h"  # named after its consumer was recorded
    h.retain_grad()
    loss = s.tanh().sum()
    stub = s.grad_fn.inputs[0]
    assert stub.released and stub.name == "h"
    loss.backward()
    np.testing.assert_array_equal(stub.grad.numpy(), h.grad.numpy())
    np.testing.assert_allclose(h.grad.numpy(), 1 - np.tanh(s.numpy()) ** 2, rtol=1e-12)


# ----------------------------------------------------------------------------- kept forward values
def _normal_pdf(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _normal_cdf(x):
    return np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.ravel()]).reshape(x.shape)


def test_gelu_reuses_the_cdf_its_forward_kept_and_frees_it_after_backward():
    """GELU's forward leaves Φ(x) for its rule (backend.reuse). The gradient is Φ + xφ (math.erf,
    element by element), the kept Φ is not changed by the rule (a second backward through the
    retained graph gives the same gradient again), and it is dropped with the graph."""
    x = ag.Tensor(np.array([-50.0, -6.0, -1.5, -1e-8, 0.0, 0.3, 2.0, 7.0, 1e30]), requires_grad=True)
    y = F.gelu(x)
    assert isinstance(y.grad_fn.saved, np.ndarray)
    want = _normal_cdf(x.numpy()) + x.numpy() * _normal_pdf(x.numpy())
    g = np.linspace(0.5, 2.0, 9)
    y.backward(g, retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), g * want, rtol=1e-14, atol=1e-300)
    x.grad = None
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), g * want, rtol=1e-14, atol=1e-300)
    assert y.grad_fn.saved is None  # released with the graph


def test_a_kept_value_is_recomputed_under_create_graph():
    """Differentiating GELU's rule again needs Φ as a function of x (a kept Φ would be a constant
    and lose the φ term): d²/dx² x Φ(x) = φ(x) (2 − x²)."""
    xs = np.array([-3.0, -0.7, 0.0, 0.4, 1.9])
    x = ag.Tensor(xs, requires_grad=True)
    (dx,) = ag.grad(F.gelu(x).sum(), [x], create_graph=True)
    (d2,) = ag.grad(dx.sum(), [x])
    np.testing.assert_allclose(d2.numpy(), _normal_pdf(xs) * (2 - xs * xs), rtol=1e-13, atol=1e-16)


# ----------------------------------------------------------------------------- freed memory
def _in_fresh_python(code: str, **env) -> str:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "AG_KEEP_FREED_MEMORY")}
    full.update(env)
    done = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


_FAULTS = """
import resource, numpy as np, autograd.backend as B
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():  # five 8 MiB temporaries alive at once, then all freed, as in a training step
    held = [np.ones(2**20) for _ in range(5)]
for _ in range(3):
    step()
before = faults()
for _ in range(20):
    step()
print(B.ALLOCATOR, "|", (faults() - before) // 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not platform.libc_ver()[0] == "glibc",
                    reason="the allocator setting is for glibc")
def test_importing_autograd_keeps_freed_arrays_for_reuse_on_glibc():
    """Freed arrays are reused by the next step's instead of being page-faulted in again (under
    glibc's defaults much of the 40 MiB freed at the top of the heap goes back to the kernel:
    ~2,000 faults of 4 KiB a step); the user's own settings and AG_KEEP_FREED_MEMORY=0 are
    respected."""
    said, faults = _in_fresh_python(_FAULTS).split(" | ")
    assert said.startswith("glibc keeps freed arrays") and int(faults) < 100, (said, faults)
    said, faults = _in_fresh_python(_FAULTS, AG_KEEP_FREED_MEMORY="0").split(" | ")
    assert "AG_KEEP_FREED_MEMORY=0" in said and int(faults) > 1000, (said, faults)
    said, _ = _in_fresh_python(_FAULTS, MALLOC_TRIM_THRESHOLD_="131072").split(" | ")
    assert said == "left as the environment set it"


def test_squared_error_reuses_p_minus_t_and_stays_exact_through_a_retained_graph():
    """E = ½ Σ (p − t)²: ∂E/∂p = p − t and ∂E/∂t = t − p, scaled by the incoming gradient; the
    kept p − t is not changed by the rule, so a second backward gives the same numbers."""
    p = ag.Tensor(np.array([[0.2, 0.9], [0.4, 0.1]]), requires_grad=True)
    t = ag.Tensor(np.array([[0.0, 1.0], [1.0, 0.0]]), requires_grad=True)
    E = F.squared_error(p, t) * 3.0
    assert E.item() == pytest.approx(1.5 * (0.04 + 0.01 + 0.36 + 0.01), rel=1e-15)
    for _ in range(2):
        p.grad = t.grad = None
        E.backward(retain_graph=True)
        np.testing.assert_allclose(p.grad.numpy(), 3 * (p.numpy() - t.numpy()), rtol=1e-15)
        np.testing.assert_allclose(t.grad.numpy(), 3 * (t.numpy() - p.numpy()), rtol=1e-15)
