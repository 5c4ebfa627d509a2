"""One constructor for every recurrent layer a model can ask for by name: the cells (`Recurrent`) and the
parallel-scan minGRU/minLSTM (`MinRNN`) and xLSTM's sLSTM/mLSTM, which share one interface (forward, step,
trace, init_state)."""

from __future__ import annotations

from typing import Any

from torch import nn

from rnnlab.errors import ConfigError
from rnnlab.nn.cells import CELLS, FUSED_KERNEL_CELLS
from rnnlab.nn.minrnn import MinRNN
from rnnlab.nn.recurrent import Recurrent
from rnnlab.nn.scan import KINDS
from rnnlab.nn.xlstm import XLSTM_KINDS, make_xlstm

LAYER_KINDS: tuple[str, ...] = (*CELLS, *KINDS, *XLSTM_KINDS)
# Recurrent's regularisation / initialisation / projection keywords and their defaults (off)
LAYER_OPTIONS: dict[str, Any] = dict(
    weight_drop=0.0,
    locked_dropout=0.0,
    zoneout=0.0,
    zoneout_c=None,
    residual=False,
    forget_bias=None,
    init="default",
    proj_size=0,
)


def make_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    fast_path: str = "auto",
    **options: Any,
) -> nn.Module:
    """`Recurrent` for 'rnn'/'lstm'/'gru' and the layer-normalised 'lnlstm'/'lngru', `MinRNN` (chunked parallel scan) for
    'mingru'/'minlstm', `SLSTM` / `MLSTM` for xLSTM's 'slstm'/'mlstm'.

    `fast_path`: 'auto' runs each layer's fast path (PyTorch's fused kernel, rnnlab's whole-sequence C++ loop
    for the GRU on CPU and the layer-normalised cells, the chunked scan, the mLSTM's chunkwise form), 'fused'
    PyTorch's fused kernel (rnn, lstm, gru only), 'off' the equations step by step (the reference). `options`: `Recurrent`'s regularisation, initialisation and projection keywords (LAYER_OPTIONS:
    weight_drop, locked_dropout, zoneout, zoneout_c, residual, forget_bias, init, proj_size); a value other
    than the default for another layer is a one-line error."""
    unknown = sorted(set(options) - set(LAYER_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown layer option {unknown[0]!r}; choose from {', '.join(LAYER_OPTIONS)}")
    if cell in CELLS:
        return Recurrent(
            cell, input_size, hidden_size, num_layers, bidirectional, dropout, fast_path=fast_path, **options
        )
    if fast_path == "fused":
        raise ConfigError(
            f"cell {cell!r} has no PyTorch fused kernel (only {', '.join(FUSED_KERNEL_CELLS)} do); use "
            "fast_path 'auto' or 'off'"
        )
    used = [k for k, v in options.items() if v != LAYER_OPTIONS[k]]
    if used:
        raise ConfigError(
            f"{used[0]} applies to the cells {', '.join(CELLS)}, not {cell!r}; leave it at {LAYER_OPTIONS[used[0]]!r}"
        )
    if cell in XLSTM_KINDS:
        return make_xlstm(cell, input_size, hidden_size, num_layers, bidirectional, dropout, fast_path)
    if cell in KINDS:
        scan = "sequential" if fast_path == "off" else "chunked"
        return MinRNN(cell, input_size, hidden_size, num_layers, bidirectional, dropout, scan=scan)
    raise ConfigError(f"unknown cell {cell!r}; choose one of {', '.join(LAYER_KINDS)}")
