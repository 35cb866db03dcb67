# ruff: noqa: F401 - this module re-exports the public names
"""autograd: reverse-mode automatic differentiation on NumPy, readable top to bottom.

Public names only; see API.md for the contract and the README for a tour.
"""
from .tensor import Tensor  # noqa: I001 - tensor must load before ops
from . import ops  # noqa: F401
from .engine import enable_grad, is_grad_enabled, no_grad
from .creation import (
    arange, eye, full, manual_seed, ones, ones_like, rand, randn, tensor, zeros, zeros_like,
    float16, float32, float64, int32, int64, bool_,
)
from .ops.elementwise import (
    abs, clip, cos, exp, log, log1p, maximum, minimum, sin, sqrt, where, erf,
)
from .ops.activation import sigmoid, tanh, relu, softmax, log_softmax
from .ops.reduce import sum, mean, max, min, var, std, logsumexp, argmax, argmin
from .ops.shape import (
    reshape, transpose, permute, squeeze, unsqueeze, flatten, broadcast_to, expand,
    concatenate, cat, stack,
)
from .ops.linalg import matmul
from .engine import grad
from .function import Function
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from . import functional

__version__ = "0.1.0"

from . import nn, optim, viz  # noqa: E402
from .serialization import save, load  # noqa: E402
