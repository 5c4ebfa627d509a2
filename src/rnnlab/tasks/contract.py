"""The task contract: the one small interface every task kind (classify, charlm, forecast, seq2seq, yours)
implements, so training, resume, evaluation, prediction, the CLI, the report, export and serving are
written once.

A Task says what its recipes may name (data sets, model kinds, monitored metrics), builds the datamodule and
the model from a recipe, wraps the model in its Lightning module (loss and metrics), evaluates the trained
model into results.json (plus CSV/JSON files of its own), prints one summary, evaluates and predicts with a
finished run directory, and describes the tensors a trained model takes and gives (its Signature). Plots are
never made here: inspect draws them from the files a task writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from torch import Tensor, nn

from rnnlab.config import Recipe, TrainConfig
from rnnlab.errors import ConfigError
from rnnlab.nn.stack import STATE_NAMES

if TYPE_CHECKING:  # annotations only: the contract imports no Lightning at run time
    from lightning import LightningDataModule, LightningModule, Trainer
    from lightning.pytorch.callbacks import ModelCheckpoint

    from rnnlab.train.rundir import RunFiles


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor: its dimensions (a name like 'batch' or 'time' for a dynamic one, an int for a fixed
    one) and dtype."""

    name: str
    dims: tuple[str | int, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class Signature:
    """What a trained model takes and gives, for export and serving: the inputs of one call, the recurrent
    state carried from call to call (empty for a stateless model) and the outputs."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    state: tuple[TensorSpec, ...] = ()

    def to_dict(self) -> dict:
        part = lambda specs: [{"name": s.name, "dims": list(s.dims), "dtype": s.dtype} for s in specs]  # noqa: E731
        return {"inputs": part(self.inputs), "state": part(self.state), "outputs": part(self.outputs)}


def recurrent_state(model: nn.Module, batch: str = "batch") -> tuple[TensorSpec, ...]:
    """The state of the model's recurrent layer (`model.rnn`), from its own init_state: h (and c for an
    LSTM) in PyTorch's layout (layers x directions, batch, hidden)."""
    rnn = getattr(model, "rnn", None)
    if rnn is None or not hasattr(rnn, "init_state"):
        return ()
    zero = rnn.init_state(1)
    return tuple(
        TensorSpec(STATE_NAMES[i], (int(s.shape[0]), batch, int(s.shape[-1]))) for i, s in enumerate(zero)
    )


@dataclass(frozen=True)
class Graph:
    """One graph `rnnlab export` writes: a module (in eval mode) traced on `example` inputs, its input and output
    names in order, and the dynamic dimensions of each (name -> {axis: dimension name}). `note` says what a
    caller must know beyond the shapes (e.g. a width to pad to)."""

    name: str
    module: nn.Module
    example: tuple[Tensor, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    dynamic: dict[str, dict[int, str]]
    note: str = ""


@dataclass
class Fitted:
    """Everything evaluation may need once training is over: the run directory, the trained model (best
    weights restored), its data, settings and Lightning objects, and the training seconds. `writer`: this
    process writes files (global rank 0; every rank evaluates)."""

    run: Path
    model: nn.Module
    dm: LightningDataModule
    recipe: Recipe
    cfg: TrainConfig
    trainer: Trainer
    module: LightningModule
    best: ModelCheckpoint
    seconds: float = 0.0
    writer: bool = True

    @property
    def best_score(self) -> float | None:
        return float(self.best.best_model_score) if self.best.best_model_score is not None else None


class Task:
    """One task kind. Subclass it, fill in the class attributes and the hooks, and register it
    (rnnlab.tasks.registry.register); nothing else in rnnlab needs to change.

    Class attributes: `name` (the recipe's `task:`), `data_names` and `model_kinds` (what data.name and
    model.kind may be), `monitors` (allowed train.monitor values), `columns` (metrics.csv), `curves` (the
    report's training-curve panels: title and columns), `data_parallel` (the datamodule shards its training
    data: multi-process training allowed)."""

    name: ClassVar[str]
    data_names: ClassVar[tuple[str, ...]]
    model_kinds: ClassVar[tuple[str, ...]]
    monitors: ClassVar[tuple[str, ...]] = ("val_loss",)
    columns: ClassVar[tuple[str, ...]] = ("epoch", "train_loss", "val_loss", "lr", "seconds")
    curves: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = (
        ("loss", ("train_loss", "val_loss")),
        ("learning rate", ("lr",)),
    )
    data_parallel: ClassVar[bool] = False

    # ---- recipe -> data and model ----
    def check(self, recipe: Recipe) -> None:
        """Validate the recipe's settings this kind cares about, before any data is read (one-line errors)."""

    def datamodule(self, recipe: Recipe) -> LightningDataModule:
        """The recipe's data, split and batched; sizes (features, classes, vocabulary) are read off it."""
        raise NotImplementedError

    def describe(self, dm: LightningDataModule) -> str:
        """The CLI's one line about the data ('data: ...')."""
        return f"data: {getattr(dm, 'name', type(dm).__name__)}"

    def model(self, recipe: Recipe, dm: LightningDataModule) -> nn.Module:
        """The recipe's model, sized from the datamodule."""
        raise NotImplementedError

    # ---- training ----
    def module(self, model: nn.Module, dm: LightningDataModule, cfg: TrainConfig) -> LightningModule:
        """The Lightning module around the model: loss, metrics, optimiser (a rnnlab.train.module.TaskModule)."""
        raise NotImplementedError

    def monitor(self, cfg: TrainConfig) -> str:
        """The validation metric that picks the best checkpoint (and early-stops)."""
        return cfg.monitor

    def trainer_options(self, cfg: TrainConfig) -> dict:
        """Extra Lightning Trainer arguments, and `early_stopping` (bool) for the driver."""
        return {
            "early_stopping": bool(cfg.patience and not cfg.overfit_batches),
            "overfit_batches": cfg.overfit_batches,
        }

    def evaluate(self, fitted: Fitted) -> dict:
        """Test the trained model: results.json's task-specific fields. Files of its own (predictions CSV,
        samples, JSON for inspect's pictures) are written only when `fitted.writer`."""
        raise NotImplementedError

    def summary(self, results: dict) -> list[str]:
        """What the CLI prints after training (before the run directory line)."""
        return [f"{k}: {v}" for k, v in results.items() if isinstance(v, int | float)]

    # ---- a finished run ----
    def evaluate_run(self, files: RunFiles, data: str | Path | None = None) -> dict:
        """Metrics of a finished run on its own test data, or on `data` (a file of the user's)."""
        raise ConfigError(f"`rnnlab evaluate` does not support {self.name!r} runs")

    def evaluation_summary(self, metrics: dict) -> list[str]:
        """What `rnnlab evaluate` prints for evaluate_run's metrics."""
        return [f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)]

    def predict_run(self, files: RunFiles, data: str | Path) -> tuple[list[str], list[list]]:
        """(header, rows) of predictions for every example in `data`."""
        raise ConfigError(f"`rnnlab predict` does not support {self.name!r} runs")

    def signature(self, model: nn.Module) -> Signature:
        """The tensors the trained model takes and gives (for export and serving)."""
        raise NotImplementedError

    def graphs(self, model: nn.Module) -> list[Graph]:
        """The graphs `rnnlab export` writes for a trained model: each takes the recurrent state as explicit
        inputs and returns the final state, so batch and time stay dynamic."""
        raise ConfigError(f"`rnnlab export` does not support {self.name!r} runs")
