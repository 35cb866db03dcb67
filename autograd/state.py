"""Per-thread state: whether ops record the graph, anomaly detection, and the module scope.

Each thread has its own, so a ``no_grad`` block (or a ``backward()``) in one thread never changes
what another thread records, and two threads can train two models at once. A new thread starts
recording, without anomaly detection, outside any module.

``mode`` is one of four shared :class:`Mode` objects, so that ``record()`` decides its common
case (recording, no anomaly detection) with a single identity check.
"""
from __future__ import annotations

import threading


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


current = _ThreadState()


def grad_enabled() -> bool:
    """Whether ops record the graph in this thread."""
    return current.mode.grad
