"""Panel evaluation: every series' test window forecast by the global model (its likelihood's quantiles) and by
seasonal naive and last value (split-conformal quantiles from their validation residuals in units of each
window's scale, the same calibration the univariate forecaster uses), scored by MASE, mean wQL, CRPS and 80%
coverage over the whole panel and per series. Writes forecasts.csv, panel_series.csv, panel_examples.json.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from rnnlab.data.panel_windows import PanelDataModule, PanelWindows
from rnnlab.metrics.forecast import (
    CRPS_GRID,
    QUANTILES,
    conformal_quantiles,
    crps_from_quantiles,
    interval_coverage,
    seasonal_scale,
    weighted_quantile_loss,
)
from rnnlab.models.global_forecaster import GlobalForecaster
from rnnlab.train.rundir import write_json

LO, HI = 0.1, 0.9  # the 80% interval's ends
TAUS = tuple(sorted({*QUANTILES, *CRPS_GRID}))
CONFORMAL = "model, conformal intervals"


@torch.no_grad()
def model_quantiles(model: GlobalForecaster, w: PanelWindows, batch: int = 1024) -> dict[float, np.ndarray]:
    """{tau: (N, H)} the model's quantiles in data units, for tau in QUANTILES and CRPS_GRID."""
    model.eval()
    parts: list[dict[float, np.ndarray]] = []
    for i in range(0, len(w), batch):
        s = slice(i, i + batch)
        out = model(
            torch.from_numpy(w.x[s]),
            torch.from_numpy(w.xf[s]),
            torch.from_numpy(np.log(w.scale[s]).astype(np.float32)),
            torch.from_numpy(w.sid[s]),
            torch.from_numpy(w.static[s]),
        )
        parts.append(model.quantiles(*out, TAUS))
    return {t: np.concatenate([p[t] for p in parts]) * w.scale[:, None] for t in TAUS}


def seasonal_naive(dm: PanelDataModule, w: PanelWindows) -> np.ndarray:
    """(N, H) the value one season (or more) before each horizon step (baselines.seasonal_naive_at's index;
    season 1 is the last value); the last value where the series has no earlier season."""
    k = np.arange(dm.horizon)[None, :]
    season = max(dm.panel.season, 1)
    back = w.origin[:, None] + k - season * (1 + k // season)
    start = np.array([dm.panel.span(int(i))[0] for i in w.sid], dtype=np.int64)
    back = np.where(back >= start[:, None], back, w.origin[:, None] - 1)
    return dm.panel.values[w.sid[:, None], back]


def last_value(dm: PanelDataModule, w: PanelWindows) -> np.ndarray:
    """(N, H) the lookback's last value at every step."""
    return np.repeat(dm.panel.values[w.sid, w.origin - 1][:, None], dm.horizon, 1)


def score(y: np.ndarray, q: dict[float, np.ndarray], mase_scale: np.ndarray) -> dict:
    """MAE, RMSE, MASE (each window's error over its series' in-sample seasonal-naive error), mean wQL,
    CRPS (data units) and 80% coverage of quantile forecasts q against y (N, H)."""
    point = q[0.5]
    err = point - y
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mase": float(np.mean(np.abs(err) / mase_scale[:, None])),
        "wql": weighted_quantile_loss(y, {t: q[t] for t in QUANTILES}),
        "crps": crps_from_quantiles(y, {t: q[t] for t in CRPS_GRID}),
        "coverage": interval_coverage(y, q[LO], q[HI]),
        "mase_by_horizon": [round(float(v), 4) for v in np.mean(np.abs(err) / mase_scale[:, None], 0)],
    }


def evaluate_panel(model: GlobalForecaster, dm: PanelDataModule) -> tuple[dict, dict]:
    """(results, arrays): the panel's test scores per forecaster and the arrays the files are written from."""
    test, val = dm.parts["test"], dm.parts["val"]
    y, yv = test.y * test.scale[:, None], val.y * val.scale[:, None]
    season = dm.panel.season
    mase_scale = np.array([seasonal_scale(dm.train_values(int(i)), season) for i in test.sid])
    snaive_name = f"seasonal naive ({season})" if season > 1 else "last value"
    quantiles = {"model": model_quantiles(model, test)}
    points = {"model": quantiles["model"][0.5]}
    # the model's median with split-conformal quantiles, calibrated like the baselines (a check on its likelihood)
    val_res = np.abs(model_quantiles(model, val)[0.5] - yv) / val.scale[:, None]
    quantiles[CONFORMAL] = conformal_quantiles(points["model"], val_res, TAUS, test.scale)
    point_only = {}
    for name, fn in ((snaive_name, seasonal_naive), ("last value", last_value)):  # season 1: one of them
        if name in quantiles:
            continue
        pt, pv = fn(dm, test), fn(dm, val)
        res = np.abs(pv - yv) / val.scale[:, None]
        quantiles[name] = conformal_quantiles(pt, res, TAUS, test.scale)
        points[name] = pt
        point_only[name] = weighted_quantile_loss(y, {t: pt for t in QUANTILES})
    table = {name: score(y, q, mase_scale) for name, q in quantiles.items()}
    for name, w in point_only.items():
        table[name]["wql_point"] = w
    best = min(table, key=lambda k: table[k]["wql"])
    gain = 1 - table["model"]["wql"] / table[snaive_name]["wql"]
    results = {
        "test": table,
        "seasonal_name": snaive_name,
        "wql_gain_vs_seasonal_naive": gain,
        "best_wql": best,
        "n_series": len(dm.panel.ids),
        "n_windows": len(test),
        "horizon": dm.horizon,
        "season": season,
        "interval_method": {
            "model": f"{model.config['likelihood']} likelihood quantiles",
            CONFORMAL: "the model's median, split conformal like the baselines",
            "baselines": f"split conformal on {len(val)} validation windows per horizon step, in window-scale units",
        },
    }
    arrays = {
        "y": y,
        "quantiles": quantiles,
        "points": points,
        "mase_scale": mase_scale,
        "snaive": snaive_name,
    }
    return results, arrays


def write_panel_files(run: Path, dm: PanelDataModule, arrays: dict) -> None:
    """forecasts.csv (every test step: actual, model q10/q50/q90, each baseline), panel_series.csv (per-series
    MASE and wQL of the model and seasonal naive) and panel_examples.json (what inspect draws)."""
    test, time, ids = dm.parts["test"], dm.panel.time, dm.panel.ids
    y, q, pts, snaive = arrays["y"], arrays["quantiles"]["model"], arrays["points"], arrays["snaive"]
    base = [k for k in pts if k != "model"]
    with open(run / "forecasts.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["id", "time", "step", "actual", "model_q10", "model_median", "model_q90", *base])
        for n, (i, o) in enumerate(zip(test.sid, test.origin, strict=True)):
            for k in range(dm.horizon):
                wr.writerow(
                    [
                        ids[i],
                        time[o + k].date(),
                        k + 1,
                        _r(y[n, k]),
                        _r(q[LO][n, k]),
                        _r(q[0.5][n, k]),
                        _r(q[HI][n, k]),
                        *(_r(pts[b][n, k]) for b in base),
                    ]
                )
    with open(run / "panel_series.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["id", *dm.panel.static, "mase_model", f"mase_{snaive}", "wql_model", f"wql_{snaive}"])
        sq = arrays["quantiles"][snaive]
        for n, i in enumerate(test.sid):
            row_q = {t: v[n : n + 1] for t, v in q.items() if t in QUANTILES}
            row_s = {t: v[n : n + 1] for t, v in sq.items() if t in QUANTILES}
            scale = arrays["mase_scale"][n]
            wr.writerow(
                [
                    ids[i],
                    *(dm.panel.static[c][i] for c in dm.panel.static),
                    _r(np.mean(np.abs(q[0.5][n] - y[n])) / scale),
                    _r(np.mean(np.abs(pts[snaive][n] - y[n])) / scale),
                    _r(weighted_quantile_loss(y[n : n + 1], row_q)),
                    _r(weighted_quantile_loss(y[n : n + 1], row_s)),
                ]
            )
    history = max(dm.lookback, 3 * max(dm.panel.season, 1))
    examples = []
    for n, (i, o) in enumerate(zip(test.sid, test.origin, strict=True)):
        a, _ = dm.panel.span(int(i))
        h0 = max(a, int(o) - history)
        examples.append(
            {
                "id": ids[i],
                "history_time": [str(t.date()) for t in time[h0:o]],
                "history": [_r(v) for v in dm.panel.values[i, h0:o]],
                "time": [str(t.date()) for t in time[o : o + dm.horizon]],
                "actual": [_r(v) for v in y[n]],
                "q10": [_r(v) for v in q[LO][n]],
                "median": [_r(v) for v in q[0.5][n]],
                "q90": [_r(v) for v in q[HI][n]],
                "baseline": [_r(v) for v in pts[snaive][n]],
                "baseline_name": snaive,
            }
        )
    write_json(run / "panel_examples.json", examples)


def _r(v: float) -> float:
    return round(float(v), 6)
