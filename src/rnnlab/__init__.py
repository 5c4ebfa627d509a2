"""rnnlab: recurrent neural networks from the equations, trained on real sequence data."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "fit"]


def fit(*args, **kwargs):
    """Train a model on a datamodule and test it; see :func:`rnnlab.train.fit.fit`."""
    from rnnlab.train.fit import fit as _fit

    return _fit(*args, **kwargs)
