"""Training machinery every task kind shares: the Trainer and run start (trainer.py), the task module base
(module.py), optimiser, schedule and gradient clipping (optim.py), checkpoints and exact resume
(checkpoints.py, resume.py), NaN guards (guards.py), data-parallel launch (distributed.py), per-epoch
callbacks (callbacks.py) and the run directory's files (rundir.py). It knows no task kind: rnnlab.tasks
builds on it."""
