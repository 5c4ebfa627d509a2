"""The scans behind minGRU/minLSTM (see :mod:`rnnlab.nn.minrnn`): h_t = h_{t-1} + z_t ⊙ (v_t - h_{t-1}) over time.

Scans (``scan=``), all the same recurrence, tied by tests to the step-by-step loop:

- ``"chunked"`` (default): time is cut into chunks of C steps (C ≈ sqrt(T)); (1) every chunk runs from a zero
  state at once, keeping only its end value and the product of its a's; (2) a short loop over the T/C chunk
  boundaries carries the true state in; (3) every chunk reruns from its true start, writing h. Only products
  and sums of numbers in [0, 1], no division and no logs: as exact as the loop in float32 at any T. Each of
  the ~3C + T/C steps is one batched op over all chunks. Projection, gates and scan of a layer are one
  autograd Function whose backward is the adjoint scan, run the other way in time by the same kernel, so
  nothing per step is kept for autograd; work goes in time blocks of a few MB so temporaries stay in cache.
- ``"log"``: the paper's log-space scan, h_t = exp(a*_t + logcumsumexp_k<=t(log b_k - a*_k)) with
  a*_t = sum_k<=t log a_k (h_0 is added back in linear space, so any sign of state works). Loses relative
  precision ~ eps * |a*_T| on long sequences.
- ``"sequential"``: the equations one step at a time under autograd: the slow truth.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnlab.nn.lengths import mask

KINDS = {"mingru": 2, "minlstm": 3}  # kind -> gates in the input projection
SCANS = ("chunked", "log", "sequential")
_TINY = torch.finfo(torch.float32).tiny
State = tuple[Tensor, ...]


# --- the cell's pieces -------------------------------------------------------------------------------
def g(x: Tensor) -> Tensor:
    """The paper's candidate activation: x + 0.5 for x >= 0, σ(x) below; continuous and always > 0."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: Tensor) -> Tensor:
    """log g(x), computed without forming g for x < 0: log σ(x) = -softplus(-x)."""
    return torch.where(x >= 0, torch.log(torch.relu(x) + 0.5), F.logsigmoid(x))


def gate_logit(kind: str, p: Tensor) -> tuple[Tensor, Tensor]:
    """Split one direction's projection (..., G*H) into the gate logit q (z = σ(q)) and h~'s pre-activation.

    minGRU: q = W_z x + b_z.  minLSTM: q = log i - log f = log σ(p_i) - log σ(p_f), since
    i' = i / (f + i) = σ(log i - log f) (and f' = 1 - i').
    """
    if kind == "mingru":
        q, u = p.chunk(2, dim=-1)
        return q, u
    pf, pi, u = p.chunk(3, dim=-1)
    return F.logsigmoid(pi) - F.logsigmoid(pf), u


# --- scans -------------------------------------------------------------------------------------------
def auto_chunk(t: int) -> int:
    """Chunk length for the chunked scan: about sqrt(T), which balances the ~3C in-chunk steps and T/C boundaries."""
    return max(1, round(math.sqrt(t)))


def _step(lerp: bool, prev: Tensor, x: Tensor, y: Tensor, out: Tensor | None = None) -> Tensor:
    """One step for every chunk at once: lerp form prev + x (y - prev), linear form x prev + y."""
    if lerp:
        return torch.lerp(prev, y, x, out=out) if out is not None else torch.lerp(prev, y, x)
    return torch.addcmul(y, x, prev, out=out) if out is not None else torch.addcmul(y, x, prev)


@torch.no_grad()
def _scan_kernel(
    x: Tensor, y: Tensor, h0: Tensor, reverse: bool, lerp: bool, chunk: int | None, out: Tensor | None = None
) -> Tensor:
    """h_t = x_t h_{t-1} + y_t (lerp=False) or h_{t-1} + x_t (y_t - h_{t-1}) (lerp=True); (B, T, H) -> (B, T, H).

    reverse=True runs from t = T-1 down to 0 with h_{t+1} in place of h_{t-1}. h0 (B, H) is the state before the
    first processed step. Chunked in three phases (module docstring); steps past the last whole chunk run one
    at a time. Inputs and `out` may be strided views (e.g. one direction of a (B, T, D, H) buffer).
    """
    b, t, h = x.shape
    c = min(chunk or auto_chunk(t), t)
    n = t // c
    out = torch.empty_like(y) if out is None else out
    xs, ys, outs = (v[:, : n * c].unflatten(1, (n, c)).unbind(2) for v in (x, y, out))  # C views (B, N, H)
    order = range(c - 1, -1, -1) if reverse else range(c)
    tail = range(n * c, t)
    s = h0
    if reverse:  # the steps past the whole chunks come first when running backwards
        for i in reversed(tail):
            s = _step(lerp, s, x[:, i], y[:, i], out=out[:, i])
    if n > 1:
        # (1) chunks that are not processed last run from zero: end value acc and product of a's pa
        k = slice(1, n) if reverse else slice(0, n - 1)
        first, *rest = order
        xf, yf = xs[first][:, k], ys[first][:, k]
        acc = xf * yf if lerp else yf.clone()
        pa = 1 - xf if lerp else xf.clone()
        for i in rest:
            xi = xs[i][:, k]
            acc = _step(lerp, acc, xi, ys[i][:, k], out=acc)
            if lerp:
                pa.addcmul_(pa, xi, value=-1)  # pa *= 1 - z
            else:
                pa.mul_(xi)
        # (2) the true state at each chunk's start, one chunk boundary at a time
        starts = [s]
        for j in range(n - 1):
            jj = n - 2 - j if reverse else j
            starts.append(torch.addcmul(acc[:, jj], pa[:, jj], starts[-1]))
        start = torch.stack(starts[::-1] if reverse else starts, dim=1)
    else:
        start = s.unsqueeze(1)
    # (3) every chunk from its true start, writing h
    prev = start
    for i in order:
        prev = _step(lerp, prev, xs[i], ys[i], out=outs[i])
    s = prev[:, 0] if reverse else prev[:, -1]
    if not reverse:
        for i in tail:
            s = _step(lerp, s, x[:, i], y[:, i], out=out[:, i])
    return out


_BLOCK = 1 << 20  # elements in one time block's temporaries (4 MB in float32): measured best at 2^19-2^20


def _blocks(t: int, per_step: int, descending: bool) -> list[tuple[int, int]]:
    """Time blocks [s, e) of about _BLOCK / per_step steps, in processing order.

    Temporaries per block stay in cache and are reused block after block (`_Workspace`). Full-length (B, T, H)
    temporaries were the bottleneck at T=4096: above glibc's mmap threshold each is fresh pages on every call,
    and first-touching them cost more than the arithmetic (blocks: 2.3x faster there).
    """
    tb = max(1, min(t, _BLOCK // max(1, per_step)))
    spans = [(s, min(s + tb, t)) for s in range(0, t, tb)]
    return spans[::-1] if descending else spans


class _Workspace:
    """Buffers reused by every time block of one forward or backward: allocated, and paged in, once per call."""

    def __init__(self, like: Tensor) -> None:
        self.like, self.bufs = like, {}

    def get(self, name: str, *shape: int) -> Tensor:
        n = math.prod(shape)
        if name not in self.bufs or self.bufs[name].numel() < n:
            self.bufs[name] = self.like.new_empty(n)
        return self.bufs[name][:n].view(shape)


def _gates(kind: str, pb: Tensor, scratch: Tensor, ws: _Workspace) -> Tensor:
    """In place on one block of the projection (B, Tb, G, H): v = g(u) over the u slot, σ over the gates.

    Returns z: the z slot itself for minGRU; for minLSTM (slots then hold f and i) i / (f + i) in `ws`.
    `scratch` (B, Tb, H) is overwritten.
    """
    u = pb[:, :, -1]
    torch.sigmoid(u, out=scratch)
    torch.maximum(u.add_(0.5), scratch, out=u)  # g(u) = max(u + 0.5, σ(u)): they cross at u = 0
    if kind == "mingru":
        return torch.sigmoid(pb[:, :, 0], out=pb[:, :, 0])
    f = torch.sigmoid(pb[:, :, 0], out=pb[:, :, 0])
    return _lstm_z(f, torch.sigmoid(pb[:, :, 1], out=pb[:, :, 1]), ws.get("z", *scratch.shape))


def _lstm_z(f: Tensor, i: Tensor, out: Tensor) -> Tensor:
    """i' = i / (f + i), the denominator kept off 0 where both gates underflow (pre-activations below -100)."""
    torch.add(f, i, out=out).clamp_min_(_TINY)
    return torch.div(i, out, out=out)


class MinLayer(torch.autograd.Function):
    """One layer, every direction: x (B, T, I) -> (output (B, T, D*H), h_n (D, B, H)), by the chunked kernel.

    Forward: p = x W^T + b; z = σ(q) (0 past a length), v = g(u) and h_t = h_{t-1} + z_t (v_t - h_{t-1}),
    written straight into the (B, T, D, H) output (no concatenation), which is then zeroed past each length.
    Backward: the adjoint scan, run the other way in time by the same kernel,
        λ_t = dL/dh_t (total) = gh_t + (1 - z_{t+1}) λ_{t+1},   λ after the last step = dL/dh_n,
        dv_t = z_t λ_t,   dz_t = (v_t - h_{t-1}) λ_t,   dh_0 = (1 - z_1) λ_1   (mirrored for the reverse direction),
    then through σ and g by hand and into dx, dW, db. Past a length z = 0, so nothing flows there.
    Written for CPU memory traffic, which bounds it: z and v overwrite p in place (saved for backward); all
    other temporaries are per time block (`_blocks`); no bool-mask `where`/`masked_fill` on large tensors
    (~10x slower than float arithmetic on CPU); ops on strided slices write into given buffers (letting
    PyTorch allocate the result of a strided input ran several times slower).
    g'(u) is taken as 1 where v >= 0.5: exact except for -3e-8 < u < 0, where g(u) rounds to 0.5 in float32.
    """

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, bias: Tensor, h0: Tensor, lengths, kind: str, chunk):
        (b, t, n_in), (nd, _, hid) = x.shape, h0.shape
        p = torch.addmm(bias, x.reshape(b * t, n_in), w.t()).view(b, t, nd, KINDS[kind], hid)
        out = x.new_empty(b, t, nd, hid)
        keep = None if lengths is None else mask(lengths, t, x.device).to(x.dtype)[:, :, None]
        h_n, ws = [], _Workspace(x)
        for d in range(nd):
            s_ = h0[d]
            for s, e in _blocks(t, b * hid, descending=bool(d)):
                pb, ob = p[:, s:e, d], out[:, s:e, d]
                z = _gates(kind, pb, scratch=ob, ws=ws)
                if keep is not None:
                    z.mul_(keep[:, s:e])  # z = 0 past a length: a_t = 1, b_t = 0, the state is held
                _scan_kernel(z, pb[:, :, -1], s_, bool(d), lerp=True, chunk=chunk, out=ob)
                s_ = ob[:, 0] if d else ob[:, -1]
            h_n.append(s_)
        h_n = torch.stack(h_n)
        if keep is not None:
            out.mul_(keep[..., None])
        ctx.save_for_backward(x, w, h0, out, lengths, keep, p)  # p now holds z and v
        ctx.kind, ctx.chunk = kind, chunk
        return out.view(b, t, nd * hid), h_n

    @staticmethod
    @once_differentiable
    def backward(ctx, g_out: Tensor, g_hn: Tensor):
        x, w, h0, out, lengths, keep, p = ctx.saved_tensors
        kind = ctx.kind
        (b, t, nd, hid), n_in, n_g = out.shape, x.shape[2], KINDS[kind]
        g_out = g_out.reshape(b, t, nd, hid)
        sig_bwd = torch.ops.aten.sigmoid_backward.grad_input  # (grad, y, grad_input=out): grad * y * (1 - y)
        rows = torch.arange(b, device=x.device)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = x.new_empty(x.shape) if need_x else None
        dw, db = torch.zeros_like(w).view(nd, n_g * hid, n_in), torch.zeros_like(w[:, 0]).view(nd, -1)
        dh0, ws = torch.empty_like(h0), _Workspace(x)
        for d in range(nd):
            rev = bool(d)
            lam_in, z_in = g_hn[d], None  # λ and z of the step processed next (in the forward order)
            for s, e in _blocks(t, n_g * b * hid, descending=not rev):
                pb, hb, gb = p[:, s:e, d], out[:, s:e, d], g_out[:, s:e, d]
                if keep is not None:
                    gb = torch.mul(gb, keep[:, s:e], out=ws.get("g", b, e - s, hid))
                zb = pb[:, :, 0]  # minGRU's z, saved by the forward; minLSTM's is recomputed from f and i
                if kind == "minlstm":
                    zb = _lstm_z(pb[:, :, 0], pb[:, :, 1], ws.get("z", b, e - s, hid))
                    if keep is not None:
                        zb.mul_(keep[:, s:e])
                vb = pb[:, :, -1]
                # in processing order: `nxt` follow `cur`; `first` reads the state from before the block
                nxt, cur = (slice(None, -1), slice(1, None)) if rev else (slice(1, None), slice(None, -1))
                first, last = (-1, 0) if rev else (0, -1)
                # a_next: the coefficient carrying λ back from the next step
                buf = ws.get("buf", b, e - s, hid)
                torch.sub(1, zb[:, nxt], out=buf[:, cur])
                buf[:, last] = 1 if z_in is None else 1 - z_in
                lam = ws.get("lam", b, e - s, hid)
                _scan_kernel(buf, gb, lam_in, not rev, lerp=False, chunk=ctx.chunk, out=lam)
                lam_in, z_in = lam[:, first].clone(), zb[:, first].clone()
                dz = buf  # reuse: dz = (v_t - h_{t-1}) λ_t
                torch.sub(vb[:, nxt], hb[:, cur], out=dz[:, nxt])
                edge = (e < t) if rev else (s > 0)  # is the state before the block another step's output?
                h_before = (out[:, e, d] if rev else out[:, s - 1, d]) if edge else h0[d]
                torch.sub(vb[:, first], h_before, out=dz[:, first])
                if not edge:
                    dh0[d] = (1 - z_in) * lam_in
                if rev and lengths is not None:  # reverse starts at each real end, from h0 (out is 0 past it)
                    end = lengths.to(x.device) - 1
                    sel = (end >= s) & (end < e)
                    r, k = rows[sel], end[sel] - s
                    dz[r, k] = vb[r, k] - h0[d][r]
                dz.mul_(lam)
                dv = lam.mul_(zb)
                dp = ws.get("dp", b, e - s, n_g, hid)
                if kind == "mingru":
                    sig_bwd(dz, zb, grad_input=dp[:, :, 0])  # dq = dz z (1 - z)
                else:  # z = σ(log i - log f): dp_i = dq (1 - i), dp_f = -dq (1 - f)
                    dq = sig_bwd(dz, zb, grad_input=dz)
                    torch.addcmul(dq, dq, pb[:, :, 1], value=-1, out=dp[:, :, 1])
                    torch.addcmul(dq, dq, pb[:, :, 0], value=-1, out=dp[:, :, 0]).neg_()
                # du = dv g'(u), g'(u) = max(v (1 - v), [v >= 0.5]): 1 for u >= 0, σ'(u) below
                du = torch.addcmul(vb, vb, vb, value=-1, out=dp[:, :, -1])
                torch.maximum(du, torch.ge(vb, 0.5, out=buf), out=du).mul_(dv)
                # this block's share of dx, dW, db
                dp2 = dp.view(-1, n_g * hid)
                if need_w:
                    dw[d].addmm_(dp2.t(), x[:, s:e].reshape(-1, n_in))
                if need_b:
                    db[d] += dp2.sum(0)
                if need_x:
                    dxb = (dp2 @ w.view(nd, -1, n_in)[d]).view(b, e - s, n_in)
                    dx[:, s:e] = dxb if d == 0 else dx[:, s:e] + dxb
        dw = dw.view(w.shape) if need_w else None
        db = db.view(-1) if need_b else None
        return dx, dw, db, dh0, None, None, None


def log_scan(log_a: Tensor, log_b: Tensor, h0: Tensor) -> Tensor:
    """The paper's log-space scan of h_t = a_t h_{t-1} + b_t (b > 0) over (B, T, H), forward in time.

    h_t = exp(a*_t) h_0 + exp(a*_t + logcumsumexp_{k<=t}(log b_k - a*_k)),  a*_t = sum_{k<=t} log a_k.
    """
    a_star = torch.cumsum(log_a, dim=1)
    h = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))
    if h0.requires_grad or bool(h0.any()):
        h = h + torch.exp(a_star) * h0.unsqueeze(1)
    return h


def sequential_scan(z: Tensor, v: Tensor, h0: Tensor, valid: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The truth: h_t = (1 - z_t) h_{t-1} + z_t v_t one step at a time, holding h where `valid` (B, T) is False.

    Returns (h (B, T, H) with zeros at invalid steps, final h (B, H)).
    """
    h, outs = h0, []
    for t in range(z.shape[1]):
        new = (1 - z[:, t]) * h + z[:, t] * v[:, t]
        if valid is not None:
            m = valid[:, t : t + 1]
            h = torch.where(m, new, h)
            outs.append(h * m.to(h.dtype))
        else:
            h = new
            outs.append(h)
    return torch.stack(outs, dim=1), h
