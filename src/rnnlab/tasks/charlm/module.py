"""Language-model training: truncated BPTT with the hidden state carried (detached) between chunks.

LanguageModelModule keeps one state per split: it is reset at the start of every pass over the stream (the
datamodule marks a pass's first chunk) and detached after each step, so gradients flow back `bptt` steps
while the state itself sees the whole stream. With train.state_reset > 0 each stream's carried state is also
zeroed at random chunks, so the model learns cold starts mid-text (`cold_starts`).

Resume (`rnnlab train RECIPE --resume RUN`): every checkpoint also holds the carried
training state and the characters seen, so a run resumed mid-epoch continues the streams where it stopped
(the data module rebuilds the epoch's offset from (seed, epoch) and skips the trained chunks).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rnnlab.config import TrainConfig
from rnnlab.models.language import CharLM
from rnnlab.nn.cells import State
from rnnlab.nn.regularize import activation_penalty
from rnnlab.train.module import TaskModule

LM_COLUMNS = ("epoch", "train_loss", "val_loss", "val_bpc", "lr", "chars", "seconds")


def _detach(state: State | None) -> State | None:
    return None if state is None else tuple(s.detach() for s in state)


def cold_starts(state: State, p: float) -> State:
    """`state` with each stream's rows zeroed with probability p (train.state_reset): cold starts mid-text.
    Draws from torch's global generator, which checkpoints save, so a resumed run draws the same."""
    keep = (torch.rand(state[0].shape[1], device=state[0].device) >= p).to(state[0].dtype)
    return tuple(s * keep.view(1, -1, 1) for s in state)  # every state tensor is (rows, batch, width)


class LanguageModelModule(TaskModule):
    """Next-token cross-entropy (nats/token) with stateful carry; logs train/val loss and bits per token.
    Training minimises the cross-entropy plus AR/TAR (cfg.ar, cfg.tar; `activation_penalty`); train_loss logs
    the cross-entropy alone, comparable with val_loss."""

    def __init__(self, model: CharLM, cfg: TrainConfig, steps_per_epoch: int, carry: bool = True) -> None:
        super().__init__(model, cfg, steps_per_epoch)
        self.carry = carry
        self.states: dict[str, State | None] = {"train": None, "val": None}
        self.chars_seen = 0
        self.ar, self.tar = float(cfg.ar), float(cfg.tar)
        self.state_reset = float(cfg.state_reset)

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor | None:
        """The chunk's loss, or None for a non-finite training loss the rollback guard takes over (the
        carried state, which may hold the NaN too, starts fresh)."""
        if bool(batch["first"]) or not self.carry:
            self.states[split] = None
        state = self.states.get(split)
        if split == "train" and self.state_reset > 0 and state is not None:
            state = cold_starts(state, self.state_reset)
        out = self.model(batch["x"], state, batch["y"])
        self.states[split] = _detach(out.state) if (self.carry or split != "train") else None
        if not self.finite(out.loss, split, batch):
            self.states[split] = None
            return None
        n = batch["y"].numel()
        self.log(f"{split}_loss", out.loss, on_step=False, on_epoch=True, batch_size=n, prog_bar=True, sync_dist=self.trainer.world_size > 1)
        if split != "train":
            self.log(f"{split}_bpc", out.loss / math.log(2), on_step=False, on_epoch=True, batch_size=n)
        if split == "train" and (self.ar > 0 or self.tar > 0):
            return out.loss + activation_penalty(out.hidden, out.dropped, self.ar, self.tar)
        return out.loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        loss = self._step(batch, "train")
        self.chars_seen += batch["y"].numel() * self.trainer.world_size  # every rank trains its share
        if loss is None:
            return None  # Lightning skips backward and the optimiser step; the guard rolls back
        self.log_lr()
        self.log("chars", float(self.chars_seen), on_step=False, on_epoch=True, reduce_fx="max")
        return loss

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """The carried training state of every stream (data-parallel: each rank's rows gathered in rank
        order, so the checkpoint holds the whole batch's state whatever the number of processes)."""
        state = self.states.get("train")
        if state is not None and self.trainer.world_size > 1:  # every rank saves together (a collective)
            state = tuple(self.all_gather(s).transpose(0, 1).flatten(1, 2) for s in state)
        checkpoint["lm_carry"] = {
            "train": None if state is None else [s.detach().cpu() for s in state],
            "chars_seen": int(self.chars_seen),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get("lm_carry")
        if saved is None:  # a checkpoint from before the carry was saved: the next chunk starts fresh
            return
        state = saved["train"]
        if state is not None and self.trainer.world_size > 1:  # this rank's rows of every stream's state
            b = state[0].shape[1] // self.trainer.world_size
            state = [s[:, self.trainer.global_rank * b : (self.trainer.global_rank + 1) * b] for s in state]
        self.states["train"] = None if state is None else tuple(s.to(self.device) for s in state)
        self.chars_seen = int(saved["chars_seen"])

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def on_validation_epoch_start(self) -> None:
        self.states["val"] = None
