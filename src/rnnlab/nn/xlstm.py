"""xLSTM's two cells (Beck et al. 2024) by name: 'slstm' (:mod:`rnnlab.nn.slstm`, scalar memory, recurrent) and
'mlstm' (:mod:`rnnlab.nn.mlstm`, matrix memory, parallel or chunkwise), each a layer with `Recurrent`'s interface."""

from __future__ import annotations

from torch import nn

from rnnlab.nn.mlstm import MLSTM
from rnnlab.nn.slstm import SLSTM

XLSTM_KINDS: tuple[str, ...] = ("slstm", "mlstm")


def make_xlstm(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    fast_path: str,
) -> nn.Module:
    """The sLSTM or mLSTM layer; fast_path 'off' runs the mLSTM's recurrent form (the reference), else chunkwise."""
    if cell == "slstm":
        return SLSTM(input_size, hidden_size, num_layers, bidirectional, dropout, fast_path=fast_path)
    form = "recurrent" if fast_path == "off" else "chunkwise"
    return MLSTM(input_size, hidden_size, num_layers, bidirectional, dropout, form=form)
