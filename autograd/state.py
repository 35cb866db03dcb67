"""Per-thread state: whether ops record the graph, anomaly detection, the module scope, and the
compiled-step recorder.

Each thread has its own, so a ``no_grad`` block (or a ``backward()``) in one thread never changes
what another thread records, and two threads can train two models at once. A new thread starts
recording, without anomaly detection, outside any module.

``mode`` is one of four shared :class:`Mode` objects, so that ``record()`` decides its common
case (recording, no anomaly detection) with a single identity check.
"""
from __future__ import annotations

import functools
import threading
from typing import Any
from collections.abc import Callable


class Mode:
    """Grad mode and anomaly detection together (one of four shared instances)."""

    __slots__ = ("grad", "anomaly")

    def __init__(self, grad: bool, anomaly: bool) -> None:
        self.grad = grad
        self.anomaly = anomaly

    def __repr__(self) -> str:
        return f"Mode(grad={self.grad}, anomaly={self.anomaly})"


RECORDING = Mode(True, False)
_MODES = {(True, False): RECORDING, (False, False): Mode(False, False),
          (True, True): Mode(True, True), (False, True): Mode(False, True)}


def mode_of(grad: bool, anomaly: bool) -> Mode:
    """The shared :class:`Mode` with these settings."""
    return _MODES[(bool(grad), bool(anomaly))]


class _ThreadState(threading.local):
    # Class attributes are each new thread's starting values.
    mode: Mode = RECORDING
    scope: tuple = ()
    recorder: Any = None  # the ag.compile recorder while it records a step in this thread


current = _ThreadState()


def grad_enabled() -> bool:
    """Whether ops record the graph in this thread."""
    return current.mode.grad


def host(fn: Callable) -> Callable:
    """Mark ``fn`` as host work that a compiled step runs again at every replay.

    A compiled step (``ag.compile``) replays the array operations it recorded, so Python code
    between them runs only while recording. Code whose result changes from call to call without
    passing through an array (a learning rate a scheduler rewrote, Adam's step count, a draw from
    the random generator) must run at every replay instead: wrap it in a function decorated with
    ``host``. Outside recording the decorator costs one attribute lookup; while recording, the
    recorder runs ``fn``, and its float, int and array results become values the replay reads
    from a new call of ``fn``.
    """

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        rec = current.recorder
        if rec is None:
            return fn(*args, **kwargs)
        return rec.host(fn, args, kwargs)

    return call


def require(ok: Any, error: Callable[..., Exception], *values: Any) -> None:
    """Raise ``error(*values)`` unless every element of the boolean array ``ok`` is true: a check
    on values (a label in range, a probability in [0, 1]). A compiled step records the check and
    makes it at every replay (with that call's ``values`` for the message), where a Python ``if``
    on the values would be decided once."""
    rec = current.recorder
    if rec is not None:
        rec.require(ok, error, values)
    elif not ok.all():
        raise error(*values)


def branch(cond: Any, what: str) -> bool:
    """``bool(cond)`` for a branch on values that is rarely taken (an overflow guard): a compiled
    step records which way it went and checks at every replay that the values still go that way,
    raising ``RuntimeError`` naming ``what`` if they do not, instead of silently replaying the
    other branch."""
    rec = current.recorder
    if rec is None:
        return bool(cond)
    current.recorder = None
    try:
        outcome = bool(cond)
    finally:
        current.recorder = rec
    rec.require(cond if outcome else ~cond, _branch_error, (what, outcome))
    return outcome


def _branch_error(what: str, outcome: bool) -> RuntimeError:
    return RuntimeError(
        f"a compiled step was recorded with {what} {'true' if outcome else 'false'}, and at this "
        f"call it is not: these values need the other branch, which the recording does not "
        f"have; run this step eagerly (or compile it again on such values)"
    )
