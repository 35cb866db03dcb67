"""MLP training step: 784-1024-1024-10, batch 512, float32, forward + backward + SGD update.

The network is written with raw tensors, as a user of the Tensor API writes it:

    h1 = (x @ W1 + b1).tanh()
    h2 = (h1 @ W2 + b2).sigmoid()
    loss = F.cross_entropy(h2 @ W3 + b3, labels)      # integer labels, mean over the batch
    loss.backward()
    for p in params: p.data -= lr * p.grad.data; p.grad = None

Contenders:

* ours  : the above;
* numpy : a hand-written NumPy forward + backward + update of exactly the same math (sigmoid as
          1 / (1 + exp(-z)), softmax cross-entropy gradient (softmax - onehot) / N); checked
          once at start to produce the same updated weights as ours, so the floor does the same
          work. Target: ours_time / numpy_time <= 1.10;
* torch : PyTorch eager with torch.nn.functional, same threads.

Reported: ms per step, steps/s, and the ratios.

    python benchmarks/bench_mlp.py [--threads 2] [--repeat 15] [--json]
"""
from __future__ import annotations

import _common as C  # must come first: sets BLAS threads before NumPy loads

import numpy as np

import autograd as ag
import autograd.nn.functional as F

BATCH = 512
SIZES = (784, 1024, 1024, 10)
LR = 0.01


def init_params(seed: int = 0) -> list:
    """W1, b1, W2, b2, W3, b3 as float32 NumPy arrays (scaled normal weights, zero biases)."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        w = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
        params += [w, np.zeros(fan_out, dtype=np.float32)]
    return params


def make_batch(seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    labels = rng.integers(0, SIZES[-1], size=BATCH).astype(np.int64)
    return x, labels


# ----------------------------------------------------------------------------- ours
def step_ours(params, x, labels, lr=LR):
    W1, b1, W2, b2, W3, b3 = params
    h1 = (x @ W1 + b1).tanh()
    h2 = (h1 @ W2 + b2).sigmoid()
    loss = F.cross_entropy(h2 @ W3 + b3, labels)
    loss.backward()
    for p in params:
        p.data -= lr * p.grad.data
        p.grad = None
    return loss


def step_ours_linear(params, x, labels, lr=LR):
    """The same step through F.linear (what nn.Linear uses); weights stored (out, in)."""
    W1, b1, W2, b2, W3, b3 = params
    h1 = F.linear(x, W1, b1).tanh()
    h2 = F.linear(h1, W2, b2).sigmoid()
    loss = F.cross_entropy(F.linear(h2, W3, b3), labels)
    loss.backward()
    for p in params:
        p.data -= lr * p.grad.data
        p.grad = None
    return loss


# ----------------------------------------------------------------------------- numpy floor
def _sigmoid(z):
    # The textbook form; exp(-z) may overflow to inf for z < -88, giving exactly 0, so the
    # warning is silenced (errstate costs about a microsecond, nothing at this size).
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def step_numpy(params, x, labels, lr=LR):
    W1, b1, W2, b2, W3, b3 = params
    n = x.shape[0]
    # forward
    h1 = np.tanh(x @ W1 + b1)
    h2 = _sigmoid(h1 @ W2 + b2)
    z3 = h2 @ W3 + b3
    shifted = z3 - z3.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = -logp[rows, labels].mean()
    # backward: d loss / d z3 = (softmax - onehot) / N
    g3 = np.exp(logp)
    g3[rows, labels] -= 1
    g3 /= n
    gW3 = h2.T @ g3
    gb3 = g3.sum(axis=0)
    g2 = (g3 @ W3.T) * (h2 * (1 - h2))         # sigmoid' = s (1 - s)
    gW2 = h1.T @ g2
    gb2 = g2.sum(axis=0)
    g1 = (g2 @ W2.T) * (1 - h1 * h1)            # tanh' = 1 - t^2
    gW1 = x.T @ g1
    gb1 = g1.sum(axis=0)
    # SGD update
    for p, g in zip(params, (gW1, gb1, gW2, gb2, gW3, gb3)):
        p -= lr * g
    return loss


# ----------------------------------------------------------------------------- torch
def step_torch(params, x, labels, lr=LR):
    torch = C.torch
    TF = torch.nn.functional
    W1, b1, W2, b2, W3, b3 = params
    h1 = torch.tanh(x @ W1 + b1)
    h2 = torch.sigmoid(h1 @ W2 + b2)
    loss = TF.cross_entropy(h2 @ W3 + b3, labels)
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss


def main(argv=None) -> dict:
    args = C.make_parser(__doc__.splitlines()[0], repeat=15, warmup=3, settle=0.2, number=3).parse_args(argv)
    C.print_header(f"MLP training step {'-'.join(map(str, SIZES))}, batch {BATCH}, float32, "
                   "tanh/sigmoid, softmax cross-entropy, SGD")
    x, labels = make_batch()
    init = init_params()

    # Same work check: one step from the same start gives the same updated weights.
    p_ours = [ag.Tensor(p.copy(), requires_grad=True) for p in init]
    p_np = [p.copy() for p in init]
    loss_ours = float(step_ours(p_ours, x, labels).item())
    loss_np = float(step_numpy(p_np, x, labels))
    names = ("W1", "b1", "W2", "b2", "W3", "b3")
    worst = max(
        (float(np.max(np.abs(a.data - b))), n) for a, b, n in zip(p_ours, p_np, names)
    )
    same = all(np.allclose(a.data, b, rtol=1e-4, atol=1e-6) for a, b in zip(p_ours, p_np))
    same = same and np.isclose(loss_ours, loss_np, rtol=1e-5)
    print(f"   one-step check ours vs numpy: {'same updated weights' if same else 'MISMATCH'} "
          f"(loss {loss_ours:.6f} vs {loss_np:.6f}; max |dW| {worst[0]:.1e} in {worst[1]})")
    assert all(p.data.dtype == np.float32 for p in p_ours), "ours left float32"
    # The F.linear variant keeps each weight as (out, in), as nn.Linear does.
    p_lin = [ag.Tensor(p.T.copy() if p.ndim == 2 else p.copy(), requires_grad=True) for p in init]
    x_t = ag.Tensor(x)
    step_ours_linear(p_lin, x_t, labels)
    same_lin = all(np.allclose(a.data.T if a.ndim == 2 else a.data, b.data, rtol=1e-4, atol=1e-6)
                   for a, b in zip(p_lin, p_ours))
    print(f"   one-step check ours (F.linear) vs ours: {'same updated weights' if same_lin else 'MISMATCH'}")

    contenders = {
        "ours": lambda: step_ours(p_ours, x, labels),
        "ours (F.linear)": lambda: step_ours_linear(p_lin, x_t, labels),
        "numpy (hand-written)": lambda: step_numpy(p_np, x, labels),
    }
    use_torch = C.use_torch(args)
    if use_torch:
        torch = C.torch
        p_t = [torch.tensor(p.copy(), requires_grad=True) for p in init]
        x_torch, lab_t = torch.from_numpy(x), torch.from_numpy(labels)
        # torch starts from the weights ours reached after the check step (same state).
        step_torch(p_t, x_torch, lab_t)
        same_t = all(np.allclose(a.data, b.detach().numpy(), rtol=1e-3, atol=1e-5)
                     for a, b in zip(p_ours, p_t))
        print(f"   one-step check ours vs torch: {'same updated weights' if same_t else 'MISMATCH'}")
        contenders["torch"] = lambda: step_torch(p_t, x_torch, lab_t)

    t = C.interleaved(contenders, repeat=args.repeat, warmup=args.warmup,
                          number=args.number, settle=args.settle)
    C.print_timings(list(t.values()),
                    extra={k: f"{1 / v.median:6.1f} steps/s" for k, v in t.items()})
    result = {
        "ours_ms": t["ours"].median * 1e3,
        "numpy_ms": t["numpy (hand-written)"].median * 1e3,
        "ours_steps_per_s": 1 / t["ours"].median,
        "linear_ms": t["ours (F.linear)"].median * 1e3,
    }
    C.ratio_line("ours / numpy (floor)", t["ours"], t["numpy (hand-written)"], target=1.10,
                 result=result, key="ours/numpy")
    C.ratio_line("ours (F.linear) / numpy", t["ours (F.linear)"], t["numpy (hand-written)"],
                 target=1.10, result=result, key="linear/numpy")
    if use_torch:
        result["torch_ms"] = t["torch"].median * 1e3
        C.ratio_line("ours / torch", t["ours"], t["torch"], result=result, key="ours/torch")
    C.emit_result(args, "mlp", result)
    return result


if __name__ == "__main__":
    main()
