"""Forecaster: shapes, both decoders, CNN front-end, covariate checks, rebuild from config, a learned result."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.data.windows import chronological_windows
from rnnlab.errors import ConfigError
from rnnlab.models import build_model
from rnnlab.models.baselines import seasonal_naive
from rnnlab.models.forecaster import Forecaster


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("conv", [0, 8])
def test_shapes_loss_and_rebuild(decoder, conv):
    torch.manual_seed(0)
    m = Forecaster(3, horizon=4, n_future=2, hidden=8, decoder=decoder, conv_channels=conv)
    x, xf, y = torch.randn(5, 12, 3), torch.randn(5, 4, 2), torch.randn(5, 4)
    pred, loss = m(x, xf, y)
    assert pred.shape == (5, 4) and loss.ndim == 0
    m2 = build_model("Forecaster", **m.config)
    m2.load_state_dict(m.state_dict())
    m.eval()
    m2.eval()
    torch.testing.assert_close(m(x, xf), m2(x, xf))


def test_bad_arguments_and_inputs():
    with pytest.raises(ConfigError, match="decoder must be one of"):
        Forecaster(3, 4, decoder="seq2seq")
    with pytest.raises(ConfigError, match="target_index"):
        Forecaster(3, 4, target_index=3)
    m = Forecaster(3, 4, n_future=2, hidden=8)
    with pytest.raises(ValueError, match="known-future covariates"):
        m(torch.randn(2, 6, 3))
    with pytest.raises(ValueError, match="lookback, 3"):
        m(torch.randn(2, 6, 4), torch.randn(2, 4, 2))


def test_learns_a_seasonal_signal_better_than_seasonal_naive():
    """A noisy daily cycle with a trend: the LSTM must beat 'same time yesterday' on held-out windows."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    t = np.arange(1500)
    y = np.sin(2 * np.pi * t / 24) + 0.002 * t + 0.3 * rng.normal(size=len(t))
    values = np.stack([y, np.sin(2 * np.pi * t / 24), np.cos(2 * np.pi * t / 24)], 1)
    parts, sc = chronological_windows(values, ["y", "s", "c"], "y", 48, 6, future=["s", "c"], stride=1)
    tr, te = parts["train"], parts["test"]
    m = Forecaster(3, 6, n_future=2, hidden=16, layers=1, dropout=0.0)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    x, xf, yy = (torch.as_tensor(a) for a in (tr.x, tr.xf, tr.y))
    for _ in range(150):
        idx = torch.randint(0, len(x), (128,))
        _, loss = m(x[idx], xf[idx], yy[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        pred = m(torch.as_tensor(te.x), torch.as_tensor(te.xf)).numpy()
    mae = np.abs(pred - te.y).mean()
    naive = np.abs(seasonal_naive(te.x[:, :, 0], 6, 24) - te.y).mean()
    assert mae < 0.8 * naive


def test_window_normalisation_is_shift_and_scale_equivariant():
    """RevIN-style 'window': the same series shifted and scaled gives the same forecast shifted and scaled."""
    torch.manual_seed(0)
    for decoder in ("direct", "autoregressive"):
        m = Forecaster(1, 4, hidden=8, layers=1, dropout=0.0, decoder=decoder, highway=3, normalize="window")
        m.eval()
        x = torch.randn(5, 12, 1)
        with torch.no_grad():
            a, b = m(x), m(3.0 * x + 100.0)
        torch.testing.assert_close(b, 3.0 * a + 100.0, rtol=1e-4, atol=1e-3)
    with pytest.raises(ConfigError, match="normalize"):
        Forecaster(1, 4, normalize="bogus")
