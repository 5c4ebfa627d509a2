"""Task 'classify': a label per sequence. task.py (the Task), module.py (loss and metrics), data.py (recipe ->
datamodule), evaluate.py (test, evaluate and predict with a run), baselines.py (non-recurrent rivals)."""
