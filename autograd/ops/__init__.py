"""Differentiable ops, grouped by kind; each op's forward, backward rule and registration sit
side by side (see ``graph.py`` for what a registration declares).

elementwise  arithmetic, exp/log/..., where, clip, maximum/minimum, comparisons
reduce       sum, mean, max/min, var/std, logsumexp, argmax/argmin
shape        reshape, transpose, squeeze/unsqueeze, broadcast, indexing, concatenate, stack
linalg       matmul, linear
activation   sigmoid, tanh, softmax, log_softmax, relu, leaky_relu, elu, gelu, silu, softplus
loss         squared_error, mse_loss, binary cross-entropy (with logits), cross_entropy, nll_loss
recurrent    rnn_scan, gru_scan, lstm_scan: a recurrent layer's time loop as one op
conv         conv1d, conv2d, conv_transpose2d, and the window copies im2col/col2im
pool         max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool2d
pad          pad (constant, reflect, replicate, circular)
norm         batch_norm, layer_norm, group_norm

Importing this package registers every op.
"""
from . import activation, conv, elementwise, linalg, loss, norm, pad, pool, recurrent, reduce, shape

__all__ = ["activation", "conv", "elementwise", "linalg", "loss", "norm", "pad", "pool", "recurrent",
           "reduce", "shape"]
