"""The differentiable twin of ``autograd.backend``: the same NumPy names, over Tensors.

Under ``create_graph=True`` the engine hands this module to backward rules as ``xp`` instead of
the backend, so a rule written once in NumPy terms records its own graph and can be
differentiated again. Every name a rule uses from ``xp`` must exist here and in the backend.
"""
from .activation import sigmoid, tanh  # noqa: F401
from .elementwise import (  # noqa: F401
    abs,
    astype,
    clip,
    cos,
    erf,
    exp,
    isnan,
    log,
    log1p,
    maximum,
    minimum,
    sign,
    sin,
    sqrt,
    where,
)
from .linalg import matmul  # noqa: F401
from .reduce import mean, sum  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_to,
    expand_dims,
    getitem,
    reshape,
    scatter_add,
    squeeze,
    swapaxes,
)
from .shape import numpy_transpose as transpose  # noqa: F401
