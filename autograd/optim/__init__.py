"""Optimizers (``autograd.optim``)."""
