"""`rnnlab sweep`: hyperparameter search over a recipe with optuna (TPE + median pruning), every trial a
normal run through the training driver (rnnlab.tasks.fit). space.py (what is searched), objective.py (one
trial and its pruning callback), study.py (storage, resume, budget, trials.csv/best.yaml), report.py
(report.html). Needs optuna: pip install -e '.[sweep]'."""
