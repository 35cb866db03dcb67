"""A tiny decoder-only transformer that learns the Zen of Python character by character.

The text ships with Python (``import this``), so nothing is downloaded. The model is the GPT
recipe at toy size:

    token embedding + position embedding
    N × [ x + attention(LayerNorm(x)),  causal: each position sees itself and those before it
          x + MLP(LayerNorm(x)) ]       MLP = Linear → GELU → Linear, 4× wider inside
    LayerNorm → Linear to the vocabulary (its weight tied to the token embedding)

trained with AdamW to predict each next character. It prints the loss on a fixed set of windows
before and after training, the batch loss as it falls, and a sample of generated text. The same
``--seed`` gives the same run, to the last digit.

    python examples/char_transformer.py            # 600 steps, about a minute: loss 3.81 → 0.07
    python examples/char_transformer.py --quick    # 80 steps, a few seconds (CI)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time

# The matrices here are small (64 wide): BLAS threads cost more than they give, and on a busy
# machine a spinning second thread can make every step several times slower. Set before NumPy
# loads (the environment still wins when it names a thread count).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import autograd as ag  # noqa: E402
import autograd.nn.functional as F  # noqa: E402
from autograd import nn, optim  # noqa: E402


def zen_of_python() -> str:
    """The text ``import this`` prints (stored ROT13-encoded in the module ``this``)."""
    with contextlib.redirect_stdout(io.StringIO()):  # importing it prints the text
        import this
    return "".join(this.d.get(c, c) for c in this.s)


class Block(nn.Module):
    """One pre-LayerNorm transformer block: causal self-attention, then a GELU MLP, each added
    to the residual stream."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.ln2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.proj = nn.Linear(4 * width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: ag.Tensor, causal: np.ndarray) -> ag.Tensor:
        h = self.ln1(x)
        # PyTorch's convention: True marks a key that may not be attended to (a later position).
        a, _ = self.attn(h, h, h, attn_mask=causal, is_causal=True, need_weights=False)
        x = x + self.drop(a)
        return x + self.drop(self.proj(F.gelu(self.fc(self.ln2(x)))))


class CharTransformer(nn.Module):
    """Logits for the next character at every position of a (batch, time) array of indices."""

    def __init__(self, vocab: int, context: int, width: int = 64, heads: int = 4, layers: int = 2,
                 dropout: float = 0.0, tie_weights: bool = True) -> None:
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)
        for emb in (self.tok, self.pos):  # small embeddings: the first logits are near uniform
            nn.init.normal_(emb.weight, 0.0, 0.02)
        self.blocks = nn.ModuleList([Block(width, heads, dropout) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        if tie_weights:  # the read-out shares the token embedding (vocab, width)
            self.head.weight = self.tok.weight

    def forward(self, idx: np.ndarray) -> ag.Tensor:
        T = idx.shape[1]
        if T > self.context:
            raise ValueError(f"CharTransformer: {T} positions, but the context is {self.context}")
        x = self.tok(idx) + self.pos(np.arange(T))
        causal = np.triu(np.ones((T, T), dtype=bool), k=1)
        for block in self.blocks:
            x = block(x, causal)
        return self.head(self.ln(x))


def loss_on(model: CharTransformer, windows: np.ndarray) -> ag.Tensor:
    """Mean cross-entropy of each character of ``windows`` given the ones before it."""
    logits = model(windows[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))


def generate(model: CharTransformer, prompt: str, n: int, stoi: dict, itos: list,
             rng: np.random.Generator, temperature: float = 0.8) -> str:
    """Continue ``prompt`` by ``n`` characters, sampling each from the model's softmax."""
    model.eval()
    idx = [stoi[c] for c in prompt]
    with ag.no_grad():
        for _ in range(n):
            logits = model(np.array([idx[-model.context:]]))[0, -1].numpy() / temperature
            p = np.exp(logits - logits.max())
            idx.append(int(rng.choice(len(p), p=p / p.sum())))
    model.train()
    return "".join(itos[i] for i in idx)


def main(argv: list[str] | None = None) -> int:
    """Train, and print the loss before and after and a sample."""
    parser = argparse.ArgumentParser(description="A tiny transformer on the Zen of Python.")
    parser.add_argument("--steps", type=int, default=600, help="training steps (default 600)")
    parser.add_argument("--quick", action="store_true", help="80 steps, for CI")
    parser.add_argument("--context", type=int, default=64, help="characters the model sees")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--no-tie", action="store_true", help="a separate read-out matrix")
    parser.add_argument("--sample", type=int, default=160, help="characters to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="periodic lines, no tqdm bar")
    args = parser.parse_args(argv)
    steps = 80 if args.quick else args.steps
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    start_time = time.perf_counter()

    text = zen_of_python()
    itos = sorted(set(text))
    stoi = {c: i for i, c in enumerate(itos)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    ag.manual_seed(args.seed)  # initialisation and dropout
    rng = np.random.default_rng(args.seed)  # batches and sampling
    span = args.context + 1

    def windows(n: int) -> np.ndarray:
        starts = rng.integers(0, len(data) - span, n)
        return data[starts[:, None] + np.arange(span)]

    model = CharTransformer(len(itos), args.context, args.width, args.heads, args.layers,
                            args.dropout, tie_weights=not args.no_tie)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"text: the Zen of Python, {len(text)} characters, vocabulary {len(itos)}; "
          f"model: {args.layers} blocks of width {args.width}, {n_params} parameters")
    held_out = windows(16)
    with ag.no_grad():
        start_loss = loss_on(model, held_out).item()
    print(f"loss before training: {start_loss:.4f}   (uniform guessing: ln {len(itos)} = "
          f"{np.log(len(itos)):.4f})")

    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    bar = None
    if not args.no_progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc="training", unit="step")
        except ImportError:
            pass
    for step in range(1, steps + 1):
        loss = loss_on(model, windows(args.batch))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        elif step % max(steps // 8, 1) == 0:
            print(f"  step {step:4d}  batch loss {loss.item():.4f}")
    if bar is not None:
        bar.close()

    with ag.no_grad():
        end_loss = loss_on(model, held_out).item()
    print(f"loss after training:  {end_loss:.4f}   ({start_loss / end_loss:.1f}x lower)")
    print("sample:")
    print(generate(model, "Beautiful is", args.sample, stoi, itos, rng))
    print(f"done in {time.perf_counter() - start_time:.1f} s")
    return 0 if end_loss < start_loss else 1


if __name__ == "__main__":
    sys.exit(main())
