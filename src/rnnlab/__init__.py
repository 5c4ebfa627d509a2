"""rnnlab: recurrent neural networks from the equations, trained on real sequence data."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "fit"]


def fit(*args, **kwargs):
    """Train a model on a datamodule, test it and write the run directory with its pictures; see
    :func:`rnnlab.tasks.fit.fit` (`task=` names the task kind: classify, charlm, forecast, seq2seq, ...)."""
    from rnnlab.inspect.run_figures import draw_run_figures
    from rnnlab.tasks.fit import fit as _fit
    from rnnlab.train.distributed import is_global_zero

    result = _fit(*args, **kwargs)
    if is_global_zero():
        draw_run_figures(result.path)
    return result
