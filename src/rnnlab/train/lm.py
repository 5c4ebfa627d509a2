"""Language-model training: truncated BPTT with the hidden state carried (detached) between chunks.

LanguageModelTask keeps one state per split: it is reset at the start of every pass over the stream (the
datamodule marks a pass's first chunk) and detached after each step, so gradients flow back `bptt` steps
while the state itself sees the whole stream. fit_lm() trains, evaluates and writes the run directory.

Resume (fit_lm(resume=RUN), `rnnlab train RECIPE --resume RUN`): every checkpoint also holds the carried
training state and the characters seen, so a run resumed mid-epoch continues the streams where it stopped
(the data module rebuilds the epoch's offset from (seed, epoch) and skips the trained chunks).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from lightning import LightningModule
from torch import Tensor

from rnnlab.config import Recipe, TrainConfig
from rnnlab.data.textstream import TextDataModule
from rnnlab.models.language import CharLM
from rnnlab.nn.cells import State
from rnnlab.train.callbacks import data_wait_share
from rnnlab.train.fit import (
    RunResult,
    count_params,
    make_trainer,
    prepare_resume,
    start_run,
    train_and_restore,
)
from rnnlab.train.rundir import save_model, write_atomic, write_json
from rnnlab.train.tasks import NonFiniteLossError, make_optimizer

log = logging.getLogger("rnnlab.train")

LM_COLUMNS = ("epoch", "train_loss", "val_loss", "val_bpc", "lr", "chars", "seconds")
SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)


def _detach(state: State | None) -> State | None:
    return None if state is None else tuple(s.detach() for s in state)


class LanguageModelTask(LightningModule):
    """Next-token cross-entropy (nats/token) with stateful carry; logs train/val loss and bits per token."""

    def __init__(self, model: CharLM, train: TrainConfig, steps_per_epoch: int, carry: bool = True) -> None:
        super().__init__()
        self.model = model
        self.cfg = train
        self.carry = carry
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.states: dict[str, State | None] = {"train": None, "val": None}
        self.chars_seen = 0

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        if bool(batch["first"]) or not self.carry:
            self.states[split] = None
        out = self.model(batch["x"], self.states.get(split), batch["y"])
        self.states[split] = _detach(out.state) if (self.carry or split != "train") else None
        if not torch.isfinite(out.loss):
            raise NonFiniteLossError(
                f"{split} loss is {out.loss.item()} at global step {self.global_step}; lower train.lr or "
                "train.gradient_clip; the last good checkpoint is in the run directory"
            )
        n = batch["y"].numel()
        self.log(f"{split}_loss", out.loss, on_step=False, on_epoch=True, batch_size=n, prog_bar=True)
        if split != "train":
            self.log(f"{split}_bpc", out.loss / math.log(2), on_step=False, on_epoch=True, batch_size=n)
        return out.loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self._step(batch, "train")
        self.chars_seen += batch["y"].numel()
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=False, on_epoch=True)
        self.log("chars", float(self.chars_seen), on_step=False, on_epoch=True, reduce_fx="max")
        return loss

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        state = self.states.get("train")
        checkpoint["lm_carry"] = {
            "train": None if state is None else [s.detach().cpu() for s in state],
            "chars_seen": int(self.chars_seen),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get("lm_carry")
        if saved is None:  # a checkpoint from before the carry was saved: the next chunk starts fresh
            return
        state = saved["train"]
        self.states["train"] = None if state is None else tuple(s.to(self.device) for s in state)
        self.chars_seen = int(saved["chars_seen"])

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def on_validation_epoch_start(self) -> None:
        self.states["val"] = None

    def configure_optimizers(self):
        budget = self.cfg.max_time * 60 if self.cfg.max_time else None
        return make_optimizer(self.model, self.cfg, self.cfg.max_epochs * self.steps_per_epoch, budget)


@torch.no_grad()
def evaluate_stream(model: CharLM, ids: Tensor, batch: int = 16, bptt: int = 256) -> float:
    """Mean next-token loss (nats) over a whole id stream, `batch` contiguous streams with carried state."""
    from rnnlab.data.textstream import StreamChunks

    model.eval()
    ds = StreamChunks(ids.numpy() if isinstance(ids, Tensor) else ids, batch, bptt)
    state, total, n = None, 0.0, 0
    for i in range(len(ds)):
        b = ds[i]
        out = model(b["x"], state, b["y"])
        state = out.state
        total += out.loss.item() * b["y"].numel()
        n += b["y"].numel()
    return total / n


def write_samples(run: Path, model: CharLM, vocab, prime: str, length: int = 500, seed: int = 0) -> dict:
    """samples.txt: `length` characters after `prime` at each of SAMPLE_TEMPERATURES (same seed each)."""
    prime_ids = torch.as_tensor(vocab.encode(prime))
    parts, samples = [], {}
    for t in SAMPLE_TEMPERATURES:
        g = torch.Generator().manual_seed(seed)
        text = prime + vocab.decode(model.generate(prime_ids, length, temperature=t, generator=g)[0])
        samples[str(t)] = text
        parts.append(f"=== temperature {t} (seed {seed}) ===\n{text}\n")
    write_atomic(run / "samples.txt", "\n".join(parts))
    return samples


def _time_to(metrics_csv: Path, threshold: float) -> float | None:
    """Seconds of training until val_loss first reached `threshold` (from metrics.csv), or None."""
    import csv

    with metrics_csv.open() as f:
        for row in csv.DictReader(f):
            if row.get("val_loss") and float(row["val_loss"]) <= threshold:
                return float(row["seconds"])
    return None


def fit_lm(
    model: CharLM,
    dm: TextDataModule,
    recipe: Recipe | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    checkpoint_every: float = 60.0,
    **train_overrides,
) -> RunResult:
    """Train a language model with truncated BPTT, restore the best checkpoint, evaluate and write the run.

    `resume`: a killed run's directory, continued exactly from checkpoints/last.ckpt with its own settings
    (as fit(resume=...)); last.ckpt is also rewritten every `checkpoint_every` seconds mid-epoch (0: only at
    epoch ends). See docs/RELIABILITY.md."""
    recipe = recipe or Recipe(name=dm.name, task="charlm")
    out, ckpt_path, train_overrides = prepare_resume(recipe, out, resume, train_overrides)
    run, cfg = start_run(recipe, dm, out, train_overrides)
    task = LanguageModelTask(model, cfg, dm.steps_per_epoch, carry=dm.carry)
    trainer, best = make_trainer(
        cfg,
        run,
        monitor="val_loss",
        columns=LM_COLUMNS,
        early_stopping=bool(cfg.patience),
        checkpoint_every=checkpoint_every,
        limit_train_batches=cfg.overfit_batches or None,
        reload_dataloaders_every_n_epochs=1,
    )
    train_seconds = train_and_restore(trainer, task, dm, best, cfg, ckpt_path, run)
    model.cpu()
    save_model(run, model)
    val = evaluate_stream(model, torch.as_tensor(dm.corpus.val))
    prime = "\n" if "\n" in dm.vocab.chars else dm.vocab.fallback
    write_samples(run, model, dm.vocab, prime, seed=cfg.seed)
    results = {
        "val": {"loss_nats": val, "bits_per_char": val / math.log(2), "perplexity": math.exp(val)},
        "train_seconds": round(train_seconds, 2),
        "data_wait_share": data_wait_share(trainer),
        "chars_per_second": round(task.chars_seen / max(train_seconds, 1e-9), 1),
        "chars_trained": task.chars_seen,
        "params": count_params(model),
        "epochs": int(trainer.current_epoch),
        "time_to_val_loss": {str(t): _time_to(run / "metrics.csv", t) for t in (2.0, 1.8, 1.6, 1.55, 1.5)},
        "carry": dm.carry,
    }
    write_json(run / "results.json", results)
    return RunResult(run, results)
