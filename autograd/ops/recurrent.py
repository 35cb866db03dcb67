"""The time loops of recurrent layers: one op runs a cell over a whole sequence.

An RNN, GRU or LSTM layer splits into two parts. The input's contribution to the gates,
xw_t = x_t W_ihᵀ + b_ih, does not depend on the state, so the layer computes it for every step
at once with one ``linear`` (one large matrix product). What is left is the recurrence

    s_t = cell(xw_t, s_{t−1})        (s = h; for the LSTM, s = (h, c))

which must run step by step. Each op below runs it over the whole sequence with the backend and
records one node; its rule is backpropagation through time: walking the steps backwards, the
gradient of s_t is what the output received at t plus what step t+1 sends back to its input
state. The products with W_hh that the forward made step by step are, in the rule, one product
over all steps (∂W_hh = Σ_t ∂a_tᵀ h_{t−1}, with ∂a the gradient of a = h W_hhᵀ + b_hh).

Why one op for the sequence rather than a graph of per-step ops (``linear``, slicing,
``sigmoid``, ...), measured in ``benchmarks/bench_rnn.py``: slicing step t out of a (T, N, ·)
tensor has as gradient a full-size array that is zero but for step t, so T slices cost T
full-size arrays in backward (quadratic in T); W_hh receives T small gradients that the engine
adds one by one; and an LSTM step is about 14 recorded ops. The per-step graph ran 3 to 8 times
slower than hand-written NumPy; these ops run the same arithmetic as the hand-written version.

Shapes (T steps, batch N, hidden size H, G gate blocks: 1 for RNN, 3 for GRU, 4 for LSTM):
``xw`` (T, N, G·H) in time order, states (N, H), ``w_hh`` (G·H, H), ``b_hh`` (G·H,) or absent.
With ``reverse=True`` the steps run from t = T−1 down to 0 (the second direction of a
bidirectional layer); output row t is always the state after the step that consumed xw_t.

The rules read only the ops' inputs and outputs, never arrays kept aside by the forward: the
gates are recomputed from them (one matrix product over all steps), so the same rule text, run on
Tensors, gives second derivatives.
"""
from __future__ import annotations

from typing import Any, Optional

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor

__all__ = ["rnn_scan", "gru_scan", "lstm_scan"]

NONLINEARITIES = ("tanh", "relu")


def _check(op: str, xw: Tensor, states: tuple, w_hh: Tensor, b_hh: Optional[Tensor],
           gates: int) -> tuple:
    """(T, N, H) after checking every shape and dtype against the others."""
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{op}: w_hh must have shape ({gates}·H, H); got {w_hh.shape}")
    H = w_hh.shape[1]
    if xw.ndim != 3 or xw.shape[2] != gates * H:
        raise ValueError(
            f"{op}: xw must have shape (T, N, {gates * H}) for w_hh of shape {w_hh.shape}; "
            f"got {xw.shape}"
        )
    T, N = xw.shape[0], xw.shape[1]
    if T == 0:
        raise ValueError(f"{op}: the sequence is empty (xw has shape {xw.shape})")
    for name, s in states:
        if s.shape != (N, H):
            raise ValueError(f"{op}: {name} must have shape {(N, H)}; got {s.shape}")
    if b_hh is not None and b_hh.shape != (gates * H,):
        raise ValueError(f"{op}: b_hh must have shape {(gates * H,)}; got {b_hh.shape}")
    ts = [xw, w_hh] + [s for _, s in states] + ([b_hh] if b_hh is not None else [])
    dtypes = {t.dtype for t in ts}
    if len(dtypes) != 1:
        raise TypeError(f"{op}: inputs of different dtypes ({', '.join(sorted(map(str, dtypes)))})")
    return T, N, H


def _steps(T: int, reverse: bool) -> range:
    """The order in which the forward visits the steps."""
    return range(T - 1, -1, -1) if reverse else range(T)


def _before(xp, seq, first, reverse: bool):
    """The state each step started from: ``first`` for the first step visited, then the output
    of the step visited before it (``seq`` shifted by one step against the direction)."""
    first = xp.expand_dims(first, 0)
    if seq.shape[0] == 1:
        return first
    if reverse:
        return xp.concat([seq[1:], first], axis=0)
    return xp.concat([first, seq[:-1]], axis=0)


def _hidden_product(xp, h_prev, w_hh, b_hh):
    """h_{t−1} W_hhᵀ (+ b_hh) for every step at once, as one (T·N, H) × (H, G·H) product."""
    T, N, H = h_prev.shape
    a = xp.matmul(xp.reshape(h_prev, (T * N, H)), xp.matrix_transpose(w_hh))
    a = xp.reshape(a, (T, N, w_hh.shape[0]))
    return a if b_hh is None else a + b_hh


def _w_grad(xp, da, h_prev):
    """∂W_hh = Σ_t ∂a_tᵀ h_{t−1}: one product over all steps and the batch."""
    T, N, H = h_prev.shape
    return xp.matmul(xp.matrix_transpose(xp.reshape(da, (T * N, da.shape[-1]))),
                     xp.reshape(h_prev, (T * N, H)))


def _grads(ctx, dxw, dh0, dw, da, extra=()):
    """The rule's result in input order, None where no gradient is wanted."""
    n = ctx.needs
    out = (dxw if n[0] else None, dh0 if n[1] else None) + tuple(
        e if n[2 + k] else None for k, e in enumerate(extra))
    k = 2 + len(extra)
    out += (dw if n[k] else None,)
    if len(n) > k + 1:  # b_hh: the gradient of a = h W_hhᵀ + b_hh, summed by the engine
        out += (da if n[k + 1] else None,)
    return out


def _inputs(*ts: Any) -> tuple:
    return tuple(as_tensor(t) for t in ts if t is not None)


# ----------------------------------------------------------------------------- Elman RNN
def rnn_scan(xw: Any, h0: Any, w_hh: Any, b_hh: Any = None, nonlinearity: str = "tanh",
             reverse: bool = False) -> Tensor:
    """The hidden states of an Elman RNN, h_t = act(xw_t + h_{t−1} W_hhᵀ + b_hh), for every
    step: shape (T, N, H). ``act`` is tanh or relu (``nonlinearity``).

    Backward (through time): with ∂h_t = g_t + ∂z_{t+1} W_hh the gradient reaching h_t (from the
    output, and from the next step through its product with W_hh), the pre-activation gets
    ∂z_t = ∂h_t · act'(z_t), where act' comes from the output: 1 − h_t² for tanh, 1[h_t > 0]
    for relu. Then ∂xw_t = ∂z_t, ∂b_hh = Σ_t ∂z_t, ∂W_hh = Σ_t ∂z_tᵀ h_{t−1}, ∂h_0 = ∂z_1 W_hh.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"rnn_scan: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
    inputs = _inputs(xw, h0, w_hh, b_hh)
    xw, h0, w_hh = inputs[:3]
    b = inputs[3] if len(inputs) > 3 else None
    T, N, H = _check("rnn_scan", xw, (("h0", h0),), w_hh, b, 1)
    z_in = xw.data if b is None else xw.data + b.data
    w_t = B.matrix_transpose(w_hh.data)
    out = B.empty((T, N, H), dtype=xw.dtype)
    h = h0.data
    for t in _steps(T, reverse):
        z = z_in[t] + B.matmul(h, w_t)
        h = B.tanh(z) if nonlinearity == "tanh" else B.maximum(z, 0)
        out[t] = h
    return record(out, _rnn_scan_vjp, inputs, (nonlinearity, reverse))


@defvjp(rnn_scan, shows="∂z_t = (g_t + ∂z_{t+1}·W)·act'(h_t)")
def _rnn_scan_vjp(xp, ctx, g, hs, xw, h0, w_hh, b_hh=None):
    nonlinearity, reverse = ctx.saved
    T = hs.shape[0]
    if nonlinearity == "tanh":
        slope = 1 - hs * hs
    else:
        alive = hs > 0
    dz = [None] * T
    carry = None  # what step t+1 sends back to h_t
    for t in reversed(_steps(T, reverse)):
        dh = g[t] if carry is None else g[t] + carry
        dz[t] = dh * slope[t] if nonlinearity == "tanh" else xp.where(alive[t], dh, 0)
        carry = xp.matmul(dz[t], w_hh)
    dz = xp.stack(dz, axis=0)
    dw = _w_grad(xp, dz, _before(xp, hs, h0, reverse)) if ctx.needs[2] else None
    return _grads(ctx, dz, carry, dw, dz)


# ----------------------------------------------------------------------------- GRU
def gru_scan(xw: Any, h0: Any, w_hh: Any, b_hh: Any = None, reverse: bool = False) -> Tensor:
    """The hidden states of a GRU for every step, shape (T, N, H), with PyTorch's gates: from
    a = h_{t−1} W_hhᵀ + b_hh and xw split into blocks (reset r, update z, new n),

        r = σ(xw_r + a_r),  z = σ(xw_z + a_z),  n = tanh(xw_n + r ⊙ a_n),
        h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}.

    Backward (through time): with ∂h the gradient reaching h_t, the product rule gives
    ∂n = ∂h (1 − z) and ∂z = ∂h (h_{t−1} − n); through the activations
    ∂n̂ = ∂n (1 − n²), ∂ẑ = ∂z z (1 − z), and, since r multiplies a_n, ∂r̂ = ∂n̂ a_n r (1 − r).
    The input blocks get ∂xw = [∂r̂, ∂ẑ, ∂n̂]; the hidden ones ∂a = [∂r̂, ∂ẑ, ∂n̂ r]; and h_{t−1}
    gets ∂h z + ∂a W_hh. Every factor but ∂h is known before the loop, so the loop only carries
    ∂h backwards.
    """
    inputs = _inputs(xw, h0, w_hh, b_hh)
    xw, h0, w_hh = inputs[:3]
    b = inputs[3] if len(inputs) > 3 else None
    T, N, H = _check("gru_scan", xw, (("h0", h0),), w_hh, b, 3)
    x_rz = xw.data[..., : 2 * H]
    if b is not None:
        x_rz = x_rz + b.data[: 2 * H]
    x_n = xw.data[..., 2 * H:]
    w_t = B.matrix_transpose(w_hh.data)
    out = B.empty((T, N, H), dtype=xw.dtype)
    h = h0.data
    for t in _steps(T, reverse):
        a = B.matmul(h, w_t)
        rz = B.sigmoid(x_rz[t] + a[:, : 2 * H])
        a_n = a[:, 2 * H:] if b is None else a[:, 2 * H:] + b.data[2 * H:]
        n = B.tanh(x_n[t] + rz[:, :H] * a_n)
        h = n + rz[:, H:] * (h - n)  # (1 − z) n + z h
        out[t] = h
    return record(out, _gru_scan_vjp, inputs, reverse)


@defvjp(gru_scan, shows="∂h_{t−1} = ∂h_t·z + ∂a_t·W")
def _gru_scan_vjp(xp, ctx, g, hs, xw, h0, w_hh, b_hh=None):
    reverse = ctx.saved
    T, H = hs.shape[0], hs.shape[2]
    h_prev = _before(xp, hs, h0, reverse)
    a = _hidden_product(xp, h_prev, w_hh, b_hh)
    r = xp.sigmoid(xw[..., :H] + a[..., :H])
    z = xp.sigmoid(xw[..., H:2 * H] + a[..., H:2 * H])
    a_n = a[..., 2 * H:]
    n = xp.tanh(xw[..., 2 * H:] + r * a_n)
    # ∂n̂, ∂ẑ, ∂r̂ and ∂a_n per unit of ∂h:
    c_n = (1 - z) * (1 - n * n)
    c_z = (h_prev - n) * z * (1 - z)
    c_r = c_n * a_n * r * (1 - r)
    c_an = c_n * r
    dhs = [None] * T
    das = [None] * T
    carry = None
    for t in reversed(_steps(T, reverse)):
        dh = g[t] if carry is None else g[t] + carry
        dhs[t] = dh
        das[t] = xp.concat([dh * c_r[t], dh * c_z[t], dh * c_an[t]], axis=-1)
        carry = dh * z[t] + xp.matmul(das[t], w_hh)
    dh = xp.stack(dhs, axis=0)
    da = xp.stack(das, axis=0)
    dxw = xp.concat([da[..., : 2 * H], dh * c_n], axis=-1) if ctx.needs[0] else None
    dw = _w_grad(xp, da, h_prev) if ctx.needs[2] else None
    return _grads(ctx, dxw, carry, dw, da)


# ----------------------------------------------------------------------------- LSTM
def lstm_scan(xw: Any, h0: Any, c0: Any, w_hh: Any, b_hh: Any = None,
              reverse: bool = False) -> Tensor:
    """The states (h_t, c_t) of an LSTM for every step, as one tensor of shape (2, T, N, H):
    ``out[0]`` the hidden states, ``out[1]`` the cell states. PyTorch's gates, from
    z = xw_t + h_{t−1} W_hhᵀ + b_hh split into blocks (input i, forget f, cell g, output o):

        i = σ(z_i),  f = σ(z_f),  g = tanh(z_g),  o = σ(z_o),
        c_t = f ⊙ c_{t−1} + i ⊙ g,  h_t = o ⊙ tanh(c_t).

    Backward (through time): with ∂h and ∂c the gradients reaching h_t and c_t (from the
    output, and from step t+1), c_t also reaches the loss through h_t, so
    ∂c += ∂h o (1 − tanh² c_t). The blocks of z get ∂z = [∂c g i(1 − i), ∂c c_{t−1} f(1 − f),
    ∂c i (1 − g²), ∂h tanh(c_t) o(1 − o)] (product rule, then σ' = σ(1 − σ) and
    tanh' = 1 − tanh²); step t−1 receives ∂h_{t−1} = ∂z W_hh and ∂c_{t−1} = ∂c f.
    """
    inputs = _inputs(xw, h0, c0, w_hh, b_hh)
    xw, h0, c0, w_hh = inputs[:4]
    b = inputs[4] if len(inputs) > 4 else None
    T, N, H = _check("lstm_scan", xw, (("h0", h0), ("c0", c0)), w_hh, b, 4)
    z_in = xw.data if b is None else xw.data + b.data
    w_t = B.matrix_transpose(w_hh.data)
    out = B.empty((2, T, N, H), dtype=xw.dtype)
    h, c = h0.data, c0.data
    for t in _steps(T, reverse):
        z = z_in[t] + B.matmul(h, w_t)
        i_f = B.sigmoid(z[:, : 2 * H])
        g = B.tanh(z[:, 2 * H: 3 * H])
        o = B.sigmoid(z[:, 3 * H:])
        c = i_f[:, H:] * c + i_f[:, :H] * g
        h = o * B.tanh(c)
        out[0, t] = h
        out[1, t] = c
    return record(out, _lstm_scan_vjp, inputs, reverse)


@defvjp(lstm_scan, shows="∂c_{t−1} = ∂c_t·f,  ∂h_{t−1} = ∂z_t·W")
def _lstm_scan_vjp(xp, ctx, g, out, xw, h0, c0, w_hh, b_hh=None):
    reverse = ctx.saved
    hs, cs = out[0], out[1]
    T, H = hs.shape[0], hs.shape[2]
    h_prev = _before(xp, hs, h0, reverse)
    c_prev = _before(xp, cs, c0, reverse)
    z = xw + _hidden_product(xp, h_prev, w_hh, b_hh)
    i = xp.sigmoid(z[..., :H])
    f = xp.sigmoid(z[..., H:2 * H])
    gg = xp.tanh(z[..., 2 * H:3 * H])
    o = xp.sigmoid(z[..., 3 * H:])
    tc = xp.tanh(cs)
    # ∂c from ∂h through h = o tanh(c), and each block of ∂z per unit of ∂c (or ∂h for o):
    k_c = o * (1 - tc * tc)
    c_i = gg * i * (1 - i)
    c_f = c_prev * f * (1 - f)
    c_g = i * (1 - gg * gg)
    c_o = tc * o * (1 - o)
    gh, gc = g[0], g[1]
    dzs = [None] * T
    carry_h = carry_c = None
    for t in reversed(_steps(T, reverse)):
        dh = gh[t] if carry_h is None else gh[t] + carry_h
        dc = gc[t] + dh * k_c[t]
        if carry_c is not None:
            dc = dc + carry_c
        dzs[t] = xp.concat([dc * c_i[t], dc * c_f[t], dc * c_g[t], dh * c_o[t]], axis=-1)
        carry_h = xp.matmul(dzs[t], w_hh)
        carry_c = dc * f[t]
    dz = xp.stack(dzs, axis=0)
    dw = _w_grad(xp, dz, h_prev) if ctx.needs[3] else None
    return _grads(ctx, dz, carry_h, dw, dz, extra=(carry_c,))
