"""The recipe's recurrent-layer regularisers (issue 18) as the models built from it take them."""

from __future__ import annotations

from rnnlab.config import ModelConfig


def regularisers(m: ModelConfig) -> dict:
    """The keywords CharLM and SequenceClassifier pass on to their recurrent layer (`make_layer`)."""
    return dict(
        locked_dropout=m.locked_dropout,
        weight_drop=m.weight_drop,
        zoneout=m.zoneout,
        zoneout_c=m.zoneout_c,
        residual=m.residual,
        forget_bias=m.forget_bias,
        init=m.init,
        proj_size=m.proj_size,
    )
