"""Moved to :mod:`rnnlab.models.baselines`; this alias stays only until rnnlab.train imports from there."""

from rnnlab.models.baselines import LinearAR, last_value, seasonal_naive

__all__ = ["LinearAR", "last_value", "seasonal_naive"]
