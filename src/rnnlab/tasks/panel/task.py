"""Task 'panel': many series, one global model trained across all of them (DeepAR-style), probabilistic
forecasts scored by wQL, CRPS and coverage against seasonal naive and last value on every series' test window."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from rnnlab.config import Recipe, TrainConfig
from rnnlab.data.panel import PANELS
from rnnlab.data.panel_windows import PanelDataModule
from rnnlab.errors import ConfigError
from rnnlab.models.global_forecaster import ANCHORS, LIKELIHOODS
from rnnlab.tasks.checks import check_names, check_recipe
from rnnlab.tasks.contract import Fitted, Signature, Task, TensorSpec
from rnnlab.tasks.panel.data import make_global_forecaster, make_panel_datamodule
from rnnlab.tasks.panel.evaluate import evaluate_panel, write_panel_files
from rnnlab.tasks.panel.module import PANEL_COLUMNS, PanelModule
from rnnlab.tasks.panel.predict import predict_panel
from rnnlab.train.rundir import RunFiles


class PanelTask(Task):
    """`horizon` future values of every series of a panel from its `lookback` past values, with quantiles."""

    name = "panel"
    data_names = (*PANELS, "panel")
    model_kinds = ("GlobalForecaster",)
    data_parallel = True  # PanelDataModule.set_shard
    monitors = ("val_loss",)
    columns = PANEL_COLUMNS
    curves = (
        ("loss (negative log-likelihood, scaled)", ("train_loss", "val_loss")),
        ("val MAE (scaled)", ("val_mae",)),
        ("learning rate", ("lr",)),
    )

    def check(self, recipe: Recipe) -> None:
        d, m = recipe.data, recipe.model
        if d.lookback < 1 or d.horizon < 1 or d.val_origins < 1:
            raise ConfigError(
                f"data.lookback, data.horizon and data.val_origins must be >= 1, got {d.lookback}, "
                f"{d.horizon}, {d.val_origins}"
            )
        check_names([("model.likelihood", m.likelihood, LIKELIHOODS), ("model.anchor", m.anchor, ANCHORS)])

    def datamodule(self, recipe: Recipe) -> PanelDataModule:
        check_recipe(recipe, self)
        return make_panel_datamodule(recipe)

    def describe(self, dm: PanelDataModule) -> str:
        n = {k: len(w) for k, w in dm.parts.items()}
        static = ", ".join(f"{c} ({len(v)})" for c, v in dm.categories.items()) or "none"
        return (
            f"data: {dm.name}: {len(dm.panel.ids)} series x up to {len(dm.panel.time)} steps of "
            f"{dm.panel.target!r} (season {dm.panel.season}), static {static}; lookback {dm.lookback} -> "
            f"horizon {dm.horizon}; windows train/val/test = {n['train']}/{n['val']}/{n['test']}"
        )

    def model(self, recipe: Recipe, dm: PanelDataModule) -> nn.Module:
        return make_global_forecaster(recipe.model, dm)

    def module(self, model: nn.Module, dm: PanelDataModule, cfg: TrainConfig) -> PanelModule:
        n_batches = len(dm.train_dataloader())
        return PanelModule(
            model, cfg, min(cfg.overfit_batches, n_batches) if cfg.overfit_batches else n_batches
        )

    def monitor(self, cfg: TrainConfig) -> str:
        return "val_loss"

    def evaluate(self, f: Fitted) -> dict:
        results, arrays = evaluate_panel(f.model, f.dm)
        if f.writer:
            write_panel_files(f.run, f.dm, arrays)
        return results

    def summary(self, r: dict) -> list[str]:
        lines = [
            f"test ({r['n_series']} series x {r['horizon']} steps)      MAE      MASE     wQL   wQL(point)"
            "      CRPS   cov80"
        ]
        for name, m in r["test"].items():
            wp = f"{m['wql_point']:10.4f}" if "wql_point" in m else f"{'-':>10}"
            lines.append(
                f"  {name[:26]:>26s} {m['mae']:9.4g} {m['mase']:8.3f} {m['wql']:8.4f} {wp} {m['crps']:9.4g} "
                f"{m['coverage']:6.1%}"
            )
        gain = r["wql_gain_vs_seasonal_naive"]
        lines.append(
            f"model wQL is {abs(gain):.1%} {'below' if gain >= 0 else 'ABOVE'} {r['seasonal_name']}'s "
            f"(conformal intervals); best by wQL: {r['best_wql']}; {r['params']} params, "
            f"{r['train_seconds']:.0f} s training"
        )
        lines.append("forecasts.csv and panel_series.csv hold every test forecast; panel.png draws them")
        return lines

    def predict_run(self, files: RunFiles, data: str | Path) -> tuple[list[str], list[list]]:
        return predict_panel(files, data)

    def signature(self, model: nn.Module) -> Signature:
        c = model.config
        return Signature(
            inputs=(
                TensorSpec("x", ("batch", int(c["lookback"]), 1 + int(c["n_calendar"]))),
                TensorSpec("xf", ("batch", int(c["horizon"]), int(c["n_calendar"]))),
                TensorSpec("log_scale", ("batch",)),
                TensorSpec("sid", ("batch",)),
                TensorSpec("static", ("batch", len(c["static_sizes"]))),
            ),
            outputs=(
                TensorSpec("loc", ("batch", int(c["horizon"]))),
                TensorSpec("spread", ("batch", int(c["horizon"]))),
                TensorSpec("df", ("batch", int(c["horizon"]))),
            ),
        )


TASK = PanelTask
