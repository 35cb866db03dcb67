"""Convolution: ``conv1d``, ``conv2d``, ``conv_transpose2d``, and the window copy they are built on.

A convolution is one matrix product once every input window is copied out as a column. ``im2col``
turns x (N, C, *spatial) into cols, a (C·Πk, N·Πout) matrix (row: channel and kernel offset;
column: image and output position), and y = W·cols with W reshaped to (O, C·Πk), one product per
group. For that product, backward is ∂W = G·colsᵀ and ∂cols = Wᵀ·G; ∂x = col2im(∂cols) adds each
window's gradient back where the window was read from (one strided slice-add per kernel offset).
The forward keeps cols for ∂W, so forward and the weight gradient are one product each and the
input gradient is one product plus the slice-adds.

``conv_transpose2d`` is the adjoint of ``conv2d`` with respect to its input (the map ∂x above):
its forward is col2im(Wᵀ·x) and its backward copies windows of the gradient with im2col.

``im2col`` and ``col2im`` are ops as well, each the other's adjoint, so the rules above can be
written with them: under ``create_graph`` they record differentiable graphs, and derivatives of
any order through a convolution are exact.
"""
from __future__ import annotations

from typing import Any

from .. import backend as B
from ..graph import defvjp, record
from ..tensor import Tensor, as_tensor
from ._windows import conv_padding, geometry, integer, layout, ntuple, same_dtype
from .shape import expand_dims, squeeze

__all__ = ["conv1d", "conv2d", "conv_transpose2d"]


# ----------------------------------------------------------------------------- window copies
def im2col(x: Any, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
           known: Any = None) -> Tensor:
    """The windows of x (N, C, *spatial) as one array (C, *kernel, N, *out) (see
    ``backend.im2col``); ``known``: the same windows already copied (a rule reusing its forward's).

    Backward: copying is linear and each window element is read from one place, so the adjoint
    adds every gradient element back at that place: col2im.
    """
    x = as_tensor(x)
    cols = B.im2col(x.data, kernel, stride, padding, dilation, known)
    return record(cols, _im2col_vjp, (x,), (x.shape, (kernel, stride, padding, dilation)))


@defvjp(im2col, reads="nothing", xp=("im2col",), shows="∂x = col2im(G)")
def _im2col_vjp(xp, ctx, g, out, x):
    shape, geo = ctx.saved
    return (xp.col2im(g, shape, *geo),)


def col2im(cols: Any, shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
           dilation: tuple) -> Tensor:
    """Window elements (C, *kernel, N, *out) summed back into an input of ``shape`` (N, C, *spatial).

    Backward: summing is linear and its adjoint reads every window element from where it was
    added: im2col of the gradient.
    """
    cols = as_tensor(cols)
    shape = tuple(shape)
    geo = geometry("col2im", shape[2:], kernel, stride, padding, dilation)
    expected = (shape[1],) + tuple(kernel) + (shape[0],) + geo.out
    if cols.shape != expected:
        raise ValueError(f"col2im: the windows of an input of shape {shape} have shape "
                         f"{expected} (C, *kernel, N, *out); got {cols.shape}")
    out = B.col2im(cols.data, shape, kernel, stride, padding, dilation)
    return record(out, _col2im_vjp, (cols,), (kernel, stride, padding, dilation))


@defvjp(col2im, reads="nothing", xp=("col2im",), shows="∂cols = im2col(G)")
def _col2im_vjp(xp, ctx, g, out, cols):
    return (xp.im2col(g, *ctx.saved),)


# ----------------------------------------------------------------------------- convolution
class _Saved:
    """What a convolution's rule needs: the window geometry, the group count, and (forward
    convolutions) the copied windows of the input."""

    __slots__ = ("geo", "groups", "cols")

    def __init__(self, geo, groups: int, cols: Any = None) -> None:
        self.geo = geo
        self.groups = groups
        self.cols = cols


def _operands(op: str, d: int, x: Any, weight: Any, bias: Any, groups: Any, transposed: bool):
    """Checked tensors and group count; ``None`` for x when x is unbatched (the caller adds the
    batch axis)."""
    x = as_tensor(x)
    weight = as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    same_dtype(op, x, ("weight", weight), ("bias", bias))
    kernel_axes = _kernel_names(d)
    if transposed:
        w_layout = f"(in_channels, out_channels/groups, {kernel_axes})"
    else:
        w_layout = f"(out_channels, in_channels/groups, {kernel_axes})"
    if weight.ndim != d + 2:
        raise ValueError(f"{op}: weight must have shape {w_layout}; got shape {weight.shape}")
    if x.ndim not in (d + 1, d + 2):
        raise ValueError(
            f"{op}: expected an input of shape {layout(d)} (or unbatched {layout(d, 'C')}); got "
            f"shape {x.shape}"
        )
    if not integer(groups) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int; got {groups!r}")
    c = x.shape[-d - 1]
    if c % groups:
        raise ValueError(f"{op}: groups={groups} does not divide the {c} input channels")
    if transposed:
        expected, out_channels = weight.shape[0], weight.shape[1] * groups
    else:
        expected, out_channels = weight.shape[1] * groups, weight.shape[0]
        if out_channels % groups:
            raise ValueError(f"{op}: groups={groups} does not divide the {out_channels} output "
                             f"channels (weight shape {weight.shape})")
    if c != expected:
        per_group = "" if groups == 1 else f" ({expected // groups} per group × groups={groups})"
        raise ValueError(
            f"{op}: the input has {c} channels but the weight of shape {weight.shape} "
            f"{w_layout} expects {expected}{per_group}"
        )
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},) (one per output "
                         f"channel); got {bias.shape}")
    return x, weight, bias


def _kernel_names(d: int) -> str:
    return {1: "kL", 2: "kH, kW", 3: "kD, kH, kW"}[d]


def _convolve(op, name: str, d: int, x: Any, weight: Any, bias: Any, stride: Any, padding: Any,
              dilation: Any, groups: Any) -> Tensor:
    x, weight, bias = _operands(name, d, x, weight, bias, groups, transposed=False)
    if x.ndim == d + 1:  # unbatched (C, *spatial): a batch of one
        return squeeze(_convolve(op, name, d, expand_dims(x, 0), weight, bias, stride, padding,
                                 dilation, groups), 0)
    kernel = weight.shape[2:]
    stride = ntuple(stride, d, "stride", name)
    dilation = ntuple(dilation, d, "dilation", name)
    pads = conv_padding(padding, d, kernel, stride, dilation, name)
    geo = geometry(name, x.shape[2:], kernel, stride, pads, dilation)
    n, o = x.shape[0], weight.shape[0]
    cols = B.im2col(x.data, *geo.args)
    # one product per group: (O/G, C/G·Πk) by (C/G·Πk, N·Πout)
    y = B.matmul(B.reshape(weight.data, (groups, o // groups, -1)),
                 B.reshape(cols, (groups, -1, n * _prod(geo.out))))
    if bias is not None:
        y += B.reshape(bias.data, (groups, o // groups, 1))
    # y is (O, N·Πout); the result is laid out (N, O, *out), so write it through a transposed view.
    out = B.empty((n, o) + geo.out, dtype=y.dtype)
    B.permute_dims(out, _swap01(d))[...] = B.reshape(y, (o, n) + geo.out)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return record(out, op, inputs, _Saved(geo, groups, cols))


def _prod(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _swap01(d: int) -> tuple:
    return (1, 0) + tuple(range(2, d + 2))


def conv1d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-d convolution (cross-correlation, as PyTorch) of x (N, C_in, L) with weight
    (C_out, C_in/groups, kL), plus bias (C_out,); see :func:`conv2d` for the arguments and the
    backward rule."""
    return _convolve(_conv1d_vjp, "conv1d", 1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-d convolution (cross-correlation, as PyTorch) of x (N, C_in, H, W) with weight
    (C_out, C_in/groups, kH, kW), plus bias (C_out,): y (N, C_out, H_out, W_out).

    ``stride``, ``dilation``: an int or a pair. ``padding``: an int, a pair, ``'valid'`` (none)
    or ``'same'`` (output as large as the input, stride 1; an even kernel pads the extra row and
    column at the end). ``groups`` splits the channels into that many independent convolutions
    (``groups = C_in``: depthwise). An unbatched (C_in, H, W) input gives an unbatched result.

    Backward: with cols the input's windows as a (C·kH·kW, N·H_out·W_out) matrix and G the
    output gradient as (C_out, N·H_out·W_out), y = W·cols + b gives ∂W = G·colsᵀ,
    ∂cols = Wᵀ·G, whose columns col2im adds back onto the windows' places in x, and ∂b = Σ G
    over the batch and positions (per group, each block separately).
    """
    return _convolve(_conv2d_vjp, "conv2d", 2, x, weight, bias, stride, padding, dilation, groups)


def _conv_vjp(xp, ctx, g, out, x, w, b=None):
    s = ctx.saved
    geo, groups = s.geo, s.groups
    d = len(geo.kernel)
    n, o = g.shape[0], g.shape[1]
    g2 = xp.reshape(xp.permute_dims(g, _swap01(d)), (groups, o // groups, -1))  # (G, O/G, N·Πout)
    gx = gw = None
    if ctx.needs[0]:
        w2 = xp.reshape(w, (groups, o // groups, -1))
        gcols = xp.matmul(xp.matrix_transpose(w2), g2)  # (G, C/G·Πk, N·Πout)
        gcols = xp.reshape(gcols, (x.shape[1],) + geo.kernel + (n,) + geo.out)
        gx = xp.col2im(gcols, x.shape, *geo.args)
    if ctx.needs[1]:
        cols = xp.im2col(x, *geo.args, known=s.cols)  # the forward's copy
        cols = xp.reshape(cols, (groups, -1, g2.shape[2]))
        gw = xp.reshape(xp.matmul(g2, xp.matrix_transpose(cols)), w.shape)
    if b is None:
        return gx, gw
    return gx, gw, (xp.sum(g, axis=(0,) + tuple(range(2, d + 2))) if ctx.needs[2] else None)


_SHOWS = "∂x = col2im(W^T·G),  ∂W = G·cols^T"
_conv1d_vjp = defvjp(conv1d, reads="inputs", shows=_SHOWS)(_conv_vjp)
_conv2d_vjp = defvjp(conv2d, reads="inputs", shows=_SHOWS)(_conv_vjp)


# ----------------------------------------------------------------------------- transposed
def conv_transpose2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """2-d transposed convolution of x (N, C_in, H, W) with weight (C_in, C_out/groups, kH, kW),
    plus bias (C_out,): the gradient of ``conv2d`` with respect to its input, as PyTorch's
    ``conv_transpose2d``. The output has H_out = (H − 1)·stride − 2·padding +
    dilation·(kH − 1) + output_padding + 1 rows (likewise columns); ``output_padding`` (smaller
    than the stride or the dilation) picks among the sizes a strided conv2d maps onto H.

    Backward: the forward is y = col2im(Wᵀ·x) (x as a (C_in, N·H·W) matrix), so with
    cols = im2col(G) the windows of the output gradient, ∂x = W·cols and ∂W = x·colsᵀ;
    ∂b = Σ G.
    """
    name = "conv_transpose2d"
    x, weight, bias = _operands(name, 2, x, weight, bias, groups, transposed=True)
    if x.ndim == 3:
        return squeeze(conv_transpose2d(expand_dims(x, 0), weight, bias, stride, padding,
                                        output_padding, groups, dilation), 0)
    d = 2
    kernel = weight.shape[2:]
    stride = ntuple(stride, d, "stride", name)
    dilation = ntuple(dilation, d, "dilation", name)
    if isinstance(padding, str):
        raise ValueError(f"{name}: padding must be an int or a pair; got {padding!r}")
    pads = tuple((p, p) for p in ntuple(padding, d, "padding", name, minimum=0))
    extra = ntuple(output_padding, d, "output_padding", name, minimum=0)
    for e, s, dl in zip(extra, stride, dilation):
        if e >= max(s, dl):
            raise ValueError(f"{name}: output_padding {extra} must be smaller than the stride "
                             f"{stride} or the dilation {dilation} along each axis")
    spatial = x.shape[2:]
    size = tuple((s - 1) * st - lo - hi + dl * (k - 1) + e + 1
                 for s, st, (lo, hi), dl, k, e in zip(spatial, stride, pads, dilation, kernel, extra))
    if any(s < 1 for s in size):
        raise ValueError(f"{name}: the output would have size {size} for an input of size "
                         f"{spatial}; lower the padding {padding}")
    geo = geometry(name, size, kernel, stride, pads, dilation)
    n, c_in = x.shape[:2]
    c_out = weight.shape[1] * groups
    x2 = B.reshape(B.permute_dims(x.data, _swap01(d)), (groups, c_in // groups, -1))
    w2 = B.reshape(weight.data, (groups, c_in // groups, -1))
    gcols = B.reshape(B.matmul(B.matrix_transpose(w2), x2), (c_out,) + kernel + (n,) + spatial)
    out = B.col2im(gcols, (n, c_out) + size, *geo.args)
    if bias is not None:
        out = out + B.reshape(bias.data, (c_out, 1, 1))
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return record(out, _conv_transpose2d_vjp, inputs, _Saved(geo, groups))


@defvjp(conv_transpose2d, reads="inputs", shows="∂x = W·im2col(G),  ∂W = x·im2col(G)^T")
def _conv_transpose2d_vjp(xp, ctx, g, out, x, w, b=None):
    s = ctx.saved
    geo, groups = s.geo, s.groups
    n, c_in = x.shape[0], x.shape[1]
    cols = xp.reshape(xp.im2col(g, *geo.args), (groups, -1, n * geo.out[0] * geo.out[1]))
    w2 = xp.reshape(w, (groups, c_in // groups, -1))
    gx = gw = None
    if ctx.needs[0]:
        gx = xp.reshape(xp.matmul(w2, cols), (c_in, n) + x.shape[2:])
        gx = xp.permute_dims(gx, _swap01(2))
    if ctx.needs[1]:
        x2 = xp.reshape(xp.permute_dims(x, _swap01(2)), (groups, c_in // groups, -1))
        gw = xp.reshape(xp.matmul(x2, xp.matrix_transpose(cols)), w.shape)
    if b is None:
        return gx, gw
    return gx, gw, (xp.sum(g, axis=(0, 2, 3)) if ctx.needs[2] else None)
