"""Whole-sequence forward and hand-written backward for the sLSTM: its CPU fast path (``path`` 'sequence').

The sLSTM (:mod:`rnnlab.nn.slstm`) has no PyTorch kernel, and its equations stepped in Python cost a dozen
small tensor ops per step. This autograd Function runs the whole sequence in C++ (``csrc/slstm_seq.cpp``,
built by :mod:`rnnlab.nn.native`): per step one oneDNN matmul and one pass over each batch row. The backward
is the chain rule written out through every path, the stabiliser m_t's (through i', f' and the max's
branch) included. Ragged batches are masked, not packed.

It takes ``xp = x W_ih^T + b_ih`` for all steps (time-major (T, B, 4H), gates i, f, z, o; computed under
plain autograd) and returns (h_1..h_T as (T, B, H), h_T, c_T, n_T, m_T). The truth in the tests is
:class:`rnnlab.nn.slstm.SLSTMCell` stepped by the reference loop.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.nn import native


class SLSTMSequence(torch.autograd.Function):
    """sLSTM over a whole sequence from xp (T, B, 4H) and the state (h0, c0, n0, m0), each (B, H).
    `valid` (T, B) bool marks real steps (None: all real); `exp_forget` picks the exponential forget gate
    over the sigmoid one."""

    @staticmethod
    def forward(  # noqa: D102
        ctx,
        xp: Tensor,
        h0: Tensor,
        c0: Tensor,
        n0: Tensor,
        m0: Tensor,
        w_hh: Tensor,
        b_hh: Tensor | None,
        valid: Tensor | None,
        exp_forget: bool,
    ):
        ops = native.load()
        xp, w_hh = xp.contiguous(), w_hh.contiguous()
        s0 = [s.contiguous() for s in (h0, c0, n0, m0)]
        b = None if b_hh is None else b_hh.contiguous()
        keep = any(ctx.needs_input_grad)
        hs, cs, ns, ms, act = ops.slstm_forward(xp, *s0, w_hh, b, valid, keep, exp_forget)
        if keep:
            ctx.save_for_backward(hs, cs, ns, ms, act, w_hh, valid)
        t = xp.shape[0]
        return hs[1:], hs[t].clone(), cs[t].clone(), ns[t].clone(), ms[t].clone()

    @staticmethod
    def backward(ctx, d_out, d_h, d_c, d_n, d_m):  # noqa: D102
        hs, cs, ns, ms, act, w_hh, valid = ctx.saved_tensors
        zero = torch.zeros_like(hs[0])
        d_h, d_c, d_n, d_m = (zero if g is None else g.contiguous() for g in (d_h, d_c, d_n, d_m))
        d_out = None if d_out is None else d_out.contiguous()
        d_xp, d_w, d_b, dh0, dc0, dn0, dm0 = native.load().slstm_backward(
            d_out, d_h, d_c, d_n, d_m, hs, cs, ns, ms, act, w_hh, valid
        )
        grads = (d_xp, dh0, dc0, dn0, dm0, d_w, d_b, None, None)
        return tuple(g if need else None for g, need in zip(grads, ctx.needs_input_grad, strict=True))
