"""``ag.save`` / ``ag.load``: state dicts in NumPy's ``.npz`` format.

A module's state dict (dotted names to Tensors) is stored one array per name, so the file is an
ordinary ``.npz`` that ``numpy.load`` reads too: ``np.load("mlp.npz")["fc1.weight"]``. Nested
state (an optimizer's ``state_dict()``: dicts with integer keys, lists, numbers, strings) is also
accepted: its arrays are stored the same way and its structure as a small JSON entry,
``__autograd_tree__``. Nothing is pickled, so loading a file cannot run code.
"""
from __future__ import annotations

import json
import os
import zipfile
from collections import OrderedDict
from typing import Any, Union

import numpy as _np  # the file format is NumPy's

from . import backend as B
from .tensor import Tensor

__all__ = ["save", "load"]

_TREE = "__autograd_tree__"
PathLike = Union[str, "os.PathLike[str]"]


def _encode(obj: Any, arrays: "OrderedDict[str, Any]", path: str) -> Any:
    """A JSON-able description of ``obj``; its arrays go into ``arrays`` under unique names."""
    if isinstance(obj, Tensor) or B.is_array(obj) or isinstance(obj, (_np.ndarray, _np.generic)):
        if isinstance(obj, Tensor):
            kind, arr = "tensor", B.to_numpy(obj.data)
        elif isinstance(obj, _np.generic):
            kind, arr = "scalar", _np.asarray(obj)
        else:
            kind, arr = "array", B.to_numpy(obj)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"save: cannot store an array of dtype {arr.dtype} (at '{path or '<root>'}')")
        name = path or "value"
        base, k = name, 1
        while name in arrays or name == _TREE:
            name, k = f"{base}#{k}", k + 1
        arrays[name] = arr
        return {kind: name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        if isinstance(obj, float) and not _np.isfinite(obj):
            return {"float": repr(obj)}
        return obj
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int; got {k!r} at '{path or '<root>'}'")
            items.append([k, _encode(v, arrays, f"{path}.{k}" if path else str(k))])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        enc = [_encode(v, arrays, f"{path}.{i}" if path else str(i)) for i, v in enumerate(obj)]
        return {"tuple" if isinstance(obj, tuple) else "list": enc}
    raise TypeError(f"save: cannot store an object of type {type(obj).__name__} (at '{path or '<root>'}')")


def _decode(desc: Any, files: Any) -> Any:
    if not isinstance(desc, dict):
        return desc
    (kind, v), = desc.items()
    if kind == "tensor":
        return Tensor(B.asarray(files[v]))
    if kind == "array":
        return B.asarray(files[v])
    if kind == "scalar":
        return files[v][()]
    if kind == "float":
        return float(v)
    if kind == "dict":
        return OrderedDict((k, _decode(x, files)) for k, x in v)
    if kind == "list":
        return [_decode(x, files) for x in v]
    if kind == "tuple":
        return tuple(_decode(x, files) for x in v)
    raise ValueError(f"load: unknown entry kind {kind!r} in {_TREE}")


def _is_flat(obj: Any) -> bool:
    return isinstance(obj, dict) and all(
        isinstance(k, str) and k != _TREE and isinstance(v, Tensor) for k, v in obj.items()
    )


def save(obj: Any, path: PathLike) -> None:
    """Write ``obj`` to ``path`` (exactly that file name) in NumPy's ``.npz`` format.

    ``obj`` is typically ``model.state_dict()`` (names to Tensors: stored one array per name,
    with its dtype, so ``load`` gives back equal values bit for bit) or ``optimizer.state_dict()``
    (any nesting of dicts with str/int keys, lists, tuples, numbers, strings, None, Tensors and
    arrays). Nothing is pickled.
    """
    arrays: OrderedDict = OrderedDict()
    if _is_flat(obj):
        for k, v in obj.items():
            arrays[k] = B.to_numpy(v.data)
    else:
        tree = _encode(obj, arrays, "")
        arrays[_TREE] = _np.asarray(json.dumps(tree))
    # What numpy.savez does, written out so that any key (even "file") can be a name.
    with zipfile.ZipFile(os.fspath(path), "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for k, arr in arrays.items():
            with z.open(k + ".npy", "w", force_zip64=True) as f:
                _np.lib.format.write_array(f, _np.asanyarray(arr), allow_pickle=False)


def load(path: PathLike) -> Any:
    """Read what :func:`save` wrote: a state dict (an ``OrderedDict`` of names to Tensors, in the
    saved order) or the nested object. A plain ``.npz`` from ``numpy.savez`` loads as a dict of
    Tensors too."""
    with _np.load(os.fspath(path), allow_pickle=False) as files:
        if _TREE in files.files:
            return _decode(json.loads(str(files[_TREE][()])), files)
        return OrderedDict((k, Tensor(B.asarray(files[k]))) for k in files.files)
