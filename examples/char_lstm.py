"""A character-level language model built from library layers: Embedding → LSTM → Linear.

The recurrent sibling of ``custom_model.py``, which writes its recurrence by hand as an
``ag.Function``; here ``nn.LSTM`` does it (PyTorch's gates and parameter names, with
backpropagation through time as the backward rule of one op per layer). The script trains the
model to predict the next character of a short text from the characters before it, over random
windows of the text, and prints the loss on a fixed set of windows before and after training and
a greedy sample.

    python examples/char_lstm.py               # 300 steps, a few seconds
    python examples/char_lstm.py --quick       # 80 steps, for CI
    python examples/char_lstm.py --cell gru    # the same with nn.GRU
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
    "a recurrent network reads a sequence one step at a time and carries a state from each step "
    "to the next. to train it, the error at every step is sent backwards through the steps that "
    "came before, which is called backpropagation through time. the lstm keeps a cell state that "
    "a forget gate scales and an input gate adds to, so the gradient can travel many steps "
    "without fading away. "
)


class CharModel(nn.Module):
    """Characters in, next-character logits out: each character's embedding goes through a
    recurrent layer (``nn.LSTM`` or ``nn.GRU``, batch_first) and a linear read-out."""

    def __init__(self, vocab: int, embed: int, hidden: int, cell: str = "lstm", layers: int = 1) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        layer = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = layer(embed, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, chars: np.ndarray, state=None):
        """Logits (batch, time, vocab) for integer ``chars`` (batch, time), and the last state
        (``(h, c)`` for the LSTM, ``h`` for the GRU), to continue from."""
        hs, state = self.rnn(self.embed(chars), state)
        return self.out(hs), state


def sequence_loss(model: CharModel, windows: np.ndarray) -> ag.Tensor:
    """Mean cross-entropy of predicting each character of ``windows`` from those before it."""
    logits, _ = model(windows[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))


def sample(model: CharModel, start: str, n: int, stoi: dict, itos: list) -> str:
    """Greedy continuation of ``start`` by ``n`` characters, carrying the recurrent state."""
    with ag.no_grad():
        logits, state = model(np.array([[stoi[c] for c in start]]))
        out = start
        for _ in range(n):
            c = int(logits.numpy()[0, -1].argmax())
            out += itos[c]
            logits, state = model(np.array([[c]]), state)
    return out


def main(argv: list[str] | None = None) -> int:
    """Train, and print the loss before and after and a sample."""
    parser = argparse.ArgumentParser(description="A character-level LSTM language model.")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--quick", action="store_true", help="80 steps (for CI)")
    parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--embed", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--window", type=int, default=32, help="characters per training window")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    steps = 80 if args.quick else args.steps
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    start_time = time.perf_counter()

    ag.manual_seed(args.seed)
    itos = sorted(set(TEXT))
    stoi = {c: i for i, c in enumerate(itos)}
    data = np.array([stoi[c] for c in TEXT], dtype=np.int64)
    rng = np.random.default_rng(args.seed)
    span = args.window + 1

    def windows(n: int) -> np.ndarray:
        starts = rng.integers(0, len(data) - span, n)
        return np.stack([data[s:s + span] for s in starts])

    model = CharModel(len(itos), args.embed, args.hidden, args.cell, args.layers)
    n_params = sum(p.size for p in model.parameters())
    print(f"text: {len(TEXT)} characters, vocabulary {len(itos)}; model: {args.cell.upper()}, "
          f"{n_params} parameters")
    held_out = windows(64)  # a fixed set of windows to measure the loss on
    with ag.no_grad():
        start_loss = sequence_loss(model, held_out).item()
    print(f"loss before training: {start_loss:.4f}   (uniform guessing: ln {len(itos)} = {np.log(len(itos)):.4f})")

    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    for step in range(1, steps + 1):
        loss = sequence_loss(model, windows(args.batch))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # the usual guard for recurrent nets
        optimizer.step()
        if step % max(steps // 5, 1) == 0:
            print(f"  step {step:4d}  batch loss {loss.item():.4f}")

    with ag.no_grad():
        end_loss = sequence_loss(model, held_out).item()
    print(f"loss after training:  {end_loss:.4f}   ({start_loss / end_loss:.1f}x lower)")
    print(f"sample: {sample(model, 'the ', 60, stoi, itos)!r}")
    print(f"done in {time.perf_counter() - start_time:.1f} s")
    return 0 if end_loss < start_loss else 1


if __name__ == "__main__":
    sys.exit(main())
