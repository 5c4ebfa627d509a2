"""Kill a real `rnnlab train` process at random moments and resume it: shared by the resume tests."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path


def train_process(*args: str | Path, cwd: Path) -> subprocess.Popen:
    """`python -m rnnlab.cli train ARGS` on one thread, its stderr kept for the failure message."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "rnnlab.cli", "train", *map(str, args)]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> None:
    """Wait for a training process and fail with its stderr if it did not succeed."""
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]


def mtime(path: Path) -> float:
    return path.stat().st_mtime_ns if path.exists() else 0


def kill_and_resume(
    first: list,
    resume: list,
    run: Path,
    times: int,
    rng: random.Random,
    cwd: Path,
    max_extra: int = 4,
    jitter: float = 0.05,
) -> list[int]:
    """Start `first`, SIGKILL it at a random moment, go on with `resume`, `times` times, then let it finish.
    Returns the epochs done at each kill (fewer kills if the run finished first).

    The moment is counted in training progress, not seconds, so a faster machine (or a faster rnnlab) still
    kills mid-run: after the process writes its first new checkpoint, wait for 0..`max_extra` more, then up to
    `jitter` seconds (which lands some kills inside a checkpoint write)."""
    last = run / "checkpoints" / "last.ckpt"
    kills, args = [], first
    for _ in range(times):
        before = mtime(last)
        proc = train_process(*args, cwd=cwd)
        deadline, seen, target = time.monotonic() + 60, 0, rng.randrange(0, max_extra + 1)
        while proc.poll() is None and time.monotonic() < deadline:
            now = mtime(last)
            if now != before:  # a new checkpoint: training is under way
                before, seen = now, seen + 1
                if seen > target:
                    break
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, jitter))
        if proc.poll() is not None:  # finished before the kill: nothing left to interrupt
            return kills
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (run / "results.json").exists():  # killed while exiting, after the run was complete
            return kills
        kills.append(len(list(csv.DictReader((run / "metrics.csv").open()))))
        args = resume
    finish(train_process(*args, cwd=cwd))
    return kills
