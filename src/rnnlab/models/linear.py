"""Moved to :mod:`rnnlab.models.baselines`; this alias stays only until rnnlab.train imports from there."""

from rnnlab.models.baselines import LogisticRegression

__all__ = ["LogisticRegression"]
