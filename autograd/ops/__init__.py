"""Differentiable ops, grouped by kind; each op's forward and backward rule sit side by side.

elementwise  arithmetic, exp/log/..., where, clip, maximum/minimum, comparisons
reduce       sum, mean, max/min, var/std, logsumexp, argmax/argmin
shape        reshape, transpose, squeeze/unsqueeze, broadcast, indexing, concatenate, stack
linalg       matmul
activation   sigmoid, tanh, softmax, log_softmax, relu, leaky_relu, elu, gelu, silu, softplus
loss         squared_error, mse_loss, binary cross-entropy (with logits), cross_entropy, nll_loss
api          the same ops under NumPy's names, for backward rules under create_graph=True
"""
from .. import engine
from . import activation, api, elementwise, linalg, loss, reduce, shape

engine._ops_api = api

__all__ = ["activation", "api", "elementwise", "linalg", "loss", "reduce", "shape"]
