"""Recurrent cells written as the textbook equations, one time step each.

Every cell keeps PyTorch's parameter layout (``weight_ih`` of shape ``(gates*H, I)``, ``weight_hh``
``(gates*H, H)``, ``bias_ih``, ``bias_hh``; gate order LSTM i,f,g,o and GRU r,z,n), so weights move to and
from ``torch.nn.LSTMCell`` / ``torch.nn.LSTM`` with no conversion.

A step is split in two so a layer can hoist the input half out of the time loop (haste, cuDNN):
``project(x) = x W_ih^T + b_ih`` runs once over all steps, ``recur(xp_t, state)`` runs per step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError

State = tuple[Tensor, ...]
LN_EPS = 1e-5  # the layer-normalised cells' epsilon: torch.nn.LayerNorm's default


class Cell(nn.Module):
    """Shared parameter set-up of the three cells; each subclass's `recur` is its equations."""

    n_gates: int = 1
    gate_names: tuple[str, ...] = ()
    state_size: int = 1  # number of tensors in the state tuple: (h,) or (h, c)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        if int(input_size) < 1 or int(hidden_size) < 1:
            raise ConfigError(
                f"input_size and hidden_size must be >= 1, got input_size={input_size}, hidden_size={hidden_size}"
            )
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        g = self.n_gates * self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, self.input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, self.hidden_size))
        if self.bias:
            self.bias_ih = nn.Parameter(torch.empty(g))
            self.bias_hh = nn.Parameter(torch.empty(g))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as PyTorch initialises its RNNs."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def project(self, x: Tensor) -> Tensor:
        """Input half of every gate for all steps at once: x W_ih^T + b_ih, shape (..., gates*H)."""
        return nn.functional.linear(x, self.weight_ih, self.bias_ih)

    def hidden_projection(self, h: Tensor) -> Tensor:
        """Recurrent half of every gate: h W_hh^T + b_hh."""
        return nn.functional.linear(h, self.weight_hh, self.bias_hh)

    def init_state(self, batch: int, device=None, dtype=None) -> State:
        """Zero state, a tuple of `state_size` tensors of shape (batch, H)."""
        z = torch.zeros(batch, self.hidden_size, device=device, dtype=dtype or self.weight_hh.dtype)
        return tuple(z.clone() for _ in range(self.state_size))

    def recur(self, xp: Tensor, state: State) -> tuple[State, dict[str, Tensor]]:
        """One step given the projected input `xp` (B, gates*H); returns (new state, gate values)."""
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One step from a raw input x (B, I): returns (h, state)."""
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__} expects x of shape (batch, {self.input_size}), got {tuple(x.shape)}"
            )
        if state is None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        new_state, _ = self.recur(self.project(x), state)
        return new_state[0], new_state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class RNNCell(Cell):
    """Elman cell.

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)      (or relu)
    """

    n_gates = 1
    gate_names = ()
    state_size = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias)

    def recur(self, xp: Tensor, state: State) -> tuple[State, dict[str, Tensor]]:
        (h,) = state
        pre = xp + self.hidden_projection(h)
        h = torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)
        return (h,), {}

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class LSTMCell(Cell):
    """Long short-term memory cell (Hochreiter & Schmidhuber 1997, with forget gate).

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   candidate cell
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)                               (proj_size P > 0: h_t = (o_t ⊙ tanh(c_t)) W_hr^T)

    With projections (Sak et al. 2014, torch.nn.LSTM's proj_size) h is P wide: W_hh is (4H, P) and
    `weight_hr` (P, H); the state is (h (B, P), c (B, H)).
    """

    n_gates = 4
    gate_names = ("i", "f", "g", "o")
    state_size = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, proj_size: int = 0) -> None:
        if not 0 <= int(proj_size) < int(hidden_size):
            raise ConfigError(f"proj_size must be in [0, hidden_size={hidden_size}) (0 = none), got {proj_size}")
        self.proj_size = int(proj_size)
        super().__init__(input_size, hidden_size, bias)
        if self.proj_size:
            self.weight_hh = nn.Parameter(torch.empty(4 * self.hidden_size, self.proj_size))
            self.weight_hr = nn.Parameter(torch.empty(self.proj_size, self.hidden_size))
            self.reset_parameters()

    @property
    def state_widths(self) -> tuple[int, int]:
        """Widths of (h, c): (P, H) with projections, else (H, H)."""
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def init_state(self, batch: int, device=None, dtype=None) -> State:
        """Zero (h, c) of widths `state_widths`."""
        dtype = dtype or self.weight_hh.dtype
        return tuple(torch.zeros(batch, w, device=device, dtype=dtype) for w in self.state_widths)

    def recur(self, xp: Tensor, state: State) -> tuple[State, dict[str, Tensor]]:
        h, c = state
        i, f, g, o = (xp + self.hidden_projection(h)).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        if self.proj_size:
            h = nn.functional.linear(h, self.weight_hr)
        return (h, c), {"i": i, "f": f, "g": g, "o": o}

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", proj_size={self.proj_size}" if self.proj_size else "")


class GRUCell(Cell):
    """Gated recurrent unit (Cho et al. 2014), PyTorch's variant with the reset inside the n gate.

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)              reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)              update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))   candidate
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    """

    n_gates = 3
    gate_names = ("r", "z", "n")
    state_size = 1

    def recur(self, xp: Tensor, state: State) -> tuple[State, dict[str, Tensor]]:
        (h,) = state
        x_r, x_z, x_n = xp.chunk(3, dim=-1)
        h_r, h_z, h_n = self.hidden_projection(h).chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        return (h,), {"r": r, "z": z, "n": n}


class _LayerNormCell(Cell):
    """Shared set-up of the layer-normalised cells: no plain biases (the norms' shifts β play that part),
    a gain and shift per norm, initialised to 1 and 0 (Ba et al. 2016)."""

    norms: tuple[tuple[str, int], ...] = ()  # (name, width in units of H) of each layer norm

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias=False)
        self.bias = bool(bias)
        for name, width in self.norms:
            n = width * self.hidden_size
            self.register_parameter(f"{name}_weight", nn.Parameter(torch.ones(n)))
            self.register_parameter(f"{name}_bias", nn.Parameter(torch.zeros(n)) if bias else None)

    def reset_parameters(self) -> None:
        """Weights U(-1/sqrt(H), 1/sqrt(H)); norm gains 1, shifts 0."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name, p in self.named_parameters():
            if name.startswith("weight_"):
                nn.init.uniform_(p, -bound, bound)
            elif name.endswith("_weight"):
                nn.init.ones_(p)
            else:
                nn.init.zeros_(p)

    def norm(self, name: str, x: Tensor) -> Tensor:
        """Layer norm `name` (its own gain and shift) over the last axis."""
        return nn.functional.layer_norm(
            x, (x.shape[-1],), getattr(self, f"{name}_weight"), getattr(self, f"{name}_bias"), LN_EPS
        )

    def project(self, x: Tensor) -> Tensor:
        """Input half of every gate for all steps at once, normalised: LN_ih(x W_ih^T)."""
        return self.norm("ln_ih", nn.functional.linear(x, self.weight_ih))

    def hidden_projection(self, h: Tensor) -> Tensor:
        """Recurrent half of every gate, normalised: LN_hh(h W_hh^T)."""
        return self.norm("ln_hh", nn.functional.linear(h, self.weight_hh))


class LayerNormLSTMCell(_LayerNormCell):
    """LSTM with layer normalisation (Ba, Kiros & Hinton 2016), each half of the gates normalised apart.

    (i, f, g, o) = LN_ih(W_i x_t) + LN_hh(W_h h_{t-1})    (LN(v) = γ ⊙ (v - mean v) / std v + β over 4H)
    c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)
    h_t = σ(o) ⊙ tanh(LN_c(c_t))
    """

    n_gates = 4
    gate_names = ("i", "f", "g", "o")
    state_size = 2
    norms = (("ln_ih", 4), ("ln_hh", 4), ("ln_c", 1))

    def recur(self, xp: Tensor, state: State) -> tuple[State, dict[str, Tensor]]:
        h, c = state
        i, f, g, o = (xp + self.hidden_projection(h)).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(self.norm("ln_c", c))
        return (h, c), {"i": i, "f": f, "g": g, "o": o}


class LayerNormGRUCell(_LayerNormCell):
    """GRU with layer normalisation of each half of the gates (the reset still multiplies the recurrent n part).

    (x_r, x_z, x_n) = LN_ih(W_i x_t)      (h_r, h_z, h_n) = LN_hh(W_h h_{t-1})
    r_t = σ(x_r + h_r)    z_t = σ(x_z + h_z)    n_t = tanh(x_n + r_t ⊙ h_n)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    """

    n_gates = 3
    gate_names = ("r", "z", "n")
    state_size = 1
    norms = (("ln_ih", 3), ("ln_hh", 3))

    recur = GRUCell.recur


CELLS: dict[str, type[Cell]] = {
    "rnn": RNNCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "lnlstm": LayerNormLSTMCell,
    "lngru": LayerNormGRUCell,
}
# cells PyTorch has a fused kernel for; the layer-normalised ones run rnnlab.nn.layernorm_seq instead
FUSED_KERNEL_CELLS = ("rnn", "lstm", "gru")


def make_cell(
    kind: str,
    input_size: int,
    hidden_size: int,
    bias: bool = True,
    nonlinearity: str = "tanh",
    proj_size: int = 0,
) -> Cell:
    """Build a cell by name ('rnn', 'lstm', 'gru', 'lnlstm', 'lngru'); an unknown name is an error listing the
    valid ones. `proj_size` > 0: an LSTM with projections (only 'lstm' has them)."""
    if kind not in CELLS:
        raise ConfigError(f"unknown cell {kind!r}; choose one of {sorted(CELLS)}")
    if proj_size and kind != "lstm":
        raise ConfigError(f"proj_size applies to the 'lstm' cell, not {kind!r}; leave it at 0")
    if kind == "rnn":
        return RNNCell(input_size, hidden_size, bias, nonlinearity)
    if kind == "lstm":
        return LSTMCell(input_size, hidden_size, bias, proj_size)
    return CELLS[kind](input_size, hidden_size, bias)
