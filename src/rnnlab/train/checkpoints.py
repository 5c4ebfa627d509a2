"""Crash-safe checkpoints and exact resume: atomic writes, RNG and data-order state, safe loading.

A checkpoint is written to a temp file beside it, fsync'ed and renamed over the old one, so a kill never
leaves a half-written file where a reader looks. Every checkpoint carries the torch/numpy/python RNG states
and the augmentation generator, and the training sampler's order is a function of (seed, epoch), so a
resumed run trains on the same batches with the same dropout masks as an uninterrupted one. Checkpoints are
read with torch.load(weights_only=True): a crafted pickle is refused, never executed.
"""

from __future__ import annotations

import logging
import os
import pickle
import random
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from rnnlab.errors import RunDirError
from rnnlab.train.rundir import atomic_file

log = logging.getLogger("rnnlab.train")

LAST = "last.ckpt"
BEST = "best.ckpt"


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it survives a power loss (a no-op where the OS does not allow it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # e.g. Windows, some network file systems
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temp file in the same directory, flush + fsync, then os.replace over `path`.

    On any failure the temp file is removed and the previous checkpoint stays as it was; a full disk (which
    torch.save reports as a RuntimeError with the OSError as its context) becomes one-line DiskFullError."""
    path = Path(path)
    with atomic_file(path) as f:
        torch.save(obj, f)
    fsync_dir(path.parent)


def safe_load(path: str | Path, map_location: Any = "cpu") -> dict:
    """torch.load(weights_only=True) of a checkpoint; anything unreadable or not plain data is one RunDirError.

    weights_only refuses pickled code (an object whose __reduce__ calls a function), so nothing runs.
    """
    path = Path(path)
    if not path.is_file():
        raise RunDirError(f"checkpoint {path} does not exist; resume from a run directory that saved one")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise RunDirError(
            f"checkpoint {path} was refused: it is not a plain-data checkpoint ({_reason(e)}); it may be "
            "corrupt or crafted - delete it (resume then falls back to best.ckpt) or retrain"
        ) from None
    except Exception as e:  # truncated zip, garbage bytes, EOF: a damaged file
        raise RunDirError(
            f"checkpoint {path} is unreadable ({type(e).__name__}: {_reason(e)}); "
            "delete it (resume then falls back to best.ckpt) or retrain"
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise RunDirError(f"checkpoint {path} is not a Lightning training checkpoint; delete it or retrain")
    return ckpt


def _reason(e: Exception) -> str:
    """The informative part of torch.load's long messages, on one line."""
    text = " ".join(str(e).split())
    m = re.search(r"Unsupported (global|operand).*?(?= Check|\.|$)", text)
    if m:
        return "weights_only load: " + m.group(0).strip()
    return (text.split(". ")[0] or "empty file")[:160]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning CheckpointIO that writes atomically (temp + fsync + rename) and loads with weights_only."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO.save_checkpoint takes no storage_options")
        atomic_torch_save(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict:
        if weights_only is False:  # an explicit opt-out by the caller (a checkpoint they made themselves)
            return super().load_checkpoint(path, map_location=map_location, weights_only=False)
        return safe_load(path, map_location=map_location or "cpu")


def _rng_state() -> dict[str, Any]:
    """torch/numpy/python RNG states as plain data (lists, ints, tensors) that weights_only can load."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, pstate, pgauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": [version, list(pstate), pgauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, pstate, pgauss = state["python"]
    random.setstate((version, tuple(pstate), pgauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _train_sampler(trainer: Trainer):
    loader = trainer.train_dataloader
    sampler = getattr(loader, "sampler", None)
    if not hasattr(sampler, "skip"):
        return None, None
    return sampler, getattr(loader, "batch_size", None) or 1  # batch_size=None: each item is a batch (LM)


class TrainingState(Callback):
    """Saves what Lightning does not into every checkpoint and restores it on resume: the RNG states, the
    augmentation generator, the stop flag (early stopping that already fired) and, mid-epoch, how many
    batches of the epoch were trained, so the sampler skips them. Restored at on_train_start, the last hook
    before the first batch, so nothing in between draws from the restored generators."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        trainer = self._trainer
        state: dict[str, Any] = {"rng": _rng_state(), "should_stop": bool(trainer.should_stop)}
        gen = getattr(getattr(trainer.datamodule, "augment", None), "gen", None)
        if isinstance(gen, torch.Generator):
            state["augment"] = gen.get_state()
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        state["epoch"] = int(trainer.current_epoch)
        state["batches_done"] = int(progress.processed)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._loaded = state_dict

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._trainer = trainer

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        s, self._loaded = self._loaded, None
        if s is None:
            return
        _set_rng_state(s["rng"])
        gen = getattr(getattr(trainer.datamodule, "augment", None), "gen", None)
        if isinstance(gen, torch.Generator) and "augment" in s:
            gen.set_state(s["augment"])
        if s.get("should_stop"):
            trainer.should_stop = True
        sampler, batch_size = _train_sampler(trainer)
        done = s.get("batches_done", 0)
        if sampler is not None and batch_size and 0 < done < trainer.num_training_batches:
            sampler.skip(s["epoch"], done * batch_size)


class MidEpochCheckpoint(Callback):
    """Overwrite last.ckpt every `every_s` seconds of training, between batches, so a kill mid-epoch loses
    at most that much work; the last batch of an epoch is left to the epoch-end checkpoint.

    Under data-parallel training every rank must enter save_checkpoint together (it ends in a barrier), so
    the ranks agree on each batch whether any of them is due: one all-reduce of a flag per batch."""

    def __init__(self, path: Path, every_s: float) -> None:
        self.path, self.every_s = Path(path), float(every_s)
        self._last = time.monotonic()

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._last = time.monotonic()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if batch_idx + 1 >= trainer.num_training_batches:
            return
        due = time.monotonic() - self._last >= self.every_s
        if trainer.world_size > 1:
            due = trainer.strategy.reduce_boolean_decision(due, all=False)
        if not due:
            return
        trainer.save_checkpoint(self.path)
        self._last = time.monotonic()


def last_checkpoint(run: Path, on_train_epoch_end: bool | None) -> ModelCheckpoint:
    """The callback that owns last.ckpt: a ModelCheckpoint without a monitor, rewritten every epoch.

    Lightning's ModelCheckpoint(save_last=True) refreshes last.ckpt only in an epoch that also saved a top-k
    checkpoint (Lightning 2.6), so after the best epoch last.ckpt went stale and a resumed run started from
    the best epoch, not the last. Being a ModelCheckpoint, Lightning runs it after the other callbacks and
    after best.ckpt's, in the same order on every rank (collectives inside stay matched under DDP)."""
    return ModelCheckpoint(
        dirpath=run / "checkpoints",
        filename=Path(LAST).stem,
        monitor=None,
        save_top_k=1,
        enable_version_counter=False,
        save_on_train_epoch_end=on_train_epoch_end,
    )
