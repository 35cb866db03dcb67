"""A character-level recurrent network written from scratch, with a hand-written backward pass.

No layer library gives you this one: the recurrence is a user-defined op, ``TanhCell``, an
``ag.Function`` whose forward computes one step of an Elman RNN,

    h' = tanh(a + h W + b)          (a = the input's contribution, h = the previous state)

and whose backward is derived by hand:

    with d = g ⊙ (1 − h'²)  (tanh' = 1 − tanh², reusing the forward's output h'):
    ∂/∂a = d,   ∂/∂h = d Wᵀ,   ∂/∂W = hᵀ d,   ∂/∂b = Σ_batch d

The script first checks that backward against finite differences (``ag.gradcheck``, float64),
then trains the network to predict the next character of a short text, unrolled over windows of
characters (backpropagation through time), and prints the loss before and after training and a
sample of generated text.

    python examples/custom_model.py              # a few seconds
    python examples/custom_model.py --steps 60   # shorter
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import autograd as ag
import autograd.nn.functional as F
from autograd import nn, optim

TEXT = (
    "the chain rule carries the error backwards through the network. each neuron takes the "
    "gradient of the cost with respect to its output, multiplies it by the derivative of its "
    "activation, and hands the product to the weights and the inputs before it. for the sigmoid "
    "the derivative is p times one minus p, for the tanh it is one minus the square of the "
    "output, and both are already known from the forward pass. "
)


class TanhCell(ag.Function):
    """One recurrent step h' = tanh(a + h W + b), with the backward rule derived by hand."""

    @staticmethod
    def forward(ctx, a: ag.Tensor, h: ag.Tensor, W: ag.Tensor, b: ag.Tensor) -> ag.Tensor:
        out = (a + h @ W + b).tanh()
        ctx.save_for_backward(h, W, out)
        return out

    @staticmethod
    def backward(ctx, g: ag.Tensor):
        h, W, out = ctx.saved_tensors
        d = g * (1 - out * out)                      # through tanh: tanh' = 1 − tanh²
        return d, d @ W.T, h.T @ d, d.sum(axis=0)   # ∂a, ∂h, ∂W, ∂b


class CharRNN(nn.Module):
    """Embedding-free Elman RNN: the input's contribution is row ``c`` of ``W_in`` for character
    ``c`` (a one-hot times a matrix, done by indexing), the state runs through :class:`TanhCell`,
    and a linear read-out gives the next character's logits."""

    def __init__(self, vocab: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        s_in, s_h = 1.0 / np.sqrt(vocab), 1.0 / np.sqrt(hidden)
        self.W_in = nn.Parameter(ag.randn(vocab, hidden) * s_in)
        self.W_hh = nn.Parameter(ag.randn(hidden, hidden) * s_h)
        self.b_h = nn.Parameter(ag.zeros(hidden))
        self.W_out = nn.Parameter(ag.randn(hidden, vocab) * s_h)
        self.b_out = nn.Parameter(ag.zeros(vocab))

    def forward(self, chars: np.ndarray, h: ag.Tensor | None = None) -> tuple[ag.Tensor, ag.Tensor]:
        """Logits (batch, time, vocab) for integer ``chars`` (batch, time), and the last state."""
        batch, steps = chars.shape
        if h is None:
            h = ag.zeros(batch, self.hidden)
        logits = []
        for t in range(steps):
            h = TanhCell.apply(self.W_in[chars[:, t]], h, self.W_hh, self.b_h)
            logits.append(h @ self.W_out + self.b_out)
        return ag.stack(logits, axis=1), h


def check_cell_gradient() -> bool:
    """Finite-difference check of TanhCell's hand-written backward, in float64."""
    rng = np.random.default_rng(0)
    args = [ag.tensor(rng.normal(size=s), requires_grad=True) for s in [(3, 4), (3, 4), (4, 4), (4,)]]
    return ag.gradcheck(lambda *xs: TanhCell.apply(*xs), args)


def sequence_loss(model: CharRNN, windows: np.ndarray) -> ag.Tensor:
    """Mean cross-entropy of predicting each character of ``windows`` from those before it."""
    logits, _ = model(windows[:, :-1])
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, vocab), windows[:, 1:].reshape(-1))


def sample(model: CharRNN, start: str, n: int, stoi: dict, itos: list) -> str:
    """Greedy continuation of ``start`` by ``n`` characters."""
    with ag.no_grad():
        _, h = model(np.array([[stoi[c] for c in start]]))
        out, c = start, stoi[start[-1]]
        for _ in range(n):
            logits, h = model(np.array([[c]]), h)
            c = int(logits.numpy()[0, -1].argmax())
            out += itos[c]
    return out


def main(argv: list[str] | None = None) -> int:
    """Check the cell's gradient, train, and print the loss before and after."""
    parser = argparse.ArgumentParser(description="A character-level RNN with a custom ag.Function.")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--window", type=int, default=24, help="characters per training window")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    start_time = time.perf_counter()

    ok = check_cell_gradient()
    print(f"gradcheck of TanhCell's hand-written backward (float64): {'passed' if ok else 'FAILED'}")

    ag.manual_seed(args.seed)
    itos = sorted(set(TEXT))
    stoi = {c: i for i, c in enumerate(itos)}
    data = np.array([stoi[c] for c in TEXT], dtype=np.int64)
    rng = np.random.default_rng(args.seed)
    span = args.window + 1

    def windows(n: int) -> np.ndarray:
        starts = rng.integers(0, len(data) - span, n)
        return np.stack([data[s:s + span] for s in starts])

    model = CharRNN(len(itos), args.hidden)
    n_params = sum(p.size for p in model.parameters())
    print(f"text: {len(TEXT)} characters, vocabulary {len(itos)}; model: {n_params} parameters")
    held_out = windows(64)  # a fixed set of windows to measure the loss on
    with ag.no_grad():
        start_loss = sequence_loss(model, held_out).item()
    print(f"loss before training: {start_loss:.4f}   (uniform guessing: ln {len(itos)} = {np.log(len(itos)):.4f})")

    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    for step in range(1, args.steps + 1):
        loss = sequence_loss(model, windows(args.batch))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # the usual guard against exploding RNN gradients
        optimizer.step()
        if step % max(args.steps // 5, 1) == 0:
            print(f"  step {step:4d}  batch loss {loss.item():.4f}")

    with ag.no_grad():
        end_loss = sequence_loss(model, held_out).item()
    print(f"loss after training:  {end_loss:.4f}   ({start_loss / end_loss:.1f}x lower)")
    print(f"sample: {sample(model, 'the ', 60, stoi, itos)!r}")
    print(f"done in {time.perf_counter() - start_time:.1f} s")
    return 0 if ok and end_loss < start_loss else 1


if __name__ == "__main__":
    sys.exit(main())
