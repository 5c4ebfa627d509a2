"""The task contract is real: a kind rnnlab does not ship (a label for every step of a stream: the parity of
the ones so far), written in this file alone and registered with one line, trains, evaluates, predicts,
reports and resumes bit-identically through the CLI, with nothing in rnnlab changed for it."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from lightning import LightningDataModule
from torch import Tensor

from rnnlab.cli import main
from rnnlab.data.datamodule import epoch_loader
from rnnlab.errors import ConfigError
from rnnlab.models import SequenceTagger
from rnnlab.tasks import Fitted, Signature, Task, TensorSpec, get, names, register
from rnnlab.tasks.checks import check_recipe
from rnnlab.train.module import TaskModule

RECIPE = """name: parity
task: parity
data: {name: parity, batch_size: 16}
model: {kind: SequenceTagger, cell: gru, hidden: 24, layers: 1}
train: {max_epochs: 8, lr: 0.02, seed: 1, threads: 1, deterministic: true, patience: 0, monitor: val_acc}
"""


class ParityStreams(LightningDataModule):
    """Random 0/1 streams (N, T, 1); the label of step t is the parity of the ones in steps 0..t."""

    def __init__(self, batch_size: int, seed: int, n: int = 384, t: int = 10) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1234)  # the data never changes; `seed` orders the batches
        x = torch.randint(0, 2, (n, t, 1), generator=g).float()
        y = x[..., 0].cumsum(1).remainder(2).long()
        cut = (n * 2 // 3, n * 5 // 6)
        self.sets = {
            "train": (x[: cut[0]], y[: cut[0]]),
            "val": (x[cut[0] : cut[1]], y[cut[0] : cut[1]]),
            "test": (x[cut[1] :], y[cut[1] :]),
        }
        self.name, self.batch_size, self.seed = "parity", batch_size, seed

    def _loader(self, split: str, shuffle: bool = False):
        x, y = self.sets[split]
        items = [(x[i], y[i], i) for i in range(len(x))]

        def collate(b):
            return {
                "x": torch.stack([i[0] for i in b]),
                "y": torch.stack([i[1] for i in b]),
                "lengths": torch.full((len(b),), x.shape[1]),
                "index": torch.tensor([i[2] for i in b]),
            }

        return epoch_loader(items, self.batch_size, self.seed, shuffle, collate)

    def train_dataloader(self):
        return self._loader("train", shuffle=True)

    def val_dataloader(self):
        return self._loader("val")

    def describe(self) -> dict:
        return {"name": self.name, "sizes": {k: len(v[0]) for k, v in self.sets.items()}}


class TaggingModule(TaskModule):
    """Cross-entropy over every step; step accuracy on validation."""

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        _, loss = self.model(batch["x"], batch["lengths"], batch["y"])
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["y"]))
        self.log_lr()
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        logits, loss = self.model(batch["x"], batch["lengths"], batch["y"])
        acc = (logits.argmax(-1) == batch["y"]).float().mean()
        self.log("val_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["y"]))
        self.log("val_acc", acc, on_step=False, on_epoch=True, batch_size=len(batch["y"]))


def step_accuracy(model, x: Tensor, y: Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(-1) == y).float().mean())


class ParityTagging(Task):
    """Per-step tagging: the whole new kind."""

    name = "parity"
    data_names = ("parity",)
    model_kinds = ("SequenceTagger",)
    monitors = ("val_loss", "val_acc")
    columns = ("epoch", "train_loss", "val_loss", "val_acc", "lr", "seconds")
    curves = (("loss", ("train_loss", "val_loss")), ("step accuracy", ("val_acc",)))

    def datamodule(self, recipe):
        check_recipe(recipe, self)
        return ParityStreams(recipe.data.batch_size, recipe.train.seed)

    def model(self, recipe, dm):
        m = recipe.model
        return SequenceTagger(1, 2, cell=m.cell, hidden=m.hidden, layers=m.layers, bidirectional=False, dropout=0.0)

    def module(self, model, dm, cfg):
        return TaggingModule(model, cfg, len(dm.train_dataloader()))

    def evaluate(self, f: Fitted) -> dict:
        return {"test": {"step_accuracy": step_accuracy(f.model, *f.dm.sets["test"])}}

    def summary(self, results):
        return [f"test step accuracy {results['test']['step_accuracy']:.4f}"]

    def evaluate_run(self, files, data=None):
        dm = self.datamodule(_recipe(files))
        return {"step_accuracy": step_accuracy(files.model, *dm.sets["test"])}

    def predict_run(self, files, data):
        streams = [line.strip() for line in open(data) if line.strip()]
        x = torch.tensor([[[float(c)] for c in s] for s in streams])
        files.model.eval()
        with torch.no_grad():
            tags = files.model(x).argmax(-1)
        return ["stream", "parity"], [[s, "".join(map(str, t.tolist()))] for s, t in zip(streams, tags, strict=True)]

    def signature(self, model):
        return Signature(
            inputs=(TensorSpec("x", ("batch", "time", 1)),),
            outputs=(TensorSpec("logits", ("batch", "time", 2)),),
        )


def _recipe(files):
    from rnnlab.config import recipe_from_dict

    return recipe_from_dict(files.recipe)


register(ParityTagging)  # the one line that makes `task: parity` a kind rnnlab trains


class Killed(Exception):
    pass


def _train(argv: list[str]) -> int:
    return main(["train", *map(str, argv), "--checkpoint-every", "1e-9"])


def test_a_new_task_kind_trains_evaluates_predicts_reports_and_resumes(tmp_path, capsys, monkeypatch):
    assert "parity" in names() and isinstance(get("parity"), ParityTagging)
    recipe = tmp_path / "parity.yaml"
    recipe.write_text(RECIPE)
    ref = tmp_path / "ref"

    assert _train([recipe, "--out", ref]) == 0
    out = capsys.readouterr().out
    assert "data: parity" in out and "test step accuracy" in out and f"run directory: {ref}" in out
    results = json.loads((ref / "results.json").read_text())
    assert results["test"]["step_accuracy"] > 0.95  # learned: the running parity of every step
    assert set(results) >= {"best_val", "params", "epochs", "train_seconds", "stopped"}  # from the driver
    rows = list(csv.DictReader((ref / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == [str(e) for e in range(8)] and rows[-1]["val_acc"]

    assert main(["evaluate", str(ref), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["step_accuracy"] == pytest.approx(results["test"]["step_accuracy"])

    streams = tmp_path / "streams.txt"
    streams.write_text("0110100111\n1111111111\n")
    assert main(["predict", str(ref), "--data", str(streams)]) == 0
    got = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert got[0] == ["stream", "parity"] and got[2] == ["1111111111", "1010101010"]

    assert main(["inspect", str(ref)]) == 0
    page = (ref / "report.html").read_text()
    assert "Training curves" in page and "step_accuracy" in page

    # killed twice mid-epoch, resumed from the CLI each time: the same weights, bit for bit
    run = tmp_path / "killed"
    step = TaggingModule.training_step
    for kill_at, argv in ((17, [recipe, "--out", run]), (40, ["parity", "--resume", run])):

        def dying(self, batch, batch_idx, _at=kill_at):
            if self.global_step == _at:
                raise Killed
            return step(self, batch, batch_idx)

        monkeypatch.setattr(TaggingModule, "training_step", dying)
        with pytest.raises(Killed):
            _train(argv)
        monkeypatch.setattr(TaggingModule, "training_step", step)
        assert not (run / "results.json").exists()
    assert _train(["parity", "--resume", run]) == 0
    assert (run / "model.safetensors").read_bytes() == (ref / "model.safetensors").read_bytes()
    again = json.loads((run / "results.json").read_text())
    assert again["test"] == results["test"] and again["best_val"] == results["best_val"]


def test_unknown_task_names_the_known_kinds(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"unknown task 'parrity'; choose one of \[.*'parity'"):
        get("parrity")
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(RECIPE.replace("task: parity", "task: parrity"))
    assert main(["train", str(recipe), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown task 'parrity'" in err and "\n" not in err
    assert not (tmp_path / "r").exists()
