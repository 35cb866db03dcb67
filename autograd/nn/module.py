"""``nn.Module`` and ``nn.Parameter``: the bookkeeping every layer shares.

A module is an object whose attributes may be parameters (trainable tensors), buffers (saved but
not trained) and other modules. Assigning one of these as an attribute registers it, so that
``parameters()``, ``state_dict()``, ``zero_grad()``, ``train()``/``eval()`` and the ``repr`` find
the whole tree without the layer author listing anything.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, NamedTuple
from collections.abc import Callable, Iterator, Mapping

from .. import backend as B
from .. import state
from ..graph import name_scope
from ..tensor import RemovableHandle, Tensor, zero_grads

__all__ = ["Module", "Parameter"]


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as trainable when assigned as an attribute.

    ``Parameter(data=None, requires_grad=True, name=None)``. ``data`` follows the Tensor dtype
    policy (a NumPy array keeps its dtype and its memory; a Tensor's array is shared); an empty
    float32 tensor when omitted. Results of ops on parameters are ordinary Tensors.
    """

    def __init__(self, data: Any = None, requires_grad: bool = True, name: str | None = None) -> None:
        if data is None:
            data = B.zeros((0,), dtype=B.float32)
        if name is None and isinstance(data, Tensor):
            name = data.name
        super().__init__(data, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped: keys the module expected but did not get,
    and keys it got but has no slot for."""

    missing_keys: list
    unexpected_keys: list


# The modules whose forward is running, innermost last: a module called inside another's forward
# is named in the graph by where that caller keeps it.
class _Calls(threading.local):
    def __init__(self) -> None:
        self.stack: list = []  # per thread: two threads may run two models at once


_calls = _Calls()


class Module:
    """Base class of layers and models.

    Subclass it, call ``super().__init__()`` first, assign parameters, buffers and submodules as
    attributes, and define ``forward``. Calling the module (``model(x)``) runs ``forward``.

    Registration by assignment:

    * a :class:`Parameter` becomes a parameter (``None`` keeps a named empty slot, as for
      ``Linear(..., bias=False)``);
    * a :class:`Module` becomes a submodule; lists and dicts of modules go in
      :class:`~autograd.nn.ModuleList` / :class:`~autograd.nn.ModuleDict`;
    * ``register_buffer(name, tensor)`` adds non-trainable state that ``state_dict`` saves.

    Names are dotted paths from this module: ``fc1.weight``, ``layers.0.bias``, ``heads.cls.weight``.

    Graph scopes (for pictures of the graph): ``__call__`` runs ``forward`` inside
    ``autograd.graph.name_scope``, so every graph node recorded there carries, in
    ``node.scope``, the path of modules it was made in. A module called from no other module's
    forward (the root) is named by its class; a module called inside a parent's forward is named
    as the parent holds it: the attribute name, the index in a ``Sequential``/``ModuleList``, the
    key in a ``ModuleDict`` (through containers the path has one element per level, so an item
    of ``self.layers = ModuleList(...)`` gets ``("layers", "0")``). A node made in ``model.fc1``
    while ``model`` (a class ``MLP``) runs thus has ``scope == ("MLP", "fc1")``. A module held
    under two names (tied weights) is labelled by the first of them on every call.
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["training"] = True
        d["_forward_pre_hooks"] = []
        d["_forward_hooks"] = []

    # ------------------------------------------------------------------ forward and scopes
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """What calling the module computes; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` under this module's graph scope (see the class docstring)."""
        path = self._scope_path()
        scopes = [name_scope(p) for p in path]
        for s in scopes:
            s.__enter__()
        calls = _calls.stack
        calls.append(self)
        try:
            if (self._forward_pre_hooks or self._forward_hooks) and state.current.recorder:
                state.current.recorder.python_hook("module forward hook")
            if self._forward_pre_hooks:
                for hook in list(self._forward_pre_hooks):
                    r = hook(self, args)
                    if r is not None:
                        args = r if isinstance(r, tuple) else (r,)
            out = self.forward(*args, **kwargs)
            if self._forward_hooks:
                for hook in list(self._forward_hooks):
                    r = hook(self, args, out)
                    if r is not None:
                        out = r
            return out
        finally:
            calls.pop()
            for s in reversed(scopes):
                s.__exit__(None, None, None)

    def register_forward_hook(self, hook: Callable[[Module, tuple, Any], Any]) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every ``forward``; a non-None return
        replaces the output. Returns a handle whose ``remove()`` unregisters it."""
        return RemovableHandle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook: Callable[[Module, tuple], Any]) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before every ``forward``; a non-None return (a tuple, or
        a single value) replaces the positional inputs. Returns a removable handle."""
        return RemovableHandle(self._forward_pre_hooks, hook)

    def _scope_path(self) -> tuple:
        """The scope elements this call adds: the class name for a root call, else the path from
        the calling module to this one."""
        calls = _calls.stack
        if not calls:
            return (type(self).__name__,)
        caller = calls[-1]
        for name, m in caller._modules.items():  # the common case: a direct child
            if m is self:
                return (name,)
        for name, m in caller.named_modules(remove_duplicate=False):
            if m is self and name:
                return tuple(name.split("."))
        return (self.__dict__.get("_registered_name") or type(self).__name__,)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() is called")
            self._discard(name, "_parameters")
            params[name] = value
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign submodules before Module.__init__() is called")
            self._discard(name, "_modules")
            d["_modules"][name] = value
            value.__dict__["_registered_name"] = name
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' of "
                    f"{type(self).__name__} (an nn.Parameter or None is expected)"
                )
            params[name] = None
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as submodule '{name}' of "
                    f"{type(self).__name__} (an nn.Module or None is expected)"
                )
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer '{name}' of "
                    f"{type(self).__name__} (a Tensor or None is expected)"
                )
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _discard(self, name: str, keep: str = "") -> None:
        """Forget ``name`` wherever it was stored, except in the store ``keep`` that is about to
        receive it again (so that replacing an item keeps its place in the order)."""
        d = self.__dict__
        d.pop(name, None)
        for store in ("_parameters", "_modules", "_buffers"):
            if store != keep:
                d[store].pop(name, None)
        d["_non_persistent"].discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when ordinary lookup fails: the registered things live in the dicts.
        d = self.__dict__
        for store in ("_parameters", "_modules", "_buffers"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for store in ("_parameters", "_modules", "_buffers"):
            if name in d.get(store, ()):
                del d[store][name]
                d["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules) | set(self._buffers))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter, or None for an empty slot) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be an nn.Parameter or None, not {type(param).__name__}")
        self._check_name(name)
        self._discard(name, "_parameters")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register non-trainable state under ``name``; ``state_dict`` includes it if ``persistent``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, not {type(tensor).__name__}")
        self._check_name(name)
        self._discard(name, "_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` (or None) as a submodule under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be an nn.Module or None, not {type(module).__name__}")
        self._check_name(name)
        self._discard(name, "_modules")
        self._modules[name] = module
        if module is not None:
            module.__dict__["_registered_name"] = name

    register_module = add_module

    def _check_name(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() before registering anything")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"a module's attribute name must be a non-empty string without '.'; got {name!r}")

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module (name ``''``) and every submodule, depth first.
        A module reachable by several paths is listed once unless ``remove_duplicate=False``."""
        stack = [(prefix, self)]
        seen = memo if memo is not None else set()
        while stack:
            name, m = stack.pop()
            if remove_duplicate:
                if id(m) in seen:
                    continue
                seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every submodule."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for the direct submodules."""
        seen: set = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        """The direct submodules."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen: set = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_name, m in mods:
            for k, v in m.__dict__[store].items():
                if v is None:
                    continue
                if remove_duplicate:
                    if id(v) in seen:
                        continue
                    seen.add(id(v))
                yield (f"{mod_name}.{k}" if mod_name else k), v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, e.g. ``('fc1.weight', Parameter)``; a parameter shared
        by several modules is listed once (under its first name)."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters of this module and (with ``recurse``) of every submodule, each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """The buffers of this module and its submodules."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on this module; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ training state
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to None (default, as PyTorch), or to zeros."""
        zero_grads(self.parameters(), set_to_none)

    def train(self, mode: bool = True) -> Module:
        """Put this module and all submodules in training mode (``mode=False``: evaluation);
        this changes what ``Dropout`` does. Returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) expects a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``. Returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (``False`` freezes the module). Returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, dtype: Any) -> Module:
        """Convert every floating parameter and buffer (and gradient) to ``dtype``, in place on
        the tensors, so that existing references (an optimizer's) stay valid. Returns self."""
        dtype = B.asarray(0, dtype=dtype).dtype
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                t._written()
                if t.grad is not None:
                    t.grad = Tensor(t.grad.data.astype(dtype))
        return self

    def double(self) -> Module:
        """Convert floating parameters and buffers to float64. Returns self."""
        return self.to(B.float64)

    def float(self) -> Module:
        """Convert floating parameters and buffers to float32. Returns self."""
        return self.to(B.float32)

    # ------------------------------------------------------------------ state
    def _state_slots(self) -> OrderedDict[str, Tensor]:
        """Every saved tensor by dotted name: parameters, then persistent buffers, per module."""
        out: OrderedDict = OrderedDict()
        for mod_name, m in self.named_modules(remove_duplicate=False):
            pre = f"{mod_name}." if mod_name else ""
            for k, p in m._parameters.items():
                if p is not None:
                    out[pre + k] = p
            for k, b in m._buffers.items():
                if b is not None and k not in m._non_persistent:
                    out[pre + k] = b
        return out

    def state_dict(self, keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, in registration order.

        The values are detached Tensors sharing memory with the parameters (so they follow later
        training, as in PyTorch; copy them to keep a snapshot), or the Parameters themselves
        with ``keep_vars=True``. Save it with ``ag.save``.
        """
        slots = self._state_slots()
        if keep_vars:
            return slots
        return OrderedDict((k, v.detach()) for k, v in slots.items())

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` (Tensors or arrays by dotted name) into the parameters
        and buffers, in place and in their own dtypes.

        With ``strict`` (default) the keys must match exactly. Any missing or unexpected key
        (under ``strict``), any shape mismatch, or any value that is not an array of numbers
        (always) raises a ``RuntimeError`` naming all of them, and nothing is copied: every value
        is checked and converted first. Returns the missing and unexpected keys.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping of names to tensors, got {type(state_dict).__name__}")
        slots = self._state_slots()
        missing = [k for k in slots if k not in state_dict]
        unexpected = [k for k in state_dict if k not in slots]
        arrays = {}
        mismatched = []
        for k, target in slots.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            try:
                arr = v.data if isinstance(v, Tensor) else B.asarray(v)
            except (TypeError, ValueError) as e:
                mismatched.append(f"{k}: a {type(v).__name__} is not an array of numbers ({e}).")
                continue
            if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and target.dtype.kind in "biu"):
                mismatched.append(
                    f"{k}: values of dtype {arr.dtype} cannot be copied into a tensor of dtype "
                    f"{target.dtype}."
                )
            elif tuple(arr.shape) != tuple(target.shape):
                mismatched.append(
                    f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)} from the "
                    f"state dict, the shape in the current model is {tuple(target.shape)}."
                )
            else:
                arrays[k] = B.astype(arr, target.dtype)  # converted now, so copying cannot fail
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        errors.extend(mismatched)
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)
            )
        for k, arr in arrays.items():
            slots[k].data[...] = arr
            slots[k]._written()
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The module's own settings for its ``repr`` (e.g. ``in_features=2, out_features=3``)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        if not self._modules:
            return f"{type(self).__name__}({extra})"
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"
