"""What every kind's graphs (tasks/<kind>/export.py) share: an inference copy of the model that traces with
dynamic batch and time, the recurrent state as named graph inputs and outputs, and example lengths.

Only the cells with a fused kernel ('rnn', 'lstm', 'gru') export: the exporter turns that kernel into ONNX's
LSTM/GRU/RNN ops (time and lengths stay dynamic); the layer-normalised cells (a custom autograd Function),
minGRU/minLSTM (a chunked scan) and xLSTM's sLSTM/mLSTM (a Python loop over steps or chunks) would be
unrolled over the traced number of steps.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.nn.cells import FUSED_KERNEL_CELLS
from rnnlab.nn.minrnn import MinRNN
from rnnlab.nn.mlstm import MLSTM
from rnnlab.nn.recurrent import Recurrent
from rnnlab.nn.stack import STATE_NAMES

EXPORT_CELLS = FUSED_KERNEL_CELLS
BATCH = {0: "batch"}


def inference_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode with every recurrent layer on its fused kernel (the same numbers as the
    reference loop, with time left dynamic) and no between-layer dropout, after checking every cell exports
    (and that no layer zones out)."""
    for m in model.modules():
        kind = m.kind if isinstance(m, MinRNN) else getattr(m, "cell_kind", None)
        if isinstance(m, MinRNN | Recurrent | MLSTM) and kind not in EXPORT_CELLS:
            raise ConfigError(
                f"cell {kind!r} cannot be exported with a dynamic time axis; the cells that export are "
                f"{', '.join(EXPORT_CELLS)} (retrain with --model.cell lstm, gru or rnn)"
            )
        if isinstance(m, Recurrent) and m.proj_size > 0:
            raise ConfigError(
                f"an LSTM with projections (proj_size {m.proj_size}) has no ONNX operator; retrain with "
                "--model.proj_size 0 to export"
            )
        if isinstance(m, Recurrent) and m.zoned:
            raise ConfigError(
                f"a model with zoneout ({'/'.join(map(str, m.zone_rates))}) runs its step loop (the "
                "expectation of zoneout), which would be unrolled over the traced steps; retrain with "
                "--model.zoneout 0 (and --model.zoneout_c 0 where set) to export"
            )
    model = copy.deepcopy(model).eval()
    for m in model.modules():
        if isinstance(m, Recurrent):  # in eval, weight drop and locked dropout are off: the plain layer,
            # on PyTorch's fused kernel (the exporter's LSTM/GRU/RNN ops), not rnnlab's C++ GRU loop
            m.dropout, m.locked_dropout, m.fast_path = 0.0, 0.0, "fused"
    return model


def state_names(rnn: nn.Module, prefix: str = "") -> tuple[str, ...]:
    """The recurrent layer's state tensors as graph names: h (and c for an LSTM), with a prefix."""
    return tuple(prefix + n for n in STATE_NAMES[: rnn.state_size])


def state_dynamic(names: tuple[str, ...]) -> dict[str, dict[int, str]]:
    """State tensors are (layers * directions, batch, hidden): the batch is axis 1."""
    return {n: {1: "batch"} for n in names}


def example_state(rnn: nn.Module, batch: int, seed: int = 0) -> tuple[Tensor, ...]:
    """Random (not zero) example state, so a graph that ignored its state input would fail the check."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(s.shape, generator=g) * 0.5 for s in rnn.init_state(batch))


def example_lengths(batch: int, time: int) -> Tensor:
    """Ragged lengths (the first full, the others shorter): a full batch would trace the lengths away."""
    return torch.tensor([time] + [max(1, time - 1 - k) for k in range(batch - 1)], dtype=torch.long)
