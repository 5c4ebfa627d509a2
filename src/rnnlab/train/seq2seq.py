"""Training an encoder-decoder (task 'seq2seq'): teacher forcing with a schedule, then greedy and beam test.

Batches are dicts with the source under `images`/`widths` (captions) or `src`/`src_lengths` (text pairs) and
`tgt_in` (BOS + target) / `tgt_out` (target + EOS). Validation reports the teacher-forced loss and the greedy
exact-match rate, so the checkpoint chosen is the one that decodes best on its own.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from lightning import LightningDataModule, LightningModule
from torch import Tensor, nn

from rnnlab.config import Recipe, TrainConfig
from rnnlab.errors import ConfigError
from rnnlab.train.callbacks import data_wait_share
from rnnlab.train.fit import (
    RunResult,
    count_params,
    make_trainer,
    prepare_resume,
    start_run,
    train_and_restore,
)
from rnnlab.train.rundir import save_model, write_json
from rnnlab.train.tasks import NonFiniteLossError, make_optimizer

log = logging.getLogger("rnnlab.train")

S2S_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_exact",
    "val_token_acc",
    "teacher_forcing",
    "lr",
    "seconds",
)
LENGTH_NORMS = ("gnmt", "length", "none")
VAL_DECODE_BATCHES = (
    16  # val_exact / val_token_acc come from the first 16 validation batches, decoded greedily
)


def source_of(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """(src, src_lengths) of a batch: images and widths for captions, token ids and lengths for text."""
    if "images" in batch:
        return batch["images"], batch["widths"]
    return batch["src"], batch["src_lengths"]


def strip_eos(row: Tensor) -> list[int]:
    """Target ids of one tgt_out row: up to (not including) EOS, PAD dropped."""
    ids = []
    for i in row.tolist():
        if i == 2:  # EOS
            break
        if i != 0:
            ids.append(i)
    return ids


class Seq2SeqTask(LightningModule):
    """Cross-entropy on next tokens with scheduled sampling; greedy exact match and token accuracy on val."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, steps_per_epoch: int, max_len: int) -> None:
        super().__init__()
        for name in ("teacher_forcing", "teacher_forcing_end"):
            v = getattr(cfg, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise ConfigError(f"train.{name} must be in [0, 1], got {v}")
        self.model, self.cfg = model, cfg
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.max_len = int(max_len)
        self._val = {"exact": 0, "tokens": 0, "correct": 0, "n": 0}

    def teacher_forcing(self, epoch: int | None = None) -> float:
        """The gold-token probability in `epoch` (default: the current one): linear from teacher_forcing to
        teacher_forcing_end over the epochs."""
        start, end = self.cfg.teacher_forcing, self.cfg.teacher_forcing_end
        if end is None or self.cfg.max_epochs <= 1:
            return start
        epoch = self.current_epoch if epoch is None else epoch
        frac = min(1.0, epoch / (self.cfg.max_epochs - 1))
        return start + (end - start) * frac

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        src, lengths = source_of(batch)
        tf = self.teacher_forcing()
        out = self.model(src, lengths, batch["tgt_in"], teacher_forcing=tf, tgt_out=batch["tgt_out"])
        if not torch.isfinite(out.loss):
            idx = batch["index"][:8].tolist()
            raise NonFiniteLossError(
                f"train loss is {out.loss.item()} at global step {self.global_step} (batch sample indices {idx}...); "
                "lower train.lr; the last good checkpoint is in the run directory"
            )
        bs = batch["tgt_in"].shape[0]
        self.log("train_loss", out.loss, on_step=False, on_epoch=True, batch_size=bs, prog_bar=True)
        self.log("teacher_forcing", tf, on_step=False, on_epoch=True, batch_size=bs)
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=False, on_epoch=True, batch_size=bs)
        return out.loss

    def on_validation_epoch_start(self) -> None:
        self._val = {"exact": 0, "tokens": 0, "correct": 0, "n": 0}

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        src, lengths = source_of(batch)
        out = self.model(src, lengths, batch["tgt_in"], tgt_out=batch["tgt_out"])
        self.log("val_loss", out.loss, on_step=False, on_epoch=True, batch_size=src.shape[0], prog_bar=True)
        if batch_idx >= VAL_DECODE_BATCHES:  # greedy decoding is step by step: a fixed sample of val suffices
            return
        dec = self.model.greedy(src, lengths, max_len=self.max_len)
        for hyp, row in zip(dec.tokens, batch["tgt_out"], strict=True):
            ref = strip_eos(row)
            ex, cor, tot = compare(hyp, ref)
            self._val["exact"] += ex
            self._val["correct"] += cor
            self._val["tokens"] += tot
            self._val["n"] += 1

    def on_validation_epoch_end(self) -> None:
        v = self._val
        if v["n"]:
            self.log("val_exact", v["exact"] / v["n"], prog_bar=True)
            self.log("val_token_acc", v["correct"] / max(1, v["tokens"]))

    def configure_optimizers(self):
        budget = self.cfg.max_time * 60 if self.cfg.max_time else None
        return make_optimizer(self.model, self.cfg, self.cfg.max_epochs * self.steps_per_epoch, budget)


def compare(hyp: list[int], ref: list[int]) -> tuple[int, int, int]:
    """(exact 0/1, correct positions, positions) with EOS counted as the reference's last token, so a
    hypothesis that stops early or runs on loses a position: token accuracy = correct / positions."""
    h, r = [*hyp, 2], [*ref, 2]
    correct = sum(a == b for a, b in zip(h, r, strict=False))
    return int(hyp == ref), correct, len(r)


def fit_seq2seq(
    model: nn.Module,
    dm: LightningDataModule,
    recipe: Recipe | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    checkpoint_every: float = 60.0,
    **train_overrides,
) -> RunResult:
    """Train, restore the best checkpoint (greedy val exact match), decode the test set greedy and with beam
    search, and write results.json, test_predictions.csv and attention maps into the run directory.

    `resume`: a killed run's directory, continued exactly from checkpoints/last.ckpt with its own settings
    (as fit(resume=...)); last.ckpt is also rewritten every `checkpoint_every` seconds mid-epoch (0: only at
    epoch ends). See docs/RELIABILITY.md."""
    from rnnlab.train.seq2seq_eval import evaluate_seq2seq

    recipe = recipe or Recipe(name=dm.name, task="seq2seq")
    out, ckpt_path, train_overrides = prepare_resume(recipe, out, resume, train_overrides)
    run, cfg = start_run(recipe, dm, out, train_overrides)
    if cfg.length_norm not in LENGTH_NORMS:
        raise ConfigError(f"train.length_norm must be one of {LENGTH_NORMS}, got {cfg.length_norm!r}")
    if cfg.beam < 1:
        raise ConfigError(f"train.beam must be >= 1, got {cfg.beam}")
    max_len = decode_limit(dm)
    task = Seq2SeqTask(model, cfg, len(dm.train_dataloader()), max_len)
    monitor = cfg.monitor if cfg.monitor != "val_acc" else "val_exact"
    trainer, best = make_trainer(
        cfg,
        run,
        monitor=monitor,
        columns=S2S_COLUMNS,
        early_stopping=bool(cfg.patience),
        checkpoint_every=checkpoint_every,
        limit_train_batches=cfg.overfit_batches or None,
    )
    train_seconds = train_and_restore(trainer, task, dm, best, cfg, ckpt_path, run)
    model.cpu().eval()
    save_model(run, model)
    results = evaluate_seq2seq(model, dm, run, cfg.beam, cfg.length_norm, max_len)
    results.update(
        {
            "best_val": {
                monitor: float(best.best_model_score) if best.best_model_score is not None else None
            },
            "params": count_params(model),
            "epochs": int(trainer.current_epoch),
            "train_seconds": round(train_seconds, 2),
            "data_wait_share": data_wait_share(trainer),
        }
    )
    write_json(run / "results.json", results)
    return RunResult(run, results)


def decode_limit(dm: LightningDataModule) -> int:
    """Longest output worth decoding: the longest training target plus a margin (EOS included)."""
    if hasattr(dm, "max_caption_len"):
        return int(dm.max_caption_len) + 2
    longest = max(len(t) for t_set in dm.sets.values() for _, t in t_set)
    return int(longest * 1.2) + 5
