"""Task 'classify': a label per sequence. task.py (the Task), module.py (loss and metrics), data.py (recipe ->
datamodule), evaluate.py (test, evaluate and predict with a run), baselines.py (non-recurrent rivals)."""

from rnnlab.tasks.classify.task import ClassifyTask

TASK = ClassifyTask

__all__ = ["TASK", "ClassifyTask"]
