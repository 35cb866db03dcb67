"""``nn.MultiheadAttention``: PyTorch's module, with its parameter names, so that a PyTorch
state dict loads as it is.

Queries, keys and values are projected (``in_proj_weight``, ``in_proj_bias``), split into
``num_heads`` heads of ``embed_dim // num_heads`` features, attended with
``F.scaled_dot_product_attention`` per head, joined, and projected again (``out_proj``).
"""
from __future__ import annotations

import math
from typing import Any

from .. import backend as B
from ..ops.attention import scaled_dot_product_attention
from ..ops.indexing import masked_fill
from ..ops.activation import softmax
from ..ops.linalg import linear
from ..ops.nn import dropout as dropout_op
from ..ops.shape import concatenate
from ..state import require
from ..tensor import Tensor, as_tensor
from . import init
from .layers import Linear
from .module import Module, Parameter

__all__ = ["MultiheadAttention"]


def _dtype(dtype: Any):
    return B.float32 if dtype is None else B.asarray(0, dtype=dtype).dtype


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017), as PyTorch's ``nn.MultiheadAttention``.

    ``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
    add_zero_attn=False, kdim=None, vdim=None, batch_first=False, dtype=None)``.

    Parameters, named and initialised as in PyTorch: ``in_proj_weight`` (3·embed_dim,
    embed_dim), Xavier-uniform, holding the query, key and value projections one above the
    other (or ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when ``kdim``/``vdim``
    differ from embed_dim); ``in_proj_bias`` (3·embed_dim), zeros; ``out_proj``, a ``Linear``
    whose bias starts at zero; with ``add_bias_kv``, ``bias_k`` and ``bias_v`` (1, 1, embed_dim),
    Xavier-normal, appended to the keys and values; ``add_zero_attn`` appends a zero key and
    value per head. ``dropout`` applies to the attention weights in training mode.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None,
                 batch_first: bool = False, dtype: Any = None) -> None:
        super().__init__()
        E = self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        if E <= 0 or self.num_heads <= 0 or E % self.num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({E}) must be a positive multiple of "
                             f"num_heads ({self.num_heads})")
        self.head_dim = E // self.num_heads
        self.kdim = E if kdim is None else int(kdim)
        self.vdim = E if vdim is None else int(vdim)
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must lie in [0, 1], got {dropout}")
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        dt = _dtype(dtype)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(B.empty((3 * E, E), dtype=dt))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(B.empty((E, E), dtype=dt))
            self.k_proj_weight = Parameter(B.empty((E, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(B.empty((E, self.vdim), dtype=dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(B.empty((3 * E,), dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k: Parameter | None = Parameter(B.empty((1, 1, E), dtype=dt))
            self.bias_v: Parameter | None = Parameter(B.empty((1, 1, E), dtype=dt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform projections, zero biases (``out_proj``'s
        weight keeps ``Linear``'s own initialisation), Xavier-normal ``bias_k``/``bias_v``."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``; returns ``(output, weights)``.

        Shapes (L target and S source lengths, N the batch, E embed_dim): query (L, N, E),
        key (S, N, kdim), value (S, N, vdim); with ``batch_first``, (N, L, E), (N, S, kdim),
        (N, S, vdim); for one sequence, (L, E), (S, kdim), (S, vdim). The output has the query's
        shape.

        ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N·num_heads, L, S) follow
        PyTorch's module convention, the opposite of ``F.scaled_dot_product_attention``'s: a
        boolean True marks a position that may NOT be attended to; a float mask is added to the
        scores. ``is_causal=True`` says that ``attn_mask`` is the causal mask; without an
        ``attn_mask`` it builds that mask itself (PyTorch requires one).

        ``weights`` (N, L, S), the attention weights averaged over heads (per head,
        (N, num_heads, L, S), with ``average_attn_weights=False``), after dropout, as PyTorch;
        None with ``need_weights=False``, which is faster: it runs
        ``F.scaled_dot_product_attention``, whose backward is one rule. A query whose keys are
        all masked gives a zero output row there, as in PyTorch; with ``need_weights=True``,
        where PyTorch returns NaN for it, it is refused with an error instead.
        """
        q, k, v = (x if isinstance(x, Tensor) else as_tensor(x) for x in (query, key, value))
        batched = self._check(q, k, v)
        if not batched:
            q, k, v = q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = _data_or_tensor(key_padding_mask)
                key_padding_mask = key_padding_mask.reshape((1,) + tuple(key_padding_mask.shape))
        elif not self.batch_first:
            q, k, v = q.swapaxes(0, 1), k.swapaxes(0, 1), v.swapaxes(0, 1)
        N, L, S, E, H = q.shape[0], q.shape[1], k.shape[1], self.embed_dim, self.num_heads
        causal_fast = (is_causal and key_padding_mask is None and not need_weights
                       and self.bias_k is None and not self.add_zero_attn)
        if is_causal and attn_mask is None:
            attn_mask = B.triu(B.ones((L, S), dtype=B.bool), k=1)
        attn_mask = self._mask_shape(attn_mask, N, L, S, "attn_mask")
        key_padding_mask = self._mask_shape(key_padding_mask, N, L, S, "key_padding_mask")

        q, k, v = self._in_projection(q, k, v)
        if self.bias_k is not None:
            assert self.bias_v is not None  # add_bias_kv makes both
            k = concatenate([k, self.bias_k.expand(N, 1, E)], axis=1)
            v = concatenate([v, self.bias_v.expand(N, 1, E)], axis=1)
            attn_mask, key_padding_mask = _pad(attn_mask), _pad(key_padding_mask)
        hd = self.head_dim
        q = q.reshape(N, L, H, hd).transpose(1, 2)  # (N, H, L, hd)
        k = k.reshape(N, k.shape[1], H, hd).transpose(1, 2)
        v = v.reshape(N, v.shape[1], H, hd).transpose(1, 2)
        if self.add_zero_attn:
            zeros = Tensor(B.zeros((N, H, 1, hd), dtype=q.dtype))
            k = concatenate([k, zeros], axis=2)
            v = concatenate([v, zeros], axis=2)
            attn_mask, key_padding_mask = _pad(attn_mask), _pad(key_padding_mask)
        # With the causal hint and nothing else to merge, PyTorch attends causally without
        # reading attn_mask; so does this (the function then builds no mask input).
        mask = None if causal_fast else _merge(attn_mask, key_padding_mask, q.dtype)
        p = self.dropout if self.training else 0.0
        if not need_weights:
            out = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                               is_causal=causal_fast)
            weights = None
        else:
            out, weights = _with_weights(q, k, v, mask, p)
            if average_attn_weights:
                weights = weights.mean(axis=1)
            if not batched:
                weights = weights.squeeze(0)
        out = self.out_proj(out.transpose(1, 2).reshape(N, L, E))
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        return out, weights

    def _check(self, q: Tensor, k: Tensor, v: Tensor) -> bool:
        """Checks the inputs' shapes; returns whether they carry a batch axis."""
        if q.ndim not in (2, 3) or k.ndim != q.ndim or v.ndim != q.ndim:
            raise ValueError(f"MultiheadAttention: query, key and value must all be 3-d (batched) "
                             f"or all 2-d (one sequence); got shapes {q.shape}, {k.shape} and "
                             f"{v.shape}")
        for name, t, n in (("query", q, self.embed_dim), ("key", k, self.kdim),
                           ("value", v, self.vdim)):
            if t.shape[-1] != n:
                raise ValueError(f"MultiheadAttention: {name} of shape {t.shape} should have "
                                 f"{n} features in its last axis")
        seq = 1 if q.ndim == 3 and self.batch_first else 0
        if k.shape[:-1] != v.shape[:-1]:
            raise ValueError(f"MultiheadAttention: key of shape {k.shape} and value of shape "
                             f"{v.shape} must have the same length and batch size")
        if q.ndim == 3 and q.shape[1 - seq] != k.shape[1 - seq]:
            raise ValueError(f"MultiheadAttention: query of shape {q.shape} and key of shape "
                             f"{k.shape} have different batch sizes")
        return q.ndim == 3

    def _mask_shape(self, mask: Any, N: int, L: int, S: int, name: str) -> Any:
        """A mask as a boolean array or a float Tensor shaped to broadcast against the scores
        (N, num_heads, L, S): attn_mask as (L, S) or (N, H, L, S), key_padding_mask as
        (N, 1, 1, S)."""
        if mask is None:
            return None
        m = _data_or_tensor(mask)
        if m.dtype != B.bool and m.dtype.kind != "f":
            raise TypeError(f"MultiheadAttention: {name} must be boolean or floating, got dtype "
                            f"{m.dtype}")
        shape = tuple(m.shape)
        H = self.num_heads
        if name == "key_padding_mask":
            if shape != (N, S):
                raise ValueError(f"MultiheadAttention: key_padding_mask of shape {shape} should "
                                 f"be (batch, source length) = {(N, S)}")
            return m.reshape(N, 1, 1, S)
        if shape == (L, S):
            return m
        if shape == (N * H, L, S):
            return m.reshape(N, H, L, S)
        raise ValueError(f"MultiheadAttention: attn_mask of shape {shape} should be "
                         f"(target length, source length) = {(L, S)} or (batch·num_heads, L, S) "
                         f"= {(N * H, L, S)}")

    def _in_projection(self, q: Tensor, k: Tensor, v: Tensor) -> tuple:
        """The three input projections. The packed weight is sliced (views) rather than the
        packed product: slicing a (3E, E) weight costs little in backward, slicing the (N, L, 3E)
        product would cost three gradient arrays of that size."""
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        return linear(q, wq, bq), linear(k, wk, bk), linear(v, wv, bv)

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        return s + (", batch_first=True" if self.batch_first else "")


def _data_or_tensor(mask: Any) -> Any:
    """A boolean mask as an array (it never carries a gradient); a float mask as a Tensor (it
    may)."""
    if isinstance(mask, Tensor):
        return mask.data if mask.dtype == B.bool else mask
    arr = B.asarray(mask)
    return arr if arr.dtype == B.bool else Tensor(arr)


def _pad(mask: Any) -> Any:
    """A mask with one more source position (an appended key), which may be attended to."""
    if mask is None:
        return None
    shape = tuple(mask.shape[:-1]) + (1,)
    if isinstance(mask, Tensor):
        return concatenate([mask, Tensor(B.zeros(shape, dtype=mask.dtype))], axis=-1)
    return B.concat([mask, B.zeros(shape, dtype=B.bool)], axis=-1)


def _merge(attn_mask: Any, key_padding_mask: Any, dtype) -> Any:
    """The two module-convention masks (True = masked) as one mask in
    ``F.scaled_dot_product_attention``'s convention: a boolean array, True where a key may be
    attended to, when both are boolean; else one float Tensor to add to the scores."""
    masks = [m for m in (attn_mask, key_padding_mask) if m is not None]
    if not masks:
        return None
    if all(not isinstance(m, Tensor) for m in masks):
        allowed = B.logical_not(masks[0])
        for m in masks[1:]:
            allowed = B.logical_and(allowed, B.logical_not(m))
        return allowed
    total = None
    for m in masks:
        if not isinstance(m, Tensor):  # a boolean mask, as the additive 0 / −inf
            m = Tensor(B.where(m, B.asarray(-math.inf, dtype=dtype), B.asarray(0, dtype=dtype)))
        elif m.dtype != dtype:
            m = m.astype(dtype)
        total = m if total is None else total + m
    return total


def _all_masked() -> ValueError:
    return ValueError(
        "MultiheadAttention: some query has every key masked (by attn_mask and "
        "key_padding_mask together); its attention weights are undefined (PyTorch returns "
        "NaN). Pass need_weights=False to get a zero output row for it, as "
        "F.scaled_dot_product_attention gives, or unmask at least one key per query"
    )


def _with_weights(q: Tensor, k: Tensor, v: Tensor, mask: Any, p: float) -> tuple:
    """Attention written out op by op, to return the weights too (N, H, L, S)."""
    scores = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)
    if mask is None:
        dead = None
    elif isinstance(mask, Tensor):
        scores = scores + mask
        dead = B.all(scores.data == -math.inf, axis=-1)
    else:
        dead = B.logical_not(B.any(mask, axis=-1))
        scores = masked_fill(scores, B.logical_not(mask), -math.inf)
    if dead is not None:
        # a check on values: a compiled step makes it again at every replay
        require(B.logical_not(B.any(dead)), _all_masked)
    weights = softmax(scores, axis=-1)
    if p > 0.0:
        weights = dropout_op(weights, p)
    return weights @ v, weights
