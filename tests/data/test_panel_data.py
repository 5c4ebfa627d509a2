"""Panels: long-format frames laid out per series, windows split per series' own end, one-line bad-input errors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.panel import load_panel, panel_from_frame, read_panel_csv
from rnnlab.data.panel_windows import PanelDataModule, calendar_features, split_origins
from rnnlab.errors import ConfigError, DataError

PRISON = Path(__file__).parents[1] / "fixtures" / "panel_prison.csv"


def _frame(n=20, ids=("a", "b"), start=("2000-01-01", "2001-01-01")):
    rows = []
    for k, (i, s) in enumerate(zip(ids, start, strict=True)):
        t = pd.date_range(s, periods=n, freq="QS")
        rows += [
            {"id": i, "date": d, "y": 10.0 * (k + 1) + j, "kind": "x" if k else "z"} for j, d in enumerate(t)
        ]
    return pd.DataFrame(rows)


def test_frame_lays_series_on_one_calendar_with_their_own_spans():
    p = panel_from_frame(_frame(), "id", "date", "y", ["kind"])
    assert p.ids == ["a", "b"] and p.season == 4 and p.static == {"kind": ["z", "x"]}
    assert p.span(0) == (0, 20) and p.span(1) == (4, 24)
    assert p.values.shape == (2, 24) and np.isnan(p.values[1, :4]).all() and p.values[1, 4] == 20.0
    np.testing.assert_array_equal(p.phase()[:5], [0, 1, 2, 3, 0])  # quarter of the year


def test_windows_split_at_each_series_end_without_overlap():
    p = panel_from_frame(_frame(), "id", "date", "y", ["kind"])
    dm = PanelDataModule(p, lookback=4, horizon=3, val_origins=2)
    o = dm.origins
    assert o["test"] == [(0, 17), (1, 21)]
    assert [x for x in o["val"] if x[0] == 1] == [(1, 17), (1, 18)]
    for s, org in o["train"]:  # training targets end before the series' first validation target
        assert org + 3 <= min(v for t, v in o["val"] if t == s)
    w = dm.parts["test"]
    # x is the lookback over its mean |value|; y the horizon in the same units
    ctx = p.values[1, 17:21]
    np.testing.assert_allclose(w.x[1, :, 0], ctx / np.abs(ctx).mean(), rtol=1e-6)
    np.testing.assert_allclose(w.y[1] * w.scale[1], p.values[1, 21:24], rtol=1e-6)
    assert w.static.tolist() == [[1], [0]]  # categories sorted: x=0, z=1
    assert w.x.shape[2] == 1 + 4 and w.xf.shape == (2, 3, 4)


def test_calendar_features_one_hot_for_short_seasons_and_sin_cos_for_long():
    assert calendar_features(np.array([0, 3]), 4).tolist() == [[1, 0, 0, 0], [0, 0, 0, 1]]
    assert calendar_features(np.arange(52), 52).shape == (52, 2)
    assert calendar_features(np.arange(3), 1).shape == (3, 0)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: pd.concat([f, f.iloc[[3]]]), "has two rows at"),
        (lambda f: f.drop(index=5), "irregular steps"),
        (lambda f: f.assign(y=f["y"].astype(object).where(f.index != 7, "n/a")), "non-numeric value 'n/a'"),
        (lambda f: f.assign(y=f["y"].where(f.index != 7, np.nan)), "is missing at row 7"),
        (
            lambda f: pd.concat(
                [f, pd.DataFrame([{"id": "c", "date": pd.Timestamp("2000-01-01"), "y": 1.0, "kind": "z"}])]
            ),
            "id 'c' has 1 row",
        ),
        (
            lambda f: f.assign(kind=np.where(f.index == 2, "q", f["kind"])),
            "static column 'kind' changes within id 'a'",
        ),
        (
            lambda f: f.assign(date=f["date"].astype(str).where(f.index != 4, "soon")),
            "unreadable value 'soon'",
        ),
    ],
)
def test_bad_panels_are_one_line_errors(change, message):
    with pytest.raises(DataError, match=message) as e:
        panel_from_frame(change(_frame()), "id", "date", "y", ["kind"])
    assert "\n" not in str(e.value)


def test_unknown_columns_and_short_series_name_the_fix():
    with pytest.raises(DataError, match="target \\(data.target\\) 'sales' is not a column"):
        panel_from_frame(_frame(), "id", "date", "sales")
    with pytest.raises(ConfigError, match="needs its id column"):
        panel_from_frame(_frame(), "", "date", "y")
    p = panel_from_frame(_frame(n=12), "id", "date", "y")
    with pytest.raises(DataError, match="id 'a' has 12 rows; .* needs at least 16"):
        split_origins(p, lookback=4, horizon=4, val_origins=1)


def test_csv_panel_reads_the_real_prison_fixture(tmp_path):
    p = read_panel_csv(PRISON, "id", "quarter", "count", ["state", "gender", "legal"])
    assert len(p.ids) == 32 and p.values.shape == (32, 48) and p.season == 4
    assert not np.isnan(p.values).any()
    assert sorted(set(p.static["gender"])) == ["Female", "Male"]
    dm = PanelDataModule(p, lookback=12, horizon=8)
    assert {k: len(w) for k, w in dm.parts.items()} == {"train": 32 * 13, "val": 32, "test": 32}
    bad = tmp_path / "bad.csv"
    bad.write_text(PRISON.read_text().replace("2005-04-01,4,", "2005-04-01,four,", 1))
    with pytest.raises(DataError, match="non-numeric value 'four'"):
        read_panel_csv(bad, "id", "quarter", "count", None)


def test_load_panel_names_its_choices():
    with pytest.raises(ConfigError, match="unknown panel 'nope'"):
        load_panel("nope")
    with pytest.raises(ConfigError, match="--csv FILE --id-col"):
        load_panel("panel")
