"""Neural-network building blocks: modules, layers, losses (``autograd.nn``).

``Module`` and ``Parameter`` (module.py) do the bookkeeping; ``Sequential``, ``ModuleList`` and
``ModuleDict`` (containers.py) hold other modules; layers.py has ``Linear``, ``Embedding``,
``LayerNorm``, ``Dropout``; attention.py has ``MultiheadAttention``; conv.py, pooling.py and
norm.py the convolution, pooling and normalisation layers; rnn.py the recurrent layers ``RNN``,
``GRU``, ``LSTM`` and their cells; activations.py and losses.py wrap ``nn.functional`` as
modules; ``nn.init`` initialises weights; ``nn.utils`` clips gradients.
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

# recurrent layers
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401
# model building blocks: convolution, pooling, normalisation
from .conv import Conv1d, Conv2d, ConvTranspose2d  # noqa: F401, E402
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm  # noqa: F401, E402
from .pooling import (  # noqa: F401, E402
    AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d,
)

__all__ = [
    "functional", "init", "utils",
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
    "Identity", "Flatten", "Linear", "Dropout", "Embedding", "LayerNorm",
    "MultiheadAttention",
    "Sigmoid", "Tanh", "ReLU", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus",
    "SquaredError", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
    # recurrent layers
    "RNNCell", "GRUCell", "LSTMCell", "RNN", "GRU", "LSTM",
    # model building blocks
    "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "GroupNorm",
]
