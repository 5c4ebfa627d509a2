"""Whole-sequence forward and hand-written backward for the layer-normalised LSTM and GRU cells.

PyTorch has no fused kernel for these cells, and running their equations step by step under autograd records
about 30 nodes per step (4-10x the fused LSTM; ``torch.compile`` of the whole loop got 2.6x after minutes of
compiling). Here one ``autograd.Function`` runs the whole sequence: the forward loop does only the per-step
work (one matmul, the layer norms, the gates) and keeps what the backward needs; the backward loop does one
matmul and the pointwise chain rule per step; the recurrent weight's gradient is one product over all steps
at the end, and the norms' gain and shift gradients are summed as the loop goes. The loops run in C++ (``csrc/layernorm_seq.cpp``, built on first use by
:mod:`rnnlab.nn.native`) on CPU, and as the same loops written with torch ops elsewhere (CUDA) or where the
C++ build is unavailable: ``loops()`` says which.

Both take the raw input half ``xp = x W_ih^T`` for all t at once (one matmul outside, under plain autograd),
time-major (T, B, G), and normalise it inside (its norm has no recursion; the C++ loop fuses it into the step's
pass). An optional (T, B) bool ``valid`` mask marks real steps: a padded step leaves the state unchanged, so
the final state is the one at each sequence's last real step. The equations (and the truth in the tests) are
:class:`rnnlab.nn.cells.LayerNormLSTMCell` and :class:`rnnlab.nn.cells.LayerNormGRUCell`.
"""

from __future__ import annotations

from types import ModuleType, SimpleNamespace

import torch
from torch import Tensor

from rnnlab.nn import native
from rnnlab.nn.cells import LN_EPS
from rnnlab.nn.graphs import Graphed

EPS = LN_EPS
LOOPS = ("auto", "cpp", "torch")


def _ln(x: Tensor, weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """Layer norm over the last axis, returning (y, mean, rstd) for the backward."""
    return torch.native_layer_norm(x, (x.shape[-1],), weight, bias, EPS)


def _ln_backward(dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, weight: Tensor) -> Tensor:
    """dLoss/dx of a layer norm given dLoss/dy (weight and bias gradients are summed separately)."""
    return torch.ops.aten.native_layer_norm_backward(
        dy, x, (x.shape[-1],), mean, rstd, weight, None, [True, False, False]
    )[0]


def _affine_grads(dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, need_bias: bool):
    """Gradients of a layer norm's gain and shift summed over every (step, sample): sum dy*x_hat, sum dy
    (ATen's fused pass: 15x faster here than the four ops that spell it)."""
    n = x.shape[-1]
    ones = x.new_ones(n)
    _, d_gain, d_shift = torch.ops.aten.native_layer_norm_backward(
        dy, x, (n,), mean, rstd, ones, ones, [False, True, need_bias]
    )
    return d_gain, (d_shift if need_bias else None)


def _onednn_ok(x: Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32 and torch.backends.mkldnn.is_available()


def linear(x: Tensor, weight: Tensor) -> Tensor:
    """x W^T over the last axis: oneDNN's matmul for CPU float32 (on this AMD CPU MKL, which ``@`` calls, runs
    at AVX2 speed: 2.5 ms against 0.4 ms for (8192 x 512) @ (512 x 9)), else ``@``."""
    if not _onednn_ok(x):
        return x @ weight.t()
    flat = torch.ops.mkldnn._linear_pointwise(
        x.reshape(-1, x.shape[-1]), weight.contiguous(), None, "none", [None], ""
    )
    return flat.view(*x.shape[:-1], weight.shape[0])


class InputProjection(torch.autograd.Function):
    """x W^T over every step at once, with matmuls chosen for speed: oneDNN for the product and for the input
    gradient, and the weight gradient as (x^T g)^T, which MKL runs 3-4x faster than the (G, T*B) x (T*B, F)
    product autograd would ask for when F is small (1.5 ms against 4.9-6 ms for F = 9, T*B = 8192, G = 512)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:  # noqa: D102
        ctx.save_for_backward(x, weight)
        return linear(x, weight)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: D102
        x, weight = ctx.saved_tensors
        d_x = linear(grad, weight.t()) if ctx.needs_input_grad[0] else None
        d_w = None
        if ctx.needs_input_grad[1]:
            d_w = (x.reshape(-1, x.shape[-1]).t() @ grad.reshape(-1, grad.shape[-1])).t()
        return d_x, d_w


# --- the loops with torch ops: same inputs, outputs and saved tensors as csrc/layernorm_seq.cpp ----------
def _affine_rows(width: int, *rows: Tensor | None) -> Tensor:
    """Stack gain/shift gradient rows, zero-padded to `width` (a missing shift counts as zeros)."""
    ref = next(r for r in rows if r is not None)
    out = ref.new_zeros(len(rows), width)
    for k, r in enumerate(rows):
        if r is not None:
            out[k, : r.shape[0]] = r
    return out


def _lstm_forward(xp, h0, c0, w_hh, g_ih, b_ih, g_hh, b_hh, g_c, b_c, valid):
    T, B, G = xp.shape
    H = G // 4
    hs, cs = xp.new_empty(T + 1, B, H), xp.new_empty(T + 1, B, H)
    hs[0], cs[0] = h0, c0
    act, hg, tc = xp.new_empty(T, B, G), xp.new_empty(T, B, G), xp.new_empty(T, B, H)
    stats = xp.new_empty(6, T, B, 1)  # mean, rstd of LN_ih, LN_hh, LN_c
    xn, stats[0], stats[1] = _ln(xp, g_ih, b_ih)  # the input half needs no recursion: all steps at once
    w_t = w_hh.t()
    for t in range(T):
        torch.mm(hs[t], w_t, out=hg[t])
        y, stats[2, t], stats[3, t] = _ln(hg[t], g_hh, b_hh)
        a = act[t]
        torch.add(xn[t], y, out=a)
        a[:, : 2 * H].sigmoid_()
        a[:, 2 * H : 3 * H].tanh_()
        a[:, 3 * H :].sigmoid_()
        c = cs[t + 1]
        torch.mul(a[:, H : 2 * H], cs[t], out=c)
        c.addcmul_(a[:, :H], a[:, 2 * H : 3 * H])
        yc, stats[4, t], stats[5, t] = _ln(c, g_c, b_c)
        torch.tanh(yc, out=tc[t])
        torch.mul(a[:, 3 * H :], tc[t], out=hs[t + 1])
        if valid is not None:  # padding: the state stays
            m = valid[t].unsqueeze(1)
            torch.where(m, c, cs[t], out=c)
            torch.where(m, hs[t + 1], hs[t], out=hs[t + 1])
    return [hs, cs, act, hg, tc, stats]


def _lstm_backward(d_out, dh, dc, xp, hs, cs, act, hg, tc, stats, w_hh, g_ih, g_hh, g_c, valid):
    T, B, G = act.shape
    H = G // 4
    i, f, g, o = act.chunk(4, dim=-1)
    # the non-recursive part of every step at once: d pre-activation = (dc for i, f, g; dh for o) * factor
    factor = torch.cat([g * i * (1 - i), cs[:-1] * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)], -1)
    k = o * (1 - tc * tc)  # d LN_c output = dh * k
    d_gates, d_hg, d_lnc = torch.empty_like(act), torch.empty_like(act), torch.empty_like(tc)
    dh, dc = dh.clone(), dc.clone()
    for t in range(T - 1, -1, -1):
        if d_out is not None:
            dh += d_out[t]
        if valid is not None:
            m = valid[t].unsqueeze(1)
            dh_pass, dc_pass = dh * ~m, dc * ~m
            dh, dc = dh * m, dc * m
        torch.mul(dh, k[t], out=d_lnc[t])
        dc += _ln_backward(d_lnc[t], cs[t + 1], stats[4, t], stats[5, t], g_c)
        dg = d_gates[t]
        torch.mul(factor[t, :, : 3 * H].view(B, 3, H), dc.unsqueeze(1), out=dg[:, : 3 * H].view(B, 3, H))
        torch.mul(factor[t, :, 3 * H :], dh, out=dg[:, 3 * H :])
        dc = dc * f[t]
        d_hg[t] = _ln_backward(dg, hg[t], stats[2, t], stats[3, t], g_hh)
        dh = d_hg[t] @ w_hh
        if valid is not None:
            dh += dh_pass
            dc += dc_pass
    gi, shift = _affine_grads(d_gates, xp, stats[0], stats[1], True)
    gh, _ = _affine_grads(d_gates, hg, stats[2], stats[3], False)
    gc, shift_c = _affine_grads(d_lnc, cs[1:], stats[4], stats[5], True)
    d_xp = _ln_backward(d_gates, xp, stats[0], stats[1], g_ih)
    d_w = d_hg.reshape(-1, G).t() @ hs[:-1].reshape(-1, H)
    return [d_xp, d_w, dh, dc, _affine_rows(G, gi, shift, gh, shift, gc, shift_c)]


def _gru_forward(xp, h0, w_hh, g_ih, b_ih, g_hh, b_hh, valid):
    T, B, G = xp.shape
    H = G // 3
    hs = xp.new_empty(T + 1, B, H)
    hs[0] = h0
    act, hg = xp.new_empty(T, B, G), xp.new_empty(T, B, G)
    stats = xp.new_empty(4, T, B, 1)  # mean, rstd of LN_ih, LN_hh
    xn, stats[0], stats[1] = _ln(xp, g_ih, b_ih)
    w_t = w_hh.t()
    for t in range(T):
        torch.mm(hs[t], w_t, out=hg[t])
        y, stats[2, t], stats[3, t] = _ln(hg[t], g_hh, b_hh)
        a = act[t]
        torch.add(xn[t, :, : 2 * H], y[:, : 2 * H], out=a[:, : 2 * H])
        a[:, : 2 * H].sigmoid_()
        n = a[:, 2 * H :]
        torch.addcmul(xn[t, :, 2 * H :], a[:, :H], y[:, 2 * H :], out=n)
        n.tanh_()
        h = hs[t + 1]
        torch.sub(hs[t], n, out=h)
        h.mul_(a[:, H : 2 * H]).add_(n)
        if valid is not None:
            torch.where(valid[t].unsqueeze(1), h, hs[t], out=h)
    return [hs, act, hg, stats]


def _gru_backward(d_out, dh, xp, hs, act, hg, stats, w_hh, g_ih, g_hh, b_hh, valid):
    T, B, G = act.shape
    H = G // 3
    r, z, n = act.chunk(3, dim=-1)
    hn_n = _ln(hg, g_hh, b_hh)[0][..., 2 * H :]  # the normalised recurrent half of n, recomputed
    # dLoss/d(pre-activations) = dh * factor for the input half, dh * factor_h for the recurrent half
    f_n = (1 - z) * (1 - n * n)
    factor = torch.cat([f_n * hn_n * r * (1 - r), (hs[:-1] - n) * z * (1 - z), f_n], -1)
    factor_h = torch.cat([factor[..., : 2 * H], f_n * r], -1)
    d_x, d_hn, d_hg = torch.empty_like(act), torch.empty_like(act), torch.empty_like(act)
    dh = dh.clone()
    for t in range(T - 1, -1, -1):
        if d_out is not None:
            dh += d_out[t]
        if valid is not None:
            m = valid[t].unsqueeze(1)
            dh_pass = dh * ~m
            dh = dh * m
        torch.mul(factor[t].view(B, 3, H), dh.unsqueeze(1), out=d_x[t].view(B, 3, H))
        torch.mul(factor_h[t].view(B, 3, H), dh.unsqueeze(1), out=d_hn[t].view(B, 3, H))
        d_hg[t] = _ln_backward(d_hn[t], hg[t], stats[2, t], stats[3, t], g_hh)
        dh = torch.addmm(dh * z[t], d_hg[t], w_hh)
        if valid is not None:
            dh += dh_pass
    gi, si = _affine_grads(d_x, xp, stats[0], stats[1], True)
    gh, sh = _affine_grads(d_hn, hg, stats[2], stats[3], True)
    d_xp = _ln_backward(d_x, xp, stats[0], stats[1], g_ih)
    d_w = d_hg.reshape(-1, G).t() @ hs[:-1].reshape(-1, H)
    return [d_xp, d_w, dh, _affine_rows(G, gi, si, gh, sh)]


TORCH_LOOPS = SimpleNamespace(
    lstm_forward=_lstm_forward,
    lstm_backward=_lstm_backward,
    gru_forward=_gru_forward,
    gru_backward=_gru_backward,
)


# on a GPU the torch-ops loops are launch-bound: 'auto' replays each as a CUDA graph recorded per shape
GRAPHED_LOOPS = SimpleNamespace(**{name: Graphed(fn) for name, fn in vars(TORCH_LOOPS).items()})


def loops(
    device: torch.device | str, dtype: torch.dtype, choice: str = "auto"
) -> ModuleType | SimpleNamespace:
    """The loops to run: the C++ build on CPU for float32/float64 when it loads ('auto' or 'cpp'); on CUDA the
    torch-ops loops replayed as CUDA graphs ('auto'); else the torch-ops loops as they are ('torch', other
    dtypes, no C++ build). 'cpp' where the build cannot load is an error."""
    if choice not in LOOPS:
        raise ValueError(f"loops must be one of {LOOPS}, got {choice!r}")
    kind = torch.device(device).type
    if choice != "torch" and kind == "cpu" and dtype in (torch.float32, torch.float64):
        module = native.load()
        if module is not None:
            return module
    if choice == "auto" and kind == "cuda":
        return GRAPHED_LOOPS
    if choice == "cpp":
        raise RuntimeError(
            f"the C++ loops are unavailable here ({native.status()['reason'] or 'not a CPU float tensor'}); "
            "use fast_path='auto' (loops='auto' or 'torch') to run the same loops in torch ops"
        )
    return TORCH_LOOPS


def _needed(ctx, grads: tuple) -> tuple:
    """None for the inputs that take no gradient (a missing shift, a frozen weight)."""
    return tuple(g if need else None for g, need in zip(grads, ctx.needs_input_grad, strict=True))


def _forward(ops, name: str, args: list, keep: bool) -> list[Tensor]:
    """Run a forward loop; the C++ ones keep only the last step's gates when no backward will come (inference)."""
    fn = getattr(ops, name)
    return fn(*args) if isinstance(ops, SimpleNamespace) else fn(*args, keep)


def _contiguous(*ts: Tensor | None) -> list[Tensor | None]:
    return [None if t is None else t.contiguous() for t in ts]


class LayerNormLSTMSequence(torch.autograd.Function):
    """Layer-normalised LSTM (Ba et al. 2016) over a whole sequence, from the raw input half xp = x W_ih^T.

    gates = LN_ih(xp_t) + LN_hh(h_{t-1} W_hh^T), order i, f, g, o;  c_t = σ(f) c_{t-1} + σ(i) tanh(g);
    h_t = σ(o) tanh(LN_c(c_t)).   Returns (h_1..h_T as (T, B, H), h_T, c_T).
    """

    @staticmethod
    def forward(ctx, xp, h0, c0, w_hh, g_ih, b_ih, g_hh, b_hh, g_c, b_c, valid, choice):  # noqa: D102
        ops = loops(xp.device, xp.dtype, choice)
        args = _contiguous(xp, h0, c0, w_hh, g_ih, b_ih, g_hh, b_hh, g_c, b_c, valid)
        keep = any(ctx.needs_input_grad)
        hs, cs, act, hg, tc, stats = _forward(ops, "lstm_forward", args, keep)
        ctx.ops = ops
        if keep:
            ctx.save_for_backward(
                args[0], hs, cs, act, hg, tc, stats, args[3], args[4], args[6], args[8], args[10]
            )
        T = xp.shape[0]
        return hs[1:], hs[T].clone(), cs[T].clone()

    @staticmethod
    def backward(ctx, d_out, d_hT, d_cT):  # noqa: D102
        xp, hs, cs, act, hg, tc, stats, w_hh, g_ih, g_hh, g_c, valid = ctx.saved_tensors
        d_hT = torch.zeros_like(hs[0]) if d_hT is None else d_hT.contiguous()
        d_cT = torch.zeros_like(cs[0]) if d_cT is None else d_cT.contiguous()
        d_out = None if d_out is None else d_out.contiguous()
        d_xp, d_w, dh, dc, aff = ctx.ops.lstm_backward(
            d_out, d_hT, d_cT, xp, hs, cs, act, hg, tc, stats, w_hh, g_ih, g_hh, g_c, valid
        )
        H = tc.shape[-1]
        grads = (d_xp, dh, dc, d_w, aff[0], aff[1], aff[2], aff[3], aff[4, :H], aff[5, :H], None, None)
        return _needed(ctx, grads)


class LayerNormGRUSequence(torch.autograd.Function):
    """Layer-normalised GRU over a whole sequence, from the raw input half xp = x W_ih^T.

    xn = LN_ih(xp_t), hn = LN_hh(h_{t-1} W_hh^T), order r, z, n;  r = σ(xn_r + hn_r);  z = σ(xn_z + hn_z);
    n = tanh(xn_n + r ⊙ hn_n);  h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}.   Returns (h_1..h_T as (T, B, H), h_T).
    """

    @staticmethod
    def forward(ctx, xp, h0, w_hh, g_ih, b_ih, g_hh, b_hh, valid, choice):  # noqa: D102
        ops = loops(xp.device, xp.dtype, choice)
        args = _contiguous(xp, h0, w_hh, g_ih, b_ih, g_hh, b_hh, valid)
        keep = any(ctx.needs_input_grad)
        hs, act, hg, stats = _forward(ops, "gru_forward", args, keep)
        ctx.ops = ops
        if keep:
            ctx.save_for_backward(args[0], hs, act, hg, stats, args[2], args[3], args[5], args[6], args[7])
        return hs[1:], hs[xp.shape[0]].clone()

    @staticmethod
    def backward(ctx, d_out, d_hT):  # noqa: D102
        xp, hs, act, hg, stats, w_hh, g_ih, g_hh, b_hh, valid = ctx.saved_tensors
        d_hT = torch.zeros_like(hs[0]) if d_hT is None else d_hT.contiguous()
        d_out = None if d_out is None else d_out.contiguous()
        d_xp, d_w, dh, aff = ctx.ops.gru_backward(
            d_out, d_hT, xp, hs, act, hg, stats, w_hh, g_ih, g_hh, b_hh, valid
        )
        return _needed(ctx, (d_xp, dh, d_w, aff[0], aff[1], aff[2], aff[3], None, None))
