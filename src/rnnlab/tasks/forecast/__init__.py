"""Task 'forecast': windows of a series -> the next steps. task.py (the Task), module.py (MSE training),
data.py (recipe -> datamodule, model), evaluate.py (baselines, intervals, forecasts.csv), predict.py
(`rnnlab forecast` with a finished run)."""
