"""Whole-sequence forward and hand-written backward for the plain GRU: rnnlab's CPU fast path for 'gru'.

PyTorch's fused GRU on CPU (oneDNN's RNN primitive) trains at a third of its fused LSTM's rate on this
machine, though a GRU does three quarters of the LSTM's work per step. This autograd Function runs the whole
sequence in C++ (``csrc/gru_seq.cpp``, built by :mod:`rnnlab.nn.native`): per step one oneDNN matmul and one
pass over each batch row; the backward is the chain rule written out, one matmul per step, and the recurrent
weight's gradient is one product over all steps. Ragged batches are masked, not packed: a padded step leaves
the state unchanged, so the final state is the one at each sequence's last real step. It is also the GRU's
zoneout path (the keep masks come in, drawn by the caller), which no fused kernel has.

It takes the input half ``xp = x W_ih^T + b_ih`` for all steps at once (time-major (T, B, 3H), computed under
plain autograd) and returns (h_1..h_T as (T, B, H), h_T). The equations, and the truth in the tests, are
:class:`rnnlab.nn.cells.GRUCell` (torch.nn.GRU's, the reset gate applied to the recurrent half of n).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.nn import native


class GRUSequence(torch.autograd.Function):
    """GRU over a whole sequence from xp = x W_ih^T + b_ih, order r, z, n:
    r = σ(xp_r + h W_hr^T + b_hr);  z = σ(xp_z + h W_hz^T + b_hz);  n = tanh(xp_n + r ⊙ (h W_hn^T + b_hn));
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}.   `valid` (T, B) bool marks real steps (None: all real).
    Zoneout (optional): h_t = k ⊙ h_{t-1} + (1 - k) ⊙ (the update above), k the 0/1 mask `zh` (T, B, H) in
    training, else the rate `p` (eval; 0: none)."""

    @staticmethod
    def forward(  # noqa: D102
        ctx,
        xp: Tensor,
        h0: Tensor,
        w_hh: Tensor,
        b_hh: Tensor | None,
        valid: Tensor | None,
        zh: Tensor | None = None,
        p: float = 0.0,
    ):
        ops = native.load()
        xp, h0, w_hh = xp.contiguous(), h0.contiguous(), w_hh.contiguous()
        b = None if b_hh is None else b_hh.contiguous()
        keep = any(ctx.needs_input_grad)
        hs, act, hn = ops.plain_gru_forward(xp, h0, w_hh, b, valid, zh, float(p), keep)
        if keep:
            ctx.save_for_backward(hs, act, hn, w_hh, valid, zh)
            ctx.p = float(p)
        return hs[1:], hs[xp.shape[0]].clone()

    @staticmethod
    def backward(ctx, d_out: Tensor | None, d_hT: Tensor | None):  # noqa: D102
        hs, act, hn, w_hh, valid, zh = ctx.saved_tensors
        d_hT = torch.zeros_like(hs[0]) if d_hT is None else d_hT.contiguous()
        d_out = None if d_out is None else d_out.contiguous()
        ops = native.load()
        d_xp, d_w, d_b, dh0 = ops.plain_gru_backward(d_out, d_hT, hs, act, hn, w_hh, valid, zh, ctx.p)
        grads = (d_xp, dh0, d_w, d_b, None, None, None)[: len(ctx.needs_input_grad)]  # zh, p may be left out
        return tuple(g if need else None for g, need in zip(grads, ctx.needs_input_grad, strict=True))
