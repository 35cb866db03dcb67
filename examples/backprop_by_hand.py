"""Backpropagation by hand, checked against the engine.

docs/derivations.md ("The cost") takes one layer of K neurons with inputs
x_1 .. x_M and weights w_{j,k}:

    z_k = Σ_j x_j w_{j,k},    y_k = g(z_k),    E = ½ Σ_k (g(z_k) − t_k)²

and derives, by the chain rule,

    ∂E/∂w_{j,k} = (g(z_k) − t_k) · g'(z_k) · x_j

with g' = g(1 − g) for the sigmoid and g' = 1 − g² for tanh. For softmax, each output depends on
every z, so g' is the Jacobian J = diag(p) − p pᵀ and the formula becomes
∂E/∂w_{j,k} = x_j Σ_i (p_i − t_i) J_{i,k}.

This script computes ∂E/∂w both ways in float64 — with ``E.backward()``, and with the formula in
plain NumPy — prints them side by side, and reports the largest difference (it should be at the
level of float64 rounding, ~1e-16).

    python examples/backprop_by_hand.py
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import autograd as ag
import autograd.nn.functional as F

ACTIVATIONS = ("sigmoid", "tanh", "softmax")
TOLERANCE = 1e-12

DERIVATIVES = {
    "sigmoid": "g'(z) = g(z) (1 − g(z))",
    "tanh": "g'(z) = 1 − g(z)²",
    "softmax": "g'(z) is the Jacobian J = diag(p) − p pᵀ, so ∂E/∂w_{j,k} = x_j Σ_i (p_i − t_i) J_{i,k}",
}


def make_problem(seed: int = 0, m: int = 4, k: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs x (M,), weights w (M, K) and one-hot targets t (K,), in float64."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=m)
    w = rng.normal(scale=0.5, size=(m, k))
    t = np.zeros(k)
    t[rng.integers(k)] = 1.0
    return x, w, t


def engine_gradient(x: np.ndarray, w: np.ndarray, t: np.ndarray, activation: str) -> tuple[float, np.ndarray]:
    """E and ∂E/∂w from the autograd engine: build E = ½ Σ_k (g(z_k) − t_k)², call backward()."""
    w_t = ag.tensor(w, requires_grad=True, name="w")
    z = ag.tensor(x, name="x") @ w_t                      # z_k = Σ_j x_j w_{j,k}
    y = getattr(F, activation)(z)                         # y_k = g(z_k)
    E = F.squared_error(y, ag.tensor(t, name="t"))        # E = ½ Σ_k (y_k − t_k)²
    E.backward()
    return E.item(), w_t.grad.numpy()


def hand_gradient(x: np.ndarray, w: np.ndarray, t: np.ndarray, activation: str) -> np.ndarray:
    """∂E/∂w_{j,k} = (g(z_k) − t_k) g'(z_k) x_j in plain NumPy (for softmax, through its Jacobian)."""
    z = x @ w
    if activation == "sigmoid":
        g = 1.0 / (1.0 + np.exp(-z))
        delta = (g - t) * g * (1.0 - g)                   # (g(z_k) − t_k) g'(z_k)
    elif activation == "tanh":
        g = np.tanh(z)
        delta = (g - t) * (1.0 - g**2)
    elif activation == "softmax":
        e = np.exp(z - z.max())
        p = e / e.sum()
        jacobian = np.diag(p) - np.outer(p, p)            # J_{i,k} = ∂p_i/∂z_k
        delta = (p - t) @ jacobian                        # Σ_i (p_i − t_i) J_{i,k}
    else:
        raise ValueError(f"unknown activation {activation!r}; choose from {ACTIVATIONS}")
    return np.outer(x, delta)                             # times x_j


def _vector(v: np.ndarray) -> str:
    return "[" + "  ".join(f"{a:+.4f}" for a in v) + "]"


def _side_by_side(left: np.ndarray, right: np.ndarray) -> str:
    head_l, head_r = "engine: w.grad after E.backward()", "hand formula in NumPy"
    width = max(len(head_l), len(_vector(left[0])))
    lines = [f"    {head_l:<{width}}    {head_r}"]
    for j, (a, b) in enumerate(zip(left, right)):
        lines.append(f"    {_vector(a):<{width}}    {_vector(b)}     (row j = {j + 1})")
    return "\n".join(lines)


def compare(activation: str, seed: int = 0) -> float:
    """Print the engine's and the hand formula's ∂E/∂w for one activation; return their largest
    absolute difference."""
    x, w, t = make_problem(seed)
    E, by_engine = engine_gradient(x, w, t, activation)
    by_hand = hand_gradient(x, w, t, activation)
    diff = float(np.max(np.abs(by_engine - by_hand)))
    ok = "agrees" if diff <= TOLERANCE else "DISAGREES"
    print(f"g = {activation}:  {DERIVATIVES[activation]}")
    print(f"    E = {E:.6f}")
    print(_side_by_side(by_engine, by_hand))
    print(f"    largest difference: {diff:.3e}   ({ok} to within {TOLERANCE:g})")
    print()
    return diff


def main(argv: list[str] | None = None) -> int:
    """Compare the gradients for sigmoid, tanh and softmax; exit status 1 if any disagree."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="seed for x, w and t (default 0)")
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # stay printable on terminals without Unicode

    x, w, t = make_problem(args.seed)
    print("Backpropagation by hand vs. the autograd engine (float64)")
    print("=" * 58)
    print("One layer:     z_k = Σ_j x_j w_{j,k},   E = ½ Σ_k (g(z_k) − t_k)²")
    print("Hand formula:  ∂E/∂w_{j,k} = (g(z_k) − t_k) · g'(z_k) · x_j")
    print(f"Inputs x = {_vector(x)}   targets t = {_vector(t)}   (M = {len(x)}, K = {len(t)})")
    print()
    worst = max(compare(a, args.seed) for a in ACTIVATIONS)
    if worst <= TOLERANCE:
        print(f"All three agree: the engine's gradients equal the hand formula "
              f"(largest difference {worst:.1e}, tolerance {TOLERANCE:g}).")
        return 0
    print(f"MISMATCH: largest difference {worst:.3e} exceeds {TOLERANCE:g}.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
