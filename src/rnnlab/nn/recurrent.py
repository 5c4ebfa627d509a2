"""Recurrent: cells run over time, stacked and bidirectional, with variable lengths and a fused fast path.

State convention (same as ``torch.nn.LSTM``): a tuple ``(h,)`` for RNN/GRU or ``(h, c)`` for LSTM, each of
shape ``(num_layers * num_directions, batch, hidden)``; layer ``k``, direction ``d`` (0 forward, 1 reverse)
is index ``k * num_directions + d``. Final states are taken at each sequence's last real step in both
directions; outputs past a sequence's end are zero.

Parameters are registered under PyTorch's names (``weight_ih_l0``, ``weight_hh_l0_reverse``, ...), so
``load_state_dict`` moves weights to and from ``torch.nn.RNN/LSTM/GRU`` unchanged and the fused path is a
dispatch to the same kernel ``torch.nn.LSTM`` calls (oneDNN on CPU, cuDNN on GPU), not a copy. The
layer-normalised cells ('lnlstm', 'lngru'; their norms' gains and shifts are ``ln_ih_weight_l0``, ...) have no
PyTorch kernel: their fast path is the whole-sequence loop of :mod:`rnnlab.nn.layernorm_seq` (C++ on CPU).
The plain GRU on CPU runs rnnlab's own whole-sequence C++ loop (:mod:`rnnlab.nn.gru_seq`, faster than
oneDNN's GRU here); ``fast_path='fused'`` keeps it on PyTorch's kernel, and on a GPU it takes cuDNN's. The
LSTM with zoneout, which no fused kernel can run, has its own C++ loop on CPU (:mod:`rnnlab.nn.lstm_seq`; the
GRU's loop takes zoneout too).

The file reads in order: the reference loop (one cell over time, the truth), then the layer that dispatches
to it, the fused kernel or the sequence loop. The walk over layers and directions is :mod:`rnnlab.nn.stack`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import _VF, Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.errors import ConfigError
from rnnlab.nn import native, stack
from rnnlab.nn.cells import FUSED_KERNEL_CELLS, Cell, State, make_cell
from rnnlab.nn.gru_seq import GRUSequence
from rnnlab.nn.layernorm_seq import InputProjection, LayerNormGRUSequence, LayerNormLSTMSequence
from rnnlab.nn.lengths import mask, reverse_padded
from rnnlab.nn.lstm_seq import ZoneoutLSTMSequence
from rnnlab.nn.regularize import check_init, check_rate, drop_weight, init_recurrent, zoneout, zoneout_masks
from rnnlab.nn.trace import Trace

log = logging.getLogger(__name__)

FAST_PATH_MODES = ("auto", "fused", "require", "off")
ZONEOUT_LOOP_CELLS = ("lstm", "gru")  # cells whose C++ loop takes zoneout (without proj_size)
CELL_STATE_CELLS = ("lstm", "lnlstm")  # cells whose state has a c beside h (zoneout_c zones it)

__all__ = ["CELL_STATE_CELLS", "FAST_PATH_MODES", "Recurrent", "Trace", "run_cell"]


# --- the reference loop: one cell over time, the equations step by step (the truth in tests) ------------
def run_cell(
    cell: Cell,
    x: Tensor,
    lengths: Tensor | None,
    state: State,
    reverse: bool,
    keep: bool,
    probes: list[Tensor] | None = None,
    zone: float | tuple[float, ...] = 0.0,
    training: bool = False,
):
    """Run one cell over time: hoisted input projection, then `recur` per step with length masking.

    With a `probes` list, a zero tensor that requires grad is added to each step's h (recorded in step order).
    `zone`: zoneout of the state tensors at that rate, or one rate per tensor (a Bernoulli mask per step in
    `training`, the expectation otherwise; 0 = off).
    """
    if reverse:
        x = reverse_padded(x, lengths)
    xp = cell.project(x)  # (B, T, gates*H): the input half of every step in one matmul
    t_max = x.shape[1]
    valid = mask(lengths, t_max, x.device)  # (B, T) True at real steps, None when all are full
    outs: list[Tensor] = []
    kept: dict[str, list[Tensor]] = {}
    for t in range(t_max):
        new, gates = cell.recur(xp[:, t], state)
        if zone:  # 0.0 or a tuple of rates with one above 0 (Recurrent passes 0.0 when every rate is 0)
            new = zoneout(new, state, zone, training)
        if probes is not None:
            zero = torch.zeros_like(new[0], requires_grad=True)
            probes.append(zero)
            new = (new[0] + zero, *new[1:])
        if valid is not None:
            m = valid[:, t : t + 1]
            new = tuple(torch.where(m, n, s) for n, s in zip(new, state, strict=True))
            outs.append(new[0] * m.to(new[0].dtype))
        else:
            outs.append(new[0])
        state = new
        if keep:
            named = {"h": new[0], **({"c": new[1]} if len(new) > 1 else {}), **gates}
            for name, v in named.items():
                kept.setdefault(name, []).append(v)
    out = torch.stack(outs, dim=1)
    steps = {name: torch.stack(v, dim=1) for name, v in kept.items()}
    if reverse:
        out = reverse_padded(out, lengths)
        steps = {name: reverse_padded(v, lengths) for name, v in steps.items()}
    return out, state, steps


class Recurrent(nn.Module):
    """A stack of recurrent layers over batch-first input ``(batch, time, features)``.

    ``forward(x, lengths, state) -> (output (B, T, D*H), state)``; ``step(x_t, state, reset)`` streams one
    step (unidirectional only); ``trace(...)`` returns every step's hidden and gate values.
    ``fast_path``: 'auto' runs the fastest path that computes the same thing, 'fused' PyTorch's fused kernel
    (the standard cells only), 'off' always the reference loop, 'require' raises when no fast path can run.
    The plain GRU's fast path on CPU (float32/64) is rnnlab's whole-sequence C++ loop ('auto', 'require'),
    else the fused kernel. For the layer-normalised cells the fast path is the whole-sequence loop ('auto':
    C++ where it builds, else the same loop in torch ops; 'require': the C++ loop or an error on CPU).

    Regularisation (rnnlab.nn.regularize; all off by default): `weight_drop` DropConnect on every W_hh (a fresh
    mask per forward in training; the dropped weights go to the same fused kernel), `locked_dropout` between
    layers with one mask per sequence (instead of `dropout`), `zoneout` of h (and c) per step (the plain
    LSTM's and GRU's C++ loops on CPU, path 'sequence'; else the reference loop), `zoneout_c` the LSTM's
    cell-state rate where it differs from h's (None: `zoneout`; the paper's character models zone c far more
    than h), `residual` adds each layer's input to its output above the first layer.
    Initialisation: `init` 'orthogonal' W_hh gate blocks, `forget_bias` the LSTM forget-gate bias.
    `proj_size` > 0 (lstm): torch.nn.LSTM's projections, h (and the output) proj_size wide, c hidden wide.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        nonlinearity: str = "tanh",
        bias: bool = True,
        fast_path: str = "auto",
        weight_drop: float = 0.0,
        locked_dropout: float = 0.0,
        zoneout: float = 0.0,
        zoneout_c: float | None = None,
        residual: bool = False,
        forget_bias: float | None = None,
        init: str = "default",
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        stack.check_arguments(input_size, hidden_size, num_layers, dropout)
        if fast_path not in FAST_PATH_MODES:
            raise ConfigError(f"fast_path must be one of {FAST_PATH_MODES}, got {fast_path!r}")
        self.weight_drop = check_rate("weight_drop", weight_drop)
        self.locked_dropout = check_rate("locked_dropout", locked_dropout)
        self.cell_kind = cell
        self.zoneout = check_rate("zoneout", zoneout)
        self.zoneout_c = None if zoneout_c is None else check_rate("zoneout_c", zoneout_c)
        if self.zoneout_c is not None and cell not in CELL_STATE_CELLS:
            raise ConfigError(
                f"zoneout_c zones the LSTM's cell state, and cell {cell!r} has none; use zoneout alone "
                "(or an lstm cell), leave zoneout_c unset"
            )
        self.residual = bool(residual)
        self.init = check_init(init)
        self.forget_bias = None if forget_bias is None else float(forget_bias)
        self.proj_size = int(proj_size)
        if self.locked_dropout > 0 and dropout > 0:
            raise ConfigError(
                f"dropout ({dropout}) and locked_dropout ({locked_dropout}) both set the dropout between "
                "layers; set one of them to 0"
            )
        if fast_path == "fused" and cell not in FUSED_KERNEL_CELLS:
            raise ConfigError(
                f"cell {cell!r} has no PyTorch fused kernel; use fast_path 'auto' (its own fast path) or 'off'"
            )
        if self.zoned and fast_path == "require" and (cell not in ZONEOUT_LOOP_CELLS or self.proj_size):
            raise ConfigError(
                f"zoneout on {cell!r}{' with proj_size' if self.proj_size else ''} runs the reference loop "
                "(its fast path is the plain LSTM's and GRU's C++ loop); use fast_path 'auto'"
            )
        if self.residual and int(num_layers) < 2:
            raise ConfigError(
                "residual connects stacked layers; it needs num_layers >= 2 (or residual false)"
            )
        if self.forget_bias is not None and cell != "lstm":
            raise ConfigError(f"forget_bias applies to the 'lstm' cell, not {cell!r}; leave it unset")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.dropout = float(dropout)
        self.nonlinearity = nonlinearity
        self.bias = bool(bias)
        self.fast_path = fast_path
        # Cells live in a plain list: their parameters are registered here under PyTorch's names, so the
        # state dict is torch.nn.LSTM's. `_cell()` re-binds them before use (this module owns the truth).
        self._cells: list[Cell] = []
        for k in range(self.num_layers):
            in_k = self.input_size if k == 0 else self.output_size
            for d in range(self.num_directions):
                c = self._new_cell(cell, in_k, bias, nonlinearity)
                self._cells.append(c)
                for name, p in c._parameters.items():
                    if p is not None:
                        self.register_parameter(self._torch_name(name, k, d), p)
        # the fused kernels' weight order (layer, direction, then w_ih, w_hh, b_ih, b_hh), by registered name:
        # looked up per call without re-binding every cell (per-call Python time shows on a GPU)
        self._flat_names = [
            self._torch_name(name, k, d)
            for k in range(self.num_layers)
            for d in range(self.num_directions)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
            if self._parameters.get(self._torch_name(name, k, d)) is not None
        ]
        self._dropped: dict[str, Tensor] | None = None  # this forward's dropped W_hh by name (weight_drop)
        if self.init != "default" or self.forget_bias is not None:
            init_recurrent(
                dict(self.named_parameters()),
                self.hidden_size,
                self._cells[0].n_gates,
                self.init,
                self.forget_bias,
            )

    def _new_cell(self, cell: str, input_size: int, bias: bool, nonlinearity: str) -> Cell:
        """The cell of one (layer, direction); a layer with a cell of its own (sLSTM) overrides this."""
        return make_cell(cell, input_size, self.hidden_size, bias, nonlinearity, self.proj_size)

    @staticmethod
    def _torch_name(name: str, layer: int, direction: int) -> str:
        return name + stack.suffix(layer, direction)

    def _cell(self, layer: int, direction: int) -> Cell:
        c = self._cells[layer * self.num_directions + direction]
        dropped = self._dropped or {}
        for name in c._parameters:
            if c._parameters[name] is not None:
                full = self._torch_name(name, layer, direction)
                c._parameters[name] = dropped.get(full, self._parameters[full])
        return c

    @contextmanager
    def _weights_dropped(self) -> Iterator[None]:
        """Within: every W_hh DropConnected at `weight_drop` (training only; one mask per forward, shared by
        every step); after: the cells bound to the parameters again, so nothing keeps a dropped tensor."""
        if not (self.training and self.weight_drop > 0):
            yield
            return
        self._dropped = {
            name: drop_weight(p, self.weight_drop, True)
            for name, p in self._parameters.items()
            if name.startswith("weight_hh")
        }
        try:
            yield
        finally:
            self._dropped = None
            for k in range(self.num_layers):
                for d in range(self.num_directions):
                    self._cell(k, d)

    @property
    def state_size(self) -> int:
        """Tensors in the state tuple: 2 for LSTM (h, c), else 1."""
        return self._cells[0].state_size

    @property
    def output_size(self) -> int:
        """Width of the output: directions x hidden (x proj_size with projections)."""
        return (self.proj_size or self.hidden_size) * self.num_directions

    @property
    def state_widths(self) -> tuple[int, ...]:
        """Last-axis width of each state tensor: (proj_size, hidden) for a projected LSTM, else hidden each."""
        return getattr(self._cells[0], "state_widths", (self.hidden_size,) * self.state_size)

    @property
    def zone_rates(self) -> tuple[float, ...]:
        """Zoneout's rate per state tensor: (h,) or the LSTM's (h, c), c's from zoneout_c where set."""
        if self.cell_kind in CELL_STATE_CELLS:
            return (self.zoneout, self.zoneout if self.zoneout_c is None else self.zoneout_c)
        return (self.zoneout,)

    @property
    def zoned(self) -> bool:
        """Whether any state tensor is zoned out (the step loops run instead of the fused kernel)."""
        return any(r > 0 for r in self.zone_rates)

    @property
    def path(self) -> str:
        """Which path `forward` runs with the weights where they are now: 'fused' (PyTorch's kernel),
        'sequence' (rnnlab's whole-sequence loop: the GRU's on CPU, the layer-normalised cells') or
        'reference' (the equations step by step). With zoneout: 'sequence' for the plain LSTM and GRU on CPU
        (their C++ loops, rnnlab.nn.lstm_seq and gru_seq), else 'reference' (no fused kernel has a per-step
        hook)."""
        if self.fast_path == "off":
            return "reference"
        if self.zoned:
            loop = self.cell_kind in ZONEOUT_LOOP_CELLS and not self.proj_size and self.fast_path != "fused"
            return "sequence" if loop and native.available(self.weight_hh_l0) else "reference"
        if self.cell_kind == "gru":
            loop = self.fast_path != "fused" and native.available(self.weight_hh_l0)
            return "sequence" if loop else "fused"
        return "fused" if self.cell_kind in FUSED_KERNEL_CELLS else "sequence"

    def flat_weights(self, names: list[str] | None = None) -> list[Tensor]:
        """All parameters (or those `names`) in the order the fused kernels take them, W_hh dropped within
        `_weights_dropped`."""
        dropped = self._dropped or {}
        return [dropped.get(name, self._parameters[name]) for name in names or self._flat_names]

    def init_state(self, batch: int, device=None, dtype=None) -> State:
        """Zero state: a tuple of `state_size` tensors (num_layers * num_directions, batch, hidden)."""
        return stack.zero_state(self, batch, self.weight_hh_l0, device, dtype)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """Run over a padded batch; returns (output (B, T, D*H), final state)."""
        lengths, state = stack.check_call(self, x, lengths, state)
        with self._weights_dropped():
            if self.path == "fused":
                return self._forward_fused(x, lengths, state)
            if self.path == "sequence":
                return self._forward_sequence(x, lengths, state)
            out, new_state, _ = self._forward_reference(x, lengths, state, keep=False)
            return out, new_state

    def trace(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None, probe: bool = False
    ) -> tuple[Tensor, State, Trace]:
        """Reference path keeping every step's hidden state and gate values, for inspection.

        probe=True also adds a zero tensor to every h_t (Trace.probes) so that, after backward, Trace.hidden_grads()
        gives dLoss/dh_t for every step: the gradient-through-time picture.
        """
        lengths, state = stack.check_call(self, x, lengths, state)
        with self._weights_dropped():
            return self._forward_reference(x, lengths, state, keep=True, probe=probe)

    # --- reference path: the equations, step by step -------------------------------------------------
    def _forward_reference(
        self, x: Tensor, lengths: Tensor | None, state: State, keep: bool, probe: bool = False
    ):
        trace = Trace(lengths=lengths, num_directions=self.num_directions)

        def run(k: int, d: int, inp: Tensor, s0: State) -> tuple[Tensor, State]:
            probes: list[Tensor] | None = [] if probe else None
            out, s_n, steps = run_cell(
                self._cell(k, d), inp, lengths, s0, reverse=bool(d), keep=keep, probes=probes,
                zone=self.zone_rates if self.zoned else 0.0, training=self.training,
            )  # fmt: skip
            trace.steps.append(steps)
            if probes is not None:
                trace.probes.append(probes)
            return out, s_n

        out, finals = stack.over_stack(self, x, state, run)
        return out, finals, trace

    # --- fused path: PyTorch's kernel with the same parameters -----------------------------------------
    def _forward_fused(self, x: Tensor, lengths: Tensor | None, state: State) -> tuple[Tensor, State]:
        if self.locked_dropout > 0 or self.residual:  # one kernel call per layer; stack.over_layers between
            names = self._flat_names
            per_layer = len(names) // self.num_layers

            def run_layer(k: int, inp: Tensor, s0: State) -> tuple[Tensor, State]:
                weights = self.flat_weights(names[k * per_layer : (k + 1) * per_layer])
                return self._fused_call(inp, lengths, s0, weights, 1, 0.0)

            return stack.over_layers(self, x, state, run_layer)
        weights = self.flat_weights()
        if x.is_cuda and self._dropped is None:  # dropped weights are fresh tensors, not the parameters
            self._flatten_for_cudnn(weights)
        return self._fused_call(x, lengths, state, weights, self.num_layers, self.dropout)

    def _fused_call(
        self,
        x: Tensor,
        lengths: Tensor | None,
        state: State,
        weights: list[Tensor],
        layers: int,
        dropout: float,
    ) -> tuple[Tensor, State]:
        """One call of the fused kernel over `layers` layers with these weights (packed when ragged)."""
        hx = state if self.cell_kind == "lstm" else state[0]
        args = (weights, self.bias, layers, dropout, self.training, self.bidirectional)
        if lengths is None:
            res = _kernel(self.cell_kind, self.nonlinearity)(x, hx, *args, True)
            return res[0], tuple(res[1:])
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        hx = (
            tuple(h.index_select(1, order) for h in hx)
            if isinstance(hx, tuple)
            else hx.index_select(1, order)
        )
        res = _kernel(self.cell_kind, self.nonlinearity)(packed.data, packed.batch_sizes, hx, *args)
        out, _ = pad_packed_sequence(
            PackedSequence(res[0], packed.batch_sizes, order, unorder),
            batch_first=True,
            total_length=x.shape[1],
        )
        return out, tuple(h.index_select(1, unorder) for h in res[1:])

    def _flatten_for_cudnn(self, weights: list[Tensor]) -> None:
        """Put the weights in one contiguous buffer in cuDNN's layout, as torch.nn.LSTM does after `.to()`:
        otherwise cuDNN copies them into one at every call (measured on an H200: 0.84x torch.nn.LSTM's
        training throughput at B=64, T=128, H=128, 0.6x its inference). Done again only when they moved."""
        ptrs = tuple(w.data_ptr() for w in weights)
        if ptrs == getattr(self, "_cudnn_ptrs", None):
            return
        first = weights[0]
        if len(set(ptrs)) != len(ptrs) or not torch.backends.cudnn.is_acceptable(first):
            return
        if any(not w.is_cuda or w.dtype != first.dtype for w in weights):
            return
        from torch.backends.cudnn import rnn as cudnn_rnn

        mode = {"lstm": "LSTM", "gru": "GRU"}.get(self.cell_kind)
        mode = mode or ("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU")
        with torch.cuda.device_of(first), torch.no_grad():
            torch._cudnn_rnn_flatten_weight(
                weights, (4 if self.bias else 2) + bool(self.proj_size), self.input_size,
                cudnn_rnn.get_cudnn_mode(mode), self.hidden_size, self.proj_size, self.num_layers, True,
                self.bidirectional,
            )  # fmt: skip
        self._cudnn_ptrs = tuple(w.data_ptr() for w in self.flat_weights())

    # --- whole-sequence loops: the GRU's (rnnlab.nn.gru_seq), the layer-normalised cells' (layernorm_seq) ----
    def _forward_sequence(self, x: Tensor, lengths: Tensor | None, state: State) -> tuple[Tensor, State]:
        if torch.is_autocast_enabled(x.device.type):
            return stack.outside_autocast(self._forward_sequence, x, lengths, state)
        loops = "cpp" if self.fast_path == "require" and x.device.type == "cpu" else "auto"
        valid = mask(lengths, x.shape[1], x.device)
        valid_tm = None if valid is None else valid.t().contiguous()

        def run(k: int, d: int, inp: Tensor, s0: State) -> tuple[Tensor, State]:
            cell = self._cell(k, d)
            seq = reverse_padded(inp, lengths) if d else inp
            xp = InputProjection.apply(seq.transpose(0, 1), cell.weight_ih)  # (T, B, gates*H)
            out, *new = self._sequence_call(cell, xp, s0, valid_tm, loops)
            out = out.transpose(0, 1)
            if valid is not None:
                out = out * valid.unsqueeze(-1).to(out.dtype)
            return (reverse_padded(out, lengths) if d else out), tuple(new)

        return stack.over_stack(self, x, state, run)

    def _sequence_call(self, cell: Cell, xp: Tensor, s0: State, valid: Tensor | None, loops: str):
        """One (layer, direction) through its whole-sequence Function: (outputs (T, B, H), *final state)."""
        shape = (*xp.shape[:2], self.hidden_size)  # zoneout's keep masks, every step's drawn here at once
        if self.cell_kind == "gru":
            xp = xp if cell.bias_ih is None else xp + cell.bias_ih
            (zh,) = zoneout_masks(self.zoneout, shape, xp, self.training, count=1)
            return GRUSequence.apply(xp, *s0, cell.weight_hh, cell.bias_hh, valid, zh, self.zoneout)
        if self.cell_kind == "lstm":  # only with zoneout: else the fused kernel runs
            if cell.bias_ih is not None:
                xp = xp + (cell.bias_ih + cell.bias_hh)
            masks = zoneout_masks(self.zone_rates, shape, xp, self.training)
            return ZoneoutLSTMSequence.apply(xp, *s0, cell.weight_hh, valid, *masks, *self.zone_rates)
        ln = (cell.ln_ih_weight, cell.ln_ih_bias, cell.ln_hh_weight, cell.ln_hh_bias)
        if self.cell_kind == "lnlstm":
            return LayerNormLSTMSequence.apply(
                xp, *s0, cell.weight_hh, *ln, cell.ln_c_weight, cell.ln_c_bias, valid, loops
            )
        return LayerNormGRUSequence.apply(xp, *s0, cell.weight_hh, *ln, valid, loops)

    # --- streaming -----------------------------------------------------------------------------------
    def step(
        self, x_t: Tensor, state: State | None = None, reset: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Advance one time step: x_t (B, I) -> (h_top (B, H), state). `reset` (B,) bool zeroes those samples' state first."""

        def step_layer(k: int, inp: Tensor, s_k: State) -> State:
            cell = self._cell(k, 0)
            new = cell.recur(cell.project(inp), s_k)[0]
            return zoneout(new, s_k, self.zone_rates, self.training)

        with self._weights_dropped():
            return stack.step_layers(self, x_t, state, reset, step_layer)

    def extra_repr(self) -> str:
        return (
            f"{self.cell_kind}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, dropout={self.dropout}, fast_path={self.fast_path!r}"
            + "".join(
                f", {k}={v!r}"
                for k, v, off in (
                    ("weight_drop", self.weight_drop, 0.0),
                    ("locked_dropout", self.locked_dropout, 0.0),
                    ("zoneout", self.zoneout, 0.0),
                    ("zoneout_c", self.zoneout_c, None),
                    ("residual", self.residual, False),
                    ("forget_bias", self.forget_bias, None),
                    ("init", self.init, "default"),
                    ("proj_size", self.proj_size, 0),
                )
                if v != off
            )
        )


def _kernel(kind: str, nonlinearity: str):
    """PyTorch's fused kernel for a standard cell (the one torch.nn.RNN/LSTM/GRU call)."""
    if kind == "lstm":
        return _VF.lstm
    if kind == "gru":
        return _VF.gru
    return _VF.rnn_tanh if nonlinearity == "tanh" else _VF.rnn_relu
