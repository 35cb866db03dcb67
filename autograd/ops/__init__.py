"""Differentiable ops, grouped by kind; each op's forward, backward rule and registration sit
side by side (see ``graph.py`` for what a registration declares).

elementwise  arithmetic, exp/log/..., where, clip, maximum/minimum, comparisons
reduce       sum, mean, max/min, var/std, logsumexp, argmax/argmin
shape        reshape, transpose, squeeze/unsqueeze, broadcast, indexing, concatenate, stack,
             split, chunk
linalg       matmul, bmm, einsum, linear, norm
activation   sigmoid, tanh, softmax, log_softmax, relu, leaky_relu, elu, gelu, silu, softplus
loss         squared_error, mse_loss, binary cross-entropy (with logits), cross_entropy, nll_loss
recurrent    rnn_scan, gru_scan, lstm_scan: a recurrent layer's time loop as one op
conv         conv1d, conv2d, conv_transpose2d, and the window copies im2col/col2im
pool         max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool2d
pad          pad (constant, reflect, replicate, circular)
norm         batch_norm, layer_norm, group_norm
indexing     tril, triu, masked_fill
cumulative   cumsum
powers       square
nn           dropout, embedding, one_hot
attention    scaled_dot_product_attention

Importing this package registers every op.
"""
from . import activation, elementwise, linalg, loss, reduce, shape
from . import attention, conv, cumulative, indexing, nn, norm, pad, pool, powers, recurrent

__all__ = ["activation", "elementwise", "linalg", "loss", "reduce", "shape",
           "attention", "conv", "cumulative", "indexing", "nn", "norm", "pad", "pool", "powers",
           "recurrent"]
