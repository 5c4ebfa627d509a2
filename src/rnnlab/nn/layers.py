"""One constructor for every recurrent layer a model can ask for by name: the cells (`Recurrent`) and the
parallel-scan minGRU/minLSTM (`MinRNN`) and xLSTM's sLSTM/mLSTM, which share one interface (forward, step,
trace, init_state)."""

from __future__ import annotations

from torch import nn

from rnnlab.errors import ConfigError
from rnnlab.nn.cells import CELLS
from rnnlab.nn.minrnn import MinRNN
from rnnlab.nn.recurrent import Recurrent
from rnnlab.nn.scan import KINDS
from rnnlab.nn.xlstm import XLSTM_KINDS, make_xlstm

LAYER_KINDS: tuple[str, ...] = (*CELLS, *KINDS, *XLSTM_KINDS)


def make_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    fast_path: str = "auto",
) -> nn.Module:
    """`Recurrent` for 'rnn'/'lstm'/'gru' and the layer-normalised 'lnlstm'/'lngru', `MinRNN` (chunked parallel scan) for
    'mingru'/'minlstm', `SLSTM` / `MLSTM` for xLSTM's 'slstm'/'mlstm'.

    `fast_path`: 'auto' runs each layer's fast path (PyTorch's fused kernel, the layer-normalised cells'
    whole-sequence loop, the chunked scan, the mLSTM's chunkwise form), 'off' the equations step by step (the
    reference)."""
    if cell in XLSTM_KINDS:
        return make_xlstm(cell, input_size, hidden_size, num_layers, bidirectional, dropout, fast_path)
    if cell in KINDS:
        scan = "sequential" if fast_path == "off" else "chunked"
        return MinRNN(cell, input_size, hidden_size, num_layers, bidirectional, dropout, scan=scan)
    if cell in CELLS:
        return Recurrent(
            cell, input_size, hidden_size, num_layers, bidirectional, dropout, fast_path=fast_path
        )
    raise ConfigError(f"unknown cell {cell!r}; choose one of {', '.join(LAYER_KINDS)}")
