"""Activations, losses and model building blocks as functions (``import autograd.nn.functional
as F``).

The ops themselves, with their backward rules, live in ``autograd.ops`` (``activation``, ``loss``,
``linalg``, ``conv``, ``pool``, ``pad``, ``norm``, ``nn``, ``attention``); this module only
gathers the names users write.
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

# model building blocks: convolution, pooling, padding, normalisation
from ..ops.conv import conv1d, conv2d, conv_transpose2d  # noqa: F401, E402
from ..ops.norm import batch_norm, group_norm, layer_norm  # noqa: F401, E402
from ..ops.pad import pad  # noqa: F401, E402
from ..ops.pool import (  # noqa: F401, E402
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)

# regularisation, lookup and attention
from ..ops.attention import scaled_dot_product_attention  # noqa: F401, E402
from ..ops.nn import dropout, embedding, one_hot  # noqa: F401, E402

__all__ = [
    "elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "silu", "softmax", "softplus",
    "tanh", "linear", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "mse_loss", "nll_loss", "squared_error",
    # model building blocks
    "conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
    "avg_pool2d", "adaptive_avg_pool2d", "pad", "batch_norm", "layer_norm", "group_norm",
    "dropout", "embedding", "one_hot", "scaled_dot_product_attention",
]
