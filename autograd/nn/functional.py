"""Activations and losses as functions (``import autograd.nn.functional as F``).

The ops themselves, with their backward rules, live in ``autograd.ops.activation`` and
``autograd.ops.loss``; this module only gathers the names users write.
"""
from ..ops.activation import (  # noqa: F401
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from ..ops.linalg import linear  # noqa: F401
from ..ops.loss import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
    squared_error,
)

__all__ = [
    "elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "silu", "softmax", "softplus",
    "tanh", "linear", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "mse_loss", "nll_loss", "squared_error",
]
