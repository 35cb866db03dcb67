"""Transformer block training step, float32: forward + backward + SGD update.

One pre-LayerNorm block and a per-token classifier, as a user writes it with the library:

    h = x + attn(ln1(x))                 nn.MultiheadAttention, causal, need_weights=False
    y = h + fc2(gelu(fc1(ln2(h))))       MLP 4× wider inside, exact (erf) GELU
    loss = F.cross_entropy(head(y), labels)   64 classes per token, mean over the tokens
    loss.backward(); optimizer.step()    plain SGD

Two sizes: "small" (batch 16, sequence 64, width 128, 4 heads, MLP 512) and "large" (batch 32,
sequence 128, width 256, 8 heads, MLP 1024). Contenders, interleaved round by round:

* ours  : the above (nn.LayerNorm, nn.MultiheadAttention, nn.Linear, F.gelu, optim.SGD);
* numpy : a hand-written NumPy forward and backward of the same math, the fastest recipe we
          know: every work array allocated once and reused (``out=``), the GELU's Φ kept from
          forward, the causal mask an additive 0/−inf matrix, the softmax backward as the
          product P ⊙ (dP − rowsum(dP ⊙ P)), the Q/K/V gradients written into one buffer for a
          single matrix product. erf is the backend's (the same NumPy code ours runs). Its
          gradients are checked against ours once before timing;
* torch : the same block with torch.nn modules, the same weights, the same threads.

Targets: ours / numpy <= 1.3 for both sizes; ours / torch <= 1.25 for the small one.

    python benchmarks/bench_transformer.py [--threads 2] [--repeat 10] [--only small] [--json]
"""
from __future__ import annotations

import _common as C  # must come first: sets BLAS threads before NumPy loads

import math

import numpy as np

import autograd as ag
import autograd.nn.functional as F
from autograd import nn, optim
from autograd.backend import erf

SIZES = {  # name: (batch, sequence, width, heads, mlp width)
    "small": (16, 64, 128, 4, 512),
    "large": (32, 128, 256, 8, 1024),
}
CLASSES = 64
LR = 0.01
EPS = 1e-5


# ----------------------------------------------------------------------------- ours
class Block(nn.Module):
    """A pre-LayerNorm transformer block and a per-token classifier, returning the loss."""

    def __init__(self, width: int, heads: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.head = nn.Linear(width, classes)

    def forward(self, x, labels, causal):
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, attn_mask=causal, is_causal=True, need_weights=False)
        x = x + a
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        logits = self.head(x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def step_ours(model, opt, x, labels, causal):
    loss = model(x, labels, causal)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


# ----------------------------------------------------------------------------- numpy floor
ORDER = ("ln1.weight", "ln1.bias", "attn.in_proj_weight", "attn.in_proj_bias",
         "attn.out_proj.weight", "attn.out_proj.bias", "ln2.weight", "ln2.bias",
         "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "head.weight", "head.bias")


class NumpyBlock:
    """The same step written by hand in NumPy, with every work array allocated once."""

    def __init__(self, params: dict, x: np.ndarray, labels: np.ndarray, heads: int) -> None:
        self.p = {k: params[k].copy() for k in ORDER}
        self.g = {k: np.empty_like(v) for k, v in self.p.items()}
        B, T, E = x.shape
        H, F_ = heads, self.p["fc1.weight"].shape[0]
        N, hd = B * T, E // heads
        self.dims = (B, T, E, H, hd, N, F_)
        self.x = x.reshape(N, E)
        self.rows = np.arange(N)
        self.labels = labels.reshape(-1)
        self.scale = np.float32(1 / math.sqrt(hd))
        self.mask = np.triu(np.full((T, T), -np.inf, dtype=np.float32), 1)
        f = np.float32
        e = lambda *s: np.empty(s, dtype=f)  # noqa: E731
        self.b = dict(  # work arrays, reused every step
            xc1=e(N, E), rs1=e(N, 1), h1=e(N, E), qkv=e(N, 3 * E), s=e(B, H, T, T),
            m=e(B, H, T, 1), ctx=e(B, T, H, hd), att=e(N, E), x1=e(N, E), xc2=e(N, E),
            rs2=e(N, 1), h2=e(N, E), u=e(N, F_), cdf=e(N, F_), a=e(N, F_), x2=e(N, E),
            z=e(N, CLASSES), q=e(B, H, T, hd), dz=e(N, CLASSES), dx2=e(N, E), da=e(N, F_),
            pdf=e(N, F_), dh2=e(N, E), dx1=e(N, E), dctx=e(B, H, T, hd), dp=e(B, H, T, T),
            r=e(B, H, T, 1), dqkv=e(N, 3 * E), dh1=e(N, E), tmp=e(N, E), tmpf=e(N, F_),
        )

    def _layernorm(self, x, w, bias, xc, rs, out):
        np.subtract(x, x.mean(axis=1, keepdims=True), out=xc)
        np.multiply(xc, xc, out=out)
        np.mean(out, axis=1, keepdims=True, out=rs)
        rs += EPS
        np.sqrt(rs, out=rs)
        np.divide(1.0, rs, out=rs)
        xc *= rs  # xc now holds x̂
        np.multiply(xc, w, out=out)
        out += bias
        return out

    def _layernorm_backward(self, dy, xhat, rs, w, gw, gb, dx, tmp):
        np.sum(dy, axis=0, out=gb)
        np.multiply(dy, xhat, out=tmp)
        np.sum(tmp, axis=0, out=gw)
        if dx is None:
            return
        np.multiply(dy, w, out=tmp)  # dx̂
        c1 = tmp.mean(axis=1, keepdims=True)
        c2 = (tmp * xhat).mean(axis=1, keepdims=True)
        tmp -= c1
        tmp -= xhat * c2
        tmp *= rs
        dx += tmp

    def step(self):
        p, g, b = self.p, self.g, self.b
        B, T, E, H, hd, N, F_ = self.dims
        x = self.x
        # ---- forward
        h1 = self._layernorm(x, p["ln1.weight"], p["ln1.bias"], b["xc1"], b["rs1"], b["h1"])
        qkv = np.matmul(h1, p["attn.in_proj_weight"].T, out=b["qkv"])
        qkv += p["attn.in_proj_bias"]
        heads = qkv.reshape(B, T, 3, H, hd).transpose(2, 0, 3, 1, 4)  # (3, B, H, T, hd) views
        q = np.multiply(heads[0], self.scale, out=b["q"])
        k, v = heads[1], heads[2]
        s = np.matmul(q, k.transpose(0, 1, 3, 2), out=b["s"])
        s += self.mask
        np.max(s, axis=-1, keepdims=True, out=b["m"])
        s -= b["m"]
        np.exp(s, out=s)
        np.sum(s, axis=-1, keepdims=True, out=b["m"])
        s /= b["m"]  # s is now P
        ctx = b["ctx"]
        np.matmul(s, v, out=ctx.transpose(0, 2, 1, 3))
        ctx2 = ctx.reshape(N, E)
        att = np.matmul(ctx2, p["attn.out_proj.weight"].T, out=b["att"])
        att += p["attn.out_proj.bias"]
        x1 = np.add(x, att, out=b["x1"])
        h2 = self._layernorm(x1, p["ln2.weight"], p["ln2.bias"], b["xc2"], b["rs2"], b["h2"])
        u = np.matmul(h2, p["fc1.weight"].T, out=b["u"])
        u += p["fc1.bias"]
        cdf = b["cdf"]
        np.multiply(u, np.float32(1 / math.sqrt(2)), out=cdf)
        cdf[...] = erf(cdf)
        cdf += 1
        cdf *= 0.5
        a = np.multiply(u, cdf, out=b["a"])
        x2 = np.matmul(a, p["fc2.weight"].T, out=b["x2"])
        x2 += p["fc2.bias"]
        x2 += x1
        z = np.matmul(x2, p["head.weight"].T, out=b["z"])
        z += p["head.bias"]
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)  # z is now softmax
        loss = -np.log(z[self.rows, self.labels]).mean()
        # ---- backward
        dz = b["dz"]
        np.copyto(dz, z)
        dz[self.rows, self.labels] -= 1
        dz /= N
        np.matmul(dz.T, x2, out=g["head.weight"])
        np.sum(dz, axis=0, out=g["head.bias"])
        dx2 = np.matmul(dz, p["head.weight"], out=b["dx2"])
        np.matmul(dx2.T, a, out=g["fc2.weight"])
        np.sum(dx2, axis=0, out=g["fc2.bias"])
        da = np.matmul(dx2, p["fc2.weight"], out=b["da"])
        pdf = b["pdf"]  # GELU' = Φ(u) + u φ(u)
        np.multiply(u, u, out=pdf)
        pdf *= -0.5
        np.exp(pdf, out=pdf)
        pdf *= np.float32(1 / math.sqrt(2 * math.pi))
        pdf *= u
        pdf += cdf
        da *= pdf  # du
        np.matmul(da.T, h2, out=g["fc1.weight"])
        np.sum(da, axis=0, out=g["fc1.bias"])
        dh2 = np.matmul(da, p["fc1.weight"], out=b["dh2"])
        dx1 = b["dx1"]
        np.copyto(dx1, dx2)  # the residual path
        self._layernorm_backward(dh2, b["xc2"], b["rs2"], p["ln2.weight"], g["ln2.weight"],
                                 g["ln2.bias"], dx1, b["tmp"])
        np.matmul(dx1.T, ctx2, out=g["attn.out_proj.weight"])
        np.sum(dx1, axis=0, out=g["attn.out_proj.bias"])
        dctx = np.matmul(dx1, p["attn.out_proj.weight"], out=b["tmp"]).reshape(B, T, H, hd)
        dctx = dctx.transpose(0, 2, 1, 3)  # (B, H, T, hd)
        dqkv = b["dqkv"]
        dheads = dqkv.reshape(B, T, 3, H, hd).transpose(2, 0, 3, 1, 4)
        np.matmul(s.transpose(0, 1, 3, 2), dctx, out=dheads[2])  # dv = Pᵀ dctx
        dp = np.matmul(dctx, v.transpose(0, 1, 3, 2), out=b["dp"])
        dp *= s  # dP ⊙ P
        np.sum(dp, axis=-1, keepdims=True, out=b["r"])
        # dS = P ⊙ (dP − r) = (dP ⊙ P) − P r
        np.multiply(s, b["r"], out=s)
        dp -= s
        np.matmul(dp, k, out=dheads[0])
        dheads[0] *= self.scale
        np.matmul(dp.transpose(0, 1, 3, 2), q, out=dheads[1])
        np.matmul(dqkv.T, h1, out=g["attn.in_proj_weight"])
        np.sum(dqkv, axis=0, out=g["attn.in_proj_bias"])
        dh1 = np.matmul(dqkv, p["attn.in_proj_weight"], out=b["dh1"])
        self._layernorm_backward(dh1, b["xc1"], b["rs1"], p["ln1.weight"], g["ln1.weight"],
                                 g["ln1.bias"], None, b["tmp"])
        # ---- SGD
        for k_ in ORDER:
            g[k_] *= LR
            p[k_] -= g[k_]
        return loss


# ----------------------------------------------------------------------------- torch
def torch_block(width, heads, hidden, state):
    torch = C.torch

    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = torch.nn.LayerNorm(width)
            self.attn = torch.nn.MultiheadAttention(width, heads, batch_first=True)
            self.ln2 = torch.nn.LayerNorm(width)
            self.fc1 = torch.nn.Linear(width, hidden)
            self.fc2 = torch.nn.Linear(hidden, width)
            self.head = torch.nn.Linear(width, CLASSES)

        def forward(self, x, labels, causal):
            h = self.ln1(x)
            a, _ = self.attn(h, h, h, attn_mask=causal, is_causal=True, need_weights=False)
            x = x + a
            x = x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x))))
            logits = self.head(x)
            return torch.nn.functional.cross_entropy(logits.reshape(-1, CLASSES), labels.reshape(-1))

    m = TorchBlock()
    m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return m


def step_torch(model, opt, x, labels, causal):
    loss = model(x, labels, causal)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


# ----------------------------------------------------------------------------- driver
def run_size(name, args, use_torch) -> dict:
    Bn, T, E, H, Fh = SIZES[name]
    print(f"-- {name}: batch {Bn}, sequence {T}, width {E}, {H} heads, MLP {Fh}, {CLASSES} classes")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((Bn, T, E)).astype(np.float32)
    labels = rng.integers(0, CLASSES, (Bn, T)).astype(np.int64)
    causal = np.triu(np.ones((T, T), dtype=bool), 1)
    ag.manual_seed(0)
    model = Block(E, H, Fh, CLASSES)
    with ag.no_grad():  # LayerNorm affine parameters away from 1 and 0, so that they matter
        for k, p in model.named_parameters():
            if k.startswith("ln"):
                p.data[...] += rng.standard_normal(p.shape).astype(np.float32) * 0.1
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    opt = optim.SGD(model.parameters(), lr=LR)
    floor = NumpyBlock(state, x, labels, H)

    # Same work: one step of ours and of the floor give the same loss and updated weights.
    xa = ag.Tensor(x)
    loss_ours = float(step_ours(model, opt, xa, labels, causal).item())
    loss_np = float(floor.step())
    worst = max((float(np.max(np.abs(model.state_dict()[k].numpy() - floor.p[k])))
                 / (float(np.max(np.abs(state[k] - floor.p[k]))) + 1e-12), k) for k in ORDER)
    same = np.isclose(loss_ours, loss_np, rtol=1e-5) and worst[0] < 1e-3
    print(f"   one-step check ours vs numpy: {'same update' if same else 'MISMATCH'} "
          f"(loss {loss_ours:.6f} vs {loss_np:.6f}; largest update difference {worst[0]:.1e} of "
          f"the update, in {worst[1]})")
    if not same:
        raise SystemExit("the NumPy floor does not compute what ours computes")
    contenders = {
        "ours": lambda: step_ours(model, opt, xa, labels, causal),
        "numpy (hand-written)": floor.step,
    }
    if use_torch:
        torch = C.torch
        tm = torch_block(E, H, Fh, state)
        t_opt = torch.optim.SGD(tm.parameters(), lr=LR)
        xt, lt, ct = torch.from_numpy(x), torch.from_numpy(labels), torch.from_numpy(causal)
        loss_t = float(step_torch(tm, t_opt, xt, lt, ct).item())
        print(f"   one-step check ours vs torch: loss {loss_ours:.6f} vs {loss_t:.6f} "
              f"({'same' if np.isclose(loss_ours, loss_t, rtol=1e-4) else 'MISMATCH'})")
        contenders["torch"] = lambda: step_torch(tm, t_opt, xt, lt, ct)
    t = C.interleaved(contenders, repeat=args.repeat, warmup=args.warmup, number=args.number,
                      settle=args.settle)
    C.print_timings(list(t.values()), extra={k: f"{1 / v.median:6.1f} steps/s" for k, v in t.items()})
    res = {f"{name}_ours_ms": t["ours"].median * 1e3,
           f"{name}_numpy_ms": t["numpy (hand-written)"].median * 1e3}
    C.ratio_line("ours / numpy (floor)", t["ours"], t["numpy (hand-written)"], target=1.3,
                 result=res, key=f"{name} ours/numpy")
    if use_torch:
        res[f"{name}_torch_ms"] = t["torch"].median * 1e3
        C.ratio_line("ours / torch", t["ours"], t["torch"], target=1.25 if name == "small" else None,
                     result=res, key=f"{name} ours/torch")
    return res


def main(argv=None) -> dict:
    parser = C.make_parser(__doc__.splitlines()[0], repeat=10, warmup=2, settle=0.2, number=3)
    parser.add_argument("--only", choices=sorted(SIZES), help="run one size only")
    args = parser.parse_args(argv)
    C.print_header("transformer block training step (pre-LayerNorm, causal attention, GELU MLP, "
                   "classifier, cross-entropy, SGD), float32")
    use_torch = C.use_torch(args)
    result: dict = {}
    for name in ([args.only] if args.only else list(SIZES)):
        result.update(run_size(name, args, use_torch))
    C.emit_result(args, "transformer", result)
    return result


if __name__ == "__main__":
    main()
