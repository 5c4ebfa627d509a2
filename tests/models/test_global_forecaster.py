"""GlobalForecaster: anchored on seasonal naive, likelihood quantiles exact, bad settings refused."""

import numpy as np
import pytest
import torch
from scipy import stats

from rnnlab.errors import ConfigError
from rnnlab.models import build_model
from rnnlab.models.global_forecaster import GlobalForecaster, seasonal_positions


def _batch(b=5, lookback=8, horizon=6, cal=4, n_static=2):
    g = torch.Generator().manual_seed(0)
    return {
        "x": torch.randn(b, lookback, 1 + cal, generator=g),
        "xf": torch.randn(b, horizon, cal, generator=g),
        "log_scale": torch.randn(b, generator=g),
        "sid": torch.randint(0, 3, (b,), generator=g),
        "static": torch.randint(0, 2, (b, n_static), generator=g),
        "y": torch.randn(b, horizon, generator=g),
    }


def _model(**kw):
    torch.manual_seed(0)
    return GlobalForecaster(3, [2, 2], 4, 8, 6, season=4, **kw)


def test_seasonal_positions_read_the_same_phase_a_season_back():
    assert seasonal_positions(8, 6, 4) == [4, 5, 6, 7, 4, 5]
    assert seasonal_positions(3, 2, 4) == [2, 2]  # lookback shorter than the season: last value
    assert seasonal_positions(5, 3, 1) == [4, 4, 4]


def test_with_a_zero_head_the_forecast_is_seasonal_naive_of_the_lookback():
    m = _model()
    torch.nn.init.zeros_(m.head[-1].weight)
    torch.nn.init.zeros_(m.head[-1].bias)
    b = _batch()
    loc, spread, df = m(b["x"], b["xf"], b["log_scale"], b["sid"], b["static"])
    torch.testing.assert_close(loc, b["x"][:, [4, 5, 6, 7, 4, 5], 0])
    assert (spread > 0).all() and (df > 2).all()
    m.config["anchor"] = "last"
    loc, _, _ = m(b["x"], b["xf"], b["log_scale"], b["sid"], b["static"])
    torch.testing.assert_close(loc, b["x"][:, -1:, 0].expand(-1, 6))


@pytest.mark.parametrize("likelihood", ["studentt", "gaussian"])
def test_quantiles_and_nll_are_the_distributions(likelihood):
    m = _model(likelihood=likelihood).eval()
    b = _batch()
    loc, spread, df = m(b["x"], b["xf"], b["log_scale"], b["sid"], b["static"])
    q = m.quantiles(loc, spread, df, (0.1, 0.5, 0.9))
    np.testing.assert_allclose(q[0.5], loc.detach().double().numpy(), rtol=1e-6)
    assert (q[0.1] < q[0.5]).all() and (q[0.5] < q[0.9]).all()
    mu, s, d = (t.detach().double().numpy() for t in (loc, spread, df))
    ref = stats.norm.ppf(0.9, mu, s) if likelihood == "gaussian" else stats.t.ppf(0.9, d, mu, s)
    np.testing.assert_allclose(q[0.9], ref, rtol=1e-6)
    nll, _ = m.nll(b)
    logpdf = (
        stats.norm.logpdf(b["y"].numpy(), mu, s)
        if likelihood == "gaussian"
        else stats.t.logpdf(b["y"].numpy(), d, mu, s)
    )
    assert nll.item() == pytest.approx(-logpdf.mean(), rel=1e-4)


def test_config_rebuilds_the_same_model():
    m = _model(likelihood="gaussian", anchor="none")
    m2 = build_model("GlobalForecaster", **m.config)
    m2.load_state_dict(m.state_dict())
    b = _batch()
    for a, c in zip(
        m.eval()(b["x"], b["xf"], b["log_scale"], b["sid"], b["static"]),
        m2.eval()(b["x"], b["xf"], b["log_scale"], b["sid"], b["static"]),
        strict=True,
    ):
        torch.testing.assert_close(a, c)


def test_bad_settings_and_inputs_are_one_line_errors():
    with pytest.raises(ConfigError, match="likelihood must be one of"):
        GlobalForecaster(3, [], 4, 8, 6, likelihood="poisson")
    with pytest.raises(ConfigError, match="anchor must be one of"):
        GlobalForecaster(3, [], 4, 8, 6, anchor="mean")
    b = _batch()
    with pytest.raises(ValueError, match="expected x of shape"):
        _model()(b["x"][:, :5], b["xf"], b["log_scale"], b["sid"], b["static"])
    with pytest.raises(ValueError, match="series index out of range"):
        _model()(b["x"], b["xf"], b["log_scale"], b["sid"] + 5, b["static"])
