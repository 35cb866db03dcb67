"""``DistributedDataParallel``: every process trains the same model on its own share of the data,
and the gradients are averaged across processes while ``backward()`` still runs.

How (the design users know from Horovod and PyTorch, written for this engine):

* The parameters are packed into **buckets** of about ``bucket_cap_mb`` each, in the reverse of
  their registration order, which is roughly the order in which backward finishes them (the
  last layer first). A bucket is one flat array: one slot per parameter, then one flag per
  parameter.
* Each parameter has a post-accumulate-grad hook (``Tensor.register_post_accumulate_grad_hook``):
  as soon as its ``.grad`` is final, the hook copies it into its slot. When every slot of a
  bucket is filled, the bucket starts a non-blocking sum across processes (``Iallreduce``) and
  backward goes on with the layers below while it travels.
* Buckets start strictly in order (a bucket that fills early waits for the ones before it), so
  that every process issues its reductions in the same order, as MPI requires, even where two
  processes' graphs finish parameters in different orders.
* The first hook of a pass queues a callback (``engine.queue_callback``) that runs when backward
  is done: it fills the slots of parameters that got no gradient in this pass, starts the
  remaining buckets, waits for all of them, and writes each average into ``.grad``.

Parameters without a gradient: a process contributes its current ``.grad`` (zeros if None) for a
parameter that backward did not reach there, and a flag saying whether it had one. After the
sum, a parameter that no process had a gradient for keeps ``.grad`` None on every process (the
optimizers skip it, as they would in one process); every other parameter gets the average over
all processes, counting zeros where a process had none. This is exactly the gradient of the
mean of the processes' losses, so it matches one process training on the whole global batch.
"""
from __future__ import annotations

import contextlib
from typing import Any
from collections.abc import Iterator

import numpy as np

from ..engine import queue_callback
from ..nn.module import Module
from ..tensor import Tensor
from .collectives import broadcast_parameters
from .world import world

__all__ = ["DistributedDataParallel"]

_MiB = 2**20


class DistributedDataParallel(Module):
    """Data-parallel training: gradients are averaged across processes during ``backward()``.

    ``DistributedDataParallel(module, bucket_cap_mb=25)``. Every process builds the same model
    and wraps it (a collective call); the wrapper first copies rank 0's parameters and buffers to
    every process (``broadcast_parameters``, which also checks that all processes hold
    parameters of the same names, shapes and dtypes, raising on every process if not).

    Then each process runs forward and backward on its own batch; after ``backward()`` returns,
    every process holds the same ``.grad``: the average over processes, so one optimizer step
    keeps the models equal. With a loss that averages over its batch and equal batches on every
    process, the result is the gradient of the global batch.

    * Calling the wrapper runs the module; ``.module`` is the module itself. ``parameters()``,
      ``named_parameters()``, ``state_dict()``, ``load_state_dict()``, ``train()``/``eval()`` and
      ``zero_grad()`` are the module's, with the module's own names (no ``module.`` prefix), so a
      checkpoint loads into an unwrapped model.
    * ``bucket_cap_mb``: the size of the buckets the gradients are reduced in (MiB). Smaller
      buckets start earlier and overlap more of backward; each costs one more message.
    * ``no_sync()``: backward passes run inside ``with ddp.no_sync():`` accumulate gradients
      locally; the next backward outside averages the accumulated total.
    * A parameter that gets no gradient on some process in a step counts as zero there; one
      that gets none on any process keeps ``.grad`` None everywhere (see the module docstring).

    Every process must run backward on a loss that depends on the model in each step, and the
    same number of steps (a process that stops early leaves the others waiting). Only values are
    averaged: ``backward(create_graph=True)`` through the wrapper is refused. Buffers are copied
    from rank 0 when wrapping, not again at each forward.
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps an nn.Module, not {type(module).__name__}")
        cap = float(bucket_cap_mb)
        if not cap > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb!r}")
        super().__init__()
        d = self.__dict__
        # The wrapper shares the module's registries, so parameters(), state_dict() and the rest
        # see exactly the module's tensors under the module's names, as if it were not there.
        for store in ("_parameters", "_buffers", "_modules", "_non_persistent"):
            d[store] = module.__dict__[store]
        d["module"] = module
        d["bucket_cap_mb"] = cap
        d["training"] = module.training
        broadcast_parameters(module, root=0)
        w = world()
        trained = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if w.size > 1:
            _same_trained_everywhere(w, [n for n, _ in trained])
        d["_world"] = w.dup()  # its own communicator: its reductions never pair with others'
        d["_buckets"] = _plan_buckets(trained, cap * _MiB) if w.size > 1 else []
        d["_slot"] = {id(p): (b, i) for b in self._buckets for i, p in enumerate(b.params)}
        d["_sync"] = True
        d["_in_pass"] = False  # a backward pass has filled a slot and queued _finish_pass
        d["_next"] = 0  # the first bucket not yet started in this pass
        d["_requests"] = []
        for b in self._buckets:
            for p in b.params:
                p.register_post_accumulate_grad_hook(self._grad_ready)

    # ------------------------------------------------------------------ the Module face
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the wrapped module."""
        if self._in_pass:
            raise RuntimeError(
                "DistributedDataParallel: the previous backward() stopped with an error while "
                "gradients were being averaged, so this process is out of step with the others; "
                "the job cannot continue"
            )
        return self.module(*args, **kwargs)

    def train(self, mode: bool = True) -> DistributedDataParallel:
        """Training mode for the wrapped module (``mode=False``: evaluation). Returns self."""
        self.module.train(mode)
        self.__dict__["training"] = mode
        return self

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this block backward() accumulates gradients locally, without communicating;
        the first backward() after it averages the accumulated gradients."""
        before = self._sync
        self.__dict__["_sync"] = False
        try:
            yield
        finally:
            self.__dict__["_sync"] = before

    def __repr__(self) -> str:
        mib = sum(b.nbytes for b in self._buckets) / _MiB
        inner = repr(self.module).replace("\n", "\n  ")
        return (f"DistributedDataParallel(world_size={self._world.size}, "
                f"buckets={len(self._buckets)} ({mib:.1f} MiB), bucket_cap_mb={self.bucket_cap_mb:g},"
                f"\n  module={inner}\n)")

    # ------------------------------------------------------------------ during backward
    def _grad_ready(self, p: Tensor) -> None:
        """Post-accumulate hook: ``p.grad`` is final for this pass; pack it, start what is full."""
        if not self._sync:
            return
        if not self._in_pass:
            queue_callback(self._finish_pass)
            self.__dict__["_in_pass"] = True
        bucket, i = self._slot[id(p)]
        bucket.put(i)
        if bucket.waiting == 0:
            self._start_full_buckets()
        else:
            self._world.test(self._requests)

    def _start_full_buckets(self) -> None:
        buckets = self._buckets
        k = self._next
        while k < len(buckets) and buckets[k].waiting == 0:
            self._requests.append(self._world.iallreduce_sum(buckets[k].flat))
            k += 1
        self.__dict__["_next"] = k

    def _finish_pass(self) -> None:
        """After backward: fill what no hook filled, finish every reduction, write the averages."""
        try:
            for b in self._buckets[self._next:]:
                b.put_missing()
            self._start_full_buckets()
            self._world.wait(self._requests)
            for b in self._buckets:
                b.write_average(self._world.size)
        finally:
            for b in self._buckets:
                b.reset()
            d = self.__dict__
            d["_requests"] = []
            d["_next"] = 0
            d["_in_pass"] = False


def _same_trained_everywhere(w: Any, names: list) -> None:
    """Raise on every process unless all train the same parameters (their buckets must match)."""
    everyone = w.allgather_object(names)
    problems = []
    for r, theirs in enumerate(everyone[1:], start=1):
        if theirs != everyone[0]:
            only0 = [n for n in everyone[0] if n not in theirs]
            only_r = [n for n in theirs if n not in everyone[0]]
            problems.append(f"rank {r} trains {only_r or 'nothing'} that rank 0 does not, and not "
                            f"{only0 or 'nothing'} that rank 0 does" if only0 or only_r else
                            f"rank {r} lists the trained parameters in another order")
    if problems:
        raise RuntimeError(
            "DistributedDataParallel: every process must train the same parameters "
            "(requires_grad): " + "; ".join(problems)
        )


def _wire_dtype(dtype: np.dtype, name: str) -> np.dtype:
    """The dtype a gradient is summed in: its own, except float16, which MPI lacks (float32)."""
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype in (np.float32, np.float64):
        return np.dtype(dtype)
    raise TypeError(f"DistributedDataParallel: parameter '{name}' is {dtype}; only float16, "
                    "float32 and float64 parameters can be averaged")


def _plan_buckets(named: list, cap_bytes: float) -> list:
    """Group the parameters into buckets of one dtype each, in reverse registration order; a
    bucket is closed when the next parameter would take it past ``cap_bytes`` (a parameter
    larger than that gets a bucket of its own). Every process computes the same plan."""
    buckets = []
    open_buckets: dict = {}  # wire dtype -> ([(name, param)], bytes)
    for name, p in reversed(named):
        wire = _wire_dtype(p.dtype, name)
        members, nbytes = open_buckets.get(wire, ([], 0))
        size = p.data.size * wire.itemsize
        if members and nbytes + size > cap_bytes:
            buckets.append(_Bucket(members, wire))
            members, nbytes = [], 0
        members.append((name, p))
        open_buckets[wire] = (members, nbytes + size)
    buckets += [_Bucket(members, wire) for wire, (members, _) in open_buckets.items() if members]
    return buckets


class _Bucket:
    """Some parameters' gradients packed into one flat array, summed across processes in one
    message. ``flat`` holds one slot per parameter (its gradient, or zeros), then one flag per
    parameter: 1 where this process had a gradient, so that after the sum each flag counts the
    processes that had one."""

    def __init__(self, named: list, wire: np.dtype) -> None:
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.dtypes = [p.dtype for p in self.params]
        total = sum(p.data.size for p in self.params)
        self.flat = np.zeros(total + len(self.params), dtype=wire)
        self.nbytes = total * wire.itemsize
        self.views = []
        start = 0
        for p in self.params:
            self.views.append(self.flat[start:start + p.data.size].reshape(p.shape))
            start += p.data.size
        self.flags = self.flat[total:]
        self.reset()

    def reset(self) -> None:
        self.filled = [False] * len(self.params)
        self.waiting = len(self.params)

    def put(self, i: int) -> None:
        """Copy parameter i's ``.grad`` into its slot (zeros and flag 0 when it has none)."""
        p = self.params[i]
        g = p.grad
        if g is None:
            self.views[i][...] = 0
            self.flags[i] = 0
        else:
            if p.dtype != self.dtypes[i] or p.shape != self.views[i].shape:
                raise RuntimeError(
                    f"DistributedDataParallel: parameter '{self.names[i]}' is now {p.shape} "
                    f"{p.dtype}, but was {self.views[i].shape} {self.dtypes[i]} when it was "
                    "wrapped; wrap the module after changing its parameters"
                )
            if g.grad_fn is not None:
                raise RuntimeError(
                    "DistributedDataParallel averages gradients as values: backward(create_graph="
                    "True) through it is not supported (use ag.grad on each process's own loss "
                    "for higher derivatives)"
                )
            np.copyto(self.views[i], g.data)
            self.flags[i] = 1
        self.filled[i] = True
        self.waiting -= 1

    def put_missing(self) -> None:
        for i, done in enumerate(self.filled):
            if not done:
                self.put(i)

    def write_average(self, size: int) -> None:
        """Set each ``.grad`` to its summed slot divided by the number of processes, in place
        when the gradient array allows it; a parameter no process had a gradient for keeps None."""
        for i, p in enumerate(self.params):
            if self.flags[i] == 0:
                continue
            g = p.grad
            total = self.views[i]
            if (g is not None and g.data.shape == total.shape and g.data.dtype == p.dtype
                    and g.data.flags.writeable):
                np.divide(total, size, out=g.data)
                g._written()
            else:
                p.grad = Tensor(np.divide(total, size).astype(p.dtype, copy=False))
