"""The Forecaster's quantile head: non-crossing quantiles, the median is the forecast, pinball loss, CQR."""

import numpy as np
import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models.forecaster import LEVELS, Forecaster
from rnnlab.tasks.forecast.evaluate import quantile_head_scores


@pytest.mark.parametrize("normalize", ["level", "window", "none"])
def test_quantiles_do_not_cross_and_their_median_is_the_forecast(normalize):
    torch.manual_seed(0)
    m = Forecaster(3, 4, n_future=2, head="quantile", normalize=normalize, highway=5, hidden=8, layers=1).eval()
    x, xf, y = torch.randn(6, 10, 3), torch.randn(6, 4, 2), torch.randn(6, 4)
    q = m.quantiles(x, xf)
    assert q.shape == (6, 4, len(LEVELS)) and (q.diff(dim=-1) > 0).all()
    torch.testing.assert_close(q[..., LEVELS.index(0.5)], m(x, xf))
    pred, loss = m(x, xf, y)
    tau = torch.tensor(LEVELS)
    d = y.unsqueeze(-1) - q
    torch.testing.assert_close(loss, 2 * torch.maximum(tau * d, (tau - 1) * d).mean())


def test_the_quantile_head_learns_a_spread():
    torch.manual_seed(0)
    m = Forecaster(1, 2, head="quantile", normalize="none", hidden=8, layers=1, dropout=0.0)
    x = torch.randn(256, 6, 1)
    y = x[:, -1:, 0].expand(-1, 2) + torch.randn(256, 2)  # noise sd 1 around the last value
    opt = torch.optim.Adam(m.parameters(), lr=0.02)
    for _ in range(300):
        opt.zero_grad()
        m(x, None, y)[1].backward()
        opt.step()
    q = m.eval().quantiles(x)
    width = (q[..., LEVELS.index(0.9)] - q[..., LEVELS.index(0.1)]).mean().item()
    assert 2.0 < width < 3.2  # a standard normal's 10-90% range is 2.56


def test_point_head_has_no_quantiles_and_the_head_needs_a_direct_decoder():
    with pytest.raises(ConfigError, match="train with model.head quantile"):
        Forecaster(1, 2, hidden=4).quantiles(torch.randn(1, 5, 1))
    with pytest.raises(ConfigError, match="needs decoder 'direct'"):
        Forecaster(1, 2, head="quantile", decoder="autoregressive")
    with pytest.raises(ConfigError, match="head must be one of"):
        Forecaster(1, 2, head="median")


def test_cqr_widens_the_interval_by_the_validation_score():
    levels = np.array(LEVELS)
    yv = np.zeros((9, 1))
    qv = np.broadcast_to(levels - 0.5, (9, 1, len(LEVELS))).copy()  # 80% interval [-0.4, 0.4]
    yv[:, 0] = np.arange(9) * 0.1  # scores max(-0.4 - y, y - 0.4): -0.4 .. 0.4
    y = np.array([[0.35], [0.5], [0.75]])
    q = np.broadcast_to(levels - 0.5, (3, 1, len(LEVELS))).copy()
    s = quantile_head_scores(y, q, yv, qv)
    # ceil(10 * 0.8) = 8th smallest score of -0.4..0.4 step 0.1 is 0.3: interval [-0.7, 0.7]
    assert s["head_coverage"]["0.8"] == pytest.approx(1 / 3)
    assert s["cqr_coverage"]["0.8"] == pytest.approx(2 / 3)
