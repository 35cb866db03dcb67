"""Pictures of a computation graph: train a small network, then draw the graph of its loss.

The network is the one of docs/derivations.md, one hidden layer deep: 2 inputs → 4 sigmoid
units → 1 sigmoid output, trained on the XOR pattern (four corners of the square, with noisy
copies) with the squared-error cost E = ½ Σ (p − t)². After training, the script draws the
graph of the loss of the four corner points, twice (with ``autograd.viz``):

* ``graph.svg``      every tensor (with shape, values and gradient) and every op (with the
  backward rule it applies: σ' = p(1−p) for the sigmoid), grouped by module;
* ``graph_flow.svg`` the gradient-flow view: each tensor shaded by the norm of its gradient on
  a log scale, with vanishing or exploding gradients and saturated sigmoids flagged.

Both are drawn before any ``backward()`` of this loss: the pictures compute the gradient of E
with respect to every tensor themselves, and ignore the ``.grad`` that the last training step
left in the parameters. Hovering over a tensor shows its statistics and first values.

Everything is float64, so that the digits printed in the pictures do not depend on how a
particular CPU rounds: in float32, one rounding difference in one weight grows to a relative
difference of about 1e-6 over the training, enough to change the 4th digit of some printed
value now and then, and the README's pictures are compared byte for byte with what this script
makes (tests/test_viz_pictures.py).

    python examples/visualize_graph.py                  # writes to examples/out/
    python examples/visualize_graph.py --out examples/pictures --renderer graphviz-pure
                                                        # the README's pictures

Rendering uses Graphviz's ``dot`` if it is installed, else ``graphviz-pure`` (installed by
``pip install "readable-autograd[viz]"``); ``--renderer`` names another. The README's pictures
are made with ``graphviz-pure``, the renderer CI has.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import autograd as ag
import autograd.nn.functional as F
from autograd import nn, optim

DEFAULT_OUT = Path(__file__).resolve().parent / "out"

CORNERS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR = np.array([[0], [1], [1], [0]], dtype=np.float64)


class MLP(nn.Module):
    """2 → hidden → 1, sigmoid after each layer: outputs the probability of class 1."""

    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, hidden)
        self.act = nn.Sigmoid()
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return self.fc2(self.act(self.fc1(x))).sigmoid()


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy copies of the four XOR corners (Gaussian noise, σ = 0.1)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, size=n)
    return CORNERS[idx] + rng.normal(0.0, 0.1, size=(n, 2)), XOR[idx]


def train(model: MLP, steps: int, lr: float, seed: int) -> tuple[float, float]:
    """Full-batch Adam on the squared-error cost; returns the loss before and after."""
    x, t = make_data(128, seed)
    x, t = ag.tensor(x), ag.tensor(t)
    opt = optim.Adam(model.parameters(), lr=lr)
    first = last = float("nan")
    for step in range(steps):
        loss = F.squared_error(model(x), t) * (1.0 / len(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 0:
            first = loss.item()
        last = loss.item()
    return first, last


def corner_loss(model: MLP) -> ag.Tensor:
    """E for the four corners, with the input, target, output and loss named for the picture."""
    x = ag.tensor(CORNERS, name="x")
    t = ag.tensor(XOR, name="t")
    p = model(x)
    p.name = "p"
    loss = F.squared_error(p, t)
    loss.name = "E"
    return loss


def save_pictures(loss: ag.Tensor, model: MLP, out: Path,
                  renderer: str | None = None) -> tuple[Path, Path]:
    """Write ``graph.svg`` and ``graph_flow.svg`` of ``loss`` to ``out``. Values and gradients
    are printed for tensors of at most 8 elements (max_values=8); larger ones show their shape,
    and their statistics in a tooltip."""
    from autograd.viz import save_svg

    plain = save_svg(loss, out / "graph.svg", params=model, max_values=8, renderer=renderer)
    flow = save_svg(loss, out / "graph_flow.svg", params=model, grad_flow=True, max_values=8,
                    renderer=renderer)
    return plain, flow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train a small network and draw its graph.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--lr", type=float, default=0.05, help="Adam's learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--renderer", default=None,
                        help="Graphviz renderer to use (a command or path; default: look it up)")
    args = parser.parse_args(argv)

    ag.manual_seed(args.seed)
    model = MLP().double()
    before, after = train(model, args.steps, args.lr, args.seed)
    print(f"trained {args.steps} steps: loss {before:.4f} -> {after:.4f}")

    loss = corner_loss(model)
    p = loss.grad_fn.inputs[0]
    print("p =", " ".join(f"{v:.3f}" for v in p.numpy().ravel()), f"  E = {loss.item():.2e}")

    from autograd.viz import RendererNotFoundError

    try:
        plain, flow = save_pictures(loss, model, args.out, args.renderer)
    except RendererNotFoundError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"graph:              {plain}")
    print(f"gradient-flow view: {flow}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
