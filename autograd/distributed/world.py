"""The world of processes: which one this is, how many there are, and the handful of collective
operations the rest of ``autograd.distributed`` is built from.

One small interface, two implementations:

* :class:`Single`, a world of one process: every collective is the identity. This is the world
  of a script started without an MPI launcher, so the same code runs unchanged on one process
  and mpi4py is never imported.
* :class:`MPIWorld`, MPI through mpi4py, imported on first use (never by ``import autograd``).

Which one a process gets is decided once, on first use (:func:`world`): MPI when the process was
started by an MPI launcher (``mpiexec`` sets ``PMI_RANK``/``PMI_SIZE``, Open MPI
``OMPI_COMM_WORLD_SIZE``, PMIx ``PMIX_RANK``, MVAPICH ``MV2_COMM_WORLD_SIZE``) or when the
program imported ``mpi4py.MPI`` itself; a world of one process otherwise.

In an MPI job, loading this module also installs a ``sys.excepthook`` that aborts the whole job
when an exception escapes on one process (see :func:`_abort_on_uncaught_exception`), and wraps
``sys.exit`` so that a process exiting with a failure status aborts it too, once its stack has
unwound (see :func:`_exit_recording_failure`).
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from typing import Any, NoReturn

#: Variables an MPI launcher sets in each process it starts: (rank variable, size variable).
LAUNCHER_VARS = (
    ("PMI_RANK", "PMI_SIZE"),                          # MPICH / Intel MPI (Hydra), Slurm PMI-2
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),  # Open MPI
    ("PMIX_RANK", "PMIX_SIZE"),                        # PMIx (Open MPI 5, Slurm --mpi=pmix)
    ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),    # MVAPICH
)

INSTALL_HINT = "pip install 'readable-autograd[mpi]' (or: pip install mpi4py mpich)"


def launcher_info() -> tuple[str, int | None] | None:
    """``(rank, size)`` as an MPI launcher announced them to this process (size None when the
    launcher does not say), or None when no launcher started it."""
    for rank_var, size_var in LAUNCHER_VARS:
        if rank_var in os.environ or size_var in os.environ:
            size = os.environ.get(size_var)
            return os.environ.get(rank_var, "?"), (int(size) if size and size.isdigit() else None)
    return None


def uses_mpi() -> bool:
    """Whether this process belongs to an MPI job (see the module docstring)."""
    return launcher_info() is not None or "mpi4py.MPI" in sys.modules


# ----------------------------------------------------------------------------- one process
class Single:
    """A world of one process: rank 0 of 1; every collective leaves its data as it is."""

    rank = 0
    size = 1

    def barrier(self) -> None:
        pass

    def allreduce(self, arr: Any, op: str = "sum") -> None:
        pass

    def iallreduce_sum(self, arr: Any) -> Any:
        return None

    def test(self, requests: list) -> None:
        pass

    def wait(self, requests: list) -> None:
        pass

    def bcast(self, arr: Any, root: int) -> None:
        pass

    def bcast_object(self, obj: Any, root: int) -> Any:
        return obj

    def allgather_object(self, obj: Any) -> list:
        return [obj]

    def dup(self) -> Single:
        return self


# ----------------------------------------------------------------------------- MPI
class MPIWorld:
    """MPI's world communicator (or a duplicate of it, from :meth:`dup`), through mpi4py."""

    def __init__(self, comm: Any = None) -> None:
        from mpi4py import MPI  # noqa: PLC0415 - imported on first use only (see module docstring)

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def barrier(self) -> None:
        self.comm.Barrier()

    def allreduce(self, arr: Any, op: str = "sum") -> None:
        """Reduce ``arr`` (C-contiguous) across processes, in place on every one of them."""
        self.comm.Allreduce(self.MPI.IN_PLACE, arr, op=self._ops[op])

    def iallreduce_sum(self, arr: Any) -> Any:
        """Start summing ``arr`` (C-contiguous) in place across processes; returns the request."""
        return self.comm.Iallreduce(self.MPI.IN_PLACE, arr, op=self.MPI.SUM)

    def test(self, requests: list) -> None:
        # Without a progress thread MPI advances started operations only inside MPI calls: a
        # test now and then lets a bucket's reduction move on while backward computes.
        if requests:
            self.MPI.Request.Testall(requests)

    def wait(self, requests: list) -> None:
        if requests:
            self.MPI.Request.Waitall(requests)

    def bcast(self, arr: Any, root: int) -> None:
        """Copy ``arr`` (C-contiguous) of process ``root`` into ``arr`` of every process."""
        self.comm.Bcast(arr, root=root)

    def bcast_object(self, obj: Any, root: int) -> Any:
        """``obj`` of process ``root``, on every process. Python objects travel pickled, between
        the processes of this one job only."""
        return self.comm.bcast(obj, root=root)

    def allgather_object(self, obj: Any) -> list:
        """Every process's ``obj``, in rank order, on every process."""
        return self.comm.allgather(obj)

    def dup(self) -> MPIWorld:
        """A new communicator over the same processes, whose operations never pair up with
        those of any other (a collective operation; every process must call it)."""
        return MPIWorld(self.comm.Dup())


# ----------------------------------------------------------------------------- the world
_world: Any = None
_lock = threading.Lock()


def world() -> Any:
    """This process's world, created on first use: :class:`MPIWorld` in an MPI job, else
    :class:`Single`."""
    global _world
    if _world is None:
        with _lock:
            if _world is None:
                _world = _make_world()
    return _world


def _make_world() -> Any:
    if not uses_mpi():
        return Single()
    try:
        return MPIWorld()
    except ImportError:
        rank, size = launcher_info() or ("?", None)
        if size == 1:
            return Single()
        raise RuntimeError(
            f"this process was started by an MPI launcher (rank {rank} of "
            f"{size if size is not None else 'several'}), but mpi4py is not installed, so it "
            f"cannot talk to the others: {INSTALL_HINT}"
        ) from None


# ----------------------------------------------------------------------------- failures
def _who() -> str:
    if _world is not None:
        return f"rank {_world.rank} of {_world.size}"
    rank, size = launcher_info() or ("?", None)
    return f"rank {rank}" + (f" of {size}" if size else "")


def _abort_job(status: int, why: str) -> None:
    """End every process of the job (MPI_Abort with ``status``), saying which one failed."""
    print(f"autograd.distributed: {_who()} {why}; aborting every process of the job",
          file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # The launcher forwards each process's output asynchronously and stops once the job is
    # aborted; on a busy machine the traceback could be lost. A moment lets it reach the user.
    time.sleep(0.25)
    try:
        from mpi4py import MPI  # noqa: PLC0415 - initialises MPI if this rank had not yet

        MPI.COMM_WORLD.Abort(status)
    except Exception:  # noqa: BLE001 - no MPI to abort through: exit with the error as usual
        pass


def _abort_on_uncaught_exception(exc_type: type, exc: BaseException, tb: Any) -> None:
    """``sys.excepthook`` in an MPI job: print the traceback as usual, then end every process
    of the job (MPI_Abort), since the others would otherwise wait for this one forever."""
    _previous_hook(exc_type, exc, tb)
    _abort_job(1, f"stopped with {exc_type.__name__}")


_exit_status: Any = None  # what this process passed to sys.exit, if it failed


def _exit_recording_failure(status: Any = None) -> NoReturn:
    """``sys.exit`` in an MPI job: as usual (the stack unwinds, ``finally`` blocks and exit
    handlers run), but a failure status (non-zero, or a message) is remembered for
    :func:`_abort_if_exit_failed`. An exception is not the only way a rank leaves the job early:
    ``sys.exit(main())`` and argparse's errors exit with a status, and mpi4py's own exit handler
    would then wait in MPI_Finalize for processes that are waiting for this one."""
    global _exit_status
    if status is not None and status != 0:
        _exit_status = status
    _previous_exit(status)


def _abort_if_exit_failed() -> None:
    """At exit (before mpi4py finalises MPI): abort the job if ``sys.exit`` gave a failure."""
    status = _exit_status
    if status is None:
        return
    code = status if isinstance(status, int) and 0 < status < 256 else 1
    _abort_job(code, f"exited with status {status!r}")


_previous_hook = sys.excepthook
_previous_exit = sys.exit
# Installed when this package is imported rather than on first use: measured with MPICH, a rank
# that raises (or exits with a failure status) before its first MPI call, even before MPI is
# initialised, leaves the others waiting forever; with the hooks the job ends within a second,
# showing that rank's traceback or status. A process that exits with status 0 has finished: the
# others must not wait for it in a collective.
if uses_mpi():
    sys.excepthook = _abort_on_uncaught_exception
    sys.exit = _exit_recording_failure
    atexit.register(_abort_if_exit_failed)
