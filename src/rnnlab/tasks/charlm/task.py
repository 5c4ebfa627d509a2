"""Task 'charlm': a character-level language model trained with truncated BPTT and a carried state;
validation nats/bits per character and perplexity, samples at several temperatures."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from rnnlab.config import Recipe, TrainConfig
from rnnlab.data.textstream import TextDataModule
from rnnlab.errors import ConfigError
from rnnlab.tasks.charlm.data import make_lm, make_text_datamodule
from rnnlab.tasks.charlm.export import charlm_graphs
from rnnlab.tasks.charlm.generate import (
    evaluate_text,
    stream_losses,
    stream_report,
    stuck_warning,
    time_to,
    write_samples,
)
from rnnlab.tasks.charlm.module import LM_COLUMNS, LanguageModelModule
from rnnlab.tasks.checks import check_recipe
from rnnlab.tasks.contract import Fitted, Graph, Signature, Task, TensorSpec, recurrent_state
from rnnlab.train.rundir import RunFiles

TEXT_DATA = ("shakespeare", "shakespeare-plus", "shakespeare-full", "text")


class CharLMTask(Task):
    """Next-character prediction over contiguous streams; the hidden state is the model's memory."""

    name = "charlm"
    data_names = TEXT_DATA
    model_kinds = ("CharLM",)
    monitors = ("val_loss",)
    columns = LM_COLUMNS
    curves = (
        ("loss (nats/char)", ("train_loss", "val_loss")),
        ("bits/char", ("val_bpc",)),
        ("learning rate", ("lr",)),
    )
    data_parallel = True  # each process trains its share of the parallel streams (TextDataModule.set_shard)

    def check(self, recipe: Recipe) -> None:
        if recipe.data.name == "text" and not recipe.data.path:
            raise ConfigError("data.name 'text' needs a file: pass --text PATH (a UTF-8 text file)")

    def datamodule(self, recipe: Recipe) -> TextDataModule:
        check_recipe(recipe, self)
        return make_text_datamodule(recipe)

    def describe(self, dm: TextDataModule) -> str:
        c = dm.corpus
        return (
            f"data: {c.name}: {len(c.train)} train / {len(c.val)} validation characters, vocabulary "
            f"{len(c.vocab)}, batch {dm.batch_size} x bptt {dm.bptt}, carry={'on' if dm.carry else 'off'}"
        )

    def model(self, recipe: Recipe, dm: TextDataModule) -> nn.Module:
        return make_lm(recipe.model, dm)

    def module(self, model: nn.Module, dm: TextDataModule, cfg: TrainConfig) -> LanguageModelModule:
        return LanguageModelModule(model, cfg, dm.steps_per_epoch, carry=dm.carry)

    def monitor(self, cfg: TrainConfig) -> str:
        return "val_loss"

    def trainer_options(self, cfg: TrainConfig) -> dict:
        return {
            "early_stopping": bool(cfg.patience),
            "limit_train_batches": cfg.overfit_batches or None,
            "reload_dataloaders_every_n_epochs": 1,  # each epoch starts the streams at a new offset
        }

    def evaluate(self, f: Fitted) -> dict:
        model, dm = f.model.cpu(), f.dm
        losses = stream_losses(model, torch.as_tensor(dm.corpus.val))
        val = float(losses.mean())
        if f.writer:
            prime = "\n" if "\n" in dm.vocab.chars else dm.vocab.fallback
            write_samples(f.run, model, dm.vocab, prime, seed=f.cfg.seed)
        chars = f.module.chars_seen
        return {
            "val": {
                "loss_nats": val,
                "bits_per_char": val / math.log(2),
                "perplexity": math.exp(val),
                **stream_report(losses, dm.corpus.val, dm.vocab),
            },
            "chars_per_second": round(chars / max(f.seconds, 1e-9), 1),
            "chars_trained": chars,
            "time_to_val_loss": {
                str(t): time_to(f.run / "metrics.csv", t) for t in (2.0, 1.8, 1.6, 1.55, 1.5)
            },
            "carry": dm.carry,
        }

    def summary(self, r: dict) -> list[str]:
        v = r["val"]
        return [
            f"validation loss {v['loss_nats']:.4f} nats/char  {v['bits_per_char']:.4f} bits/char  perplexity "
            f"{v['perplexity']:.2f}  ({r['params']} params, {r['train_seconds']:.0f} s training, "
            f"{r['chars_per_second']:.0f} chars/s)",
            "samples.txt holds text at temperatures 0.5/0.8/1.0",
            *filter(None, [stuck_warning(v)]),
        ]

    def evaluate_run(self, files: RunFiles, data: str | Path | None = None) -> dict:
        return evaluate_text(files, data)

    def evaluation_summary(self, m: dict) -> list[str]:
        return [
            f"{m['text']}: loss {m['loss_nats']:.4f} nats/char  {m['bits_per_char']:.4f} bits/char  "
            f"perplexity {m['perplexity']:.2f}  ({m['chars']} chars)",
            *filter(None, [stuck_warning(m)]),
        ]

    def signature(self, model: nn.Module) -> Signature:
        return Signature(
            inputs=(TensorSpec("ids", ("batch", "time"), "int64"),),
            outputs=(TensorSpec("logits", ("batch", "time", int(model.config["vocab_size"]))),),
            state=recurrent_state(model),
        )

    def graphs(self, model: nn.Module) -> list[Graph]:
        return charlm_graphs(model)


TASK = CharLMTask
