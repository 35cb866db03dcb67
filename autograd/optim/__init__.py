"""Optimizers (``autograd.optim``) and learning-rate schedules (``optim.lr_scheduler``).

``SGD``, ``Adam``, ``AdamW`` and ``RMSprop`` follow PyTorch's update formulas and defaults (each
class docstring states its formula). They update ``param.data`` in place, outside the graph,
keeping each parameter's dtype; ``zero_grad()`` sets gradients to None.
"""
from . import lr_scheduler  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .sgd import SGD  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
