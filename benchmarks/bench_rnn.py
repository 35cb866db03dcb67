"""LSTM training step: one layer, T=64 steps, batch 32, 64 inputs, 256 hidden, float32.

One step is forward over the sequence, loss ½ Σ (output − target)² over every step's hidden
state, backward to every parameter, and an SGD update ``p.data -= lr * p.grad.data``.

Contenders:

* ours     : ``nn.LSTM`` (``linear`` for the input projection of all steps, then the
             ``lstm_scan`` op for the recurrence, see ``autograd/ops/recurrent.py``);
* ours, per-step graph : the same LSTM written as a graph of per-step ops (``linear``,
             slicing, ``sigmoid``, ``tanh``, ``ag.stack``), as one would without a fused op:
             the measurement behind the design of ``lstm_scan``;
* numpy    : a hand-written NumPy forward + backpropagation through time + update of the same
             math, keeping the gates of every step for backward. Checked once at start to give
             the same updated weights as ours. Target: ours / numpy <= 1.10;
* torch    : ``torch.nn.LSTM``, eager, same threads and the same weights.

    python benchmarks/bench_rnn.py [--threads 2] [--repeat 15] [--json] [--steps 64]
"""
from __future__ import annotations

import _common as C  # must come first: sets BLAS threads before NumPy loads

import numpy as np

import autograd as ag
import autograd.nn.functional as F
from autograd import nn

T, N, I, H = 64, 32, 64, 256
LR = 0.01
NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def make_data(steps: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, N, I)).astype(np.float32)
    target = rng.uniform(-0.5, 0.5, (steps, N, H)).astype(np.float32)
    return x, target


def init_params(seed: int = 0) -> list:
    """W_ih, W_hh, b_ih, b_hh as PyTorch draws them: U(−1/√H, 1/√H), float32."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    shapes = ((4 * H, I), (4 * H, H), (4 * H,), (4 * H,))
    return [rng.uniform(-k, k, s).astype(np.float32) for s in shapes]


# ----------------------------------------------------------------------------- ours
def step_ours(model, params, x, target, lr=LR):
    out, _ = model(x)
    loss = F.squared_error(out, target)
    loss.backward()
    for p in params:
        p.data -= lr * p.grad.data
        p.grad = None
    return loss


def lstm_per_step_graph(x, w_ih, w_hh, b_ih, b_hh):
    """The LSTM as a graph of per-step ops (the design lstm_scan replaced)."""
    xw = F.linear(x, w_ih, b_ih)
    h = c = ag.Tensor(np.zeros((x.shape[1], H), dtype=np.float32))
    hs = []
    for t in range(x.shape[0]):
        z = xw[t] + F.linear(h, w_hh, b_hh)
        i, f = z[:, :H].sigmoid(), z[:, H:2 * H].sigmoid()
        g, o = z[:, 2 * H:3 * H].tanh(), z[:, 3 * H:].sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        hs.append(h)
    return ag.stack(hs)


def step_graph(params, x, target, lr=LR):
    loss = F.squared_error(lstm_per_step_graph(x, *params), target)
    loss.backward()
    for p in params:
        p.data -= lr * p.grad.data
        p.grad = None
    return loss


# ----------------------------------------------------------------------------- numpy floor
def _sigmoid(z):
    with np.errstate(over="ignore"):  # exp(−z) → inf for z ≪ 0 gives exactly 0
        return 1 / (1 + np.exp(-z))


def step_numpy(params, x, target, lr=LR):
    w_ih, w_hh, b_ih, b_hh = params
    steps = x.shape[0]
    w_hh_t = np.ascontiguousarray(w_hh.T)  # faster per-step products than the transposed view
    # forward: the input projection of every step at once, then the recurrence
    xw = (x.reshape(-1, I) @ w_ih.T + (b_ih + b_hh)).reshape(steps, N, 4 * H)
    hs = np.zeros((steps + 1, N, H), np.float32)  # hs[t + 1] = h_t; hs[0] = h_0 = 0
    cs = np.zeros((steps + 1, N, H), np.float32)
    gates = np.empty((steps, N, 4 * H), np.float32)
    tcs = np.empty((steps, N, H), np.float32)
    for t in range(steps):
        z = xw[t] + hs[t] @ w_hh_t
        gates[t, :, :2 * H] = _sigmoid(z[:, :2 * H])
        gates[t, :, 2 * H:3 * H] = np.tanh(z[:, 2 * H:3 * H])
        gates[t, :, 3 * H:] = _sigmoid(z[:, 3 * H:])
        i, f, g, o = np.split(gates[t], 4, axis=1)
        cs[t + 1] = f * cs[t] + i * g
        tcs[t] = np.tanh(cs[t + 1])
        hs[t + 1] = o * tcs[t]
    diff = hs[1:] - target
    loss = 0.5 * float(np.vdot(diff, diff))
    # backward through time
    dz = np.empty_like(gates)
    dh = np.zeros((N, H), np.float32)
    dc = np.zeros((N, H), np.float32)
    for t in range(steps - 1, -1, -1):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        dh = dh + diff[t]
        dc = dc + dh * o * (1 - tcs[t] * tcs[t])
        dz[t, :, :H] = dc * g * i * (1 - i)
        dz[t, :, H:2 * H] = dc * cs[t] * f * (1 - f)
        dz[t, :, 2 * H:3 * H] = dc * i * (1 - g * g)
        dz[t, :, 3 * H:] = dh * tcs[t] * o * (1 - o)
        dh = dz[t] @ w_hh
        dc = dc * f
    dz2 = dz.reshape(-1, 4 * H)
    grads = (dz2.T @ x.reshape(-1, I), dz2.T @ hs[:-1].reshape(-1, H), dz2.sum(0), dz2.sum(0))
    for p, gr in zip(params, grads):
        p -= lr * gr
    return loss


# ----------------------------------------------------------------------------- torch
def step_torch(model, params, x, target, lr=LR):
    torch = C.torch
    out, _ = model(x)
    loss = 0.5 * ((out - target) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss


def main(argv=None) -> dict:
    parser = C.make_parser(__doc__.splitlines()[0], repeat=15, warmup=2, settle=0.2)
    parser.add_argument("--steps", type=int, default=T, help=f"sequence length (default {T})")
    parser.add_argument("--skip-graph", action="store_true", help="leave out the per-step graph")
    args = parser.parse_args(argv)
    C.print_header(f"LSTM training step, T={args.steps}, batch {N}, {I} -> {H}, float32, "
                   "squared error over every step, SGD")
    x, target = make_data(args.steps)
    init = init_params()

    model = nn.LSTM(I, H)
    model.load_state_dict(dict(zip(NAMES, init)))
    p_ours = [getattr(model, n) for n in NAMES]
    p_np = [p.copy() for p in init]
    x_ours, t_ours = ag.Tensor(x), ag.Tensor(target)
    loss_ours = float(step_ours(model, p_ours, x_ours, t_ours).item())
    loss_np = step_numpy(p_np, x, target)
    worst = max((float(np.max(np.abs(a.data - b))), n) for a, b, n in zip(p_ours, p_np, NAMES))
    same = all(np.allclose(a.data, b, rtol=1e-4, atol=1e-5) for a, b in zip(p_ours, p_np))
    same = same and np.isclose(loss_ours, loss_np, rtol=1e-4)
    print(f"   one-step check ours vs numpy: {'same updated weights' if same else 'MISMATCH'} "
          f"(loss {loss_ours:.4f} vs {loss_np:.4f}; max |dW| {worst[0]:.1e} in {worst[1]})")
    assert all(p.dtype == np.float32 for p in p_ours), "ours left float32"

    contenders = {
        "ours (nn.LSTM)": lambda: step_ours(model, p_ours, x_ours, t_ours),
        "numpy (hand-written)": lambda: step_numpy(p_np, x, target),
    }
    if not args.skip_graph:
        p_graph = [ag.Tensor(p.copy(), requires_grad=True) for p in init]
        step_graph(p_graph, x_ours, t_ours)
        # the per-step graph, from the same start, takes the same step as nn.LSTM did
        same_g = all(np.allclose(a.data, b.data, rtol=1e-4, atol=1e-5) for a, b in zip(p_graph, p_ours))
        print(f"   one-step check per-step graph vs ours: {'same updated weights' if same_g else 'MISMATCH'}")
        contenders["ours, per-step graph"] = lambda: step_graph(p_graph, x_ours, t_ours)
    use_torch = C.use_torch(args)
    if use_torch:
        torch = C.torch
        tmodel = torch.nn.LSTM(I, H)
        tmodel.load_state_dict({n: torch.from_numpy(p.copy()) for n, p in zip(NAMES, init)})
        p_t = [getattr(tmodel, n) for n in NAMES]
        x_t, target_t = torch.from_numpy(x), torch.from_numpy(target)
        step_torch(tmodel, p_t, x_t, target_t)
        same_t = all(np.allclose(a.data, b.detach().numpy(), rtol=1e-3, atol=1e-5)
                     for a, b in zip(p_ours, p_t))
        print(f"   one-step check ours vs torch: {'same updated weights' if same_t else 'MISMATCH'}")
        contenders["torch"] = lambda: step_torch(tmodel, p_t, x_t, target_t)

    t = C.interleaved(contenders, repeat=args.repeat, warmup=args.warmup, number=args.number,
                      settle=args.settle)
    C.print_timings(list(t.values()))
    ours, floor = t["ours (nn.LSTM)"], t["numpy (hand-written)"]
    result = {"ours_ms": ours.median * 1e3, "numpy_ms": floor.median * 1e3}
    C.ratio_line("ours / numpy (floor)", ours, floor, target=1.10, result=result, key="ours/numpy")
    if not args.skip_graph:
        g = t["ours, per-step graph"]
        result["graph_ms"] = g.median * 1e3
        C.ratio_line("per-step graph / numpy", g, floor, result=result, key="graph/numpy")
    if use_torch:
        result["torch_ms"] = t["torch"].median * 1e3
        C.ratio_line("ours / torch", ours, t["torch"], result=result, key="ours/torch")
    C.emit_result(args, "rnn", result)
    return result


if __name__ == "__main__":
    main()
