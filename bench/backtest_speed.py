"""Speed of `rnnlab backtest` against a loop of single forecasts at the same origins, with their difference.

Usage: python bench/backtest_speed.py RUN_DIR [--every 100] [--rounds 3] [--threads 2]
Times the batched backtest over every origin of the run's test span, then `forecast_window` (the run and its
series opened once) and `forecast_run` (what `rnnlab forecast --origin` does per call) on every `every`-th
origin, interleaved round by round so machine noise hits both alike; prints ms per origin (median round),
the speed ratios and the largest differences of point forecasts and interval half-widths.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from rnnlab.config import recipe_from_dict
from rnnlab.data.windows import fill_missing
from rnnlab.runtime import keep_freed_memory
from rnnlab.tasks.forecast.backtest import backtest_run, open_forecast_run, origins_of
from rnnlab.tasks.forecast.predict import _series_for_run, forecast_run, forecast_window


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    keep_freed_memory()  # as the CLI does
    run = open_forecast_run(a.run)
    data, recipe = run.data, recipe_from_dict(run.recipe)
    s = _series_for_run(data, recipe, None)
    values = fill_missing(s.values, s.names, recipe.data.fill)
    origins = origins_of(s.time, data, 1)
    lb, h = int(data["lookback"]), int(data["horizon"])
    fut = [s.names.index(c) for c in data["future"]]
    pick = np.arange(0, len(origins), a.every)
    t_batch, t_window, t_run = [], [], []
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        bt = backtest_run(a.run)
        t_batch.append((time.perf_counter() - t0) / len(origins))
        t0 = time.perf_counter()
        single = [
            forecast_window(run, values[o - lb : o], values[o : o + h][:, fut], int(o)) for o in origins[pick]
        ]
        t_window.append((time.perf_counter() - t0) / len(pick))
        t0 = time.perf_counter()
        fcs = [forecast_run(a.run, origin=str(s.time[o])) for o in origins[pick[:5]]]
        t_run.append((time.perf_counter() - t0) / len(fcs))
    tb, tw, tr = (float(np.median(t)) for t in (t_batch, t_window, t_run))
    dp = max(np.abs(pt - bt.point[i]).max() for (pt, _), i in zip(single, pick, strict=True))
    dh = max(np.abs(hw - (bt.upper[i] - bt.point[i])).max() for (_, hw), i in zip(single, pick, strict=True))
    dr = max(np.abs(f.forecast - bt.point[i]).max() for f, i in zip(fcs, pick, strict=False))
    res = json.loads((Path(a.run) / "results.json").read_text())
    interval = (
        "split-conformal interval"
        if "interval_half_width" in res
        else f"{recipe.model.mc_samples} MC-dropout passes"
    )
    print(f"{len(origins)} origins x {h} steps, lookback {lb}, {interval}, {a.threads} threads")
    print(
        f"batched backtest  {tb * 1e3:8.2f} ms/origin  ({tb * len(origins):.1f} s for all, files not written)"
    )
    print(f"forecast_window   {tw * 1e3:8.2f} ms/origin  ({tw / tb:.0f}x slower; {len(pick)} origins)")
    print(
        f"forecast_run      {tr * 1e3:8.2f} ms/origin  ({tr / tb:.0f}x slower; {min(5, len(pick))} origins)"
    )
    print(f"max |point diff| {max(dp, dr):.1e}, max |interval half-width diff| {dh:.1e}")


if __name__ == "__main__":
    main()
