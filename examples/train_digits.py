"""Train a small MLP on scikit-learn's handwritten digits (8×8 images, 10 classes).

The data ship inside scikit-learn (``sklearn.datasets.load_digits``), so nothing is downloaded.
The network is 64 → 128 → 64 → 10 with ReLU and dropout, trained with Adam and a cosine
learning-rate schedule on cross-entropy; a tqdm bar shows the loss and accuracies as it trains. It writes, to
the folder given by ``--out`` (default ``examples/out/``):

* ``digits_mlp.npz``   the trained weights (``ag.save(model.state_dict(), ...)``; reload them
  with ``model.load_state_dict(ag.load(...))``, which this script also checks);
* ``loss_curve.png``   training loss per batch and per epoch;
* ``digits_graph.svg`` the computation graph of one small batch's loss, when ``autograd.viz``
  and a graph renderer are available (otherwise a one-line note says why not).

    python examples/train_digits.py                # full run: about 97-99% test accuracy
    python examples/train_digits.py --quick        # a few epochs, for a smoke test
    mpiexec -n 2 python examples/train_digits.py --distributed    # the same on 2 processes

With ``--distributed`` (``autograd.distributed``, the ``mpi`` extra) every process of the MPI
job trains the same model, wrapped in ``DistributedDataParallel``, on its share of each epoch
(``dist.shard``); a step takes ``batch-size / processes`` images on each process, so the global
batch, the number of steps and the accuracy are those of one process. Only rank 0 prints and
writes files. Without ``mpiexec`` it runs as one process. This network is far too small to gain
from a second process (a step is about a millisecond of arithmetic, against a round of
communication); it shows how, and ``benchmarks/bench_distributed.py`` measures a step big enough.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import autograd as ag
from autograd import nn, optim

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


class MLP(nn.Module):
    """64 → hidden → hidden/2 → 10, ReLU and dropout between layers; returns logits."""

    def __init__(self, n_in: int = 64, hidden: int = 128, n_classes: int = 10, dropout: float = 0.2) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, hidden // 2)
        self.fc3 = nn.Linear(hidden // 2, n_classes)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout)  # active in train(), the identity after eval()

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        h = self.drop(self.act(self.fc1(x)))
        h = self.drop(self.act(self.fc2(h)))
        return self.fc3(h)


def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits split 80/20 (stratified) into train/test, as float32 pixels standardised with
    the training set's per-pixel mean and standard deviation; int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target.astype(np.int64), test_size=0.2, random_state=seed,
        stratify=digits.target)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-2  # some border pixels are always 0
    x_train = ((x_train - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    return x_train, x_test, y_train, y_test


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, dist: Any = None) -> float:
    """The fraction of ``x`` whose largest logit is at the true label. With ``dist``
    (``autograd.distributed``) each process scores its share of ``x`` and the counts are summed
    across processes (a collective call)."""
    if dist is not None:
        mine = dist.shard(len(x))
        x, y = x[mine.start:mine.stop], y[mine.start:mine.stop]
    model.eval()
    with ag.no_grad():
        pred = model(ag.Tensor(x)).argmax(axis=1).numpy()
    model.train()
    counts = ag.Tensor(np.array([(pred == y).sum(), len(y)], dtype=np.int64))
    if dist is not None:
        dist.all_reduce(counts)
    return float(counts[0].item() / counts[1].item())


def save_loss_curve(batch_losses: list[float], epoch_losses: list[float], path: Path) -> None:
    """Plot the per-batch and per-epoch training loss to a PNG (matplotlib's Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps_per_epoch = len(batch_losses) / max(len(epoch_losses), 1)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(np.arange(1, len(batch_losses) + 1) / steps_per_epoch, batch_losses, lw=0.6,
            alpha=0.5, label="batch")
    ax.plot(np.arange(1, len(epoch_losses) + 1), epoch_losses, marker="o", ms=3, label="epoch mean")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_title("MLP on sklearn digits")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_graph_svg(model: nn.Module, x: np.ndarray, y: np.ndarray, path: Path) -> str:
    """Draw the graph of the loss of a 2-sample batch (in eval mode) with ``autograd.viz.save_svg``
    and return a one-line message, also when the viz extra or a Graphviz renderer is missing.
    The gradients drawn are those of this loss, computed for the picture (not the ``.grad`` that
    training left in the parameters)."""
    model.eval()  # the inference graph: dropout is the identity, so it draws no nodes
    images = ag.tensor(x[:2], name="images")
    loss = nn.CrossEntropyLoss()(model(images), y[:2])
    loss.name = "loss"
    model.train()
    try:  # parameters are labelled by their names in the model (fc1.weight, ...)
        written = ag.viz.save_svg(loss, path, params=model)
    except (ImportError, RuntimeError) as e:  # no graphviz package; no renderer, or it failed
        reason = str(e).splitlines()[0] if str(e) else ""
        return f"graph picture skipped: {type(e).__name__}: {reason}"
    return f"graph picture:  {written}"


def main(argv: list[str] | None = None) -> int:
    """Train, report test accuracy, save weights, loss curve and (if possible) the graph SVG."""
    parser = argparse.ArgumentParser(description="Train an MLP on sklearn's digits with autograd.")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    parser.add_argument("--quick", action="store_true", help="a 5-epoch smoke run (overrides --epochs)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's initial learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--no-progress", action="store_true", help="hide the tqdm progress bar")
    parser.add_argument("--distributed", action="store_true",
                        help="train on every process of an MPI job (mpiexec -n 2 python ... --distributed)")
    args = parser.parse_args(argv)
    # Imported before anything can fail: under mpiexec it makes an error on one process end the
    # whole job instead of leaving the others waiting. It never imports mpi4py without a launcher.
    import autograd.distributed as dist

    if not args.distributed and dist.world_size() > 1:
        parser.error(f"started as one of {dist.world_size()} MPI processes: add --distributed")
    rank, processes = dist.rank(), dist.world_size()
    say = print if rank == 0 else (lambda *a, **k: None)  # only rank 0 prints
    per_process = max(1, args.batch_size // processes)
    epochs = 5 if args.quick else args.epochs
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")

    from tqdm import tqdm

    start = time.perf_counter()
    ag.manual_seed(args.seed)
    x_train, x_test, y_train, y_test = load_data(args.seed)
    model = MLP()
    say(f"digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels, 10 classes")
    say(model)
    scorer = None
    if args.distributed:
        model = dist.DistributedDataParallel(model)  # copies rank 0's weights to every process
        ag.manual_seed(args.seed + rank)  # each process draws its own dropout masks
        scorer = dist
        say(f"distributed: {processes} process(es), {per_process} images each per step "
            f"(global batch {per_process * processes})")
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    order_rng = np.random.default_rng(args.seed)  # the same permutations on every process

    batch_losses: list[float] = []
    epoch_losses: list[float] = []
    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch",
               disable=args.no_progress or rank != 0, file=sys.stderr, dynamic_ncols=True)
    for _ in bar:
        order = order_rng.permutation(len(x_train))
        if args.distributed:  # this process's share; equal shares, so equal numbers of steps
            order = order[dist.shard(len(order), drop_last=True)]
        losses = []
        for i in range(0, len(order), per_process):
            idx = order[i:i + per_process]
            loss = criterion(model(ag.Tensor(x_train[idx])), y_train[idx])
            optimizer.zero_grad()
            loss.backward()  # with --distributed, leaves the gradients averaged over processes
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        batch_losses.extend(losses)  # this process's; the epoch mean below is over all of them
        epoch_loss = ag.tensor(np.mean(losses), dtype=np.float64)
        if args.distributed:
            dist.all_reduce(epoch_loss, "mean")  # the mean over every process's batches
        epoch_losses.append(epoch_loss.item())
        bar.set_postfix(loss=f"{epoch_losses[-1]:.4f}", train_acc=f"{accuracy(model, x_train, y_train, scorer):.3f}",
                        test_acc=f"{accuracy(model, x_test, y_test, scorer):.3f}")
    bar.close()
    train_time = time.perf_counter() - start

    test_acc = accuracy(model, x_test, y_test, scorer)
    train_acc = accuracy(model, x_train, y_train, scorer)
    say(f"final training loss: {epoch_losses[-1]:.4f} (epoch 1: {epoch_losses[0]:.4f})")
    say(f"train accuracy: {train_acc:.2%}")
    say(f"test accuracy: {test_acc:.2%}")

    weights = args.out / "digits_mlp.npz"
    if rank == 0:
        args.out.mkdir(parents=True, exist_ok=True)
    if args.distributed:
        dist.save(model.state_dict(), weights)  # rank 0 writes it, atomically; all wait for it
    else:
        ag.save(model.state_dict(), weights)
    if rank != 0:
        return 0
    reloaded = MLP()
    reloaded.load_state_dict(ag.load(weights))
    same = accuracy(reloaded, x_test, y_test) == test_acc
    print(f"weights:        {weights} (reloaded into a fresh MLP: "
          f"{'same test accuracy' if same else 'DIFFERENT accuracy'})")
    curve = args.out / "loss_curve.png"
    save_loss_curve(batch_losses, epoch_losses, curve)
    print(f"loss curve:     {curve}")
    print(save_graph_svg(model, x_test, y_test, args.out / "digits_graph.svg"))
    print(f"done in {time.perf_counter() - start:.1f} s (training {train_time:.1f} s, {epochs} epochs)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
