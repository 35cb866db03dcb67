"""Compiled steps (``ag.compile``) against eager steps, hand-written NumPy and PyTorch.

Four training steps, each timed for four contenders interleaved in one run:

* compiled : ``ag.compile(step)``, after its warm-up and recording calls;
* eager    : the same ``step`` run as usual;
* numpy    : the same forward, backward and update written by hand in NumPy (the floor);
* torch    : PyTorch CPU eager, the same step.

Cases (``--case``):

* ``moons``: micrograd's demo step: a 2-16-16-1 ReLU MLP on 100 points (two moons), hinge loss
  with L2 regularisation (α = 1e-4), SGD. Target: compiled ≤ 1.2× the floor.
* ``mlp128``: batch 64, 784-128-10, ReLU, softmax cross-entropy, SGD. Target: ≤ 1.1× the floor.
* ``chain``: the 1,000-op element-wise chain of ``bench_op_overhead.py`` on a (16,) tensor, forward
  and backward. Target: ≤ 1.5× the floor.
* ``large``: the MLP step of ``bench_mlp.py`` (batch 512, 784-1024-1024-10). Target: compiled no
  slower than eager.

Before timing, each case checks that one compiled step and one eager step from the same start give
the same numbers bit for bit, and that the floor's gradients match ours.

    python benchmarks/bench_compile.py [--case moons mlp128 chain large] [--json]
"""
from __future__ import annotations

import _common as C  # must come first: sets BLAS threads before NumPy loads

import numpy as np

import autograd as ag
import autograd.nn.functional as F
from autograd import nn, optim

LR = 0.1
ALPHA = 1e-4


# ----------------------------------------------------------------------------- cases
def moons(n=100, seed=0):
    """Two interleaved half circles with a little noise (as sklearn's make_moons), labels ±1."""
    rng = np.random.default_rng(seed)
    k = n // 2
    t = rng.uniform(0, np.pi, n)
    outer = np.stack([np.cos(t[:k]), np.sin(t[:k])], 1)
    inner = np.stack([1 - np.cos(t[k:]), 0.5 - np.sin(t[k:])], 1)
    x = np.concatenate([outer, inner]) + rng.normal(0, 0.1, (n, 2))
    y = np.concatenate([np.ones(k), -np.ones(n - k)])
    return x.astype(np.float32), y.astype(np.float32)[:, None]


def init_mlp(sizes, seed=0):
    """Weights (out, in) and biases as nn.Linear draws them, as plain arrays."""
    ag.manual_seed(seed)
    layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])]
    return [(lin.weight.numpy().copy(), lin.bias.numpy().copy()) for lin in layers]


class Model(nn.Module):
    def __init__(self, params, act):
        super().__init__()
        self.layers = nn.ModuleList()
        for w, b in params:
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data[...] = w
            lin.bias.data[...] = b
            self.layers.append(lin)
        self.act = act

    def forward(self, x):
        for k, lin in enumerate(self.layers):
            x = lin(x)
            if k < len(self.layers) - 1:
                x = self.act(x)
        return x


def ours_step(params, case):
    act = {"moons": F.relu, "mlp128": F.relu, "large": F.tanh}[case]
    model = Model(params, act)
    opt = optim.SGD(model.parameters(), lr=LR)

    if case == "moons":
        def step(x, y):
            opt.zero_grad()
            data_loss = (1.0 - y * model(x)).relu().mean()
            reg = sum((p * p).sum() for p in model.parameters()) * ALPHA
            loss = data_loss + reg
            loss.backward()
            opt.step()
            return loss
    else:
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
    return model, step


def numpy_step(params, case):
    """The hand-written floor: forward keeping what backward needs, backward, SGD in place."""
    ws = [[w.copy(), b.copy()] for w, b in params]
    relu = case in ("moons", "mlp128")

    def step(x, y):
        hs, zs = [x], []
        h = x
        for k, (w, b) in enumerate(ws):
            z = h @ w.T
            z += b
            zs.append(z)
            if k < len(ws) - 1:
                h = np.maximum(z, 0) if relu else np.tanh(z)
                hs.append(h)
        out = zs[-1]
        n = x.shape[0]
        if case == "moons":
            margin = 1.0 - y * out
            loss = np.maximum(margin, 0).mean() + ALPHA * sum((w * w).sum() + (b * b).sum()
                                                              for w, b in ws)
            g = np.where(margin > 0, -y, 0).astype(np.float32) / n
        else:
            m = out - out.max(axis=1, keepdims=True)
            e = np.exp(m)
            s = e.sum(axis=1, keepdims=True)
            loss = (np.log(s)[:, 0] - m[np.arange(n), y]).mean()
            g = e / s
            g[np.arange(n), y] -= 1
            g /= n
        for k in range(len(ws) - 1, -1, -1):
            w, b = ws[k]
            gw = g.T @ hs[k]
            gb = g.sum(axis=0)
            if case == "moons":
                gw += (2 * ALPHA) * w
                gb += (2 * ALPHA) * b
            if k:
                g = g @ w
                g = g * (zs[k - 1] > 0) if relu else g * (1 - hs[k] * hs[k])
            w -= LR * gw
            b -= LR * gb
        return loss

    return ws, step


def torch_step(params, case):
    torch = C.torch
    ps = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
          for w, b in params]
    flat = [t for pair in ps for t in pair]
    opt = torch.optim.SGD(flat, lr=LR)
    act = torch.tanh if case == "large" else torch.relu

    def step(x, y):
        opt.zero_grad()
        h = x
        for k, (w, b) in enumerate(ps):
            h = torch.nn.functional.linear(h, w, b)
            if k < len(ps) - 1:
                h = act(h)
        if case == "moons":
            loss = (1.0 - y * h).relu().mean() + ALPHA * sum((p * p).sum() for p in flat)
        else:
            loss = torch.nn.functional.cross_entropy(h, y)
        loss.backward()
        opt.step()
        return loss

    return step


def data(case):
    rng = np.random.default_rng(1)
    if case == "moons":
        return moons()
    batch, width = (64, 784) if case == "mlp128" else (512, 784)
    return rng.standard_normal((batch, width)).astype(np.float32), rng.integers(0, 10, batch)


SIZES = {"moons": [2, 16, 16, 1], "mlp128": [784, 128, 10], "large": [784, 1024, 1024, 10]}
TARGET = {"moons": 1.2, "mlp128": 1.1, "chain": 1.5}


# ----------------------------------------------------------------------------- the chain
N_CYCLES = 250


def chain_ours(x):
    x.grad = None
    y = x
    for _ in range(N_CYCLES):
        y = (((y + 1.0) * 0.5).tanh()).sigmoid()
    y.sum().backward()
    return x.grad


def chain_numpy(x):
    y, saved = x, []
    for _ in range(N_CYCLES):
        t = np.tanh((y + np.float32(1.0)) * np.float32(0.5))
        y = 1 / (1 + np.exp(-t))
        saved.append((t, y))
    g = np.ones_like(y)
    for t, s in reversed(saved):
        g = g * s * (1 - s) * (1 - t * t) * np.float32(0.5)
    return g


# ----------------------------------------------------------------------------- running
def run_case(case: str, args) -> dict:
    print(f"\n-- {case}")
    use_torch = C.use_torch(args)
    if case == "chain":
        x0 = np.random.default_rng(0).standard_normal(16).astype(np.float32)
        xe, xc = ag.tensor(x0, requires_grad=True), ag.tensor(x0, requires_grad=True)
        compiled = ag.compile(chain_ours)
        for _ in range(3):
            compiled(xc)
        same = np.array_equal(chain_ours(xe).numpy(), compiled(xc).numpy())
        floor_ok = np.allclose(chain_numpy(x0), xe.grad.numpy(), rtol=1e-5, atol=1e-7)
        contenders = {"compiled": lambda: compiled(xc), "eager": lambda: chain_ours(xe),
                      "numpy (hand-written)": lambda: chain_numpy(x0)}
        if use_torch:
            xt = C.torch.tensor(x0, requires_grad=True)
            contenders["torch"] = lambda: chain_ours(xt)
    else:
        params = init_mlp(SIZES[case])
        x, y = data(case)
        xt_, yt_ = ag.Tensor(x), ag.Tensor(y)
        model_e, step_e = ours_step(params, case)
        model_c, step_c = ours_step(params, case)
        compiled = ag.compile(step_c)
        losses_e = [step_e(xt_, yt_).numpy() for _ in range(4)]
        losses_c = [compiled(xt_, yt_).numpy() for _ in range(4)]
        same = all(np.array_equal(a, b) for a, b in zip(losses_e, losses_c)) and all(
            np.array_equal(p.numpy(), q.numpy())
            for p, q in zip(model_e.parameters(), model_c.parameters()))
        ws, step_np = numpy_step(params, case)
        ref_model, ref_step = ours_step(params, case)
        ref_step(xt_, yt_)
        step_np(x, y)
        floor_ok = all(np.allclose(p.numpy(), q, rtol=1e-4, atol=1e-6) for p, q in
                       zip(ref_model.parameters(), [a for pair in ws for a in pair]))
        contenders = {"compiled": lambda: compiled(xt_, yt_), "eager": lambda: step_e(xt_, yt_),
                      "numpy (hand-written)": lambda: step_np(x, y)}
        if use_torch:
            step_t = torch_step(params, case)
            xtt, ytt = C.torch.from_numpy(x), C.torch.from_numpy(y)
            contenders["torch"] = lambda: step_t(xtt, ytt)
    print(f"   compiled vs eager: {'same numbers bit for bit' if same else 'MISMATCH'}; "
          f"floor's update vs ours: {'same' if floor_ok else 'MISMATCH'}")
    t = C.interleaved(contenders, repeat=args.repeat, warmup=args.warmup, number=args.number,
                      settle=args.settle)
    C.print_timings(list(t.values()))
    res = {f"{case}_compiled_ms": t["compiled"].median * 1e3,
           f"{case}_eager_ms": t["eager"].median * 1e3,
           f"{case}_numpy_ms": t["numpy (hand-written)"].median * 1e3}
    C.ratio_line(f"{case}: compiled / numpy", t["compiled"], t["numpy (hand-written)"],
                 target=TARGET.get(case), result=res, key=f"{case}:compiled/numpy")
    C.ratio_line(f"{case}: compiled / eager", t["compiled"], t["eager"],
                 target=1.0 if case == "large" else None, result=res,
                 key=f"{case}:compiled/eager")
    if use_torch:
        res[f"{case}_torch_ms"] = t["torch"].median * 1e3
        C.ratio_line(f"{case}: compiled / torch", t["compiled"], t["torch"], result=res,
                     key=f"{case}:compiled/torch")
    return res


def main(argv=None) -> dict:
    parser = C.make_parser(__doc__.splitlines()[0], repeat=30, warmup=5, settle=0.2, number=10)
    parser.add_argument("--case", nargs="*", default=["moons", "mlp128", "chain", "large"],
                        choices=["moons", "mlp128", "chain", "large"])
    args = parser.parse_args(argv)
    C.print_header("compiled steps vs eager, hand-written NumPy and PyTorch")
    result: dict = {}
    for case in args.case:
        result.update(run_case(case, args))
    C.emit_result(args, "compile", result)
    return result


if __name__ == "__main__":
    main()
