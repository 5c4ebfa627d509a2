"""`rnnlab predict PANEL_RUN --data panel.csv`: the next `horizon` steps of every series in the CSV, from its
last `lookback` values, with the run's model: median and quantiles per step (a forecast, not a score)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rnnlab.data.panel import BUILTIN, Panel, read_panel_csv
from rnnlab.data.panel_windows import calendar_features, window_scale
from rnnlab.data.series_csv import infer_offset
from rnnlab.errors import DataError
from rnnlab.train.rundir import RunFiles

LEVELS = (0.1, 0.5, 0.9)


def panel_columns(recipe: dict) -> tuple[str, str, str, list[str]]:
    """The run's id, time, target and static column names (a built-in panel's own, or the recipe's)."""
    d = recipe.get("data", {})
    if d.get("name") in BUILTIN:
        _, i, t, y, s = BUILTIN[d["name"]]
        return i, t, y, list(s if d.get("static") is None else d["static"])
    return d.get("id_col") or "", d.get("time_col") or "", d.get("target") or "", list(d.get("static") or [])


def _future_phase(panel: Panel, horizon: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The calendar extended by `horizon` steps, and each position's place in the season."""
    step = infer_offset(panel.time)
    time = panel.time.append(pd.date_range(panel.time[-1] + step, periods=horizon, freq=step))
    ext = Panel(panel.ids, pd.DatetimeIndex(time), panel.values, panel.static, panel.target, panel.season)
    return ext.time, ext.phase()


@torch.no_grad()
def predict_panel(files: RunFiles, data: str | Path) -> tuple[list[str], list[list]]:
    """Rows (id, time, step, q10, median, q90) for every series of the CSV at `data`."""
    id_col, time_col, target, static = panel_columns(files.recipe)
    info, model = files.data, files.model.eval()
    c = model.config
    panel = read_panel_csv(data, id_col, time_col, target, static, int(info["season"]))
    lookback, horizon = int(info["lookback"]), int(info["horizon"])
    known = {sid: k for k, sid in enumerate(info["ids"])}
    unknown = [sid for sid in panel.ids if sid not in known]
    if unknown:
        raise DataError(
            f"id {unknown[0]!r} was not in the run's training panel (the model has no embedding for it); "
            f"forecast only the run's {len(known)} ids or retrain with it"
        )
    codes = []
    for col, cats in info["static"].items():
        bad = [v for v in panel.static[col] if v not in cats]
        if bad:
            raise DataError(f"static column {col!r} has {bad[0]!r}, which the run never saw; it knows {cats}")
        codes.append([cats.index(v) for v in panel.static[col]])
    time, phase = _future_phase(panel, horizon)
    cal = calendar_features(phase, panel.season)
    if cal.shape[1] != c["n_calendar"]:
        raise DataError(
            f"the CSV's step gives {cal.shape[1]} calendar features, the run was trained with {c['n_calendar']}; "
            "use data on the run's time step"
        )
    ctx, ends = [], []
    for i, sid in enumerate(panel.ids):
        _, b = panel.span(i)
        if b < lookback or np.isnan(panel.values[i, b - lookback : b]).any():
            raise DataError(
                f"id {sid!r} has fewer than the run's lookback of {lookback} rows; add its history"
            )
        ctx.append(panel.values[i, b - lookback : b])
        ends.append(b)
    ctx_a, ends_a = np.array(ctx), np.array(ends)
    scale = window_scale(ctx_a)
    ci = ends_a[:, None] + np.arange(-lookback, 0)[None]
    fi = ends_a[:, None] + np.arange(horizon)[None]
    x = np.concatenate([(ctx_a / scale[:, None])[..., None], cal[ci]], -1).astype(np.float32)
    out = model(
        torch.from_numpy(x),
        torch.from_numpy(cal[fi].astype(np.float32)),
        torch.from_numpy(np.log(scale).astype(np.float32)),
        torch.tensor([known[s] for s in panel.ids]),
        torch.tensor(np.array(codes, dtype=np.int64).T.reshape(len(panel.ids), len(codes))),
    )
    q = {t: v * scale[:, None] for t, v in model.quantiles(*out, LEVELS).items()}
    rows = [
        [sid, str(time[ends_a[n] + k].date()), k + 1, *(round(float(q[t][n, k]), 6) for t in LEVELS)]
        for n, sid in enumerate(panel.ids)
        for k in range(horizon)
    ]
    return ["id", "time", "step", "q10", "median", "q90"], rows
