"""Recurrent layers: ``RNN``, ``GRU``, ``LSTM`` and their one-step cells ``RNNCell``,
``GRUCell``, ``LSTMCell``, as PyTorch's.

Same constructor arguments, parameter names and shapes, gate order (LSTM: input, forget, cell,
output; GRU: reset, update, new, with the reset gate applied to W_hn h + b_hn), initialisation
(every weight and bias uniform in (−1/√hidden_size, 1/√hidden_size)), input and state layouts and
return values, so a state dict exported from PyTorch loads and gives the same outputs and
gradients.

Each layer (and each direction of a bidirectional layer) is two ops: ``linear`` computes the
input's contribution x_t W_ihᵀ + b_ih for all steps at once, and one op from
``autograd.ops.recurrent`` runs the recurrence over the sequence, with backpropagation through
time as its backward rule (that file says why one op rather than a graph per step). A cell is
the same recurrence op run for one step.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from .. import backend as B
from .. import creation
from ..ops.linalg import linear
from ..ops.recurrent import NONLINEARITIES, gru_scan, lstm_scan, rnn_scan
from ..ops.shape import concatenate, expand_dims, stack
from ..tensor import Tensor, as_tensor
from . import init
from .module import Module, Parameter

__all__ = ["RNNBase", "RNN", "GRU", "LSTM", "RNNCellBase", "RNNCell", "GRUCell", "LSTMCell"]

#: Gate blocks stacked in the weights of each kind of layer.
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _dtype(dtype: Any):
    return B.float32 if dtype is None else B.asarray(0, dtype=dtype).dtype


def _size(who: str, name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: {name} must be an int, got {value!r}")
    if value < least:
        raise ValueError(f"{who}: {name} must be at least {least}, got {value}")
    return int(value)


def _nonlinearity(who: str, nonlinearity: str) -> str:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{who}: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
    return nonlinearity


def _same_dtype(who: str, what: str, t: Tensor, dtype) -> None:
    if t.dtype != dtype:
        raise TypeError(
            f"{who}: {what} has dtype {t.dtype} but the parameters are {dtype}; convert one of "
            f"them (module.double() / .float(), or tensor.astype(...))"
        )


def _input(who: str, input: Any, ndims: tuple, input_size: int, dtype: Any) -> Tensor:
    """``input`` as a Tensor, checked: ``ndims`` = (unbatched, batched) dimension counts, the
    feature count and the parameters' dtype."""
    x = as_tensor(input)
    if x.ndim not in ndims:
        raise ValueError(f"{who}: expected a {ndims[0]}-d (unbatched) or {ndims[1]}-d (batched) "
                         f"input, got shape {x.shape}")
    if x.shape[-1] != input_size:
        raise ValueError(f"{who}: input has {x.shape[-1]} features (shape {x.shape}) but "
                         f"input_size is {input_size}")
    _same_dtype(who, "input", x, dtype)
    return x


def _scan(mode: str, xw: Tensor, h0: Tensor, c0: Tensor | None, w_hh: Tensor,
          b_hh: Tensor | None, reverse: bool) -> tuple:
    """Run the recurrence of ``mode`` over ``xw`` (T, N, G·H): the hidden states (T, N, H), and
    the last hidden state and (LSTM) the last cell state, in the order the steps ran."""
    last = 0 if reverse else -1
    if mode == "LSTM":  # the states, then the gates (ops/recurrent.py)
        out = lstm_scan(xw, h0, c0, w_hh, b_hh, reverse=reverse)
        return out[0], out[0, last], out[1, last]
    if mode == "GRU":
        out = gru_scan(xw, h0, w_hh, b_hh, reverse=reverse)
        return out[0], out[0, last], None
    hs = rnn_scan(xw, h0, w_hh, b_hh, nonlinearity=mode[4:].lower(), reverse=reverse)
    return hs, hs[last], None


def _kind(hx: Any) -> str:
    """How a wrong ``hx`` is described in errors: its type, and its items' types."""
    if isinstance(hx, (tuple, list)):
        return f"a {type(hx).__name__} of {len(hx)}: ({', '.join(type(h).__name__ for h in hx)})"
    return f"a {type(hx).__name__}"


def _dropout(x: Tensor, p: float) -> Tensor:
    """Inverted dropout (as ``nn.Dropout`` in training mode), from the seeded generator."""
    if p == 1.0:
        return x * 0.0
    keep = creation.generator().random(x.shape) >= p
    return x * Tensor(keep.astype(x.dtype) / x.dtype.type(1.0 - p))


# ----------------------------------------------------------------------------- layers
class RNNBase(Module):
    """What ``RNN``, ``GRU`` and ``LSTM`` share: the parameters of every layer and direction,
    the checks of inputs and states, and the loop over layers.

    ``mode`` is ``"RNN_TANH"``, ``"RNN_RELU"``, ``"GRU"`` or ``"LSTM"``. Parameters, per layer k
    and direction (suffix ``_reverse`` for the second): ``weight_ih_l{k}`` (G·hidden_size,
    input size of the layer), ``weight_hh_l{k}`` (G·hidden_size, hidden_size), ``bias_ih_l{k}``
    and ``bias_hh_l{k}`` (G·hidden_size,), where G is the number of gate blocks (1, 3 or 4) and
    the input size of layer k > 0 is hidden_size times the number of directions.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype: Any = None) -> None:
        super().__init__()
        who = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{who}: unknown mode {mode!r} (expected one of {sorted(_GATES)})")
        if proj_size:
            raise NotImplementedError(
                f"{who}: proj_size={proj_size} is not supported (LSTM projections are not "
                f"implemented); use proj_size=0"
            )
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
                or not 0.0 <= dropout <= 1.0):
            raise ValueError(f"{who}: dropout must be a number in [0, 1], got {dropout!r}")
        # Types declared, so that type checkers know them in every method that reads them.
        self.mode: str = mode
        self.input_size: int = _size(who, "input_size", input_size, 0)
        self.hidden_size: int = _size(who, "hidden_size", hidden_size, 1)
        self.num_layers: int = _size(who, "num_layers", num_layers, 1)
        self.bias: bool = bool(bias)
        self.batch_first: bool = bool(batch_first)
        self.dropout: float = float(dropout)
        self.bidirectional: bool = bool(bidirectional)
        self.proj_size: int = 0
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"{who}: dropout={self.dropout} has no effect with num_layers=1 (dropout is "
                f"applied between layers, after all but the last)", UserWarning, stacklevel=3)
        gates = _GATES[mode] * self.hidden_size
        dt = _dtype(dtype)
        directions = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else self.hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = {"weight_ih": (gates, n_in), "weight_hh": (gates, self.hidden_size)}
                if self.bias:
                    shapes.update(bias_ih=(gates,), bias_hh=(gates,))
                for name, shape in shapes.items():
                    self.register_parameter(f"{name}_l{layer}{suffix}", Parameter(B.empty(shape, dtype=dt)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(−1/√hidden_size, 1/√hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """Nothing to do (PyTorch packs the weights for cuDNN here); kept so ported code runs."""

    def _weights(self, layer: int, reverse: bool) -> tuple:
        s = f"l{layer}" + ("_reverse" if reverse else "")
        p = self._parameters
        return (p[f"weight_ih_{s}"], p[f"weight_hh_{s}"], p.get(f"bias_ih_{s}"), p.get(f"bias_hh_{s}"))

    @property
    def all_weights(self) -> list:
        """The parameters of each layer and direction: [[w_ih, w_hh, b_ih, b_hh], ...]."""
        return [[w for w in self._weights(k, bool(d)) if w is not None]
                for k in range(self.num_layers) for d in range(2 if self.bidirectional else 1)]

    def _state(self, who: str, name: str, h: Any, expected: tuple, dtype) -> Tensor:
        h = as_tensor(h)
        if h.shape != expected:
            raise ValueError(f"{who}: {name} must have shape {expected}, got {h.shape}")
        _same_dtype(who, name, h, dtype)
        return h

    def forward(self, input: Any, hx: Any = None) -> tuple:
        """Run every layer over the sequence; see the subclasses for shapes and results."""
        who = type(self).__name__
        dtype = self.weight_ih_l0.dtype
        x = _input(who, input, (2, 3), self.input_size, dtype)
        given_shape = x.shape
        batched = x.ndim == 3
        if not batched:
            x = expand_dims(x, 1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:
            raise ValueError(f"{who}: the input sequence is empty (shape {given_shape})")
        directions = 2 if self.bidirectional else 1
        n_states = self.num_layers * directions
        N, H = x.shape[1], self.hidden_size
        shape = (n_states, N, H) if batched else (n_states, H)
        lstm = self.mode == "LSTM"
        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                    raise TypeError(f"{who}: hx must be a pair (h_0, c_0), got {_kind(hx)}")
                h0 = self._state(who, "h_0", hx[0], shape, dtype)
                c0 = self._state(who, "c_0", hx[1], shape, dtype)
            else:
                h0 = self._state(who, "h_0", hx, shape, dtype)
            if not batched:
                h0 = expand_dims(h0, 1)
                c0 = expand_dims(c0, 1) if c0 is not None else None
        zeros = Tensor(B.zeros((N, H), dtype=dtype))
        h_last_all, c_last_all = [], []  # per layer and direction
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, bool(d))
                k = layer * directions + d
                hs, h_last, c_last = _scan(
                    self.mode, linear(x, w_ih, b_ih), h0[k] if h0 is not None else zeros,
                    (c0[k] if c0 is not None else zeros) if lstm else None, w_hh, b_hh, bool(d))
                outs.append(hs)
                h_last_all.append(h_last)
                c_last_all.append(c_last)
            x = outs[0] if directions == 1 else concatenate(outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout)
        h_n = stack(h_last_all, axis=0)
        c_n = stack(c_last_all, axis=0) if lstm else None
        if not batched:
            x, h_n = x[:, 0], h_n[:, 0]
            c_n = c_n[:, 0] if c_n is not None else None  # None unless an LSTM
        elif self.batch_first:
            x = x.transpose(0, 1)
        return (x, (h_n, c_n)) if lstm else (x, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity=relu"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


_LAYER_SHAPES = """
    Input (L steps, batch N): ``input`` of shape (L, N, input_size), (N, L, input_size) with
    ``batch_first``, or (L, input_size) unbatched; the initial state{s} of shape
    (D·num_layers, N, hidden_size), or (D·num_layers, hidden_size) unbatched, zeros when
    omitted (D = 2 if bidirectional, else 1; ``batch_first`` does not apply to states).
    ``output`` has shape (L, N, D·hidden_size) ((N, L, ...) with ``batch_first``): the last
    layer's hidden state at every step, the two directions side by side.
"""


class RNN(RNNBase):
    """A multi-layer Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh), act = tanh
    or relu (``nonlinearity``). Layer k > 0 takes the hidden states of layer k − 1 as input
    (after dropout, in training, if ``dropout`` > 0).

    ``rnn(input, h_0=None)`` returns ``(output, h_n)``, h_n the last hidden state of every layer
    and direction (for the reverse direction, the state after step 0).
    """ + _LAYER_SHAPES.format(s="")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = None) -> None:
        mode = "RNN_" + _nonlinearity("RNN", nonlinearity).upper()
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        """``(output, h_n)`` for ``input`` and the initial hidden state ``hx`` (h_0)."""
        return super().forward(input, hx)


class GRU(RNNBase):
    """A multi-layer GRU, PyTorch's gates (reset r, update z, new n):

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr),  z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz),
        n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h.

    The weights stack the blocks in that order: ``weight_ih_l0`` is [W_ir; W_iz; W_in].
    ``gru(input, h_0=None)`` returns ``(output, h_n)``.
    """ + _LAYER_SHAPES.format(s="")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        """``(output, h_n)`` for ``input`` and the initial hidden state ``hx`` (h_0)."""
        return super().forward(input, hx)


class LSTM(RNNBase):
    """A multi-layer LSTM, PyTorch's gates (input i, forget f, cell g, output o):

        i = σ(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi),  f = σ(...),  g = tanh(...),  o = σ(...),
        c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c').

    The weights stack the blocks in that order: ``weight_ih_l0`` is [W_ii; W_if; W_ig; W_io].
    ``lstm(input, (h_0, c_0)=None)`` returns ``(output, (h_n, c_n))``. ``proj_size`` is not
    supported (a non-zero value raises).
    """ + _LAYER_SHAPES.format(s="s h_0 and c_0, each")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype=dtype)

    def forward(self, input: Any, hx: tuple | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``(output, (h_n, c_n))`` for ``input`` and the initial states ``hx = (h_0, c_0)``."""
        return super().forward(input, hx)


# ----------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """What the cells share: ``weight_ih`` (G·hidden_size, input_size), ``weight_hh``
    (G·hidden_size, hidden_size), ``bias_ih`` and ``bias_hh`` (G·hidden_size,), drawn from
    U(−1/√hidden_size, 1/√hidden_size), and the checks of input and state.

    Input of shape (N, input_size), or (input_size,) unbatched; states (N, hidden_size), or
    (hidden_size,), zeros when omitted.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        who = type(self).__name__
        self.mode = mode
        self.input_size = _size(who, "input_size", input_size, 0)
        self.hidden_size = _size(who, "hidden_size", hidden_size, 1)
        self.bias = bool(bias)
        gates = _GATES[mode] * self.hidden_size
        dt = _dtype(dtype)
        self.weight_ih = Parameter(B.empty((gates, self.input_size), dtype=dt))
        self.weight_hh = Parameter(B.empty((gates, self.hidden_size), dtype=dt))
        if self.bias:
            self.bias_ih = Parameter(B.empty((gates,), dtype=dt))
            self.bias_hh = Parameter(B.empty((gates,), dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(−1/√hidden_size, 1/√hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _step(self, input: Any, states: tuple) -> tuple:
        """One step from ``input`` and the given states (None: zeros): the new states, in the
        input's batched or unbatched form."""
        who = type(self).__name__
        dtype = self.weight_ih.dtype
        x = _input(who, input, (1, 2), self.input_size, dtype)
        batched = x.ndim == 2
        if not batched:
            x = expand_dims(x, 0)
        N, H = x.shape[0], self.hidden_size
        expected = (N, H) if batched else (H,)
        given = []
        for name, h in states:
            if h is None:
                given.append(Tensor(B.zeros((N, H), dtype=dtype)))
                continue
            h = as_tensor(h)
            if h.shape != expected:
                raise ValueError(f"{who}: {name} must have shape {expected}, got {h.shape}")
            _same_dtype(who, name, h, dtype)
            given.append(h if batched else expand_dims(h, 0))
        xw = expand_dims(linear(x, self.weight_ih, self.bias_ih), 0)  # a sequence of one step
        c0 = given[1] if self.mode == "LSTM" else None
        _, h, c = _scan(self.mode, xw, given[0], c0, self.weight_hh, self.bias_hh, False)
        if not batched:
            h, c = h[0], (c[0] if c is not None else None)
        return h, c

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity=relu"
        return s


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh or relu.

    ``cell(input, hx=None)`` returns h' (shapes in :class:`RNNCellBase`).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = None) -> None:
        mode = "RNN_" + _nonlinearity("RNNCell", nonlinearity).upper()
        super().__init__(mode, input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        """The next hidden state h'."""
        return self._step(input, (("hx", hx),))[0]


class GRUCell(RNNCellBase):
    """One GRU step with PyTorch's gates (see :class:`GRU`); ``cell(input, hx=None)`` returns
    h' (shapes in :class:`RNNCellBase`)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        """The next hidden state h'."""
        return self._step(input, (("hx", hx),))[0]


class LSTMCell(RNNCellBase):
    """One LSTM step with PyTorch's gates (see :class:`LSTM`); ``cell(input, (h, c)=None)``
    returns ``(h', c')`` (shapes in :class:`RNNCellBase`)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: tuple | None = None) -> tuple[Tensor, Tensor]:
        """The next states ``(h', c')``."""
        if hx is None:
            hx = (None, None)
        elif not (isinstance(hx, (tuple, list)) and len(hx) == 2) or any(h is None for h in hx):
            raise TypeError(f"LSTMCell: hx must be a pair of tensors (h, c), got {_kind(hx)}")
        return self._step(input, (("h", hx[0]), ("c", hx[1])))

