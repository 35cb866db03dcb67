"""Differentiable ops, grouped by kind; each op's forward, backward rule and registration sit
side by side (see ``graph.py`` for what a registration declares).

elementwise  arithmetic, exp/log/..., where, clip, maximum/minimum, comparisons
reduce       sum, mean, max/min, var/std, logsumexp, argmax/argmin
shape        reshape, transpose, squeeze/unsqueeze, broadcast, indexing, concatenate, stack
linalg       matmul, linear
activation   sigmoid, tanh, softmax, log_softmax, relu, leaky_relu, elu, gelu, silu, softplus
loss         squared_error, mse_loss, binary cross-entropy (with logits), cross_entropy, nll_loss
recurrent    rnn_scan, gru_scan, lstm_scan: a recurrent layer's time loop as one op

Importing this package registers every op.
"""
from . import activation, elementwise, linalg, loss, reduce, shape
from . import recurrent

__all__ = ["activation", "elementwise", "linalg", "loss", "reduce", "shape", "recurrent"]
