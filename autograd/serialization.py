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

__all__ = ["save", "load", "LoadError"]

_TREE = "__autograd_tree__"
PathLike = Union[str, "os.PathLike[str]"]


def _encode(obj: Any, arrays: OrderedDict[str, Any], path: str) -> Any:
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
    if len(desc) != 1:
        raise LoadError(f"load: a malformed entry in {_TREE}: {str(desc)[:80]}")
    (kind, v), = desc.items()
    if kind in ("tensor", "array", "scalar") and v not in files:
        raise LoadError(f"load: {_TREE} names an array {v!r} that the file does not contain")
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
    raise LoadError(f"load: unknown entry kind {kind!r} in {_TREE}")


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


class LoadError(ValueError):
    """Raised by :func:`load` for a file that is not what :func:`save` writes (saying what it is),
    or that is damaged, or that would expand beyond the allowed size."""


#: The least ``load`` always allows a file to expand to, whatever its size on disk.
MIN_EXPANSION_BYTES = 64 * 2**20
#: How many times its size on disk a file may expand to beyond that (``save`` stores arrays
#: uncompressed, so its files expand 1×; a compressed ``.npz`` of mostly zeros can expand far
#: more, and so can a file made to exhaust memory).
MAX_EXPANSION_RATIO = 16


def load(path: PathLike, max_bytes: int | None = None) -> Any:
    """Read what :func:`save` wrote: a state dict (an ``OrderedDict`` of names to Tensors, in the
    saved order) or the nested object. A plain ``.npz`` from ``numpy.savez`` loads as a dict of
    Tensors too.

    Nothing is unpickled. A file that is not such an archive (a ``torch.save`` checkpoint, a single
    ``.npy`` array, a damaged or truncated file) raises :class:`LoadError` saying what it is and
    what is expected. So does a file whose arrays would take more than ``max_bytes`` of memory
    (default: the larger of 64 MiB and 16× the file's size), which guards against a small file
    built to expand enormously; pass a larger ``max_bytes`` to load a heavily compressed archive
    you trust.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    limit = max_bytes if max_bytes is not None else max(MIN_EXPANSION_BYTES, MAX_EXPANSION_RATIO * size)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise LoadError(f"load: {path} is not an ag.save file (a zip of .npy arrays): "
                        f"{_what_is(path, size)}") from None
    with archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        if any(n.endswith("data.pkl") or "/data/" in n for n in names):
            raise LoadError(
                f"load: {path} is a PyTorch checkpoint (torch.save), not an ag.save file; load it "
                f"with torch.load and pass its tensors to load_state_dict as NumPy arrays "
                f"({{k: v.numpy() for k, v in state.items()}})"
            )
        odd = [n for n in names if not n.endswith(".npy")]
        if odd:
            raise LoadError(f"load: {path} is a zip archive but not an ag.save file: it holds "
                            f"{', '.join(odd[:3])}{' ...' if len(odd) > 3 else ''}, where only "
                            f".npy arrays are expected")
        total = 0
        for info in infos:
            total += _array_bytes(archive, info, path)
            if total > limit:
                raise LoadError(
                    f"load: the arrays in {path} ({size:,} bytes on disk) would take more than "
                    f"{limit:,} bytes of memory; pass max_bytes= to load a larger file you trust"
                )
        try:
            with _np.load(path, allow_pickle=False) as files:
                if _TREE in files.files:
                    try:
                        tree = json.loads(str(files[_TREE][()]))
                    except ValueError as e:
                        raise LoadError(f"load: {path} has a damaged {_TREE} entry ({e})") from None
                    return _decode(tree, files)
                return OrderedDict((k, Tensor(B.asarray(files[k]))) for k in files.files)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise LoadError(f"load: {path} is damaged or truncated ({e})") from None
        except ValueError as e:
            if isinstance(e, LoadError):
                raise
            raise LoadError(f"load: {path} holds an array ag.load cannot read ({e}); it never "
                            f"unpickles objects") from None


def _what_is(path: str, size: int) -> str:
    """A guess at what a file that is not a zip archive is, for the error message."""
    if size == 0:
        return "it is empty"
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x93NUMPY"):
        return "it is a single NumPy array (numpy.save); load it with numpy.load"
    if head[:1] == b"\x80":
        return "it looks like a pickle (an old torch.save or pickle.dump file), which ag.load never unpickles"
    if head.startswith(b"PK"):
        return "it is a damaged or truncated zip archive"
    return f"its first bytes are {head!r}"


def _array_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> int:
    """The memory one member's array takes, from its .npy header, checked against the member's
    stored size, so that a header cannot announce more data than the file holds."""
    try:
        with archive.open(info) as f:
            version = _np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = _np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = _np.lib.format.read_array_header_2_0(f)
            header = f.tell() if hasattr(f, "tell") else None
    except (ValueError, EOFError, zipfile.BadZipFile, OSError) as e:
        raise LoadError(f"load: {info.filename} in {path} is not a readable .npy array ({e})") from None
    if dtype.hasobject:
        raise LoadError(f"load: {info.filename} in {path} holds Python objects (pickled), which "
                        f"ag.load never unpickles")
    n = 1
    for s in shape:
        n *= s
    nbytes = n * dtype.itemsize
    if header is not None and header + nbytes != info.file_size:
        raise LoadError(f"load: {info.filename} in {path} is damaged: its header announces "
                        f"{nbytes:,} bytes of data, but it holds {info.file_size - header:,}")
    return nbytes
