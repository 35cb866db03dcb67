"""Pictures of the computation graph (``autograd.viz``)."""
