"""Neural-network building blocks: modules, layers, losses (``autograd.nn``).

``Module`` and ``Parameter`` (module.py) do the bookkeeping; ``Sequential``, ``ModuleList`` and
``ModuleDict`` (containers.py) hold other modules; layers.py has ``Linear``, ``Embedding``,
``LayerNorm``, ``Dropout``; attention.py has ``MultiheadAttention``; activations.py and
losses.py wrap ``nn.functional`` as modules; ``nn.init`` initialises weights; ``nn.utils`` clips
gradients.
"""
from . import functional  # noqa: F401
from . import init, utils  # noqa: F401
from .attention import MultiheadAttention  # noqa: F401
from .activations import (  # noqa: F401
    ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh,
)
from .containers import ModuleDict, ModuleList, Sequential  # noqa: F401
from .layers import Dropout, Embedding, Flatten, Identity, LayerNorm, Linear  # noqa: F401
from .losses import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss, SquaredError,
)
from .module import Module, Parameter  # noqa: F401

__all__ = [
    "functional", "init", "utils",
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
    "Identity", "Flatten", "Linear", "Dropout", "Embedding", "LayerNorm",
    "MultiheadAttention",
    "Sigmoid", "Tanh", "ReLU", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus",
    "SquaredError", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
]
