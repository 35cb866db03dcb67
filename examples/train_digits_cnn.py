"""Train a small convolutional network on scikit-learn's handwritten digits (8×8 images).

The data ship inside scikit-learn (``sklearn.datasets.load_digits``), so nothing is downloaded.
The network is three blocks of 3×3 convolution, batch normalisation and ReLU (with 2×2
max-pooling after the second and third), then a linear layer on the flattened 64×2×2 features;
it trains with Adam, a cosine learning-rate schedule and random one-pixel shifts of the images,
and a tqdm bar shows the loss and accuracies. It writes, to ``--out`` (default ``examples/out/``):

* ``digits_cnn.npz``        the trained weights and batch-norm statistics (``ag.save``; reloaded
  into a fresh network, which must score the same);
* ``digits_cnn_graph.svg``  the graph of one small batch's loss with each module drawn as one
  node (``collapse_modules=True``), when a graph renderer is available.

    python examples/train_digits_cnn.py            # full run: about 99% test accuracy
    python examples/train_digits_cnn.py --quick    # a few epochs, for a smoke test
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import autograd as ag
import autograd.nn.functional as F
from autograd import nn, optim

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


class DigitsCNN(nn.Module):
    """(N, 1, 8, 8) → conv-BN-ReLU ×3 with two 2×2 max-pools → (N, 64, 2, 2) → linear → 10 logits."""

    def __init__(self, n_classes: int = 10, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                                    # 8×8 → 4×4
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),                                                    # 4×4 → 2×2
        )
        self.flatten = nn.Flatten()
        self.drop = nn.Dropout(dropout)
        self.classify = nn.Linear(64 * 2 * 2, n_classes)

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return self.classify(self.drop(self.flatten(self.features(x))))


def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits split 80/20 (stratified) into train/test as (N, 1, 8, 8) float32 images scaled
    to mean 0 and standard deviation 1 over the training pixels; int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target.astype(np.int64), test_size=0.2, random_state=seed,
        stratify=digits.target)
    mean, std = x_train.mean(), x_train.std()
    x_train = ((x_train - mean) / std).astype(np.float32)[:, None]
    x_test = ((x_test - mean) / std).astype(np.float32)[:, None]
    return x_train, x_test, y_train, y_test


def shifted(x: np.ndarray, rng: np.random.Generator, background: float) -> np.ndarray:
    """Each image moved by up to one pixel in each direction (a fresh shift per image), the
    uncovered border filled with the background value: the digits' position varies a little."""
    n, _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=background)
    dy, dx = rng.integers(0, 3, size=(2, n))
    rows = dy[:, None] + np.arange(h)  # (n, h)
    cols = dx[:, None] + np.arange(w)
    return padded[np.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """The fraction of ``x`` whose largest logit is at the true label (evaluation mode: batch
    norm uses its running statistics)."""
    was_training = model.training
    model.eval()
    with ag.no_grad():
        pred = model(ag.Tensor(x)).argmax(axis=1).numpy()
    model.train(was_training)
    return float((pred == y).mean())


def save_graph_svg(model: nn.Module, x: np.ndarray, y: np.ndarray, path: Path) -> str:
    """Draw the loss of a 2-image batch (evaluation mode) with each module as one node."""
    try:
        from autograd.viz import save_svg
    except ImportError:
        return "graph picture skipped: autograd.viz.save_svg is not available"
    model.eval()
    loss = F.cross_entropy(model(ag.Tensor(x[:2])), y[:2])
    model.train()
    try:
        written = save_svg(loss, path, params=model, collapse_modules=True)
    except Exception as e:  # no renderer installed
        reason = str(e).splitlines()[0] if str(e) else ""
        return f"graph picture skipped: {type(e).__name__}: {reason}"
    return f"graph picture:  {written or path}"


def main(argv: list[str] | None = None) -> int:
    """Train, report the test accuracy, save and reload the weights, draw the graph."""
    parser = argparse.ArgumentParser(
        description="Train a small CNN on sklearn's digits with autograd.")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument("--quick", action="store_true", help="a 3-epoch smoke run (overrides --epochs)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's initial learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--no-progress", action="store_true", help="hide the tqdm progress bar")
    args = parser.parse_args(argv)
    epochs = 3 if args.quick else args.epochs
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")

    from tqdm import tqdm

    start = time.perf_counter()
    ag.manual_seed(args.seed)
    x_train, x_test, y_train, y_test = load_data(args.seed)
    background = float(x_train.min())  # the value of a blank pixel after scaling
    model = DigitsCNN()
    optimizer = optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    rng = np.random.default_rng(args.seed)
    print(f"digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels, 10 classes")
    print(model)

    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=args.no_progress,
               file=sys.stderr, dynamic_ncols=True)
    losses: list[float] = []
    for _ in bar:
        order = rng.permutation(len(x_train))
        batch_losses = []
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            x = shifted(x_train[idx], rng, background)
            loss = F.cross_entropy(model(ag.Tensor(x)), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            batch_losses.append(loss.item())
        losses.append(float(np.mean(batch_losses)))
        bar.set_postfix(loss=f"{losses[-1]:.4f}", train_acc=f"{accuracy(model, x_train, y_train):.3f}",
                        test_acc=f"{accuracy(model, x_test, y_test):.3f}")
    bar.close()
    train_time = time.perf_counter() - start

    test_acc = accuracy(model, x_test, y_test)
    print(f"final training loss: {losses[-1]:.4f} (epoch 1: {losses[0]:.4f})")
    print(f"train accuracy: {accuracy(model, x_train, y_train):.2%}")
    print(f"test accuracy: {test_acc:.2%}")

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "digits_cnn.npz"
    ag.save(model.state_dict(), weights)
    reloaded = DigitsCNN()
    reloaded.load_state_dict(ag.load(weights))
    same = accuracy(reloaded, x_test, y_test) == test_acc
    print(f"weights:        {weights} (with the batch-norm statistics; reloaded into a fresh "
          f"network: {'same test accuracy' if same else 'DIFFERENT accuracy'})")
    print(save_graph_svg(model, x_test, y_test, args.out / "digits_cnn_graph.svg"))
    print(f"done in {time.perf_counter() - start:.1f} s (training {train_time:.1f} s, {epochs} epochs)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
