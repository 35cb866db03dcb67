"""The optimizer base class: parameter groups, ``zero_grad``, ``state_dict``.

An optimizer holds ``param_groups``, a list of dicts each with a ``"params"`` list and its own
hyperparameters (a group without, say, ``"lr"`` takes the optimizer's default), and ``state``,
per-parameter buffers (momentum, running averages) keyed by the parameter. ``step()`` updates
each parameter's ``.data`` array in place, outside the graph and in the parameter's own dtype:
a float32 parameter stays float32, and every reference to it stays valid.

Compiled steps (``ag.compile``) replay the array operations of an update. What may change from
step to step without passing through an array, the learning rate and the step count, is read
in small ``host`` functions that run again at every replay; the other hyperparameters are fixed
for a recording (changing one records the step again).
"""
from __future__ import annotations

import copy
from typing import Any
from collections.abc import Callable, Iterable

from .. import backend as B
from ..graph import enable_grad
from ..state import host
from ..tensor import Tensor, zero_grads

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a hyperparameter without a default (it must be given, per group or overall)."""

    def __repr__(self) -> str:
        return "<required>"


required = _Required()

ParamsT = Iterable[Tensor] | Iterable[dict]


class Optimizer:
    """Base of all optimizers. Subclasses define ``step()`` from ``self.param_groups`` and
    ``self.state``; see the module docstring."""

    def __init__(self, params: ParamsT, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params should be an iterable of Tensors or of dicts, not a single Tensor; "
                "wrap it in a list"
            )
        if hasattr(params, "named_parameters"):  # a Module, which may even be iterable
            raise TypeError(f"{type(self).__name__} takes the parameters to optimize, not the "
                            f"{type(params).__name__} module itself: pass model.parameters()")
        try:
            groups: list = list(params)  # Tensors, or dicts of parameter groups
        except TypeError:
            raise TypeError(f"{type(self).__name__} takes an iterable of Tensors or of "
                            f"parameter-group dicts, not {type(params).__name__} (for a model, "
                            "pass model.parameters())") from None
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (a dict with ``"params"`` and optional hyperparameters); unspecified
        hyperparameters take the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, not {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("parameters in a group must be an ordered collection, not a set")
        params = list(params) if params is not None else []
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors; item {i} is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can't optimize a non-leaf Tensor (item {i})")
            if p.data.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__} can only optimize floating tensors; "
                                f"item {i} has dtype {p.dtype}")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("a parameter group contains the same parameter twice")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to None (default, as PyTorch), or to zeros."""
        zero_grads((p for g in self.param_groups for p in g["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update the parameters once. ``closure``, if given, re-evaluates the model and returns
        the loss (it runs with gradients enabled); its result is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
            for p in group["params"]:
                if p.grad is not None:  # updated in place: nodes that saved it must see that
                    p._written()
        return loss

    def _update_group(self, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _grad(p: Tensor):
        """The gradient array of ``p`` in ``p``'s dtype (None if it has none)."""
        if p.grad is None:
            return None
        g = p.grad.data
        return g if g.dtype == p.data.dtype else g.astype(p.data.dtype)

    def _gradients(self, group: dict, l2: bool = True):
        """The (parameter, gradient array) pairs of ``group`` that have a gradient, with the
        gradient negated under ``maximize`` and, when ``l2``, weight decay added as λθ (the
        L2-penalty form SGD, Adam and RMSprop use; AdamW decays the weights itself)."""
        wd = float(group.get("weight_decay", 0.0))
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            if group.get("maximize"):
                g = -g
            if l2 and wd != 0:
                g = g + wd * p.data
            yield p, g

    @staticmethod
    @host
    def _lr(group: dict) -> float:
        """The group's learning rate, read afresh at every replay of a compiled step (a scheduler
        or the user may change it between steps; ``state.host``)."""
        return float(group["lr"])

    @staticmethod
    @host
    def _count_step(st: dict) -> int:
        """Advance a parameter's step count (run again at every replay of a compiled step)."""
        st["step"] += 1
        return st["step"]

    def _state(self, p: Tensor) -> dict:
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {}
        return st

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """A snapshot (copies) of the optimizer: ``{"state": {index: {...}}, "param_groups":
        [{hyperparameters, "params": [index, ...]}]}``, parameters numbered in group order.
        Save it with ``ag.save``."""
        index: dict = {}
        groups = []
        for g in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            packed["params"] = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: (v.copy() if B.is_array(v) else copy.deepcopy(v))
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and buffers saved by :meth:`state_dict` into this optimizer,
        whose groups must hold the same numbers of parameters (buffers are copied and cast to
        each parameter's dtype)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups; this optimizer has "
                f"{len(self.param_groups)}"
            )
        for i, (sg, g) in enumerate(zip(saved_groups, self.param_groups)):
            if len(sg["params"]) != len(g["params"]):
                raise ValueError(
                    f"loaded state dict's group {i} has {len(sg['params'])} parameters; this "
                    f"optimizer's has {len(g['params'])}"
                )
        params = {}
        for sg, g in zip(saved_groups, self.param_groups):
            for idx, p in zip(sg["params"], g["params"]):
                params[int(idx)] = p
        self.state = {}
        for idx, st in state_dict["state"].items():
            p = params.get(int(idx))
            if p is None:
                continue
            new = {}
            for k, v in st.items():
                if isinstance(v, Tensor):
                    v = v.data
                if B.is_array(v) and v.ndim > 0 and v.dtype.kind == "f":
                    v = v.astype(p.data.dtype, copy=True)
                elif B.is_array(v) and v.ndim == 0:
                    v = v.item()
                else:
                    v = copy.deepcopy(v)
                new[k] = v
            self.state[p] = new
        for sg, g in zip(saved_groups, self.param_groups):
            for k, v in sg.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) and k == "betas" else copy.deepcopy(v)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)
