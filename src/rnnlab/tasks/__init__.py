"""Task kinds behind one contract (contract.Task): a folder per kind (classify/, charlm/, forecast/,
seq2seq/), the registry that maps a recipe's `task:` to its Task, and the one fit driver (fit.py) that
trains every kind with the shared machinery in rnnlab.train."""

from __future__ import annotations

from rnnlab.tasks.contract import Fitted, Graph, Signature, Task, TensorSpec
from rnnlab.tasks.registry import get, names, of_run, register

__all__ = ["Fitted", "Graph", "Signature", "Task", "TensorSpec", "get", "names", "of_run", "register"]
