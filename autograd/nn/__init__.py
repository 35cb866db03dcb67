"""Neural-network building blocks: modules, layers, losses (``autograd.nn``)."""
from . import functional  # noqa: F401
