"""Multi-process data-parallel training: which process this is, and the checks that keep processes in step.

Lightning's DDP strategy runs one process per device. A launcher starts them and tells each its place through
environment variables: torchrun sets RANK, LOCAL_RANK and WORLD_SIZE in every process; Lightning's own
launcher sets LOCAL_RANK, NODE_RANK and WORLD_SIZE in the processes it starts (its first process, rank 0,
sees none of them until the Trainer starts the others). Only global rank 0 writes the run directory; every
rank must agree on the directory's path, so a multi-process run takes an explicit `out` (the default name
carries a timestamp that two processes would not agree on). See docs/RELIABILITY.md.
"""

from __future__ import annotations

import os

from rnnlab.config import TrainConfig
from rnnlab.errors import ConfigError

# ddp_spawn / ddp_fork train in child processes and hand back only the weights: fit()'s test outputs, results
# and callback state would stay in the children, so they are refused.
STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true")


def _env_int(name: str, default: int = 0) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise ConfigError(
            f"environment variable {name}={value!r} is not an integer; unset or fix it"
        ) from None


def env_world_size() -> int:
    """How many processes the launcher started (WORLD_SIZE; SLURM_NTASKS under srun), 1 outside a launch."""
    if "WORLD_SIZE" in os.environ:
        return max(1, _env_int("WORLD_SIZE", 1))
    if "SLURM_PROCID" in os.environ:
        return max(1, _env_int("SLURM_NTASKS", 1))
    return 1


def is_global_zero() -> bool:
    """True in the process that writes the run directory: global rank 0, or any process outside a multi-process
    launch (a stray LOCAL_RANK in a single-process shell does not silence the run). Where a Trainer exists,
    `trainer.is_global_zero` says the same; this works before one is made."""
    if env_world_size() <= 1:
        return True
    if "RANK" in os.environ:  # torchrun
        return _env_int("RANK") == 0
    if "SLURM_PROCID" in os.environ and "LOCAL_RANK" not in os.environ:
        return _env_int("SLURM_PROCID") == 0
    return _env_int("LOCAL_RANK") == 0 and _env_int("NODE_RANK", _env_int("GROUP_RANK")) == 0


def end_process_group() -> None:
    """Close a data-parallel run's process group on every rank together (a barrier, then destroy). Left to the
    interpreter's exit, gloo's threads were torn down in a race that now and then aborted a rank that had
    finished first ("terminate called without an active exception", exit -6): seen in about 1 of 8 test runs."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def check_parallel(cfg: TrainConfig, out: object, supported: bool, task: str = "classify") -> bool:
    """Validate train.devices / num_nodes / strategy against the launch; True for a multi-process run.

    `supported`: whether the task kind shards its training data across processes (its Task says so). A multi-process run
    needs `out`, so that every rank names the same run directory.
    """
    if isinstance(cfg.devices, bool) or cfg.devices < 1:
        raise ConfigError(f"train.devices must be >= 1 (processes per machine), got {cfg.devices!r}")
    if isinstance(cfg.num_nodes, bool) or cfg.num_nodes < 1:
        raise ConfigError(f"train.num_nodes must be >= 1 (machines), got {cfg.num_nodes!r}")
    if cfg.strategy not in STRATEGIES:
        raise ConfigError(
            f"train.strategy must be one of {', '.join(STRATEGIES)}, got {cfg.strategy!r} "
            "(spawned/forked strategies keep the results in child processes; launch with torchrun instead)"
        )
    processes = cfg.devices * cfg.num_nodes
    launched = env_world_size()
    if launched > 1 and processes != launched:
        raise ConfigError(
            f"launched as {launched} processes but train.devices x train.num_nodes = {processes}; pass "
            "--train.devices PROCESSES_PER_MACHINE --train.num_nodes MACHINES to match the launcher"
        )
    multi = max(processes, launched) > 1
    if multi and not supported:
        raise ConfigError(
            f"multi-process training (train.devices x train.num_nodes = {processes}) is not supported for "
            f"{task!r} runs yet; train with train.devices 1 and train.num_nodes 1"
        )
    if multi and out is None:
        raise ConfigError(
            "multi-process training needs --out RUN_DIR (fit(out=...)): all processes must name the same "
            "run directory, and the default name has a per-process timestamp"
        )
    return multi
