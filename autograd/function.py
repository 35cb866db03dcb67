"""User-defined ops: ``ag.Function``, as ``torch.autograd.Function``.

Subclass it with two static methods, ``forward(ctx, *args)`` and ``backward(ctx, *grads)``, and
call ``MyOp.apply(*args)``. ``forward`` sees Tensors but records nothing; ``backward`` receives
the output's gradient as a Tensor and returns one gradient (or None) per argument of forward.
Under ``create_graph=True`` backward runs with recording on, so a backward written with Tensor
ops is itself differentiable.
"""
from __future__ import annotations

import weakref
from typing import Any

from . import graph
from .tensor import Tensor, clock


class FunctionCtx:
    """Carries what forward leaves for backward: ``save_for_backward``, and any attribute."""

    def __init__(self, inputs: tuple, name: str) -> None:
        self.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in inputs)
        self._saved: tuple = ()
        self._stamp = 0
        self._name = name

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep these (Tensors or None) for backward; they are released after backward runs.
        Reading them back raises if one was changed in place in between (its version moved)."""
        self._saved = tensors
        self._stamp = next(clock)

    @property
    def saved_tensors(self) -> tuple:
        """What ``save_for_backward`` kept, checked to be unchanged since."""
        for i, t in enumerate(self._saved):
            vc = getattr(t, "_vc", None)
            if vc is not None and vc.stamp > self._stamp:
                raise RuntimeError(
                    f"{self._name}.backward: saved tensor {i} (shape {t.shape}) was modified by an "
                    f"in-place operation after save_for_backward, so the gradient would be "
                    f"computed from the wrong values"
                )
        return self._saved


class Function:
    """Base class of user-defined differentiable ops (see the module docstring)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError("a Function subclass must define backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` and, when any Tensor argument requires grad, record ``backward``."""
        ctx = FunctionCtx(args, cls.__name__)
        with graph.no_grad():
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{cls.__name__}.forward must return a single Tensor; got {type(out).__name__}"
            )
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        inputs = tuple(args[i] for i in positions)
        op = _OPS.get(cls)
        if op is None:  # one Op per subclass, made on first use (not among the built-in ops)
            op = _OPS[cls] = graph.Op(cls.apply, _function_vjp, name=cls.__name__, on_tensors=True)
        return graph.record(out.data, op, inputs, (cls, ctx, positions, len(args)))


_OPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _function_vjp(xp, node, g, out, *inputs):
    # Registered with on_tensors: g is a Tensor, and grad mode is on exactly when create_graph
    # records this backward (the engine sees to both).
    cls, ctx, positions, n_args = node.saved
    grads = cls.backward(ctx, g)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != n_args:
        raise RuntimeError(
            f"{cls.__name__}.backward returned {len(grads)} gradients; forward took {n_args} arguments"
        )
    return tuple(None if grads[i] is None else
                 grads[i] if isinstance(grads[i], Tensor) else Tensor(grads[i])
                 for i in positions)
