"""Serving a forecasting run: POST /predict with the recent history (and the known-future covariates the model
needs) -> the forecast and its 80% interval, computed as `rnnlab forecast` does (tasks/forecast/predict.py)
without writing a CSV. Calendar columns are computed from the posted timestamps, never sent."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
from fastapi import APIRouter
from pydantic import BaseModel, Field

from rnnlab.data.series_csv import infer_offset
from rnnlab.data.windows import CALENDAR, calendar_values
from rnnlab.serve.errors import ApiError
from rnnlab.serve.inputs import bounded, matrix
from rnnlab.serve.kind import Served, ServeOptions
from rnnlab.tasks.contract import Task
from rnnlab.tasks.forecast.evaluate import INTERVAL
from rnnlab.tasks.forecast.predict import forecast_window
from rnnlab.train.rundir import RunFiles


class ForecastRequest(BaseModel):
    """The last `lookback` (or more) rows of the series' measured columns, oldest first (GET /info lists
    them), their timestamps when the model uses calendar features, and the rows ahead of the measured
    known-future columns when it has any."""

    history: list[list[float]] = Field(
        ..., description="rows of the history columns (GET /info), oldest first"
    )
    time: list[str] | None = Field(
        None, description="timestamps of the history rows (needed for calendar features)"
    )
    future: list[list[float]] | None = Field(None, description="horizon rows of the measured future columns")
    horizon: int | None = Field(None, description="steps ahead (default and maximum: the trained horizon)")


class ForecastServed(Served):
    """A forecasting run: point forecast and interval from a posted history."""

    def __init__(self, files: RunFiles, task: Task, options: ServeOptions) -> None:
        super().__init__(files, task, options)
        d = files.data
        self.columns: list[str] = list(d["columns"])
        self.future: list[str] = list(d["future"])
        self.observed = [c for c in self.columns if c not in CALENDAR]
        self.calendar = [c for c in self.columns if c in CALENDAR]
        self.measured_future = [c for c in self.future if c not in CALENDAR]
        self.lookback, self.horizon, self.target = int(d["lookback"]), int(d["horizon"]), d["target"]
        self.lock = threading.Lock()  # Monte-Carlo dropout switches the model to training mode for a moment

    def _times(
        self, body: ForecastRequest, rows: int
    ) -> tuple[pd.DatetimeIndex | None, pd.DatetimeIndex | None]:
        if body.time is None:
            if self.calendar:
                raise ApiError(
                    422,
                    f"the model uses calendar features {self.calendar}; send 'time', one "
                    "timestamp per history row",
                )
            return None, None
        if len(body.time) != rows:
            raise ApiError(
                422, f"'time' has {len(body.time)} timestamps for {rows} history rows; send one per row"
            )
        try:
            time = pd.DatetimeIndex(pd.to_datetime(body.time))
            ahead = pd.DatetimeIndex([time[-1] + infer_offset(time) * (k + 1) for k in range(self.horizon)])
        except Exception as e:  # any unparsable timestamp or step, from pandas' many error types
            raise ApiError(
                422,
                f"'time' is not a list of timestamps ({str(e).splitlines()[0]}); send ISO "
                "timestamps like 2024-01-01 13:00",
            ) from None
        if len(time) > 1 and not time.is_monotonic_increasing:
            raise ApiError(422, "'time' is not increasing; send the history oldest first")
        return time, ahead

    def predict(self, body: ForecastRequest) -> dict:
        h = self.horizon if body.horizon is None else bounded(body.horizon, 1, self.horizon, "horizon")
        hist = matrix(body.history, len(self.observed), "history", self.observed)
        if len(hist) < self.lookback:
            raise ApiError(422, f"'history' has {len(hist)} rows; the model needs the last {self.lookback}")
        time, ahead = self._times(body, len(hist))
        history = np.zeros((self.lookback, len(self.columns)))
        for j, c in enumerate(self.columns):
            if c in self.calendar:
                history[:, j] = calendar_values(time[-self.lookback :], c)
            else:
                history[:, j] = hist[-self.lookback :, self.observed.index(c)]
        future = np.zeros((self.horizon, len(self.future)))
        if self.measured_future:
            if body.future is None:
                raise ApiError(
                    422,
                    f"the model needs {self.measured_future} for the {self.horizon} steps ahead; "
                    f"send 'future' with {self.horizon} rows of them",
                )
            fut = matrix(body.future, len(self.measured_future), "future", self.measured_future)
            if len(fut) != self.horizon:
                raise ApiError(
                    422, f"'future' has {len(fut)} rows; send {self.horizon} (the trained horizon)"
                )
        for j, c in enumerate(self.future):
            future[:, j] = (
                calendar_values(ahead, c) if c in CALENDAR else fut[:, self.measured_future.index(c)]
            )
        with self.lock:
            point, half = forecast_window(self.files, history, future)
        return {
            "target": self.target,
            "horizon": h,
            "time": None if ahead is None else [str(t) for t in ahead[:h]],
            "forecast": _plain(point[:h]),
            "lower": _plain(
                (point - half)[:h]
            ),  # null when the run has no residuals (results.json) for a width
            "upper": _plain((point + half)[:h]),
            "interval": INTERVAL,
        }

    def routers(self) -> list[APIRouter]:
        router = APIRouter(tags=["forecast"])
        router.post("/predict", summary="forecast the next steps from a posted history")(self.predict)
        return [router]

    def info(self) -> dict:
        return {
            "target": self.target,
            "history_columns": self.observed,
            "calendar_columns": self.calendar,
            "future_columns": self.measured_future,
            "lookback": self.lookback,
            "horizon": self.horizon,
        }


def _plain(a: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in a]


def served(files: RunFiles, task: Task, options: ServeOptions) -> ForecastServed:
    return ForecastServed(files, task, options)
