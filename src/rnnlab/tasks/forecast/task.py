"""Task 'forecast': a series cut into lookback/horizon windows split by time; the model scored against
naive and linear baselines on the same test windows, with prediction intervals of measured coverage."""

from __future__ import annotations

from torch import nn

from rnnlab.config import Recipe, TrainConfig
from rnnlab.data.forecastdata import SERIES_DATA, ForecastDataModule
from rnnlab.errors import ConfigError
from rnnlab.models.forecaster import HEADS
from rnnlab.tasks.checks import check_names, check_recipe
from rnnlab.tasks.contract import Fitted, Graph, Signature, Task, TensorSpec
from rnnlab.tasks.forecast.data import make_forecaster, make_series_datamodule
from rnnlab.tasks.forecast.evaluate import evaluate_forecast, write_examples, write_forecasts
from rnnlab.tasks.forecast.export import forecast_graphs
from rnnlab.tasks.forecast.module import FORECAST_COLUMNS, ForecastModule


class ForecastTask(Task):
    """Many-to-many in time: `horizon` future values of the target from `lookback` past rows."""

    name = "forecast"
    data_names = SERIES_DATA
    model_kinds = ("Forecaster",)
    data_parallel = True  # the training windows shard across processes (ForecastDataModule.set_shard)
    monitors = ("val_loss",)
    columns = FORECAST_COLUMNS
    curves = (
        ("loss (MSE, scaled)", ("train_loss", "val_loss")),
        ("val MAE (scaled)", ("val_mae",)),
        ("learning rate", ("lr",)),
    )

    def check(self, recipe: Recipe) -> None:
        d = recipe.data
        check_names([("model.head", recipe.model.head, HEADS)])
        if recipe.model.head == "quantile" and recipe.model.decoder != "direct":
            raise ConfigError("model.head quantile needs model.decoder direct")
        if d.lookback < 1 or d.horizon < 1:
            raise ConfigError(
                f"data.lookback and data.horizon must be >= 1, got {d.lookback} and {d.horizon}"
            )

    def datamodule(self, recipe: Recipe) -> ForecastDataModule:
        check_recipe(recipe, self)
        return make_series_datamodule(recipe)

    def describe(self, dm: ForecastDataModule) -> str:
        n = {k: len(w) for k, w in dm.parts.items()}
        return (
            f"data: {dm.name}: {len(dm.series.values)} steps x {dm.n_features} columns, target {dm.target!r}, "
            f"lookback {dm.lookback} -> horizon {dm.horizon}, known ahead {dm.future or 'none'}; "
            f"windows train/val/test = {n['train']}/{n['val']}/{n['test']}"
            + (f" (every {dm.train_stride}th training window per epoch)" if dm.train_stride > 1 else "")
            + ("; validation/test lookbacks read the part before (short series)" if dm.straddle_auto else "")
        )

    def model(self, recipe: Recipe, dm: ForecastDataModule) -> nn.Module:
        return make_forecaster(recipe.model, dm)

    def module(self, model: nn.Module, dm: ForecastDataModule, cfg: TrainConfig) -> ForecastModule:
        n_batches = len(dm.train_dataloader())
        return ForecastModule(
            model, cfg, min(cfg.overfit_batches, n_batches) if cfg.overfit_batches else n_batches
        )

    def monitor(self, cfg: TrainConfig) -> str:
        return "val_loss"

    def evaluate(self, f: Fitted) -> dict:
        ev = evaluate_forecast(f.model, f.dm, f.recipe.model.mc_samples, f.cfg.seed)
        if f.writer:
            write_forecasts(f.run / "forecasts.csv", f.dm, ev)
            write_examples(f.run / "forecast_examples.json", f.dm, ev)
        return {**ev.metrics, "normalize": f.model.config.get("normalize", "level")}

    def summary(self, r: dict) -> list[str]:
        h = len(r["coverage_by_horizon"])
        lines = [
            f"test ({r['n_windows']} windows x {h} steps)      MAE      RMSE   sMAPE%    MASE   val MASE"
            "     wQL     CRPS  cov80  direction"
        ]
        val = r.get("validation", {})
        for name, m in r["test"].items():
            d = r["directional_accuracy"].get(name)
            da = f"{d['accuracy']:.3f}" if d and d["n"] else "   -"
            v = val.get(name, {}).get("mase", float("nan"))
            prob = (
                f"{m['wql']:8.4f} {m['crps']:8.4g} {m['coverage']:6.1%}"
                if "wql" in m
                else f"{'-':>8} {'-':>8} {'-':>6}"
            )
            lines.append(
                f"  {name[:28]:>28s} {m['mae']:9.4g} {m['rmse']:9.4g} {m['smape']:8.2f} {m['mase']:7.3f} "
                f"{v:9.3f} {prob}  {da}"
            )
        cov = r["interval_coverage"]["0.8"]
        mc = r.get("interval_coverage_mc", {}).get("0.8")
        lines.append(
            f"80% interval ({r.get('interval_method', 'MC dropout')}) covers {cov:.1%} of test points"
            + (f" (MC dropout's: {mc:.1%})" if mc is not None else "")
            + f"; {r['params']} params, {r['train_seconds']:.0f} s training"
        )
        if "interval_coverage_quantile_head" in r:
            lines.append(
                f"quantile head: its own 80% interval covers {r['interval_coverage_quantile_head']['0.8']:.1%}, "
                f"conformalised (CQR) {r['interval_coverage_cqr']['0.8']:.1%}; the model's wQL/CRPS are the head's"
            )
        if r.get("fallback_line"):
            lines.append(r["fallback_line"])
        elif "best_on_validation" in r:
            lines.append("the model beats every baseline on validation")
        if r.get("validation_note"):
            lines.append(r["validation_note"])
        lines.append(
            "forecasts.csv holds every test forecast; forecast.png and error_by_horizon.png draw them"
        )
        return lines

    def signature(self, model: nn.Module) -> Signature:
        c = model.config
        return Signature(
            inputs=(
                TensorSpec("x", ("batch", "lookback", int(c["n_features"]))),
                TensorSpec("xf", ("batch", int(c["horizon"]), int(c.get("n_future", 0)))),
            ),
            outputs=(TensorSpec("forecast", ("batch", int(c["horizon"]))),),
        )

    def graphs(self, model: nn.Module) -> list[Graph]:
        return forecast_graphs(model)


TASK = ForecastTask
