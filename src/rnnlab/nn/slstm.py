"""sLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory"): scalar memory with exponential gating.

    (ĩ, f̃, z̃, õ) = W x_t + R h_{t-1} + b         (R: full hidden-to-hidden, see below)
    log i_t = ĩ                                     exponential input gate, i_t = exp(ĩ)
    log f_t = log σ(f̃)  or  f̃                      sigmoid (default) or exponential forget gate
    m_t  = max(log f_t + m_{t-1}, log i_t)          stabiliser
    i'_t = exp(log i_t - m_t)    f'_t = exp(log f_t + m_{t-1} - m_t)
    c_t  = f'_t c_{t-1} + i'_t tanh(z̃)             cell
    n_t  = f'_t n_{t-1} + i'_t                      normaliser
    h_t  = σ(õ) ⊙ c_t / n_t

c_t and n_t are the unstabilised cell and normaliser scaled by exp(-m_t); h_t reads only their ratio, so the
stabiliser changes no result, it only keeps exp() in range. The paper's R is block-diagonal (one block per
head); here R is the full H x H matrix (one head), so every unit sees every other unit's h_{t-1}.

State (h, c, n, m), each (num_layers * num_directions, B, H); the zero state is a valid start (n_1 = i'_1 > 0).
The layer is :class:`rnnlab.nn.recurrent.Recurrent` with this cell: PyTorch-style parameter names
(``weight_ih_l0`` (4H, I), ``weight_hh_l0`` (4H, H), ``bias_ih_l0``, ``bias_hh_l0``; gate order i, f, z, o),
lengths, stacking, both directions, ``step`` and ``trace`` come from it. No PyTorch kernel computes this cell:
on CPU its fast path is rnnlab's whole-sequence C++ loop (:mod:`rnnlab.nn.slstm_seq`, ``path`` 'sequence'),
elsewhere the reference loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.errors import ConfigError
from rnnlab.nn import native
from rnnlab.nn.cells import Cell, State
from rnnlab.nn.recurrent import Recurrent
from rnnlab.nn.slstm_seq import SLSTMSequence

FORGET_GATES = ("sigmoid", "exp")


def log_forget(f_pre: Tensor, forget: str) -> Tensor:
    """log f_t from the forget pre-activation: log σ(f̃) for a sigmoid gate, f̃ itself for an exponential one."""
    return F.logsigmoid(f_pre) if forget == "sigmoid" else f_pre


def check_forget(forget: str) -> str:
    """The forget-gate kind, or a one-line error naming the choices."""
    if forget not in FORGET_GATES:
        raise ConfigError(f"forget gate must be one of {FORGET_GATES}, got {forget!r}")
    return forget


class SLSTMCell(Cell):
    """One sLSTM step (the module docstring's equations); state (h, c, n, m), each (B, H)."""

    n_gates = 4
    gate_names = ("i", "f", "z", "o")
    state_size = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, forget: str = "sigmoid") -> None:
        self.forget = check_forget(forget)
        super().__init__(input_size, hidden_size, bias)

    def reset_parameters(self) -> None:
        """PyTorch's uniform init, then forget biases spread over [3, 6] so the cell starts out remembering."""
        super().reset_parameters()
        if self.bias:
            h = self.hidden_size
            with torch.no_grad():
                self.bias_ih[h : 2 * h] = torch.linspace(3.0, 6.0, h)
                self.bias_hh[h : 2 * h] = 0.0

    def recur(self, xp: Tensor, state: State) -> tuple[State, dict[str, Tensor]]:
        h, c, n, m = state
        i_pre, f_pre, z_pre, o_pre = (xp + self.hidden_projection(h)).chunk(4, dim=-1)
        log_i, log_f = i_pre, log_forget(f_pre, self.forget)
        m_new = torch.maximum(log_f + m, log_i)
        i = torch.exp(log_i - m_new)
        f = torch.exp(log_f + m - m_new)
        z, o = torch.tanh(z_pre), torch.sigmoid(o_pre)
        c = f * c + i * z
        n = f * n + i
        h = o * c / n
        return (h, c, n, m_new), {"i": i, "f": f, "z": z, "o": o, "n": n, "m": m_new}

    def extra_repr(self) -> str:
        return super().extra_repr() + f", forget={self.forget!r}"


class SLSTM(Recurrent):
    """Stacked, optionally bidirectional sLSTM over batch-first (B, T, F) input: ``Recurrent``'s interface.

    forward(x, lengths, state) -> (output (B, T, D*H), (h, c, n, m)); step(x_t, state) streams one step.
    fast_path 'auto' runs the whole-sequence C++ loop on CPU (``path`` 'sequence', :mod:`rnnlab.nn.slstm_seq`)
    and the equations step by step elsewhere; 'off' always steps the equations (there is no fused kernel to
    require).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        fast_path: str = "auto",
        forget: str = "sigmoid",
    ) -> None:
        if fast_path == "require":
            raise ConfigError("the sLSTM has no fused kernel to require; use fast_path 'auto' or 'off'")
        self._forget = check_forget(forget)
        super().__init__(
            "slstm", input_size, hidden_size, num_layers, bidirectional, dropout, fast_path=fast_path
        )

    def _new_cell(self, cell: str, input_size: int, bias: bool, nonlinearity: str) -> Cell:
        return SLSTMCell(input_size, self.hidden_size, bias, self._forget)

    @property
    def path(self) -> str:
        """'sequence' (the C++ loop of :mod:`rnnlab.nn.slstm_seq`: CPU, float32/64, a build that loads) or
        'reference' (the equations step by step: fast_path 'off', zoneout, GPU, other dtypes, no compiler)."""
        if self.fast_path == "off" or self.zoneout > 0 or not native.available(self.weight_hh_l0):
            return "reference"
        return "sequence"

    def _sequence_call(self, cell: Cell, xp: Tensor, s0: State, valid: Tensor | None, loops: str):
        """One (layer, direction) through the C++ loop: (outputs (T, B, H), h_T, c_T, n_T, m_T)."""
        xp = xp if cell.bias_ih is None else xp + cell.bias_ih
        return SLSTMSequence.apply(xp, *s0, cell.weight_hh, cell.bias_hh, valid, self._forget == "exp")

    def extra_repr(self) -> str:
        return super().extra_repr() + f", forget={self._forget!r}"
