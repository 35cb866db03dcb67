"""What the graph keeps, and when it lets go: the memory model, in one place.

A graph node holds its input tensors, and through them their arrays. Held naively, every
intermediate of a forward pass stays alive until backward, and after it for as long as anyone
holds the loss. Two rules keep memory at what backward really needs, as PyTorch does.

**1. Keep only what a rule reads (at record time).** Each op's registration says which forward
values its backward rule reads: ``reads="inputs"``, ``"output"``, ``"both"`` (the default, always
safe) or ``"nothing"``. ``tanh``'s rule reads only its output y (1 − y²); ``add``'s reads nothing;
``matmul``'s reads its inputs but never its output. When an op whose rule does not read its inputs
consumes a large intermediate whose own producer's rule does not read its output (``x @ W``
feeding ``+ b``), nobody will ever read that array: the consumer's node holds a
:class:`ReleasedTensor` stub in its place (:func:`stub_unread`), and the array is freed as soon
as the user drops the tensor. "Large" means at least :data:`KEEP_BELOW` elements; smaller arrays
cost little and are kept, so that pictures can print their values.

**2. Free the graph after backward (unless ``retain_graph=True``).** As the engine finishes each
node it calls :func:`release`: the node drops what it saved and its large non-leaf inputs become
stubs, so a loss held after ``backward()`` no longer keeps the activations alive. A second
backward through a released node raises, naming the op. Leaves, small tensors, names and shapes
stay, so the graph can still be drawn. Tensors that called ``retain_grad()`` are kept whole.

**The stub.** A :class:`ReleasedTensor` keeps what the graph's structure needs (the node that
made the tensor, shape, dtype, and a weak reference to the live tensor for its name and
``.grad``) and no values: its ``data`` is a placeholder array that raises
``NoValuesError`` when computed with, so a wrong ``reads`` declaration fails loudly instead of
returning a wrong gradient (``tests/test_registry.py`` differentiates every op with all its
unread values stubbed).

**One node, two stand-ins.** After release, a node's output may be reachable both as the live
tensor (held by the user or by a consumer that kept it) and as a stub. Every graph walk keeps one
tensor per node, preferring the one that still has values (:func:`prefer`).
"""
from __future__ import annotations

import weakref
from typing import Any

from . import backend as B
from .tensor import Tensor, _Size

#: Intermediates with fewer elements than this are always kept whole (cheap, and printable).
KEEP_BELOW = 1024


class ReleasedTensor(Tensor):
    """A tensor's place in a graph without its values (see the module docstring).

    It keeps the node that made the tensor, its shape and dtype, and a weak reference to the
    tensor itself, whose name and ``.grad`` it shows while that tensor lives; so the graph can
    still be walked, differentiated and drawn. Reading its values raises.
    """

    __slots__ = ("_shape", "_dtype", "_origin", "_name")
    released = True
    requires_grad = True  # only tensors that require grad are ever stubbed
    _grad = None
    _vc = None  # a stub's values are never read, so never checked for changes

    def __init__(self, t: Tensor, follow: bool = True) -> None:  # noqa: D107 - engine only
        self.grad_fn = t.grad_fn
        # While the tensor lives the stub shows its name and .grad. Releasing a whole graph after
        # backward skips the weak reference (it is the hot path, and those tensors are mostly gone).
        self._origin = weakref.ref(t) if follow else _gone
        self._name = t.name
        self._shape = t.data.shape
        self._dtype = t.data.dtype

    @property
    def data(self):
        # Built on access (cheaply): the engine reads only its shape and dtype.
        return B.no_values(self._shape, self._dtype)

    @property
    def name(self) -> str | None:
        t = self._origin()
        return t.name if t is not None else self._name

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = value

    @property  # type: ignore[misc]  # read-only on purpose: a stub takes no gradient
    def grad(self) -> Tensor | None:
        t = self._origin()
        return t.grad if t is not None else None

    @property
    def shape(self) -> tuple:
        return self._shape

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def size(self) -> _Size:
        return _Size(self._shape)

    @property
    def dtype(self):
        return self._dtype

    def _no_values(self, *args: Any, **kwargs: Any) -> Any:
        raise B.NoValuesError(B.NO_VALUES)

    numpy = item = tolist = __array__ = __bool__ = _no_values

    def __repr__(self) -> str:
        return f"tensor(<values not kept>, shape={self._shape}, grad_fn={self.grad_fn!r})"


def _gone() -> None:
    """Stands in for a weak reference whose tensor is not followed."""
    return None


def stub_unread(inputs: tuple) -> tuple:
    """Rule 1, for a consumer whose rule does not read its inputs: ``inputs`` with each large
    intermediate whose producer's rule does not read its own output replaced by a stub."""
    kept = None
    for i, p in enumerate(inputs):
        pn = p.grad_fn
        if (
            pn is not None
            and p.data.size >= KEEP_BELOW  # first: small arrays, the common case, stop here
            and type(p) is not ReleasedTensor
            and not pn.freed
            and pn.retain is None  # retain_grad() asks to keep it whole
            and not pn.op.reads_output
        ):
            if kept is None:
                kept = list(inputs)
            kept[i] = ReleasedTensor(p)
    return inputs if kept is None else tuple(kept)


def release(node: Any, stubs: dict) -> None:
    """Rule 2: free what ``node`` kept for backward. Its saved values go, and each large
    non-leaf input becomes a stub (one per tensor, shared by all its consumers through
    ``stubs``)."""
    node.release()
    ins = node.inputs
    kept = None
    for i, p in enumerate(ins):
        pn = p.grad_fn
        if pn is None or p.data.size < KEEP_BELOW or pn.retain is not None or type(p) is ReleasedTensor:
            continue
        s = stubs.get(pn)
        if s is None:
            s = stubs[pn] = ReleasedTensor(p, follow=False)
        if kept is None:
            kept = list(ins)
        kept[i] = s
    if kept is not None:
        node.inputs = tuple(kept)


def prefer(known: Tensor, candidate: Tensor) -> bool:
    """Whether ``candidate`` should stand for its node's output instead of ``known`` (the same
    node, reached another way): only a live tensor replaces a stub."""
    return known.released and not candidate.released
