"""Task 'seq2seq': an encoder-decoder with attention (First Folio spelling -> modern text, digit strips ->
words); greedy and beam decoding of the test set, exact match, token accuracy, chrF/BLEU, attention maps."""

from __future__ import annotations

from lightning import LightningDataModule
from torch import nn

from rnnlab.config import Recipe, TrainConfig
from rnnlab.errors import ConfigError
from rnnlab.models.decoding import LENGTH_NORMS
from rnnlab.tasks.checks import check_recipe
from rnnlab.tasks.contract import Fitted, Graph, Signature, Task, TensorSpec
from rnnlab.tasks.seq2seq.data import SEQ2SEQ_DATA, decode_limit, make_pair_datamodule, make_seq2seq
from rnnlab.tasks.seq2seq.evaluate import evaluate_seq2seq
from rnnlab.tasks.seq2seq.export import seq2seq_graphs
from rnnlab.tasks.seq2seq.module import S2S_COLUMNS, Seq2SeqModule


class Seq2SeqTask(Task):
    """A sequence in, another out, of its own length: the encoder reads, the decoder writes token by token."""

    name = "seq2seq"
    data_names = SEQ2SEQ_DATA
    model_kinds = ("Seq2Seq", "Captioner")
    data_parallel = True  # pairs and caption strips shard across processes (SplitDataModule.set_shard)
    monitors = ("val_loss", "val_exact")
    columns = S2S_COLUMNS
    curves = (
        ("loss (nats/token)", ("train_loss", "val_loss")),
        ("greedy exact match / token accuracy", ("val_exact", "val_token_acc")),
        ("teacher forcing, learning rate", ("teacher_forcing", "lr")),
    )

    def check(self, recipe: Recipe) -> None:
        t = recipe.train
        if t.length_norm not in LENGTH_NORMS:
            raise ConfigError(f"train.length_norm must be one of {LENGTH_NORMS}, got {t.length_norm!r}")
        if t.beam < 1:
            raise ConfigError(f"train.beam must be >= 1, got {t.beam}")

    def datamodule(self, recipe: Recipe) -> LightningDataModule:
        check_recipe(recipe, self)
        return make_pair_datamodule(recipe)

    def describe(self, dm: LightningDataModule) -> str:
        sizes = "/".join(str(len(dm.sets[k])) for k in ("train", "val", "test") if k in dm.sets)
        return f"data: {dm.name}: train/val/test = {sizes} pairs, vocabulary {dm.vocab_size}"

    def model(self, recipe: Recipe, dm: LightningDataModule) -> nn.Module:
        return make_seq2seq(recipe.model, dm)

    def module(self, model: nn.Module, dm: LightningDataModule, cfg: TrainConfig) -> Seq2SeqModule:
        self.check_train(cfg)
        return Seq2SeqModule(model, cfg, len(dm.train_dataloader()), decode_limit(dm))

    def check_train(self, cfg: TrainConfig) -> None:
        """The decoding settings, also when fit() is called without a recipe check."""
        self.check(Recipe(train=cfg))

    def monitor(self, cfg: TrainConfig) -> str:
        return cfg.monitor if cfg.monitor != "val_acc" else "val_exact"

    def trainer_options(self, cfg: TrainConfig) -> dict:
        return {"early_stopping": bool(cfg.patience), "limit_train_batches": cfg.overfit_batches or None}

    def evaluate(self, f: Fitted) -> dict:
        model = f.model.cpu().eval()
        cfg = f.cfg
        return evaluate_seq2seq(model, f.dm, f.run, cfg.beam, cfg.length_norm, decode_limit(f.dm), f.writer)

    def summary(self, r: dict) -> list[str]:
        t, lines = r["test"], []
        for name in ("greedy", "beam"):
            m = t[name]
            extra = f"  chrF {m['chrf']:.2f}  BLEU {m['bleu']:.2f}" if "chrf" in m else ""
            lines.append(
                f"test {name:6s} exact match {m['exact_match']:.4f}  token accuracy {m['token_accuracy']:.4f}{extra}"
            )
        for name, b in r.get("baselines", {}).items():
            lines.append(
                f"baseline {name}: chrF {b['chrf']:.2f}  BLEU {b['bleu']:.2f}  exact match {b['exact_match']:.4f}"
            )
        if r.get("attention", {}).get("own_digit_mass") is not None:
            lines.append(
                f"attention on the word's own digit: {r['attention']['own_digit_mass']:.3f} of its mass (mean)"
            )
        lines.append(f"({r['params']} params, {r['train_seconds']:.0f} s training)")
        return lines

    def signature(self, model: nn.Module) -> Signature:
        c = model.config
        if type(model).__name__ == "Captioner":
            src = TensorSpec("images", ("batch", 1, int(c.get("image_height", 28)), "width"))
            lengths = TensorSpec("widths", ("batch",), "int64")
        else:
            src = TensorSpec("src", ("batch", "src_time"), "int64")
            lengths = TensorSpec("src_lengths", ("batch",), "int64")
        return Signature(
            inputs=(src, lengths, TensorSpec("tgt_in", ("batch", "tgt_time"), "int64")),
            outputs=(TensorSpec("logits", ("batch", "tgt_time", int(c["tgt_vocab"]))),),
        )

    def graphs(self, model: nn.Module) -> list[Graph]:
        return seq2seq_graphs(model)


TASK = Seq2SeqTask
