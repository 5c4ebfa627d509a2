"""Task 'classify': one label per sequence (sensor windows, digits read row by row, clinical visits, texts,
the user's CSV/npz); accuracy, macro-F1, per-class metrics and AUROC/AUPRC, beside non-recurrent baselines."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from rnnlab.config import ModelConfig, Recipe, TrainConfig
from rnnlab.data.augment import Augment
from rnnlab.data.datamodule import SequenceDataModule
from rnnlab.errors import ConfigError
from rnnlab.models import build_model
from rnnlab.tasks.checks import check_names, check_recipe
from rnnlab.tasks.classify.baselines import BASELINES, run_baselines
from rnnlab.tasks.classify.data import BUILTIN_DATA, DIGIT_VIEWS, make_datamodule
from rnnlab.tasks.classify.evaluate import evaluate, predict_table, test_fitted
from rnnlab.tasks.classify.export import classify_graphs
from rnnlab.tasks.classify.module import ClassificationModule
from rnnlab.tasks.classify.sizing import resolve_auto
from rnnlab.tasks.contract import Fitted, Graph, Signature, Task, TensorSpec
from rnnlab.tasks.regularisers import regularisers
from rnnlab.train.rundir import RunFiles


class ClassifyTask(Task):
    """Many-to-one classification on a SequenceDataModule (padded batches with lengths)."""

    name = "classify"
    data_names = (*BUILTIN_DATA, "tweets", "reviews", "sentences", "textcsv", "user")
    model_kinds = (
        "auto",
        "SequenceClassifier",
        "SequenceTagger",
        "MLPClassifier",
        "CNN1dClassifier",
        "LSTMFCN",
    )
    monitors = ("val_loss", "val_acc", "val_f1")
    columns = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_f1", "lr", "seconds")
    curves = (
        ("loss", ("train_loss", "val_loss")),
        ("accuracy / F1", ("train_acc", "val_acc", "val_f1")),
        ("learning rate", ("lr",)),
    )
    data_parallel = True

    def check(self, recipe: Recipe) -> None:
        check_names([("data.view", recipe.data.view, DIGIT_VIEWS)])
        unknown = [b for b in recipe.train.baselines or [] if b not in BASELINES]
        if unknown:
            raise ConfigError(
                f"unknown baseline(s) {unknown} in train.baselines; choose from {sorted(BASELINES)}"
            )
        Augment(recipe.data.augment_scale, recipe.data.augment_jitter)  # raises on negative values

    def datamodule(self, recipe: Recipe) -> SequenceDataModule:
        """The data; `model.kind: auto` is resolved here, from the labelled sequences, into the recipe
        (config.yaml then records the concrete model) and the batch size."""
        check_recipe(recipe, self)
        dm = make_datamodule(recipe)
        if recipe.model.kind == "auto":
            tokens = bool(getattr(dm, "vocab_size", 0))
            n = 0 if tokens else len(dm.sets["train"]) + len(dm.sets["val"])
            dm.auto_note = resolve_auto(recipe, n, tokens=tokens)
            dm.batch_size = recipe.data.batch_size
            check_recipe(recipe, self)
        return dm

    def describe(self, dm: SequenceDataModule) -> str:
        sizes = f"{len(dm.sets['train'])}/{len(dm.sets['val'])}/{len(dm.sets.get('test', []))}"
        note = f"; {dm.auto_note}" if getattr(dm, "auto_note", "") else ""
        return f"data: {dm.name}: {dm.n_features} features, {dm.n_classes} classes, train/val/test = {sizes}{note}"

    def model(self, recipe: Recipe, dm: SequenceDataModule) -> nn.Module:
        return make_model(recipe.model, dm)

    def module(self, model: nn.Module, dm: SequenceDataModule, cfg: TrainConfig) -> ClassificationModule:
        n_batches = len(dm.train_dataloader())  # per rank: the schedule counts this process's steps
        steps = min(cfg.overfit_batches, n_batches) if cfg.overfit_batches else n_batches
        return ClassificationModule(model, dm.n_classes, cfg, steps)

    def evaluate(self, fitted: Fitted) -> dict:
        results = test_fitted(fitted)
        if fitted.cfg.baselines and fitted.writer:
            results["baselines"] = run_baselines(fitted.cfg.baselines, fitted.dm)
        return results

    def summary(self, results: dict) -> list[str]:
        t = results["test"]
        lines = [
            f"test accuracy {t['accuracy']:.4f}  macro-F1 {t['macro_f1']:.4f}  ({t['n']} {t['split']} sequences, "
            f"{results['params']} params, {results['train_seconds']:.0f} s training, "
            f"stopped by {results['stopped']})"
        ]
        for name, b in results.get("baselines", {}).items():
            lines.append(f"baseline {name}: test accuracy {b['accuracy']:.4f}  macro-F1 {b['macro_f1']:.4f}")
        return lines

    def evaluate_run(self, files: RunFiles, data: str | Path | None = None) -> dict:
        return evaluate(files, data)

    def evaluation_summary(self, m: dict) -> list[str]:
        lines = [
            f"accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  loss {m['loss']:.4f}  n={m['n']}"
        ]
        for c, pc in m["per_class"].items():
            lines.append(
                f"  {c:>20s}  precision {pc['precision']:.3f}  recall {pc['recall']:.3f}  f1 {pc['f1']:.3f}  "
                f"support {pc['support']}"
            )
        return lines

    def predict_run(self, files: RunFiles, data: str | Path) -> tuple[list[str], list[list]]:
        return predict_table(files, data)

    def signature(self, model: nn.Module) -> Signature:
        c = getattr(model, "config", {})
        tokens = bool(c.get("vocab_size"))
        x = TensorSpec(
            "x", ("batch", "time", 1 if tokens else int(c["n_features"])), "int64" if tokens else "float32"
        )
        return Signature(
            inputs=(x, TensorSpec("lengths", ("batch",), "int64")),
            outputs=(TensorSpec("logits", ("batch", int(c["n_classes"]))),),
        )

    def graphs(self, model: nn.Module) -> list[Graph]:
        return classify_graphs(model)


def make_model(cfg: ModelConfig, dm: SequenceDataModule) -> nn.Module:
    """The recipe's model, sized from the datamodule."""
    common = {"n_features": dm.n_features, "n_classes": dm.n_classes}
    if cfg.kind == "SequenceClassifier":
        args = dict(
            cell=cfg.cell,
            hidden=cfg.hidden,
            layers=cfg.layers,
            bidirectional=cfg.bidirectional,
            dropout=cfg.dropout,
            readout=cfg.readout,
            fast_path=cfg.fast_path,
            conv_channels=cfg.conv_channels,
            conv_layers=cfg.conv_layers,
            conv_kernel=cfg.kernel,
            vocab_size=getattr(dm, "vocab_size", 0),
            embed=cfg.embed or 64,
            ragged=cfg.ragged,
            **regularisers(cfg),
        )
    elif cfg.kind == "MLPClassifier":
        args = dict(max_len=dm.max_len, hidden=cfg.hidden, layers=cfg.layers, dropout=cfg.dropout)
    elif cfg.kind == "CNN1dClassifier":
        args = dict(channels=cfg.channels, layers=cfg.layers, kernel=cfg.kernel, dropout=cfg.dropout)
    elif cfg.kind == "LSTMFCN":  # model.channels: the FCN's outer blocks (the middle one is twice as wide)
        args = dict(
            cell=cfg.cell,
            hidden=cfg.hidden,
            channels=cfg.channels,
            dropout=cfg.dropout,
            fast_path=cfg.fast_path,
        )
    elif cfg.kind == "auto":
        raise ConfigError(
            "model.kind auto is chosen from the data by the classify task's datamodule (rnnlab train, "
            "rnnlab.fit_recipe); with your own datamodule set model.kind (LSTMFCN or SequenceClassifier)"
        )
    else:
        raise ConfigError(
            f"model.kind {cfg.kind!r} cannot be trained on classification data; "
            "choose auto, SequenceClassifier, MLPClassifier, CNN1dClassifier or LSTMFCN"
        )
    return build_model(cfg.kind, **common, **args)


TASK = ClassifyTask
