"""Task 'charlm': character language models. task.py (the Task), module.py (truncated BPTT with a carried
state), data.py (recipe -> corpus, datamodule, model), generate.py (sampling, scoring, a run's text)."""
