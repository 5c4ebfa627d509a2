"""Panel training: the likelihood head's negative log-likelihood of every scaled horizon value; val MAE beside it."""

from __future__ import annotations

from torch import Tensor

from rnnlab.tasks.forecast.module import FORECAST_COLUMNS, ForecastModule

PANEL_COLUMNS = FORECAST_COLUMNS


class PanelModule(ForecastModule):
    """Batches are PanelDataModule's dicts (x, xf, y, log_scale, sid, static); steps and logging as forecasting's."""

    def loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        return self.model.nll(batch)
