"""Training on several processes over MPI: ``import autograd.distributed as dist``.

Start the same script once per process with an MPI launcher (``mpiexec -n 4 python train.py``);
each process trains the same model on its share of the data, and
:class:`DistributedDataParallel` averages the gradients during ``backward()``. Without a launcher
(or with ``mpiexec -n 1``) the module is a world of one process, so the same script runs
unchanged. MPI comes from the ``mpi`` extra (``pip install 'readable-autograd[mpi]'``: mpi4py and
the MPICH wheels), imported on first use: ``import autograd`` never imports it.

Under a launcher, importing this package installs a ``sys.excepthook`` that prints an uncaught
exception's traceback and then aborts the whole job (MPI_Abort), and wraps ``sys.exit`` so that a
failure status (non-zero, or a message) aborts it too once the stack has unwound, so that one
failing process never leaves the others waiting.

Public names: ``rank``, ``world_size``, ``barrier``, ``all_reduce``, ``broadcast_parameters``,
``broadcast_optimizer_state``, ``shard``, ``save``, ``DistributedDataParallel``.
"""
from .collectives import (
    all_reduce, barrier, broadcast_optimizer_state, broadcast_parameters, rank, save, shard,
    world_size,
)
from .ddp import DistributedDataParallel

__all__ = [
    "rank", "world_size", "barrier", "all_reduce", "broadcast_parameters",
    "broadcast_optimizer_state", "shard", "save", "DistributedDataParallel",
]
