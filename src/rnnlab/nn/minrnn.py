"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates from x_t alone, so training is a scan.

    minGRU:   z_t = σ(W_z x_t + b_z)                 h~_t = g(W_h x_t + b_h)
              h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t
    minLSTM:  f_t = σ(W_f x_t + b_f)   i_t = σ(W_i x_t + b_i)   h~_t = g(W_h x_t + b_h)
              f'_t = f_t / (f_t + i_t)   i'_t = i_t / (f_t + i_t)
              h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h~_t
    g(x) = x + 0.5 for x >= 0, σ(x) for x < 0   (positive, so log h~ exists for the log-space scan)

Both are h_t = a_t ⊙ h_{t-1} + b_t with a_t, b_t known for every t before the scan starts. With
minLSTM's normalised gates f'_t + i'_t = 1, so both are one form, a lerp with a single gate z_t in (0, 1):

    h_t = h_{t-1} + z_t ⊙ (h~_t - h_{t-1})     minGRU: z_t = σ(q_t), q_t = W_z x_t + b_z
                                               minLSTM: z_t = i'_t = σ(q_t), q_t = log i_t - log f_t

The scans that run it live in :mod:`rnnlab.nn.scan`: ``"chunked"`` (default, exact and fast), ``"log"``
(the paper's log-space scan) and ``"sequential"`` (the equations step by step, the truth in tests).

Layer interface as :class:`rnnlab.nn.recurrent.Recurrent`: batch-first (B, T, F) input, ``lengths`` (B,), state
``(h,)`` with h of shape (num_layers * num_directions, B, H) (layer k, direction d at index k * D + d), final
states at each sequence's last real step (the reverse direction's at t = 0), outputs past a length are zero.
Parameters ``weight_ih_l{k}[_reverse]`` of shape (gates * H, in) and ``bias_ih_l{k}[_reverse]``, gate order
(z, h) for minGRU and (f, i, h) for minLSTM; there is no hidden-to-hidden weight.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.nn import stack
from rnnlab.nn.lengths import mask, reverse_padded
from rnnlab.nn.scan import KINDS, SCANS, MinLayer, g, gate_logit, log_g, log_scan, sequential_scan
from rnnlab.nn.stack import State
from rnnlab.nn.trace import Trace

__all__ = ["SCANS", "MinRNN"]


# --- the layer -----------------------------------------------------------------------------------------
class MinRNN(nn.Module):
    """Stacked, optionally bidirectional minGRU / minLSTM layer with the interface of ``Recurrent``.

    forward(x (B, T, F), lengths (B,) | None, state (h,) | None) -> (output (B, T, D*H), (h_n,)), with
    h_n of shape (num_layers * D, B, H). step(x_t, state) advances one step in O(1) for streaming.
    """

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        scan: str = "chunked",
        chunk: int | None = None,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ConfigError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
        if scan not in SCANS:
            raise ConfigError(f"scan must be one of {SCANS}, got {scan!r}")
        stack.check_arguments(input_size, hidden_size, num_layers, dropout)
        if chunk is not None and int(chunk) < 1:
            raise ConfigError(f"chunk must be None (about sqrt(T)) or >= 1, got {chunk}")
        self.kind = kind
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.dropout = float(dropout)
        self.scan = scan
        self.chunk = None if chunk is None else int(chunk)
        gates = KINDS[kind] * self.hidden_size
        for k in range(self.num_layers):
            in_k = self.input_size if k == 0 else self.hidden_size * self.num_directions
            bound = 1.0 / math.sqrt(in_k)  # nn.Linear's default
            for d in range(self.num_directions):
                sfx = stack.suffix(k, d)
                w = nn.Parameter(torch.empty(gates, in_k).uniform_(-bound, bound))
                self.register_parameter("weight_ih" + sfx, w)
                self.register_parameter(
                    "bias_ih" + sfx, nn.Parameter(torch.empty(gates).uniform_(-bound, bound))
                )

    state_size = 1  # the state is (h,)

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.num_directions

    def _weights(self, layer: int) -> tuple[Tensor, Tensor]:
        """Both directions' input weights stacked, so a layer's projection is one matmul."""
        names = [stack.suffix(layer, d) for d in range(self.num_directions)]
        if len(names) == 1:
            return self._parameters["weight_ih" + names[0]], self._parameters["bias_ih" + names[0]]
        w = torch.cat([self._parameters["weight_ih" + s] for s in names])
        return w, torch.cat([self._parameters["bias_ih" + s] for s in names])

    def init_state(self, batch: int, device=None, dtype=None) -> State:
        """Zero state: ``(h,)`` with h of shape (num_layers * num_directions, batch, hidden)."""
        return stack.zero_state(self, batch, self.weight_ih_l0, device, dtype)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """Run over a padded batch; returns (output (B, T, D*H), (h_n,) with h_n (L*D, B, H))."""
        lengths, state = stack.check_call(self, x, lengths, state)
        if torch.is_autocast_enabled(x.device.type):
            return stack.outside_autocast(self.forward, x, lengths, state)
        valid = mask(lengths, x.shape[1], x.device)
        g_h = KINDS[self.kind] * self.hidden_size

        def run_layer(k: int, inp: Tensor, s0: State) -> tuple[Tensor, State]:
            if self.scan == "chunked":  # both directions in one autograd Function
                out, h_n = MinLayer.apply(inp, *self._weights(k), s0[0], lengths, self.kind, self.chunk)
                return out, (h_n,)
            p = F.linear(inp, *self._weights(k))  # both directions' projections in one matmul

            def run(d: int, s0_d: State) -> tuple[Tensor, State]:
                out, h_n = self._direction(p[..., d * g_h : (d + 1) * g_h], s0_d[0], lengths, valid, bool(d))
                return out, (h_n,)

            return stack.over_directions(self, s0, run)

        return stack.over_layers(self, x, state, run_layer)

    def _direction(self, p: Tensor, h0: Tensor, lengths, valid, reverse: bool) -> tuple[Tensor, Tensor]:
        """One (layer, direction) by the log or sequential scan: (output (B, T, H), final h (B, H))."""
        q, u = gate_logit(self.kind, p)
        if reverse:  # each sequence reversed inside its own length: padding stays at the end
            q, u = reverse_padded(q, lengths), reverse_padded(u, lengths)
        if self.scan == "log":
            log_a, log_b = F.logsigmoid(-q), F.logsigmoid(q) + log_g(u)
            if valid is not None:
                pad = ~valid.unsqueeze(-1)
                log_a, log_b = log_a.masked_fill(pad, 0.0), log_b.masked_fill(pad, -math.inf)
            h = log_scan(log_a, log_b, h0)
            h_n = h[:, -1]
            if valid is not None:  # the log scan leaves padding steps at their last value: zero them
                h = h * valid.unsqueeze(-1).to(h.dtype)
        else:
            h, h_n = sequential_scan(torch.sigmoid(q), g(u), h0, valid)
        return (reverse_padded(h, lengths) if reverse else h), h_n

    def trace(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None, probe: bool = False
    ) -> tuple[Tensor, State, Trace]:
        """The equations step by step, keeping every step's h and gate z (B, T, H) per (layer, direction).

        probe=True adds a zero tensor to every h_t (Trace.probes) so that after backward Trace.hidden_grads()
        gives dLoss/dh_t: the same gradient-through-time picture as ``Recurrent.trace``.
        """
        lengths, state = stack.check_call(self, x, lengths, state)
        if torch.is_autocast_enabled(x.device.type):
            return stack.outside_autocast(lambda *a: self.trace(*a, probe=probe), x, lengths, state)
        valid = mask(lengths, x.shape[1], x.device)
        g_h = KINDS[self.kind] * self.hidden_size
        trace = Trace(lengths=lengths, num_directions=self.num_directions)

        def run_layer(k: int, inp: Tensor, s0: State) -> tuple[Tensor, State]:
            p = F.linear(inp, *self._weights(k))

            def run(d: int, s0_d: State) -> tuple[Tensor, State]:
                q, u = gate_logit(self.kind, p[..., d * g_h : (d + 1) * g_h])
                if d:
                    q, u = reverse_padded(q, lengths), reverse_padded(u, lengths)
                z, v = torch.sigmoid(q), g(u)
                h, hs, probes = s0_d[0], [], []
                for t in range(x.shape[1]):
                    new = h + z[:, t] * (v[:, t] - h)
                    if probe:
                        zero = torch.zeros_like(new, requires_grad=True)
                        probes.append(zero)
                        new = new + zero
                    h = new if valid is None else torch.where(valid[:, t : t + 1], new, h)
                    hs.append(h if valid is None else h * valid[:, t : t + 1].to(h.dtype))
                out = torch.stack(hs, dim=1)
                steps = {"h": out, "z": z * (1.0 if valid is None else valid.unsqueeze(-1).to(z.dtype))}
                if d:
                    out = reverse_padded(out, lengths)
                    steps = {name: reverse_padded(s, lengths) for name, s in steps.items()}
                trace.steps.append(steps)
                if probe:
                    trace.probes.append(probes)
                return out, (h,)

            return stack.over_directions(self, s0, run)

        out, finals = stack.over_layers(self, x, state, run_layer)
        return out, finals, trace

    def step(
        self, x_t: Tensor, state: State | None = None, reset: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Advance one time step in O(1): x_t (B, F) -> (h_top (B, H), (h,)). `reset` (B,) bool zeroes those samples first."""

        def step_layer(k: int, inp: Tensor, s_k: State) -> State:
            q, u = gate_logit(self.kind, F.linear(inp, *self._weights(k)))
            z = torch.sigmoid(q)
            return ((1 - z) * s_k[0] + z * g(u),)

        return stack.step_layers(self, x_t, state, reset, step_layer)

    def extra_repr(self) -> str:
        return (
            f"{self.kind}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, dropout={self.dropout}, scan={self.scan!r}"
        )
