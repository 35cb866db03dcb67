# ruff: noqa: F401, F403 - this module re-exports the public names
"""autograd: reverse-mode automatic differentiation on NumPy, readable top to bottom.

Public names only; docs/api.md lists them and the README gives a tour.
"""
from .tensor import Tensor
from .graph import (
    detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad, set_grad_enabled,
)
from .creation import (
    arange, eye, full, manual_seed, ones, ones_like, rand, randn, tensor, zeros, zeros_like,
    float16, float32, float64, int32, int64, bool_,
)
from .ops.elementwise import *
from .ops.reduce import *
from .ops.shape import *
from .ops.linalg import *
from .ops.activation import sigmoid, tanh, relu, softmax, log_softmax
# Tensor ops for model building blocks (issue 8); split/chunk come with ops.shape, bmm/einsum/norm
# with ops.linalg, pow with ops.elementwise.
from .ops.indexing import masked_fill, tril, triu
from .ops.cumulative import cumsum
from .ops.powers import square
from .engine import grad
from .function import Function
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from . import functional, nn, optim, viz
from .serialization import save, load
from .compile import compile, CompileError

__version__ = "0.1.0"
