"""mLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory"): a d x d matrix memory per head.

Per head, with d = H / heads and every gate read from x_t alone:

    q_t = W_q x_t + b_q     k_t = (W_k x_t + b_k) / sqrt(d)     v_t = W_v x_t + b_v
    log i_t = w_i x_t + b_i               exponential input gate (a scalar per head)
    log f_t = log σ(w_f x_t + b_f)        sigmoid forget gate (or the exponential one: the pre-activation itself)
    o_t = σ(W_o x_t + b_o)
    C_t = f_t C_{t-1} + i_t v_t k_t^T     n_t = f_t n_{t-1} + i_t k_t
    h~_t = C_t q_t / max(|n_t^T q_t|, 1)  h_t = o_t ⊙ h~_t

Stabilised as the sLSTM: m_t = max(log f_t + m_{t-1}, log i_t), and (C, n) are kept scaled by exp(-m_t),
so the bound 1 becomes exp(-m_t): h~_t = C_t q_t / max(|n_t^T q_t|, exp(-m_t)), the same number.

There is no hidden-to-hidden recurrence, so the same outputs have three forms (:data:`FORMS`):
  recurrent   the update above step by step (the truth in tests, and `step()`);
  parallel    the paper's stabilised D-matrix form over the whole sequence: with F_t = Σ_{s<=t} log f_s,
              D_ts = F_t - F_s + log i_s (s <= t), m_t = max(F_t + m_0, max_s D_ts),
              h~_t = (Σ_s e^{D_ts - m_t} (q_t·k_s) v_s + e^{F_t + m_0 - m_t} C_0 q_t) / max(|den_t|, e^{-m_t}),
              den_t the same sum with v_s -> 1 and C_0 q_t -> n_0·q_t (the carried state enters as s = 0);
  chunkwise   the parallel form inside chunks of `chunk` steps, the state (C, n, m) carried from one chunk to
              the next (the parallel form's last row gives it): O(T chunk) memory instead of O(T^2).
A padded step has log f = 0 and log i = -inf (f = 1, i = 0): it leaves (C, n, m) unchanged, so the final state
is each sequence's state at its last real step in every form.

Layer interface as :class:`rnnlab.nn.minrnn.MinRNN`: batch-first (B, T, F), `lengths`, stacked, both
directions (the reverse one reads each sequence reversed inside its length). State (h, c, n, m), each
(num_layers * D, B, width): h (width H, the last output; the mLSTM never reads it back, it is kept so the stack
and streaming read a layer's output as state[0]), c the matrix memories (heads * d * d), n (heads * d = H),
m (heads). Parameters ``weight_ih_l{k}[_reverse]`` (4H + 2 heads, in) and ``bias_ih_l{k}[_reverse]``, rows in
the order q, k, v, o (H each), then i, f (heads each); there is no hidden-to-hidden weight.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.nn import stack
from rnnlab.nn.lengths import last_step, mask, reverse_padded
from rnnlab.nn.slstm import check_forget, log_forget
from rnnlab.nn.stack import State
from rnnlab.nn.trace import Trace

FORMS = ("chunkwise", "parallel", "recurrent")
Memory = tuple[Tensor, Tensor, Tensor]  # (C (B, nh, d, d), n (B, nh, d), m (B, nh))


# --- the three forms, on one (layer, direction): q, k, v (B, nh, T, d); log_i, log_f (B, nh, T) ---------
def recurrent(
    q: Tensor, k: Tensor, v: Tensor, log_i: Tensor, log_f: Tensor, mem: Memory
) -> tuple[Tensor, Memory]:
    """The update step by step: h~ (B, nh, T, d) and the final (C, n, m)."""
    C, n, m = mem
    outs = []
    for t in range(q.shape[2]):
        C, n, m, h = recurrent_step(
            q[:, :, t], k[:, :, t], v[:, :, t], log_i[..., t], log_f[..., t], (C, n, m)
        )
        outs.append(h)
    return torch.stack(outs, dim=2), (C, n, m)


def recurrent_step(
    q: Tensor, k: Tensor, v: Tensor, log_i: Tensor, log_f: Tensor, mem: Memory
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One step: q, k, v (B, nh, d), gates (B, nh) -> new (C, n, m) and h~ (B, nh, d)."""
    C, n, m = mem
    m_new = torch.maximum(log_f + m, log_i)
    i = torch.exp(log_i - m_new)[..., None]
    f = torch.exp(log_f + m - m_new)[..., None]
    C = f[..., None] * C + i[..., None] * (v[..., :, None] * k[..., None, :])
    n = f * n + i * k
    num = (C @ q[..., None])[..., 0]
    den = (n * q).sum(-1, keepdim=True).abs()
    return C, n, m_new, num / torch.maximum(den, torch.exp(-m_new)[..., None])


def parallel(
    q: Tensor, k: Tensor, v: Tensor, log_i: Tensor, log_f: Tensor, mem: Memory
) -> tuple[Tensor, Memory]:
    """The stabilised D-matrix form over all T steps at once, starting from the carried (C, n, m)."""
    C0, n0, m0 = mem
    t = q.shape[2]
    cum = log_f.cumsum(-1)  # F_t
    causal = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    d_mat = (cum[..., :, None] - cum[..., None, :] + log_i[..., None, :]).masked_fill(~causal, -math.inf)
    from_state = cum + m0[..., None]  # log weight of the carried state at each t
    m = torch.maximum(from_state, d_mat.amax(-1))  # (B, nh, T): the recurrent form's m_t exactly
    w = torch.exp(d_mat - m[..., None])  # (B, nh, T, T)
    w0 = torch.exp(from_state - m)  # (B, nh, T)
    s = (q @ k.transpose(-1, -2)) * w
    num = s @ v + w0[..., None] * (q @ C0.transpose(-1, -2))
    den = s.sum(-1) + w0 * (q * n0[..., None, :]).sum(-1)
    h = num / torch.maximum(den.abs(), torch.exp(-m))[..., None]
    w_last, w0_last = w[..., -1, :, None], w0[..., -1, None]  # the last row: the state after step T
    C = w0_last[..., None] * C0 + (v * w_last).transpose(-1, -2) @ k
    n = w0_last * n0 + (k * w_last).sum(-2)
    return h, (C, n, m[..., -1])


def chunkwise(
    q: Tensor, k: Tensor, v: Tensor, log_i: Tensor, log_f: Tensor, mem: Memory, chunk: int
) -> tuple[Tensor, Memory]:
    """The parallel form inside chunks of `chunk` steps (the last may be shorter), the state carried between."""
    outs = []
    for a in range(0, q.shape[2], chunk):
        sl = slice(a, a + chunk)
        h, mem = parallel(q[:, :, sl], k[:, :, sl], v[:, :, sl], log_i[..., sl], log_f[..., sl], mem)
        outs.append(h)
    return torch.cat(outs, dim=2), mem


# --- the layer -----------------------------------------------------------------------------------------
class MLSTM(nn.Module):
    """Stacked, optionally bidirectional mLSTM with the interface of ``MinRNN`` (see the module docstring).

    form: 'chunkwise' (default; `chunk` steps per block), 'parallel' or 'recurrent' (the same numbers).
    heads: memories per layer and direction (hidden_size must divide by it). forget: 'sigmoid' or 'exp'.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        heads: int = 1,
        form: str = "chunkwise",
        chunk: int = 64,
        forget: str = "sigmoid",
    ) -> None:
        super().__init__()
        stack.check_arguments(input_size, hidden_size, num_layers, dropout)
        if form not in FORMS:
            raise ConfigError(f"form must be one of {FORMS}, got {form!r}")
        if int(heads) < 1 or int(hidden_size) % int(heads):
            raise ConfigError(
                f"hidden_size ({hidden_size}) must be a multiple of heads ({heads}), heads >= 1"
            )
        if int(chunk) < 1:
            raise ConfigError(f"chunk must be >= 1, got {chunk}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.dropout = float(dropout)
        self.heads = int(heads)
        self.head_size = self.hidden_size // self.heads
        self.form = form
        self.chunk = int(chunk)
        self.forget = check_forget(forget)
        rows = 4 * self.hidden_size + 2 * self.heads
        for k in range(self.num_layers):
            in_k = self.input_size if k == 0 else self.hidden_size * self.num_directions
            bound = 1.0 / math.sqrt(in_k)  # nn.Linear's default
            for d in range(self.num_directions):
                sfx = stack.suffix(k, d)
                bias = torch.empty(rows).uniform_(-bound, bound)
                bias[-self.heads :] = torch.linspace(3.0, 6.0, self.heads)  # forget biases: start remembering
                self.register_parameter(
                    "weight_ih" + sfx, nn.Parameter(torch.empty(rows, in_k).uniform_(-bound, bound))
                )
                self.register_parameter("bias_ih" + sfx, nn.Parameter(bias))

    cell_kind = "mlstm"  # the name make_layer and the export check know it by
    state_size = 4  # (h, c, n, m)

    @property
    def state_widths(self) -> tuple[int, int, int, int]:
        """Widths of h, c (the heads' d x d memories), n and m."""
        return (self.hidden_size, self.heads * self.head_size**2, self.hidden_size, self.heads)

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.num_directions

    def init_state(self, batch: int, device=None, dtype=None) -> State:
        """Zero state (h, c, n, m), each (num_layers * num_directions, batch, width)."""
        return stack.zero_state(self, batch, self.weight_ih_l0, device, dtype)

    # --- gates and memories in the heads' shapes ---------------------------------------------------------
    def _gates(self, k: int, d: int, inp: Tensor):
        """q, k, v (B, nh, T, d), log i, log f (B, nh, T) and o (B, T, H) of one (layer, direction)."""
        sfx = stack.suffix(k, d)
        p = F.linear(inp, self._parameters["weight_ih" + sfx], self._parameters["bias_ih" + sfx])
        hs, nh = self.hidden_size, self.heads
        q, key, v, o = (p[..., j * hs : (j + 1) * hs] for j in range(4))
        i_pre, f_pre = p[..., 4 * hs : 4 * hs + nh], p[..., 4 * hs + nh :]

        def split(t: Tensor) -> Tensor:  # (B, T, H) -> (B, nh, T, d)
            return t.unflatten(-1, (nh, self.head_size)).transpose(1, 2)

        key = key / math.sqrt(self.head_size)
        return (
            split(q),
            split(key),
            split(v),
            i_pre.transpose(1, 2),
            log_forget(f_pre, self.forget).transpose(1, 2),
            torch.sigmoid(o),
        )

    def _memory(self, c: Tensor, n: Tensor, m: Tensor) -> Memory:
        """State rows (B, width) -> (C (B, nh, d, d), n (B, nh, d), m (B, nh))."""
        d = self.head_size
        return c.unflatten(-1, (self.heads, d, d)), n.unflatten(-1, (self.heads, d)), m

    @staticmethod
    def _rows(mem: Memory) -> tuple[Tensor, Tensor, Tensor]:
        """(C, n, m) -> state rows (B, width) each."""
        C, n, m = mem
        return C.flatten(1), n.flatten(1), m

    def _run(self, k: int, d: int, inp: Tensor, s0: State, lengths: Tensor | None, valid, form: str):
        """One (layer, direction) in `form`: output (B, T, H) in time order, final (h, c, n, m) and the gates."""
        if d:  # each sequence reversed inside its own length (padding stays at the end), run forward
            inp = reverse_padded(inp, lengths)
        q, key, v, log_i, log_f, o = self._gates(k, d, inp)
        if valid is not None:  # padded steps: f = 1, i = 0, the memory stays as it was
            pad = ~valid[:, None, :]
            log_i, log_f = log_i.masked_fill(pad, -math.inf), log_f.masked_fill(pad, 0.0)
        mem = self._memory(*s0[1:])
        if form == "recurrent":
            h, mem = recurrent(q, key, v, log_i, log_f, mem)
        elif form == "parallel":
            h, mem = parallel(q, key, v, log_i, log_f, mem)
        else:
            h, mem = chunkwise(q, key, v, log_i, log_f, mem, self.chunk)
        out = o * h.transpose(1, 2).flatten(2)
        if valid is not None:
            out = out * valid.unsqueeze(-1).to(out.dtype)
        h_n = last_step(out, lengths)
        gates = {"i": log_i, "f": log_f, "o": o}
        return (reverse_padded(out, lengths) if d else out), (h_n, *self._rows(mem)), gates

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """Run over a padded batch; returns (output (B, T, D*H), (h, c, n, m))."""
        lengths, state = stack.check_call(self, x, lengths, state)
        valid = mask(lengths, x.shape[1], x.device)

        def run(k: int, d: int, inp: Tensor, s0: State) -> tuple[Tensor, State]:
            out, s_n, _ = self._run(k, d, inp, s0, lengths, valid, self.form)
            return out, s_n

        return stack.over_stack(self, x, state, run)

    def trace(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None, probe: bool = False
    ) -> tuple[Tensor, State, Trace]:
        """The recurrent form keeping every step's h and gates (B, T, H) per (layer, direction): i and f are
        the raw log-gates of each head repeated over its d units, o the output gate. probe=True adds a zero
        tensor to every h_t (Trace.probes) so Trace.hidden_grads() gives dLoss/dh_t after backward."""
        lengths, state = stack.check_call(self, x, lengths, state)
        valid = mask(lengths, x.shape[1], x.device)
        trace = Trace(lengths=lengths, num_directions=self.num_directions)

        def run(k: int, d: int, inp: Tensor, s0: State) -> tuple[Tensor, State]:
            out, s_n, gates = self._run(k, d, inp, s0, lengths, valid, "recurrent")
            keep = 1.0 if valid is None else valid.unsqueeze(-1).to(out.dtype)
            if probe:  # h is not fed back, so dLoss/dh_t is the gradient reaching the output at t
                probes = [torch.zeros_like(out[:, 0], requires_grad=True) for _ in range(x.shape[1])]
                added = torch.stack(probes, 1)  # processing order, as Trace.hidden_grads reads it
                out = out + (reverse_padded(added, lengths) if d else added) * keep  # padding stays zero
                trace.probes.append(probes)
            steps = {"h": out}
            for g in ("i", "f", "o"):
                t = gates[g] if g == "o" else gates[g].transpose(1, 2).repeat_interleave(self.head_size, -1)
                t = torch.where(keep > 0, t, torch.zeros_like(t)) if valid is not None else t
                steps[g] = reverse_padded(t, lengths) if d else t
            trace.steps.append(steps)
            return out, s_n

        out, finals = stack.over_stack(self, x, state, run)
        return out, finals, trace

    def step(
        self, x_t: Tensor, state: State | None = None, reset: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Advance one time step in O(1): x_t (B, F) -> (h_top (B, H), (h, c, n, m)). `reset` (B,) bool zeroes those samples first."""

        def step_layer(k: int, inp: Tensor, s_k: State) -> State:
            q, key, v, log_i, log_f, o = self._gates(k, 0, inp[:, None])
            C, n, m, h = recurrent_step(
                q[:, :, 0], key[:, :, 0], v[:, :, 0], log_i[..., 0], log_f[..., 0], self._memory(*s_k[1:])
            )
            return (o[:, 0] * h.flatten(1), *self._rows((C, n, m)))

        return stack.step_layers(self, x_t, state, reset, step_layer)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, heads={self.heads}, "
            f"bidirectional={self.bidirectional}, dropout={self.dropout}, form={self.form!r}, chunk={self.chunk}, "
            f"forget={self.forget!r}"
        )
