"""The process-level operations: ``rank``, ``world_size``, ``barrier``, ``all_reduce``,
``broadcast_parameters``, ``broadcast_optimizer_state``, ``shard`` and ``save``.

Every function here except ``rank``, ``world_size`` and ``shard`` is collective: each process
of the job must call it, in the same order. Wrong input is refused on every process alike (a
shape that differs between processes raises the same error everywhere, naming each process's
shape), so that no process is left waiting for the others.

MPI moves host memory through the buffer protocol, so these functions work on the NumPy arrays
behind tensors, in place (a device backend would stage through host copies here); that is why
this package imports NumPy directly, as ``serialization.py`` does for its file format.
"""
from __future__ import annotations

import contextlib
import operator
import os
import secrets
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..nn.module import Module
from ..optim.optimizer import Optimizer
from ..serialization import save as _save_file
from ..tensor import Tensor
from .world import world

__all__ = ["rank", "world_size", "barrier", "all_reduce", "broadcast_parameters",
           "broadcast_optimizer_state", "shard", "save"]

ParamsLike = Module | Mapping[str, Tensor] | Iterable[Tensor]
_OPS = ("sum", "mean", "max", "min")


def rank() -> int:
    """This process's number in the job, 0 to ``world_size() - 1`` (0 without a launcher)."""
    return world().rank


def world_size() -> int:
    """How many processes the job has (1 without a launcher)."""
    return world().size


def barrier() -> None:
    """Wait until every process of the job has called ``barrier()``."""
    world().barrier()


# ----------------------------------------------------------------------------- all_reduce
def all_reduce(tensor: Tensor, op: str = "sum") -> Tensor:
    """Combine ``tensor``'s values across processes, in place on every process; returns it.

    ``op``: ``'sum'``, ``'mean'`` (floating tensors only), ``'max'`` or ``'min'``, element-wise.
    Every process must pass a tensor of the same shape and dtype: a mismatch raises a
    ``RuntimeError`` on every process naming each one's shape and dtype. Only the values change,
    as in an optimizer's update; nothing is recorded in a graph.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"all_reduce: expected a Tensor, got {type(tensor).__name__}")
    if not isinstance(op, str) or op.lower() not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(map(repr, _OPS))}; got {op!r}")
    op = op.lower()
    arr = tensor.data
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"all_reduce: cannot reduce a tensor of dtype {arr.dtype} (floating or "
                        "integer tensors only)")
    if op == "mean" and arr.dtype.kind != "f":
        raise TypeError(f"all_reduce: op='mean' needs a floating tensor; this one is {arr.dtype} "
                        "(reduce with 'sum' and divide by world_size() where you want)")
    w = world()
    if w.size == 1:
        return tensor
    _same_on_every_process(w, "all_reduce", f"shape {tuple(arr.shape)} {arr.dtype.name}")
    buf = _wire_buffer(arr)
    w.allreduce(buf, "sum" if op == "mean" else op)
    if op == "mean":
        np.divide(buf, w.size, out=buf)
    if buf is not arr:
        arr[...] = buf
    tensor._written()  # changed in place: a node that saved it must not use the new values
    return tensor


def _wire_buffer(arr: np.ndarray) -> np.ndarray:
    """``arr`` itself when MPI can reduce it in place, else a contiguous copy to reduce and copy
    back: MPI has no float16, so half precision travels (and is summed) as float32."""
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    if arr.flags.c_contiguous and arr.flags.writeable:
        return arr
    return np.ascontiguousarray(arr)


def _same_on_every_process(w: Any, what: str, description: str) -> None:
    """Raise the same error on every process unless all passed the same ``description``.

    One small reduction: the maximum of (h, −h) over processes, for a checksum h of the
    description, gives the largest and (negated) smallest h; they agree only if all do."""
    h = zlib.crc32(description.encode())
    extremes = np.array([h, -h], dtype=np.int64)
    w.allreduce(extremes, "max")
    if extremes[0] != -extremes[1]:
        every = w.allgather_object(description)
        raise RuntimeError(
            f"{what}: every process must pass a tensor of the same shape and dtype; got "
            + ", ".join(f"rank {r}: {d}" for r, d in enumerate(every))
        )


# ----------------------------------------------------------------------------- broadcast
def broadcast_parameters(params: ParamsLike, root: int = 0) -> None:
    """Copy the values held by process ``root`` into every process, in place.

    ``params``: a Module (its parameters and buffers), a mapping of names to tensors (a state
    dict), or an iterable of tensors. First checks that every process holds the same tensors:
    a parameter whose shape or dtype differs, or that one process lacks, raises a
    ``RuntimeError`` on every process naming it and both shapes (or dtypes), before anything is
    copied. Call it once after building the model (``DistributedDataParallel`` does) and after
    loading a checkpoint on one process. The tensors count as changed in place: backward of a
    graph recorded before the broadcast that saved one of them raises, as after any in-place write.
    """
    named, owners = _named_arrays(params, "broadcast_parameters")
    w = world()
    _check_root(w, root, "broadcast_parameters")
    if w.size == 1:
        return
    order = _agree_on_layout(w, named, root, "broadcast_parameters")
    mine = dict(named)
    for name in order:
        _bcast_array(w, mine[name], root)
    # Changed in place: a graph recorded before the broadcast must not backpropagate through
    # the new values as if they were the ones its forward saw.
    for t in owners:
        t._written()


def _named_arrays(params: ParamsLike, what: str) -> tuple[list, list]:
    """(name, array) for each tensor of a Module, a state dict or an iterable of tensors, and
    the Tensors among them (whose versions a write must bump)."""
    if isinstance(params, Module):
        tensors = ([(n, p) for n, p in params.named_parameters()]
                   + [(n, b) for n, b in params.named_buffers()])
        return [(n, t.data) for n, t in tensors], [t for _, t in tensors]
    if isinstance(params, Tensor):
        raise TypeError(f"{what}: expected a Module, a state dict or an iterable of tensors, not "
                        "a single Tensor; wrap it in a list")
    if isinstance(params, Mapping):
        items = list(params.items())
    elif isinstance(params, Iterable):
        items = []
        for i, t in enumerate(params):
            label = f"{i} ({t.name!r})" if isinstance(t, Tensor) and t.name else str(i)
            items.append((f"tensor {label}", t))
    else:
        raise TypeError(f"{what}: expected a Module, a state dict or an iterable of tensors, got "
                        f"{type(params).__name__}")
    out, owners = [], []
    for name, t in items:
        if isinstance(t, Tensor):
            out.append((str(name), t.data))
            owners.append(t)
        elif isinstance(t, np.ndarray):
            out.append((str(name), t))
        else:
            raise TypeError(f"{what}: '{name}' is a {type(t).__name__}, not a Tensor")
    return out, owners


def _check_root(w: Any, root: Any, what: str) -> None:
    try:
        r = operator.index(root)
    except TypeError:
        raise TypeError(f"{what}: root must be an integer rank, got {type(root).__name__}") from None
    if not 0 <= r < w.size:
        raise ValueError(f"{what}: root {r} is not a rank of this {w.size}-process job "
                         f"(ranks 0 to {w.size - 1})")


def _agree_on_layout(w: Any, named: list, root: int, what: str) -> list:
    """Check that every process holds tensors of the same names, shapes and dtypes as ``root``;
    raise the same ``RuntimeError`` everywhere if not. Returns root's order of the names."""
    layout = [(name, tuple(a.shape), a.dtype.str) for name, a in named]
    at_root = w.bcast_object(layout, root)
    problems = []
    if w.rank != root:
        problems = _differences({n: (s, d) for n, s, d in layout},
                                {n: (s, d) for n, s, d in at_root}, w.rank, root)
        problems += [f"'{n}' is read-only on rank {w.rank}" for n, a in named
                     if not a.flags.writeable]
    everyone = [p for ps in w.allgather_object(problems) for p in ps]
    if everyone:
        shown = everyone[:10] + ([f"... and {len(everyone) - 10} more"] if len(everyone) > 10 else [])
        raise RuntimeError(f"{what}: the processes do not hold the same tensors, so rank {root}'s "
                           "values cannot be copied to the others:\n  " + "\n  ".join(shown))
    return [n for n, _, _ in at_root]


def _differences(mine: dict, root_has: dict, rank: int, root: int) -> list:
    out = []
    for name, (shape, dtype) in root_has.items():
        if name not in mine:
            out.append(f"'{name}' (shape {shape}) is on rank {root} but missing on rank {rank}")
            continue
        my_shape, my_dtype = mine[name]
        if my_shape != shape:
            out.append(f"'{name}' has shape {my_shape} on rank {rank} but {shape} on rank {root}")
        elif my_dtype != dtype:
            out.append(f"'{name}' is {np.dtype(my_dtype).name} on rank {rank} but "
                       f"{np.dtype(dtype).name} on rank {root}")
    out += [f"'{name}' (shape {mine[name][0]}) is on rank {rank} but not on rank {root}"
            for name in mine if name not in root_has]
    return out


def _bcast_array(w: Any, arr: np.ndarray, root: int) -> None:
    # As raw bytes: any dtype travels (bool, float16), and the layouts were checked to agree.
    buf = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    w.bcast(buf.reshape(-1).view(np.uint8), root)
    if buf is not arr:
        arr[...] = buf


def broadcast_optimizer_state(optimizer: Optimizer, root: int = 0) -> None:
    """Give every process the optimizer state (hyperparameters and buffers such as momentum and
    Adam's averages) that process ``root`` has, as ``optimizer.load_state_dict`` would.

    For resuming from a checkpoint that only ``root`` loaded: call it after
    ``broadcast_parameters(model)``. (When every process can read the checkpoint, loading it on
    each does the same.) Every process's optimizer must hold the same parameters in the same
    groups; otherwise a ``RuntimeError`` naming the difference is raised on every process and
    nothing is changed.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"broadcast_optimizer_state: expected an optimizer, got "
                        f"{type(optimizer).__name__}")
    w = world()
    _check_root(w, root, "broadcast_optimizer_state")
    if w.size == 1:
        return
    state = w.bcast_object(optimizer.state_dict() if w.rank == root else None, root)
    problems = [] if w.rank == root else _state_problems(optimizer, state, w.rank, root)
    everyone = [p for ps in w.allgather_object(problems) for p in ps]
    if everyone:
        raise RuntimeError("broadcast_optimizer_state: the processes' optimizers differ:\n  "
                           + "\n  ".join(everyone[:10]))
    if w.rank != root:
        optimizer.load_state_dict(state)


def _state_problems(optimizer: Optimizer, state: dict, rank: int, root: int) -> list:
    """Why ``state`` (from ``root``) does not fit this process's ``optimizer``, if it does not."""
    groups = optimizer.param_groups
    theirs = state["param_groups"]
    if len(theirs) != len(groups):
        return [f"rank {root}'s optimizer has {len(theirs)} parameter groups, rank {rank}'s "
                f"{len(groups)}"]
    out = []
    for i, (tg, g) in enumerate(zip(theirs, groups)):
        if len(tg["params"]) != len(g["params"]):
            out.append(f"group {i} holds {len(tg['params'])} parameters on rank {root} but "
                       f"{len(g['params'])} on rank {rank}")
    if out:
        return out
    params: dict = {}  # parameter index -> this rank's parameter
    for tg, g in zip(theirs, groups):
        params.update(zip(tg["params"], g["params"]))
    for idx, st in state["state"].items():
        p = params.get(idx)
        for key, v in st.items():
            shape = getattr(v, "shape", ())
            if p is not None and shape not in ((), p.shape):
                out.append(f"state '{key}' of parameter {idx} has shape {shape} on rank {root}, "
                           f"but that parameter has shape {p.shape} on rank {rank}")
    return out


# ----------------------------------------------------------------------------- shard
def shard(n: int, rank: int | None = None, world_size: int | None = None,
          drop_last: bool = False) -> range:
    """This process's share of the indices ``0 .. n-1``: a contiguous ``range``.

    The shares of all processes are disjoint, cover every index exactly once, and differ in
    length by at most one (process r gets ``r·n//W`` up to ``(r+1)·n//W``). With
    ``drop_last=True`` every process gets exactly ``n // world_size`` indices and the last
    ``n % world_size`` are left out, so that every process runs the same number of steps.
    ``rank`` and ``world_size`` default to this process's; pass them to see another's share.
    Shard a permutation that every process draws alike (same seed) to shuffle:
    ``order[dist.shard(len(order))]``.
    """
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"shard: n must be an integer, got {type(n).__name__}") from None
    if n < 0:
        raise ValueError(f"shard: n must be >= 0, got {n}")
    if rank is None or world_size is None:
        w = world()
        size = operator.index(world_size) if world_size is not None else w.size
        r = operator.index(rank) if rank is not None else w.rank
    else:
        size, r = operator.index(world_size), operator.index(rank)
    if size < 1:
        raise ValueError(f"shard: world_size must be >= 1, got {size}")
    if not 0 <= r < size:
        raise ValueError(f"shard: rank {r} is not in 0 .. {size - 1} (world_size {size})")
    if drop_last:
        each = n // size
        return range(r * each, (r + 1) * each)
    return range(r * n // size, (r + 1) * n // size)


# ----------------------------------------------------------------------------- save
def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``ag.save(obj, path)`` by rank 0 only, atomically; every process returns once it is done.

    The file is written under a temporary name in the same folder, flushed to disk and renamed
    over ``path``: a crash mid-save leaves the previous checkpoint whole (a rename within one
    file system replaces a file in one step). Collective: every process must call it, and if
    rank 0 cannot write the file, every process raises (rank 0 its own error, the others a
    ``RuntimeError`` quoting it).
    """
    w = world()
    error = None
    if w.rank == 0:
        try:
            _save_atomically(obj, path)
        except Exception as e:  # noqa: BLE001 - reported to every process, then re-raised
            error = e
    told = w.bcast_object(None if error is None else f"{type(error).__name__}: {error}", 0)
    if error is not None:
        raise error
    if told is not None:
        raise RuntimeError(f"save: rank 0 could not write {os.fspath(path)!r}: {told}")


def _save_atomically(obj: Any, path: str | os.PathLike[str]) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        _save_file(obj, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Make the rename itself durable; where a folder cannot be opened (Windows) this is moot.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
