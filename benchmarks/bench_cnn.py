"""CNN training step, float32: forward + backward + SGD update of a small convolutional network.

Two cases (``--case small``, ``--case large``, default both):

* small: batch 64 of (1, 28, 28): conv 3×3 1→16 pad 1, ReLU, max-pool 2, conv 3×3 16→32 pad 1,
  ReLU, max-pool 2, linear 32·7·7 → 10, cross-entropy (integer labels), SGD;
* large: batch 128 of (3, 32, 32), channels 3→32→64, then linear 64·8·8 → 10.

Ours is written as a user writes it with ``autograd.nn.functional``:

    h = F.max_pool2d(F.conv2d(x, W1, b1, padding=1).relu(), 2)
    h = F.max_pool2d(F.conv2d(h, W2, b2, padding=1).relu(), 2)
    loss = F.cross_entropy(F.linear(h.reshape(N, -1), W3, b3), labels)
    loss.backward();  p.data -= lr * p.grad.data;  p.grad = None

Contenders, interleaved:

* ours  : the above;
* numpy : the fastest hand-written NumPy step we know: activations laid out (C, N, H, W) so a
          convolution's output needs no transpose, each convolution one matrix product over the
          windows copied once into a (C·kH·kW, N·H·W) matrix that backward reuses, the input
          gradient one product plus kH·kW strided slice-adds, max-pooling as a running maximum
          over strided slices remembering the winning offset, and every work array allocated
          once and reused between steps (no page faults). Its loss and gradients are checked
          once against ours before timing. Target: ours / numpy ≤ 1.3;
* torch : PyTorch eager, ``torch.nn.functional``, same threads.

    python benchmarks/bench_cnn.py [--case small|large] [--threads 2] [--repeat 15] [--json]
"""
from __future__ import annotations

import _common as C  # must come first: sets BLAS threads before NumPy loads

import numpy as np

import autograd as ag
import autograd.nn.functional as F

LR = 0.01
CASES = {  # name: (batch, in channels, size, channels of the two convolutions)
    "small": (64, 1, 28, (16, 32)),
    "large": (128, 3, 32, (32, 64)),
}


def init_params(case: str, seed: int = 0) -> list:
    """W1, b1, W2, b2, W3, b3 (PyTorch's layouts: conv (O, C, 3, 3), linear (out, in)), float32."""
    n, c, size, (c1, c2) = CASES[case]
    rng = np.random.default_rng(seed)
    shapes = [(c1, c, 3, 3), (c1,), (c2, c1, 3, 3), (c2,), (10, c2 * (size // 4) ** 2), (10,)]
    out = []
    for s in shapes:
        fan_in = int(np.prod(s[1:])) if len(s) > 1 else s[0]
        out.append((rng.uniform(-1, 1, s) / np.sqrt(fan_in)).astype(np.float32))
    return out


def make_batch(case: str, seed: int = 1):
    n, c, size, _ = CASES[case]
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, c, size, size)).astype(np.float32),
            rng.integers(0, 10, size=n).astype(np.int64))


# ----------------------------------------------------------------------------- ours
def loss_ours(params, x, labels):
    W1, b1, W2, b2, W3, b3 = params
    h = F.max_pool2d(F.conv2d(x, W1, b1, padding=1).relu(), 2)
    h = F.max_pool2d(F.conv2d(h, W2, b2, padding=1).relu(), 2)
    return F.cross_entropy(F.linear(h.reshape(h.shape[0], -1), W3, b3), labels)


def step_ours(params, x, labels, lr=LR):
    loss = loss_ours(params, x, labels)
    loss.backward()
    for p in params:
        p.data -= lr * p.grad.data
        p.grad = None
    return loss


# ----------------------------------------------------------------------------- numpy floor
class NumpyCNN:
    """The hand-written step. Activations are laid out (C, N, H, W); every buffer is made once."""

    def __init__(self, params, x_shape) -> None:
        self.params = params
        n, c, size, _ = x_shape[0], x_shape[1], x_shape[2], None
        c1, c2 = params[0].shape[0], params[2].shape[0]
        f32 = np.float32
        s1, s2 = size, size // 2
        e = np.empty
        self.pad1 = np.zeros((c, n, s1 + 2, s1 + 2), f32)     # borders stay zero
        self.cols1 = e((c, 3, 3, n, s1, s1), f32)
        self.y1 = e((c1, n, s1, s1), f32)
        self.p1, self.arg1 = e((c1, n, s2, s2), f32), e((c1, n, s2, s2), np.int8)
        self.pad2 = np.zeros((c1, n, s2 + 2, s2 + 2), f32)
        self.cols2 = e((c1, 3, 3, n, s2, s2), f32)
        self.y2 = e((c2, n, s2, s2), f32)
        self.p2, self.arg2 = e((c2, n, s2 // 2, s2 // 2), f32), e((c2, n, s2 // 2, s2 // 2), np.int8)
        self.later1, self.later2 = e(self.p1.shape, bool), e(self.p2.shape, bool)
        self.flat = e((n, c2 * (s2 // 2) ** 2), f32)
        self.gy2, self.gy1 = e(self.y2.shape, f32), e(self.y1.shape, f32)
        self.gcols2 = e(self.cols2.shape, f32)
        self.gpad2 = e(self.pad2.shape, f32)
        self.mask2, self.mask1 = e(self.y2.shape, bool), e(self.y1.shape, bool)

    @staticmethod
    def _conv(w, b, x, pad, cols, y):
        """y = relu(W·im2col(x) + b) with x (C, N, H, W), 3×3 kernel, padding 1."""
        h, w_ = x.shape[2:]
        pad[:, :, 1:h + 1, 1:w_ + 1] = x
        for i in range(3):
            for j in range(3):
                cols[:, i, j] = pad[:, :, i:i + h, j:j + w_]
        y2 = y.reshape(y.shape[0], -1)
        np.matmul(w.reshape(w.shape[0], -1), cols.reshape(-1, y2.shape[1]), out=y2)
        y2 += b[:, None]
        np.maximum(y, 0, out=y)

    @staticmethod
    def _pool(y, best, arg, later):
        """2×2 max-pool with stride 2: running maximum over the four offsets, remembering the first
        winner (arg = max(arg, k·[s > best]): masked assignment is several times slower)."""
        best[...] = y[:, :, 0::2, 0::2]
        arg[...] = 0
        for k, (i, j) in enumerate(((0, 1), (1, 0), (1, 1)), start=1):
            s = y[:, :, i::2, j::2]
            np.greater(s, best, out=later)
            np.maximum(arg, later * np.int8(k), out=arg)
            np.maximum(best, s, out=best)

    @staticmethod
    def _unpool_relu(g, arg, y, gy, mask):
        """The pool's gradient onto its input (each window's to its winner), times relu' = y > 0."""
        for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            np.multiply(g, arg == k, out=gy[:, :, i::2, j::2])
        np.greater(y, 0, out=mask)
        gy *= mask

    def step(self, x, labels, lr=LR):
        loss, grads = self.gradients(x, labels)
        for p, g in zip(self.params, grads):
            p -= lr * g
        return loss

    def gradients(self, x, labels):
        """The loss and the gradients of W1, b1, W2, b2, W3, b3."""
        W1, b1, W2, b2, W3, b3 = self.params
        n = x.shape[0]
        # forward
        self._conv(W1, b1, x.transpose(1, 0, 2, 3), self.pad1, self.cols1, self.y1)
        self._pool(self.y1, self.p1, self.arg1, self.later1)
        self._conv(W2, b2, self.p1, self.pad2, self.cols2, self.y2)
        self._pool(self.y2, self.p2, self.arg2, self.later2)
        flat = self.flat  # (N, C·H·W) for the linear layer, from the (C, N, H, W) layout
        c2 = self.p2.shape[0]
        flat.reshape(n, c2, -1)[...] = self.p2.reshape(c2, n, -1).transpose(1, 0, 2)
        z = flat @ W3.T + b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = float(np.log(s[:, 0]).mean() - z[rows, labels].mean())
        # backward: d loss / d z = (softmax - onehot) / N
        gz = e / s
        gz[rows, labels] -= 1
        gz /= n
        gW3, gb3 = gz.T @ flat, gz.sum(axis=0)
        gp2 = (gz @ W3).reshape(n, self.p2.shape[0], -1).transpose(1, 0, 2).reshape(self.p2.shape)
        self._unpool_relu(gp2, self.arg2, self.y2, self.gy2, self.mask2)
        g2 = self.gy2.reshape(self.gy2.shape[0], -1)
        c2cols = self.cols2.reshape(-1, g2.shape[1])
        gW2, gb2 = (g2 @ c2cols.T).reshape(W2.shape), g2.sum(axis=1)
        gcols = self.gcols2.reshape(c2cols.shape)
        np.matmul(W2.reshape(W2.shape[0], -1).T, g2, out=gcols)
        gpad = self.gpad2
        gpad[...] = 0
        h, w_ = self.p1.shape[2:]
        for i in range(3):
            for j in range(3):
                gpad[:, :, i:i + h, j:j + w_] += self.gcols2[:, i, j]
        self._unpool_relu(gpad[:, :, 1:h + 1, 1:w_ + 1], self.arg1, self.y1, self.gy1, self.mask1)
        g1 = self.gy1.reshape(self.gy1.shape[0], -1)
        gW1 = (g1 @ self.cols1.reshape(-1, g1.shape[1]).T).reshape(W1.shape)
        gb1 = g1.sum(axis=1)
        return loss, (gW1, gb1, gW2, gb2, gW3, gb3)


# ----------------------------------------------------------------------------- torch
def step_torch(params, x, labels, lr=LR):
    TF = C.torch.nn.functional
    W1, b1, W2, b2, W3, b3 = params
    h = TF.max_pool2d(TF.relu(TF.conv2d(x, W1, b1, padding=1)), 2)
    h = TF.max_pool2d(TF.relu(TF.conv2d(h, W2, b2, padding=1)), 2)
    loss = TF.cross_entropy(TF.linear(h.reshape(h.shape[0], -1), W3, b3), labels)
    loss.backward()
    with C.torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss


def run_case(case: str, args, use_torch: bool, result: dict) -> None:
    n, c, size, (c1, c2) = CASES[case]
    print(f"-- {case}: batch {n}, input ({c}, {size}, {size}), channels {c}->{c1}->{c2}, "
          f"linear {c2 * (size // 4) ** 2}->10")
    x, labels = make_batch(case)
    init = init_params(case)
    p_ours = [ag.Tensor(p.copy(), requires_grad=True) for p in init]
    floor = NumpyCNN([p.copy() for p in init], x.shape)
    # Same work: the same loss and gradients from the same start, each gradient within 1e-4 of
    # its own largest element (float32 sums in different orders).
    loss = loss_ours(p_ours, x, labels)
    loss.backward()
    loss_np, grads_np = floor.gradients(x, labels)
    names = ("W1", "b1", "W2", "b2", "W3", "b3")
    errs = [float(np.max(np.abs(p.grad.data - g)) / np.max(np.abs(g))) for p, g in zip(p_ours, grads_np)]
    same = max(errs) < 1e-4 and np.isclose(loss.item(), loss_np, rtol=1e-5)
    print(f"   gradient check ours vs numpy: {'same gradients' if same else 'MISMATCH'} "
          f"(loss {loss.item():.6f} vs {loss_np:.6f}; largest relative difference "
          f"{max(errs):.1e}, in {names[int(np.argmax(errs))]})")
    for p in p_ours:
        p.grad = None
    assert all(p.data.dtype == np.float32 for p in p_ours), "ours left float32"
    x_t = ag.Tensor(x)
    contenders = {
        "ours": lambda: step_ours(p_ours, x_t, labels),
        "numpy (hand-written)": lambda: floor.step(x, labels),
    }
    if use_torch:
        torch = C.torch
        p_t = [torch.tensor(p.data.copy(), requires_grad=True) for p in p_ours]
        x_torch, lab_t = torch.from_numpy(x), torch.from_numpy(labels)
        step_ours(p_ours, x_t, labels)
        step_torch(p_t, x_torch, lab_t)
        same_t = all(np.allclose(a.data, b.detach().numpy(), rtol=1e-3, atol=1e-5)
                     for a, b in zip(p_ours, p_t))
        print(f"   one-step check ours vs torch: {'same updated weights' if same_t else 'MISMATCH'}")
        contenders["torch"] = lambda: step_torch(p_t, x_torch, lab_t)
    t = C.interleaved(contenders, repeat=args.repeat, warmup=args.warmup, number=args.number,
                      settle=args.settle)
    C.print_timings(list(t.values()), extra={k: f"{1 / v.median:6.1f} steps/s" for k, v in t.items()})
    result[f"{case}_ours_ms"] = t["ours"].median * 1e3
    result[f"{case}_numpy_ms"] = t["numpy (hand-written)"].median * 1e3
    C.ratio_line("ours / numpy (floor)", t["ours"], t["numpy (hand-written)"], target=1.3,
                 result=result, key=f"{case} ours/numpy")
    if use_torch:
        result[f"{case}_torch_ms"] = t["torch"].median * 1e3
        C.ratio_line("ours / torch", t["ours"], t["torch"], target=1.0 if case == "small" else None,
                     result=result, key=f"{case} ours/torch")


def main(argv=None) -> dict:
    parser = C.make_parser(__doc__.splitlines()[0], repeat=15, warmup=3, settle=0.2, number=3)
    parser.add_argument("--case", choices=sorted(CASES), action="append",
                        help="which network (default: both)")
    args = parser.parse_args(argv)
    C.print_header("CNN training step, float32, conv-relu-maxpool twice, linear, cross-entropy, SGD")
    use_torch = C.use_torch(args)
    result: dict = {}
    for case in args.case or list(CASES):
        run_case(case, args, use_torch, result)
    C.emit_result(args, "cnn", result)
    return result


if __name__ == "__main__":
    main()
