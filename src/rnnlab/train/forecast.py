"""Forecast training and evaluation: MSE on scaled windows, then test errors against baselines on the same
windows, Monte-Carlo-dropout prediction intervals with measured coverage, forecasts.csv and plots.

Intervals follow Zhu & Laptev (2017): the spread of `mc_samples` forward passes with dropout on (what the
model is unsure of) plus the per-horizon-step noise variance of the point forecast's validation residuals
(what no model can know), as a Gaussian interval around the point forecast.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from lightning import LightningModule
from scipy.stats import norm
from torch import Tensor, nn

from rnnlab.config import Recipe, TrainConfig
from rnnlab.data.forecastdata import ForecastDataModule
from rnnlab.data.windows import Windows
from rnnlab.models.forecast_baselines import LinearAR, last_value, seasonal_naive
from rnnlab.train.callbacks import data_wait_share
from rnnlab.train.fit import (
    RunResult,
    count_params,
    make_trainer,
    prepare_resume,
    start_run,
    train_and_restore,
)
from rnnlab.train.forecast_metrics import (
    directional_accuracy,
    forecast_errors,
    interval_coverage,
    seasonal_scale,
)
from rnnlab.train.rundir import save_model, write_json
from rnnlab.train.tasks import NonFiniteLossError, make_optimizer

log = logging.getLogger("rnnlab.train")

FORECAST_COLUMNS = ("epoch", "train_loss", "val_loss", "val_mae", "lr", "seconds")
INTERVAL = 0.8


class ForecastTask(LightningModule):
    """Mean squared error of all horizon steps (scaled units); logs val MAE too."""

    def __init__(self, model: nn.Module, train: TrainConfig, steps_per_epoch: int) -> None:
        super().__init__()
        self.model = model
        self.cfg = train
        self.steps_per_epoch = max(1, int(steps_per_epoch))

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        pred, loss = self.model(batch["x"], batch["xf"], batch["y"])
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"{split} loss is {loss.item()} at global step {self.global_step} (windows "
                f"{batch['index'][:8].tolist()}...); lower train.lr or check the series for extreme values"
            )
        n = batch["y"].shape[0]
        self.log(f"{split}_loss", loss, on_step=False, on_epoch=True, batch_size=n, prog_bar=True)
        if split != "train":
            mae = (pred - batch["y"]).abs().mean()
            self.log(f"{split}_mae", mae, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self._step(batch, "train")
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self):
        budget = self.cfg.max_time * 60 if self.cfg.max_time else None
        return make_optimizer(self.model, self.cfg, self.cfg.max_epochs * self.steps_per_epoch, budget)


@torch.no_grad()
def predict_windows(model: nn.Module, w: Windows, dropout: bool = False, batch: int = 512) -> np.ndarray:
    """Forecasts (N, horizon) in scaled units; dropout=True keeps dropout on (one Monte-Carlo sample)."""
    model.train(dropout)
    out = [
        model(torch.from_numpy(w.x[i : i + batch]), torch.from_numpy(w.xf[i : i + batch]))
        for i in range(0, len(w), batch)
    ]
    model.eval()
    return torch.cat(out).numpy()


def has_dropout(model: nn.Module) -> bool:
    """Whether Monte-Carlo dropout can vary the forecast at all."""
    from rnnlab.nn.recurrent import Recurrent

    rnn_drop = any(m.dropout > 0 and m.num_layers > 1 for m in model.modules() if isinstance(m, Recurrent))
    return rnn_drop or any(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())


def mc_dropout_var(model: nn.Module, dm, w: Windows, samples: int, seed: int = 0) -> np.ndarray:
    """Per-point variance (data units) of `samples` forecasts with dropout on; zeros without dropout."""
    if samples < 2 or not has_dropout(model):
        return np.zeros((len(w), w.y.shape[1]))
    torch.manual_seed(seed)
    draws = np.stack([dm.unscale(predict_windows(model, w, dropout=True)) for _ in range(samples)])
    return draws.var(0)


def interval_half_width(mc_var: np.ndarray, noise_var: np.ndarray) -> np.ndarray:
    """Half-width of the central INTERVAL Gaussian interval: model spread plus per-step noise variance."""
    return norm.ppf(0.5 + INTERVAL / 2) * np.sqrt(mc_var + noise_var[None, :])


@dataclass
class ForecastEval:
    """Test forecasts in data units: y, point, lower, upper (N, horizon), baselines {name: (N, horizon)}."""

    y: np.ndarray
    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    history: np.ndarray
    baselines: dict[str, np.ndarray]
    metrics: dict


def baseline_forecasts(dm: ForecastDataModule, part: str = "test") -> dict[str, np.ndarray]:
    """Last value, seasonal naive and linear autoregressions fit on the training windows, in data units."""
    tr, w, h = dm.parts["train"], dm.parts[part], dm.horizon
    hist = dm.unscale(w.x[:, :, 0])
    out = {"last_value": last_value(hist, h)}
    if dm.target_is_change:  # a return series: the random walk in prices is a zero change
        out["zero_change"] = np.zeros((len(w), h))
    if dm.naive_season <= dm.lookback:
        out["seasonal_naive"] = seasonal_naive(hist, h, dm.naive_season)
    y_tr, hist_tr = dm.unscale(tr.y), dm.unscale(tr.x[:, :, 0])
    out["linear_ar"] = LinearAR().fit(hist_tr, y_tr).predict(hist)
    if w.xf.shape[2]:  # the same known-future covariates the model gets: a fair linear rival
        arx = lambda v: np.hstack([dm.unscale(v.x[:, :, 0]), v.xf.reshape(len(v), -1)])  # noqa: E731
        out["linear_arx"] = LinearAR().fit(arx(tr), y_tr).predict(arx(w))
    return out


def evaluate_forecast(
    model: nn.Module, dm: ForecastDataModule, mc_samples: int = 100, seed: int = 0
) -> ForecastEval:
    """Point forecasts, intervals and errors on the test windows, with every baseline on the same windows."""
    val, test = dm.parts["val"], dm.parts["test"]
    point = dm.unscale(predict_windows(model, test))
    y = dm.unscale(test.y)
    noise_var = np.mean((dm.unscale(predict_windows(model, val)) - dm.unscale(val.y)) ** 2, axis=0)
    mc_var = mc_dropout_var(model, dm, test, mc_samples, seed)
    half = interval_half_width(mc_var, noise_var)
    lower, upper = point - half, point + half

    scale = seasonal_scale(dm.train_rows(), dm.series.season)
    hist = dm.unscale(test.x[:, :, 0])
    baselines = baseline_forecasts(dm)
    last = np.zeros(len(y)) if dm.target_is_change else hist[:, -1]
    test_metrics = {"model": forecast_errors(y, point, scale)}
    direction = {"model": directional_accuracy(last, y, point)}
    for name, p in baselines.items():
        test_metrics[name] = forecast_errors(y, p, scale)
        if name not in ("last_value", "zero_change"):  # a random walk never moves: no direction to score
            direction[name] = directional_accuracy(last, y, p)
    metrics = {
        "test": test_metrics,
        "interval_coverage": {str(INTERVAL): interval_coverage(y, lower, upper)},
        "interval_width": {str(INTERVAL): float(np.mean(upper - lower))},
        "interval_noise_sd": [round(float(v), 6) for v in np.sqrt(noise_var)],
        "interval_method": f"MC dropout ({mc_samples if mc_var.any() else 0} passes) + validation residual noise",
        "coverage_by_horizon": [
            round(interval_coverage(y[:, k], lower[:, k], upper[:, k]), 4) for k in range(y.shape[1])
        ],
        "directional_accuracy": direction,
        "mase_scale": scale,
        "n_windows": int(len(y)),
    }
    return ForecastEval(y, point, lower, upper, hist, baselines, metrics)


def write_forecasts(path: Path, dm: ForecastDataModule, ev: ForecastEval) -> None:
    """forecasts.csv: one row per (test window, horizon step) with truth, forecast, interval and baselines."""
    time = dm.series.time
    origins = dm.parts["test"].origin
    names = list(ev.baselines)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["origin", "step", "time", "actual", "forecast", "lower", "upper", *names])
        for i, o in enumerate(origins):
            for k in range(dm.horizon):
                w.writerow(
                    [
                        str(time[o]),
                        k + 1,
                        str(time[o + k]),
                        *(f"{v:.6g}" for v in (ev.y[i, k], ev.point[i, k], ev.lower[i, k], ev.upper[i, k])),
                        *(f"{ev.baselines[n][i, k]:.6g}" for n in names),
                    ]
                )


def fit_forecast(
    model: nn.Module,
    dm: ForecastDataModule,
    recipe: Recipe | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    checkpoint_every: float = 60.0,
    **train_overrides,
) -> RunResult:
    """Train on the windows, restore the best validation checkpoint, evaluate on test against the baselines
    and write the run directory (results.json, forecasts.csv, forecast.png, error_by_horizon.png).

    `resume`: a killed run's directory, continued exactly from checkpoints/last.ckpt with its own settings
    (as fit(resume=...)); last.ckpt is also rewritten every `checkpoint_every` seconds mid-epoch (0: only at
    epoch ends). See docs/RELIABILITY.md."""
    recipe = recipe or Recipe(name=dm.name, task="forecast")
    out, ckpt_path, train_overrides = prepare_resume(recipe, out, resume, train_overrides)
    run, cfg = start_run(recipe, dm, out, train_overrides)
    n_batches = len(dm.train_dataloader())
    steps = min(cfg.overfit_batches, n_batches) if cfg.overfit_batches else n_batches
    task = ForecastTask(model, cfg, steps)
    trainer, best = make_trainer(
        cfg,
        run,
        monitor="val_loss",
        columns=FORECAST_COLUMNS,
        early_stopping=bool(cfg.patience and not cfg.overfit_batches),
        checkpoint_every=checkpoint_every,
        overfit_batches=cfg.overfit_batches,
    )
    train_seconds = train_and_restore(trainer, task, dm, best, cfg, ckpt_path, run)
    model.eval()
    save_model(run, model)

    ev = evaluate_forecast(model, dm, recipe.model.mc_samples, cfg.seed)
    write_forecasts(run / "forecasts.csv", dm, ev)
    _plots(run, dm, ev)
    results = {
        **ev.metrics,
        "best_val": {"val_loss": float(best.best_model_score) if best.best_model_score is not None else None},
        "params": count_params(model),
        "epochs": int(trainer.current_epoch),
        "train_seconds": round(train_seconds, 2),
        "data_wait_share": data_wait_share(trainer),
    }
    write_json(run / "results.json", results)
    return RunResult(run, results)


def _plots(run: Path, dm: ForecastDataModule, ev: ForecastEval) -> None:
    from rnnlab.inspect.forecast_plots import error_by_horizon, forecast_examples

    fig = forecast_examples(dm.series.time, dm.parts["test"].origin, ev, dm.target, dm.naive_season)
    fig.savefig(run / "forecast.png", dpi=110)
    by_h = {k: v["by_horizon"]["mae"] for k, v in ev.metrics["test"].items()}
    fig = error_by_horizon(by_h, dm.target)
    fig.savefig(run / "error_by_horizon.png", dpi=110)
