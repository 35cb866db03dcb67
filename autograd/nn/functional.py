"""Activations, losses and layer functions (``import autograd.nn.functional as F``).

The ops themselves, with their backward rules, live in ``autograd.ops`` (``activation``,
``loss``, ``nn``, ``attention``, ...); this module only gathers the names users write.
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

# Regularisation, lookup and attention (issue 8).
from ..ops.attention import scaled_dot_product_attention  # noqa: F401
from ..ops.nn import dropout, embedding, one_hot  # noqa: F401

__all__ = [
    "elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "silu", "softmax", "softplus",
    "tanh", "linear", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "mse_loss", "nll_loss", "squared_error",
    "dropout", "embedding", "one_hot", "scaled_dot_product_attention",
]
