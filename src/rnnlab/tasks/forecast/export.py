"""The ONNX graph of a forecaster: one lookback window (and the known-future covariates) in, the point
forecast of every horizon step out, in the scaled units of data.json's scaler. The intervals of
`rnnlab forecast` come from dropout left on (MC dropout), which an inference graph does not have."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.tasks.contract import Graph
from rnnlab.tasks.exportable import BATCH, inference_copy

B = 2


class ForecastSequence(nn.Module):
    """(x (B, L, F)[, xf (B, H, Ff)]) -> forecast (B, H)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, xf: Tensor | None = None) -> Tensor:
        return self.model(x, xf)


def forecast_graphs(model: nn.Module) -> list[Graph]:
    """'sequence': the window (lookback dynamic, at least the highway's lags) to the forecast."""
    model = inference_copy(model)
    c = model.config
    g = torch.Generator().manual_seed(0)
    lookback = max(12, int(c.get("highway", 0)) + 2)
    x = torch.randn(B, lookback, int(c["n_features"]), generator=g)
    example, inputs, dynamic = (x,), ("x",), {"x": {0: "batch", 1: "lookback"}, "forecast": BATCH}
    if c.get("n_future"):
        example += (torch.randn(B, int(c["horizon"]), int(c["n_future"]), generator=g),)
        inputs += ("xf",)
        dynamic["xf"] = BATCH
    note = "inputs and forecast in scaled units (data.json's scaler)"
    if c.get("highway"):
        note += f"; lookback must be at least {c['highway']} (the highway's lags)"
    return [Graph("sequence", ForecastSequence(model), example, inputs, ("forecast",), dynamic, note=note)]
