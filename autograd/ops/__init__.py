"""Differentiable ops, grouped by kind; each op's forward, backward rule and registration sit
side by side (see ``graph.py`` for what a registration declares).

elementwise  arithmetic, exp/log/..., where, clip, maximum/minimum, comparisons
reduce       sum, mean, max/min, var/std, logsumexp, argmax/argmin
shape        reshape, transpose, squeeze/unsqueeze, broadcast, indexing, concatenate, stack,
             split, chunk
linalg       matmul, bmm, einsum, linear, norm
activation   sigmoid, tanh, softmax, log_softmax, relu, leaky_relu, elu, gelu, silu, softplus
loss         squared_error, mse_loss, binary cross-entropy (with logits), cross_entropy, nll_loss
indexing     tril, triu, masked_fill
cumulative   cumsum
powers       square
nn           dropout, embedding, one_hot
attention    scaled_dot_product_attention

Importing this package registers every op.
"""
from . import activation, elementwise, linalg, loss, reduce, shape
from . import attention, cumulative, indexing, nn, powers  # model building blocks (issue 8)

__all__ = ["activation", "elementwise", "linalg", "loss", "reduce", "shape",
           "attention", "cumulative", "indexing", "nn", "powers"]
