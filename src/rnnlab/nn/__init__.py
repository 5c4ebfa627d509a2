"""Cells written as the equations, and recurrent layers that run them over time."""

from rnnlab.nn.cells import CELLS, Cell, GRUCell, LSTMCell, RNNCell, make_cell
from rnnlab.nn.lengths import last_step, mask, masked_mean
from rnnlab.nn.minrnn import MinRNN
from rnnlab.nn.recurrent import Recurrent, Trace

__all__ = [
    "CELLS",
    "Cell",
    "GRUCell",
    "LSTMCell",
    "MinRNN",
    "RNNCell",
    "Recurrent",
    "Trace",
    "last_step",
    "make_cell",
    "mask",
    "masked_mean",
]
