"""A panel cut into lookback/horizon windows for one global model: every series, every origin, one data set.

Each series splits at its own end (series may end at different times): the test window is its last
`horizon` steps, the validation windows the `val_origins` origins just before (their targets end where the
test starts), the training windows every earlier origin whose targets end before the first validation
target. Values are divided by the window's scale (mean |value| of its lookback, DeepAR's mean scaling), so
one network serves series of any size; the scale goes into the model as log(scale) and multiplies back.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.datamodule import epoch_loader
from rnnlab.data.panel import Panel
from rnnlab.errors import DataError

ONE_HOT_MAX = 13  # seasons up to this many phases are one-hot; longer ones (24, 48, 52) are a sin/cos pair


def calendar_features(phase: np.ndarray, season: int) -> np.ndarray:
    """(T, P) features of each step's place in the season: one-hot for short seasons, sin/cos for long."""
    if season <= 1:
        return np.zeros((len(phase), 0), dtype=np.float32)
    if season <= ONE_HOT_MAX:
        return np.eye(season, dtype=np.float32)[phase]
    angle = 2 * np.pi * phase / season
    return np.stack([np.sin(angle), np.cos(angle)], 1).astype(np.float32)


@dataclass
class PanelWindows:
    """Windows of a panel: x (N, L, 1 + P) scaled target + calendar, xf (N, H, P), y (N, H) scaled,
    scale (N,), sid (N,) series index, static (N, S) category indices, origin (N,) calendar position."""

    x: np.ndarray
    xf: np.ndarray
    y: np.ndarray
    scale: np.ndarray
    sid: np.ndarray
    static: np.ndarray
    origin: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def window_scale(context: np.ndarray) -> np.ndarray:
    """Mean |value| over each lookback (N, L) -> (N,); 1 where a lookback is all zeros."""
    s = np.abs(context).mean(1)
    return np.where(s > 0, s, 1.0)


def cut(
    panel: Panel,
    cal: np.ndarray,
    codes: np.ndarray,
    starts: list[tuple[int, int]],
    lookback: int,
    horizon: int,
) -> PanelWindows:
    """Windows at the (series, origin) pairs in `starts`."""
    if not starts:
        z = np.zeros
        p = cal.shape[1]
        return PanelWindows(
            z((0, lookback, 1 + p), np.float32),
            z((0, horizon, p), np.float32),
            z((0, horizon), np.float32),
            z(0),
            z(0, np.int64),
            z((0, codes.shape[1]), np.int64),
            z(0, np.int64),
        )
    sid = np.array([s for s, _ in starts], dtype=np.int64)
    org = np.array([o for _, o in starts], dtype=np.int64)
    ctx_idx = org[:, None] + np.arange(-lookback, 0)[None]
    tgt_idx = org[:, None] + np.arange(horizon)[None]
    ctx = panel.values[sid[:, None], ctx_idx]
    tgt = panel.values[sid[:, None], tgt_idx]
    scale = window_scale(ctx)
    x = np.concatenate([(ctx / scale[:, None])[..., None], cal[ctx_idx]], -1).astype(np.float32)
    return PanelWindows(
        x,
        cal[tgt_idx].astype(np.float32),
        (tgt / scale[:, None]).astype(np.float32),
        scale,
        sid,
        codes[sid],
        org,
    )


def split_origins(
    panel: Panel, lookback: int, horizon: int, val_origins: int
) -> dict[str, list[tuple[int, int]]]:
    """(series, origin) pairs per part; a series too short for lookback + a training window + validation +
    test is a DataError naming it and the rows it needs."""
    need = lookback + 3 * horizon + val_origins - 1
    parts: dict[str, list[tuple[int, int]]] = {"train": [], "val": [], "test": []}
    for i, sid in enumerate(panel.ids):
        a, b = panel.span(i)
        if b - a < need:
            raise DataError(
                f"id {sid!r} has {b - a} rows; with lookback {lookback}, horizon {horizon} and {val_origins} "
                f"validation origin(s) every series needs at least {need} (lookback + 3 x horizon + "
                f"{val_origins - 1}): drop the id or lower data.lookback / data.horizon"
            )
        test = b - horizon
        first_val = test - horizon - (val_origins - 1)
        parts["test"].append((i, test))
        parts["val"].extend((i, o) for o in range(first_val, test - horizon + 1))
        parts["train"].extend((i, o) for o in range(a + lookback, first_val - horizon + 1))
    return parts


class _Set(Dataset):
    def __init__(self, w: PanelWindows) -> None:
        self.t = {
            "x": torch.from_numpy(w.x),
            "xf": torch.from_numpy(w.xf),
            "y": torch.from_numpy(w.y),
            "log_scale": torch.from_numpy(np.log(w.scale).astype(np.float32)),
            "sid": torch.from_numpy(w.sid),
            "static": torch.from_numpy(w.static),
        }

    def __len__(self) -> int:
        return len(self.t["y"])

    def __getitem__(self, i: int) -> dict:
        return {**{k: v[i] for k, v in self.t.items()}, "index": i}


class PanelDataModule(L.LightningDataModule):
    """Train/val/test windows of every series of a panel, for a global model (task 'panel')."""

    def __init__(
        self,
        panel: Panel,
        lookback: int,
        horizon: int,
        batch_size: int = 64,
        val_origins: int = 1,
        name: str = "panel",
    ) -> None:
        super().__init__()
        if lookback < 1 or horizon < 1 or val_origins < 1:
            raise DataError(
                f"a panel needs lookback, horizon and data.val_origins >= 1, got {lookback}, {horizon}, {val_origins}"
            )
        self.panel, self.lookback, self.horizon, self.name = panel, lookback, horizon, name
        self.batch_size, self.val_origins = batch_size, val_origins
        self.rank, self.world_size = 0, 1
        self.cal = calendar_features(panel.phase(), panel.season)
        self.categories = {c: sorted(set(v)) for c, v in panel.static.items()}
        self.codes = np.array(
            [
                [self.categories[c].index(panel.static[c][i]) for c in panel.static]
                for i in range(len(panel.ids))
            ],
            dtype=np.int64,
        ).reshape(len(panel.ids), len(panel.static))
        self.origins = split_origins(panel, lookback, horizon, val_origins)
        self.parts = {
            k: cut(panel, self.cal, self.codes, o, lookback, horizon) for k, o in self.origins.items()
        }

    @property
    def n_calendar(self) -> int:
        return self.cal.shape[1]

    @property
    def static_sizes(self) -> list[int]:
        return [len(v) for v in self.categories.values()]

    def set_shard(self, rank: int, world_size: int) -> None:
        """Data-parallel training: this process takes every world_size-th training window from `rank`."""
        self.rank, self.world_size = rank, world_size

    def _loader(self, w: PanelWindows, shuffle: bool) -> DataLoader:
        return epoch_loader(_Set(w), self.batch_size, 0, shuffle, None, self.rank, self.world_size)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.parts["train"], True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.parts["val"], False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.parts["test"], False)

    def train_values(self, i: int) -> np.ndarray:
        """Series i's values before its first validation target (MASE's in-sample scale)."""
        a, _ = self.panel.span(i)
        first_val = min(o for s, o in self.origins["val"] if s == i)
        return self.panel.values[i, a:first_val]

    def describe(self) -> dict:
        """data.json: the panel's ids, categories, calendar and parts (what forecasting later needs)."""
        t = self.panel.time
        return {
            "name": self.name,
            "task": "panel",
            "series": len(self.panel.ids),
            "ids": self.panel.ids,
            "target": self.panel.target,
            "static": self.categories,
            "lookback": self.lookback,
            "horizon": self.horizon,
            "season": self.panel.season,
            "val_origins": self.val_origins,
            "start": str(t[0]),
            "end": str(t[-1]),
            "steps": len(t),
            "parts": {
                k: {
                    "windows": len(w),
                    "first_forecast": str(t[int(w.origin.min())]) if len(w) else None,
                    "last_forecast": str(t[int(w.origin.max()) + self.horizon - 1]) if len(w) else None,
                }
                for k, w in self.parts.items()
            },
        }
