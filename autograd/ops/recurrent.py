"""The time loops of recurrent layers: one op runs a cell over a whole sequence.

An RNN, GRU or LSTM layer splits into two parts. The input's contribution to the gates,
xw_t = x_t W_ihᵀ + b_ih, does not depend on the state, so the layer computes it for every step
at once with one ``linear`` (one large matrix product). What is left is the recurrence

    s_t = cell(xw_t, s_{t−1})        (s = h; for the LSTM, s = (h, c))

which must run step by step. Each op below runs it over the whole sequence with the backend and
records one node; its rule is backpropagation through time: walking the steps backwards, the
gradient of s_t is what the output received at t plus what step t+1 sends back to its input
state. The products with W_hh that the forward made step by step become, for W_hh's gradient,
one product over all steps (∂W_hh = Σ_t ∂a_tᵀ h_{t−1}, with ∂a the gradient of
a = h W_hhᵀ + b_hh).

Why one op for the sequence rather than a graph of per-step ops (``linear``, slicing,
``sigmoid``, ...), measured with ``benchmarks/bench_rnn.py``: slicing step t out of a (T, N, ·)
tensor has as gradient a full-size array that is zero but for step t, so T slices cost T
full-size arrays in backward (quadratic in T); W_hh receives T small gradients that the engine
adds one by one; and an LSTM step is about 14 recorded ops. On an LSTM training step (T = 64,
batch 32, hidden 256) that graph took about 4 times as long as hand-written NumPy (3 to 6 on a
busy machine), and ``nn.LSTM`` on this op 1.03 to 1.04 times as long (0.9 to 1.2 when busy).

Why the GRU and LSTM outputs hold their gates: the rules need the gate values of every step.
Recomputing them from the inputs costs a product over the whole sequence and four activations:
the same LSTM training step took 1.3 times as long that way; arrays kept aside by the forward
would be invisible to a second derivative. So the gates are part of the output, and the rule reads them
there, as ``sigmoid``'s rule reads its output; they are values of the graph, so the same rule text
run on Tensors (``create_graph=True``) gives exact second derivatives. The rule therefore also
propagates a gradient that reaches the gates themselves (zero when only the states are used).

Shapes (T steps, batch N, hidden size H, G gate blocks: 1 for RNN, 3 for GRU, 4 for LSTM):
``xw`` (T, N, G·H) in time order, states (N, H), ``w_hh`` (G·H, H), ``b_hh`` (G·H,) or absent.
With ``reverse=True`` the steps run from t = T−1 down to 0 (the second direction of a
bidirectional layer); output row t is always the state after the step that consumed xw_t.
"""
from __future__ import annotations

from typing import Any

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor

__all__ = ["rnn_scan", "gru_scan", "lstm_scan"]

NONLINEARITIES = ("tanh", "relu")


def _check(op: str, xw: Tensor, states: tuple, w_hh: Tensor, b_hh: Tensor | None,
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


def _inputs(*ts: Any) -> tuple:
    return tuple(as_tensor(t) for t in ts if t is not None)


def _steps(T: int, reverse: bool) -> list:
    """The steps in the order the forward visits them."""
    return list(range(T - 1, -1, -1) if reverse else range(T))


def _before(xp, seq, first, reverse: bool):
    """The state each step started from, for all steps: ``first`` for the first step visited,
    then the output of the step visited before (``seq`` shifted by one step)."""
    first = xp.expand_dims(first, 0)
    if seq.shape[0] == 1:
        return first
    if reverse:
        return xp.concat([seq[1:], first], axis=0)
    return xp.concat([first, seq[:-1]], axis=0)


def _transposed(w):
    """W_hhᵀ as a C-ordered copy, for the forward's product h W_hhᵀ at every step: with the
    transposed view instead, NumPy's BLAS call took 1.1 to 3 times as long for these small
    shapes (measured on (16..64, H) × (H, G·H), H = 96..512), and up to 60 times as long when
    other processes kept the cores busy."""
    out = B.empty(tuple(reversed(w.shape)), dtype=w.dtype)
    out[...] = B.matrix_transpose(w)
    return out


def _pre_activation(h, w_t, x, b):
    """h W_hhᵀ (+ x) (+ b_hh) for one step of a forward. The product is a fresh array, so the
    other terms are added into it in place: per step, on (N, G·H), instead of adding b_hh to
    the whole (T, N, G·H) input first (an extra pass over memory)."""
    a = B.matmul(h, w_t)
    if x is not None:
        a += x
    if b is not None:
        a += b.data
    return a


def _w_grad(xp, da, h_prev):
    """∂W_hh = Σ_t ∂a_tᵀ h_{t−1}: one product over all steps and the batch."""
    T, N, H = h_prev.shape
    return xp.matmul(xp.matrix_transpose(xp.reshape(da, (T * N, da.shape[-1]))),
                     xp.reshape(h_prev, (T * N, H)))


def _grads(xp, ctx, dxw, dh0, dc0, da, hs, h0, reverse):
    """The rule's result in input order (xw, h0, [c0], w_hh, [b_hh]), None where no gradient is
    wanted: ∂W_hh from ∂a and the states each step started from; ∂b_hh is ∂a itself, which the
    engine sums over steps and batch. ``dc0`` is None but for the LSTM."""
    n = ctx.needs
    k = 2 if dc0 is None else 3  # where w_hh is among the inputs
    dw = _w_grad(xp, da, _before(xp, hs, h0, reverse)) if n[k] else None
    out: tuple = (dxw if n[0] else None, dh0 if n[1] else None)
    if dc0 is not None:
        out += (dc0 if n[2] else None,)
    out += (dw,)
    if len(n) > k + 1:
        out += (da if n[k + 1] else None,)
    return out


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
    w_t = _transposed(w_hh.data)
    out = B.empty((T, N, H), dtype=xw.dtype)
    h = h0.data
    for t in _steps(T, reverse):
        z = _pre_activation(h, w_t, xw.data[t], b)
        h = B.tanh(z) if nonlinearity == "tanh" else B.maximum(z, 0)
        out[t] = h
    return record(out, _rnn_scan_vjp, inputs, (nonlinearity, reverse))


@defvjp(rnn_scan, shows="∂z_t = (g_t + ∂z_{t+1}·W)·act'(h_t)")
def _rnn_scan_vjp(xp, ctx, g, hs, xw, h0, w_hh, b_hh=None):
    nonlinearity, reverse = ctx.saved
    dz = [None] * hs.shape[0]
    carry = None  # what the step visited next sends back to this step's output
    for t in reversed(_steps(hs.shape[0], reverse)):
        dh = g[t] if carry is None else g[t] + carry
        if nonlinearity == "tanh":
            dz[t] = dh * (1 - hs[t] * hs[t])
        else:
            dz[t] = xp.where(hs[t] > 0, dh, 0)
        carry = xp.matmul(dz[t], w_hh)
    dz = xp.stack(dz, axis=0)
    return _grads(xp, ctx, dz, carry, None, dz, hs, h0, reverse)


# ----------------------------------------------------------------------------- GRU
def gru_scan(xw: Any, h0: Any, w_hh: Any, b_hh: Any = None, reverse: bool = False) -> Tensor:
    """A GRU over the sequence, PyTorch's gates. From a = h_{t−1} W_hhᵀ + b_hh and xw_t, each
    split into blocks (reset r, update z, new n):

        r = σ(xw_r + a_r),  z = σ(xw_z + a_z),  n = tanh(xw_n + r ⊙ a_n),
        h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}.

    Returns, for every step, h_t and what backward needs, as one tensor of shape (5, T, N, H):
    ``out[0]`` the hidden states, then r, z, n and a_n (see the module docstring).

    Backward (through time): with ∂h the gradient reaching h_t, the product rule gives
    ∂n = ∂h (1 − z) and ∂z = ∂h (h_{t−1} − n); through the activations
    ∂n̂ = ∂n (1 − n²), ∂ẑ = ∂z z (1 − z), and, since r multiplies a_n, ∂r̂ = ∂n̂ a_n r (1 − r)
    (hats: pre-activations). The input blocks get ∂xw = [∂r̂, ∂ẑ, ∂n̂], the hidden ones
    ∂a = [∂r̂, ∂ẑ, ∂n̂ r], and h_{t−1} gets ∂h z + ∂a W_hh. A gradient reaching r, z, n or a_n in
    the output adds to ∂r, ∂z, ∂n or ∂a_n.
    """
    inputs = _inputs(xw, h0, w_hh, b_hh)
    xw, h0, w_hh = inputs[:3]
    b = inputs[3] if len(inputs) > 3 else None
    T, N, H = _check("gru_scan", xw, (("h0", h0),), w_hh, b, 3)
    w_t = _transposed(w_hh.data)
    out = B.empty((5, T, N, H), dtype=xw.dtype)
    h = h0.data
    for t in _steps(T, reverse):
        a = _pre_activation(h, w_t, None, b)
        x = xw.data[t]
        rz = B.sigmoid(x[:, : 2 * H] + a[:, : 2 * H])
        r, z = rz[:, :H], rz[:, H:]
        a_n = a[:, 2 * H:]
        n = B.tanh(x[:, 2 * H:] + r * a_n)
        h = n + z * (h - n)  # (1 − z) n + z h
        for k, v in enumerate((h, r, z, n, a_n)):
            out[k, t] = v
    return record(out, _gru_scan_vjp, inputs, reverse)


@defvjp(gru_scan, shows="∂h_{t−1} = ∂h_t·z + ∂a_t·W")
def _gru_scan_vjp(xp, ctx, g, out, xw, h0, w_hh, b_hh=None):
    reverse = ctx.saved
    hs, r, z, n, a_n = out[0], out[1], out[2], out[3], out[4]
    g_h, g_r, g_z, g_n, g_an = g[0], g[1], g[2], g[3], g[4]
    steps = _steps(hs.shape[0], reverse)
    dxw_steps = [None] * len(steps)
    da = [None] * len(steps)
    carry = None
    for k in reversed(range(len(steps))):
        t = steps[k]
        h_prev = h0 if k == 0 else hs[steps[k - 1]]
        rt, zt, nt = r[t], z[t], n[t]
        dh = g_h[t] if carry is None else g_h[t] + carry
        dn = (dh * (1 - zt) + g_n[t]) * (1 - nt * nt)
        dz = (dh * (h_prev - nt) + g_z[t]) * zt * (1 - zt)
        dr = (dn * a_n[t] + g_r[t]) * rt * (1 - rt)
        dxw_steps[t] = xp.concat([dr, dz, dn], axis=-1)
        da[t] = xp.concat([dr, dz, dn * rt + g_an[t]], axis=-1)
        carry = dh * zt + xp.matmul(da[t], w_hh)
    dxw = xp.stack(dxw_steps, axis=0) if ctx.needs[0] else None
    da = xp.stack(da, axis=0)
    return _grads(xp, ctx, dxw, carry, None, da, hs, h0, reverse)


# ----------------------------------------------------------------------------- LSTM
def lstm_scan(xw: Any, h0: Any, c0: Any, w_hh: Any, b_hh: Any = None,
              reverse: bool = False) -> Tensor:
    """An LSTM over the sequence, PyTorch's gates. From z = xw_t + h_{t−1} W_hhᵀ + b_hh split
    into blocks (input i, forget f, cell g, output o):

        i = σ(z_i),  f = σ(z_f),  g = tanh(z_g),  o = σ(z_o),
        c_t = f ⊙ c_{t−1} + i ⊙ g,  h_t = o ⊙ tanh(c_t).

    Returns, for every step, the states and the gates as one tensor of shape (6, T, N, H):
    ``out[0]`` the hidden states h, ``out[1]`` the cell states c, then i, f, g, o (see the module
    docstring).

    Backward (through time): with ∂h and ∂c the gradients reaching h_t and c_t (from the output
    and from step t+1), c_t also reaches the loss through h_t, so ∂c += ∂h o (1 − tanh² c_t).
    The product rule gives the gates ∂i = ∂c g, ∂f = ∂c c_{t−1}, ∂g = ∂c i, ∂o = ∂h tanh(c_t)
    (plus any gradient reaching them in the output), and the activations' derivatives
    σ' = σ(1 − σ), tanh' = 1 − tanh² give ∂z. Step t−1 receives ∂h_{t−1} = ∂z W_hh and
    ∂c_{t−1} = ∂c f.
    """
    inputs = _inputs(xw, h0, c0, w_hh, b_hh)
    xw, h0, c0, w_hh = inputs[:4]
    b = inputs[4] if len(inputs) > 4 else None
    T, N, H = _check("lstm_scan", xw, (("h0", h0), ("c0", c0)), w_hh, b, 4)
    w_t = _transposed(w_hh.data)
    out = B.empty((6, T, N, H), dtype=xw.dtype)
    h, c = h0.data, c0.data
    for t in _steps(T, reverse):
        z = _pre_activation(h, w_t, xw.data[t], b)
        i_f = B.sigmoid(z[:, : 2 * H])
        i, f = i_f[:, :H], i_f[:, H:]
        g = B.tanh(z[:, 2 * H: 3 * H])
        o = B.sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * B.tanh(c)
        for k, v in enumerate((h, c, i, f, g, o)):
            out[k, t] = v
    return record(out, _lstm_scan_vjp, inputs, reverse)


@defvjp(lstm_scan, shows="∂c_{t−1} = ∂c_t·f,  ∂h_{t−1} = ∂z_t·W")
def _lstm_scan_vjp(xp, ctx, g, out, xw, h0, c0, w_hh, b_hh=None):
    reverse = ctx.saved
    hs, cs, i, f, gg, o = out[0], out[1], out[2], out[3], out[4], out[5]
    g_h, g_c, g_i, g_f, g_g, g_o = g[0], g[1], g[2], g[3], g[4], g[5]
    steps = _steps(hs.shape[0], reverse)
    dz = [None] * len(steps)
    carry_h = carry_c = None
    for k in reversed(range(len(steps))):
        t = steps[k]
        c_prev = c0 if k == 0 else cs[steps[k - 1]]
        it, ft, gt, ot = i[t], f[t], gg[t], o[t]
        tc = xp.tanh(cs[t])
        dh = g_h[t] if carry_h is None else g_h[t] + carry_h
        dc = g_c[t] + dh * ot * (1 - tc * tc)
        if carry_c is not None:
            dc = dc + carry_c
        dz[t] = xp.concat([(dc * gt + g_i[t]) * it * (1 - it),
                           (dc * c_prev + g_f[t]) * ft * (1 - ft),
                           (dc * it + g_g[t]) * (1 - gt * gt),
                           (dh * tc + g_o[t]) * ot * (1 - ot)], axis=-1)
        carry_h = xp.matmul(dz[t], w_hh)
        carry_c = dc * ft
    dz = xp.stack(dz, axis=0)
    return _grads(xp, ctx, dz, carry_h, carry_c, dz, hs, h0, reverse)
