"""Whole-sequence forward and hand-written backward for the LSTM with zoneout: zoneout's CPU fast path.

Zoneout (Krueger et al. 2016) mixes every step's new state with the previous one, which PyTorch's fused LSTM
kernel has no hook for; stepping :class:`rnnlab.nn.cells.LSTMCell` in Python (the reference loop) ran about
10x slower than the fused kernel on the HAR and Shakespeare recipes. This autograd Function runs the whole
sequence in C++ (``csrc/lstm_seq.cpp``, built by :mod:`rnnlab.nn.native`): per step one oneDNN matmul and one
pass over each batch row; the backward is the chain rule written out. Ragged batches are masked, not packed.

It takes ``xp = x W_ih^T + b_ih + b_hh`` for all steps (time-major (T, B, 4H), computed under plain autograd)
and returns (h_1..h_T as (T, B, H), h_T, c_T). The equations, and the truth in the tests, are the reference
loop's: :class:`rnnlab.nn.cells.LSTMCell` then :func:`rnnlab.nn.regularize.zoneout` (the masks come from
:func:`rnnlab.nn.regularize.zoneout_masks`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.nn import native


class ZoneoutLSTMSequence(torch.autograd.Function):
    """LSTM over a whole sequence from xp = x W_ih^T + b_ih + b_hh, gates i, f, g, o:
    c~ = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g);  h~ = σ(o) ⊙ tanh(c~);
    c_t = k_c ⊙ c_{t-1} + (1 - k_c) ⊙ c~;  h_t = k_h ⊙ h_{t-1} + (1 - k_h) ⊙ h~.
    k_h, k_c are the 0/1 masks `zh`, `zc` (T, B, H) in training, or the rates `p_h`, `p_c` everywhere when
    they are None (eval). `valid` (T, B) bool marks real steps (None: all real)."""

    @staticmethod
    def forward(  # noqa: D102
        ctx,
        xp: Tensor,
        h0: Tensor,
        c0: Tensor,
        w_hh: Tensor,
        valid: Tensor | None,
        zh: Tensor | None,
        zc: Tensor | None,
        p_h: float,
        p_c: float,
    ):
        ops = native.load()
        xp, h0, c0, w_hh = xp.contiguous(), h0.contiguous(), c0.contiguous(), w_hh.contiguous()
        keep = any(ctx.needs_input_grad)
        hs, cs, act, tc = ops.zoneout_lstm_forward(
            xp, h0, c0, w_hh, valid, zh, zc, float(p_h), float(p_c), keep
        )
        if keep:
            ctx.save_for_backward(hs, cs, act, tc, w_hh, valid, zh, zc)
            ctx.rates = (float(p_h), float(p_c))
        t_max = xp.shape[0]
        return hs[1:], hs[t_max].clone(), cs[t_max].clone()

    @staticmethod
    def backward(ctx, d_out: Tensor | None, d_hT: Tensor | None, d_cT: Tensor | None):  # noqa: D102
        hs, cs, act, tc, w_hh, valid, zh, zc = ctx.saved_tensors
        d_hT = torch.zeros_like(hs[0]) if d_hT is None else d_hT.contiguous()
        d_cT = torch.zeros_like(cs[0]) if d_cT is None else d_cT.contiguous()
        d_out = None if d_out is None else d_out.contiguous()
        d_xp, d_w, dh0, dc0 = native.load().zoneout_lstm_backward(
            d_out, d_hT, d_cT, hs, cs, act, tc, w_hh, valid, zh, zc, *ctx.rates
        )
        grads = (d_xp, dh0, dc0, d_w, None, None, None, None, None)
        return tuple(g if need else None for g, need in zip(grads, ctx.needs_input_grad, strict=True))
