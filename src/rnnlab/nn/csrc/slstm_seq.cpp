// Whole-sequence forward and hand-written backward of the sLSTM (rnnlab.nn.slstm_seq), in C++.
//
// The equations of rnnlab.nn.slstm (Beck et al. 2024), gates in the order i, f, z, o, from xp = x W_ih^T + b_ih
// for every step (one matmul outside) and hg = h_{t-1} W_hh^T + b_hh per step:
//   log i = ĩ,  log f = log σ(f̃) (sigmoid forget) or f̃ (exponential forget)
//   m_t = max(log f + m_{t-1}, log i),  i' = exp(log i - m_t),  f' = exp(log f + m_{t-1} - m_t)
//   c_t = f' c_{t-1} + i' tanh(z̃),  n_t = f' n_{t-1} + i',  h_t = σ(õ) c_t / n_t
// The backward is the chain rule through every path, the stabiliser's included: m_t moves i' and f' and
// takes the max's branch (h_t alone does not depend on m_t, but c_t, n_t and m_t are outputs a loss or the
// next chunk may read). Per step: one matmul (oneDNN's) and one pass over each batch row, rows split across
// threads; a (T, B) `valid` mask leaves the state unchanged at padded steps. Built on first use by rnnlab.nn.native; contiguous CPU float32/float64.
#include "common.h"
#include "loops.h"

namespace rnnlab::slstm {
namespace {

template <typename T>
inline T log_sigmoid(T x) {  // -softplus(-x) = min(x, 0) - log(1 + e^{-|x|}), stable for both signs
  return (x < T(0) ? x : T(0)) - fast_log(T(1) + fast_exp(x < T(0) ? x : -x));
}

// s: hs, cs, ns, ms (T+1, B, H) each; act (K, B, 6H) = i', f', z, o, d(log f)/d(f̃) and 1 where m_t took
// the forget branch of its max (0: the input branch), for every kept step
// ExpF: the exponential forget gate (a template parameter, not a flag read in the loop, so the loop vectorises)
template <typename T, bool ExpF>
void forward_impl(const at::Tensor& xp, const at::Tensor& w_hh, const at::Tensor& b_hh, const OptTensor& valid,
                  bool keep, std::vector<at::Tensor>& s) {
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 4;
  const T *x = xp.data_ptr<T>(), *bh = b_hh.data_ptr<T>();
  const bool* ok = valid_ptr(valid);
  T *hp = s[0].data_ptr<T>(), *cp = s[1].data_ptr<T>(), *np = s[2].data_ptr<T>(), *mp = s[3].data_ptr<T>();
  T* ap = s[4].data_ptr<T>();
  const at::Tensor w_packed = pack_weight(w_hh, B);
  for (int64_t t = 0; t < T_; ++t) {
    const int64_t slot = keep ? t : 0;  // without a backward to come, one step's gates are all we keep
    const at::Tensor hg = step_matmul(s[0][t], w_packed);
    const T* hgp = hg.data_ptr<T>();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b, nx = r + B;  // this step's row, and the state row it writes
        T *h = hp + nx * H, *c = cp + nx * H, *n = np + nx * H, *m = mp + nx * H;
        if (ok && !ok[r]) {  // padding: the state stays
          std::memcpy(h, hp + r * H, H * sizeof(T));
          std::memcpy(c, cp + r * H, H * sizeof(T));
          std::memcpy(n, np + r * H, H * sizeof(T));
          std::memcpy(m, mp + r * H, H * sizeof(T));
          continue;
        }
        const T *xr = x + r * G, *hgr = hgp + b * G;
        const T *c_prev = cp + r * H, *n_prev = np + r * H, *m_prev = mp + r * H;
        T* a = ap + (slot * B + b) * 6 * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T log_i = xr[j] + hgr[j] + bh[j];
          const T fp = xr[H + j] + hgr[H + j] + bh[H + j];
          const T log_f = ExpF ? fp : log_sigmoid(fp);
          const T mf = log_f + m_prev[j];
          const T mt = mf > log_i ? mf : log_i;
          const T ig = fast_exp(log_i - mt), fg = fast_exp(mf - mt);
          const T z = tanh_(xr[2 * H + j] + hgr[2 * H + j] + bh[2 * H + j]);
          const T o = sigmoid(xr[3 * H + j] + hgr[3 * H + j] + bh[3 * H + j]);
          c[j] = fg * c_prev[j] + ig * z;
          n[j] = fg * n_prev[j] + ig;
          m[j] = mt;
          h[j] = o * c[j] / n[j];
          a[j] = ig;
          a[H + j] = fg;
          a[2 * H + j] = z;
          a[3 * H + j] = o;
          a[4 * H + j] = ExpF ? T(1) : sigmoid(-fp);  // d log σ(f̃) / d f̃ = 1 - σ(f̃)
          a[5 * H + j] = mf > log_i ? T(1) : T(0);           // torch.maximum's branch (ties: measure zero)
        }
      }
    });
  }
}

// in: dh, dc, dn, dm (B, H) = dLoss/d(h_T, c_T, n_T, m_T); out: the same for step 0, and d_xp (T, B, 4H),
// which is also every step's dLoss/dhg (the two halves enter each gate as a sum)
template <typename T>
void backward_impl(const OptTensor& d_out, const std::vector<at::Tensor>& s, const at::Tensor& w_hh_t,
                   const OptTensor& valid, at::Tensor& dh, at::Tensor& dc, at::Tensor& dn, at::Tensor& dm,
                   at::Tensor& d_xp) {
  const at::Tensor &cs = s[1], &ns = s[2], &act = s[4];
  const int64_t T_ = act.size(0), B = act.size(1), H = act.size(2) / 6, G = 4 * H;
  at::Tensor dh_pass = at::zeros_like(dh);  // a padded row's dLoss/dh_t, which passes straight to h_{t-1}
  const T* dout = opt_ptr<T>(d_out);
  const bool* ok = valid_ptr(valid);
  const T *cp = cs.data_ptr<T>(), *np = ns.data_ptr<T>(), *ap = act.data_ptr<T>();
  T *dxp = d_xp.data_ptr<T>(), *dhp = dh.data_ptr<T>(), *dcp = dc.data_ptr<T>(), *dnp = dn.data_ptr<T>();
  T *dmp = dm.data_ptr<T>(), *dpp = dh_pass.data_ptr<T>();
  const at::Tensor w_t_packed = pack_weight(w_hh_t, B);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b;
        T *dhr = dhp + b * H, *dcr = dcp + b * H, *dnr = dnp + b * H, *dmr = dmp + b * H;
        T *dx = dxp + r * G, *pass = dpp + b * H;
        if (dout) {
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) dhr[j] += dout[r * H + j];
        }
        if (ok && !ok[r]) {  // padding passed the state through: so does the gradient (dc, dn, dm stay)
          std::memcpy(pass, dhr, H * sizeof(T));
          std::memset(dx, 0, G * sizeof(T));
          continue;
        }
        std::memset(pass, 0, H * sizeof(T));
        const T *a = ap + r * 6 * H, *c = cp + (r + B) * H, *n = np + (r + B) * H;
        const T *c_prev = cp + r * H, *n_prev = np + r * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T ig = a[j], fg = a[H + j], z = a[2 * H + j], o = a[3 * H + j], dlf = a[4 * H + j];
          const T from_f = a[5 * H + j];
          const T inv_n = T(1) / n[j], d = dhr[j];
          const T dct = dcr[j] + d * o * inv_n;                // dLoss/dc_t, all paths
          const T dnt = dnr[j] - d * o * c[j] * inv_n * inv_n;  // dLoss/dn_t, all paths
          const T dfg = dct * c_prev[j] + dnt * n_prev[j];     // dLoss/df'
          const T dig = dct * z + dnt;                          // dLoss/di'
          const T dmt = dmr[j] - dig * ig - dfg * fg;           // dLoss/dm_t: i', f' are exp(. - m_t)
          const T dlog_f = dfg * fg + from_f * dmt;             // = dLoss/dm_{t-1} too (same sum)
          dx[j] = dig * ig + (T(1) - from_f) * dmt;             // d ĩ = d log i
          dx[H + j] = dlog_f * dlf;                             // d f̃, through log f
          dx[2 * H + j] = dct * ig * (T(1) - z * z);           // d z̃
          dx[3 * H + j] = d * c[j] * inv_n * o * (T(1) - o);   // d õ
          dcr[j] = dct * fg;
          dnr[j] = dnt * fg;
          dmr[j] = dlog_f;
        }
      }
    });
    dh.copy_(step_matmul(d_xp[t], w_t_packed));  // h_{t-1} reaches the loss only through hg ...
    if (ok) dh.add_(dh_pass);                     // ... or straight through a padded step
  }
}

}  // namespace

std::vector<at::Tensor> forward(at::Tensor xp, at::Tensor h0, at::Tensor c0, at::Tensor n0, at::Tensor m0,
                                at::Tensor w_hh, OptTensor b_hh, OptTensor valid, bool keep, bool exp_forget) {
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 4, K = keep ? T_ : 1;
  const at::Tensor bias = b_hh.has_value() && b_hh->defined() ? *b_hh : at::zeros({G}, xp.options());
  std::vector<at::Tensor> s = {xp.new_empty({T_ + 1, B, H}), xp.new_empty({T_ + 1, B, H}),
                               xp.new_empty({T_ + 1, B, H}), xp.new_empty({T_ + 1, B, H}),
                               xp.new_empty({K, B, 6 * H})};
  s[0][0].copy_(h0);
  s[1][0].copy_(c0);
  s[2][0].copy_(n0);
  s[3][0].copy_(m0);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "slstm_forward", [&] {
    if (exp_forget) {
      forward_impl<scalar_t, true>(xp, w_hh, bias, valid, keep, s);
    } else {
      forward_impl<scalar_t, false>(xp, w_hh, bias, valid, keep, s);
    }
  });
  return s;  // hs, cs, ns, ms, act (act: the last step only unless keep)
}

std::vector<at::Tensor> backward(OptTensor d_out, at::Tensor dh, at::Tensor dc, at::Tensor dn, at::Tensor dm,
                                 at::Tensor hs, at::Tensor cs, at::Tensor ns, at::Tensor ms, at::Tensor act,
                                 at::Tensor w_hh, OptTensor valid) {
  const int64_t T_ = act.size(0), B = act.size(1), H = act.size(2) / 6, G = 4 * H;
  at::Tensor d_xp = at::empty({T_, B, G}, act.options());
  at::Tensor dh0 = dh.clone(), dc0 = dc.clone(), dn0 = dn.clone(), dm0 = dm.clone();
  const at::Tensor w_hh_t = w_hh.t().contiguous();
  const std::vector<at::Tensor> s = {hs, cs, ns, ms, act};
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "slstm_backward", [&] {
    backward_impl<scalar_t>(d_out, s, w_hh_t, valid, dh0, dc0, dn0, dm0, d_xp);
  });
  // d_xp, d_w_hh, d_b_hh, dh0, dc0, dn0, dm0
  return {d_xp, weight_grad(d_xp, hs), d_xp.view({T_ * B, G}).sum(0), dh0, dc0, dn0, dm0};
}

}  // namespace rnnlab::slstm
