// Whole-sequence forward and hand-written backward of the plain LSTM with zoneout (rnnlab.nn.lstm_seq), in C++.
//
// torch.nn.LSTM's equations, gates in its order i, f, g, o, from xp = x W_ih^T + b_ih + b_hh for every step
// (one matmul outside) and hg = h_{t-1} W_hh^T per step:
//   i = sigmoid(xp_i + hg_i), f = sigmoid(xp_f + hg_f), g = tanh(xp_g + hg_g), o = sigmoid(xp_o + hg_o)
//   c~ = f c_{t-1} + i g,  h~ = o tanh(c~)
// then zoneout (Krueger et al. 2016): c_t = k_c c_{t-1} + (1 - k_c) c~ and h_t = k_h h_{t-1} + (1 - k_h) h~,
// where k is a 0/1 mask per (step, row, unit) in training (zh, zc) and the rate itself in eval (its
// expectation; p_h for h, p_c for c); rates 0 without masks are the plain LSTM. PyTorch's fused kernel has
// no per-step hook, so this loop is zoneout's fast path: per step one matmul (oneDNN's) and one pass over
// each batch row, rows split across threads; the backward is the chain rule per row, one matmul per step
// for dh_{t-1}, and W_hh's gradient is one product over all steps at the end. A (T, B) `valid` mask leaves
// the state unchanged at padded steps. Built on first use by rnnlab.nn.native; contiguous CPU
// float32/float64.
#include "common.h"
#include "loops.h"

namespace rnnlab::lstm {
namespace {

// s: hs, cs (T+1, B, H); act (K, B, 4H) = i, f, g, o after their nonlinearities; tc (K, B, H) = tanh(c~).
// Masked: k from the masks, else the rates p_h, p_c (a template parameter, not a pointer tested in the loop,
// so the loops vectorise)
template <typename T, bool Masked>
void forward_impl(const at::Tensor& xp, const at::Tensor& w_hh, const OptTensor& valid, const OptTensor& zh,
                  const OptTensor& zc, double p_h, double p_c, bool keep, std::vector<at::Tensor>& s) {
  at::Tensor &hs = s[0], &cs = s[1], &act = s[2], &tc = s[3];
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 4;
  const T* x = xp.data_ptr<T>();
  const T *kh_m = opt_ptr<T>(zh), *kc_m = opt_ptr<T>(zc);
  const bool* ok = valid_ptr(valid);
  const T kp_h = static_cast<T>(p_h), kp_c = static_cast<T>(p_c);
  T *hp = hs.data_ptr<T>(), *cp = cs.data_ptr<T>(), *ap = act.data_ptr<T>(), *tcp = tc.data_ptr<T>();
  const at::Tensor w_packed = pack_weight(w_hh, B);
  for (int64_t t = 0; t < T_; ++t) {
    const int64_t slot = keep ? t : 0;  // without a backward to come, one step's gates are all we keep
    const at::Tensor hg = step_matmul(hs[t], w_packed);
    const T* hgp = hg.data_ptr<T>();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b, rs = slot * B + b;
        const T *xr = x + r * G, *hgr = hgp + b * G, *h_prev = hp + r * H, *c_prev = cp + r * H;
        const T *kh = Masked ? kh_m + r * H : nullptr, *kc = Masked ? kc_m + r * H : nullptr;
        T *a = ap + rs * G, *tcr = tcp + rs * H, *h = hp + (r + B) * H, *c = cp + (r + B) * H;
#pragma omp simd
        for (int64_t j = 0; j < 2 * H; ++j) a[j] = sigmoid(xr[j] + hgr[j]);
#pragma omp simd
        for (int64_t j = 2 * H; j < 3 * H; ++j) a[j] = tanh_(xr[j] + hgr[j]);
#pragma omp simd
        for (int64_t j = 3 * H; j < G; ++j) a[j] = sigmoid(xr[j] + hgr[j]);
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T cn = a[H + j] * c_prev[j] + a[j] * a[2 * H + j];
          const T tn = tanh_(cn);
          const T hn = a[3 * H + j] * tn;
          const T k_c = Masked ? kc[j] : kp_c, k_h = Masked ? kh[j] : kp_h;
          tcr[j] = tn;
          c[j] = k_c * c_prev[j] + (T(1) - k_c) * cn;  // a kept unit (k = 1) is its previous value exactly
          h[j] = k_h * h_prev[j] + (T(1) - k_h) * hn;
        }
        if (ok && !ok[r]) {  // padding: the state stays
          std::memcpy(c, c_prev, H * sizeof(T));
          std::memcpy(h, h_prev, H * sizeof(T));
        }
      }
    });
  }
}

// out: dh, dc (B, H): in dLoss/dh_T, dc_T, out dLoss/dh_0, dc_0; d_all (T, B, 4H): every step's dLoss/d(gates
// before activation), which is both dLoss/dxp (the biases are in xp) and dLoss/d(h_{t-1} W_hh^T)
template <typename T, bool Masked>
void backward_impl(const OptTensor& d_out, const at::Tensor& hs, const at::Tensor& cs, const at::Tensor& act,
                   const at::Tensor& tc, const at::Tensor& w_hh_t, const OptTensor& valid, const OptTensor& zh,
                   const OptTensor& zc, double p_h, double p_c, at::Tensor& dh, at::Tensor& dc,
                   at::Tensor& d_hg_all) {
  const int64_t T_ = act.size(0), B = act.size(1), G = act.size(2), H = G / 4;
  at::Tensor dh_pass = at::zeros_like(dh);  // per row: what reaches h_{t-1} directly (k_h dh), not via W_hh
  const T* dout = opt_ptr<T>(d_out);
  const T *kh_m = opt_ptr<T>(zh), *kc_m = opt_ptr<T>(zc);
  const bool* ok = valid_ptr(valid);
  const T kp_h = static_cast<T>(p_h), kp_c = static_cast<T>(p_c);
  const T *cp = cs.data_ptr<T>(), *ap = act.data_ptr<T>(), *tcp = tc.data_ptr<T>();
  T *dall = d_hg_all.data_ptr<T>(), *dhp = dh.data_ptr<T>(), *dcp = dc.data_ptr<T>();
  T* dpp = dh_pass.data_ptr<T>();
  const at::Tensor w_t_packed = pack_weight(w_hh_t, B);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    T* dhgp = dall + t * B * G;
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b;
        T* dhr = dpp + b * H;  // becomes dLoss/dh_t, then what passes straight to h_{t-1}
        T* dcr = dcp + b * H;  // dLoss/dc_t, then dLoss/dc_{t-1}
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) dhr[j] += dhp[b * H + j] + (dout ? dout[r * H + j] : T(0));
        T* dhg = dhgp + b * G;
        if (ok && !ok[r]) {  // padding passed the state through: so do the gradients
          std::memset(dhg, 0, G * sizeof(T));
          continue;
        }
        const T *a = ap + r * G, *tcr = tcp + r * H, *c_prev = cp + r * H;
        const T *kh = Masked ? kh_m + r * H : nullptr, *kc = Masked ? kc_m + r * H : nullptr;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j], tn = tcr[j];
          const T k_c = Masked ? kc[j] : kp_c, k_h = Masked ? kh[j] : kp_h;
          const T dhn = dhr[j] * (T(1) - k_h);  // dLoss/dh~
          const T dcn = dcr[j] * (T(1) - k_c) + dhn * o * (T(1) - tn * tn);  // dLoss/dc~
          const T di = dcn * g * i * (T(1) - i);
          const T df = dcn * c_prev[j] * f * (T(1) - f);
          const T dg = dcn * i * (T(1) - g * g);
          const T dpo = dhn * tn * o * (T(1) - o);
          dhg[j] = di;
          dhg[H + j] = df;
          dhg[2 * H + j] = dg;
          dhg[3 * H + j] = dpo;
          dcr[j] = dcr[j] * k_c + dcn * f;
          dhr[j] = dhr[j] * k_h;
        }
      }
    });
    dh.copy_(step_matmul(d_hg_all[t], w_t_packed));
    dh.add_(dh_pass);
    dh_pass.zero_();
  }
}

// the h and c masks come together (training) or not at all (eval: the rates p_h, p_c)
bool masked(const OptTensor& zh, const OptTensor& zc) {
  const bool h = zh.has_value() && zh->defined(), c = zc.has_value() && zc->defined();
  TORCH_CHECK(h == c, "zoneout: pass both keep masks (h and c) or neither");
  return h;
}

}  // namespace

std::vector<at::Tensor> forward(at::Tensor xp, at::Tensor h0, at::Tensor c0, at::Tensor w_hh, OptTensor valid,
                                OptTensor zh, OptTensor zc, double p_h, double p_c, bool keep) {
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 4, K = keep ? T_ : 1;
  std::vector<at::Tensor> s = {xp.new_empty({T_ + 1, B, H}), xp.new_empty({T_ + 1, B, H}),
                               xp.new_empty({K, B, G}), xp.new_empty({K, B, H})};
  s[0][0].copy_(h0);
  s[1][0].copy_(c0);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "lstm_zoneout_forward", [&] {
    if (masked(zh, zc))
      forward_impl<scalar_t, true>(xp, w_hh, valid, zh, zc, p_h, p_c, keep, s);
    else
      forward_impl<scalar_t, false>(xp, w_hh, valid, zh, zc, p_h, p_c, keep, s);
  });
  return s;  // hs, cs, act, tc (act, tc: the last step only unless keep)
}

std::vector<at::Tensor> backward(OptTensor d_out, at::Tensor dh, at::Tensor dc, at::Tensor hs, at::Tensor cs,
                                 at::Tensor act, at::Tensor tc, at::Tensor w_hh, OptTensor valid, OptTensor zh,
                                 OptTensor zc, double p_h, double p_c) {
  const int64_t T_ = act.size(0), B = act.size(1), G = act.size(2);
  at::Tensor dh0 = dh.clone(), dc0 = dc.clone();
  at::Tensor d_all = at::empty({T_, B, G}, act.options());
  const at::Tensor w_hh_t = w_hh.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_zoneout_backward", [&] {
    if (masked(zh, zc))
      backward_impl<scalar_t, true>(d_out, hs, cs, act, tc, w_hh_t, valid, zh, zc, p_h, p_c, dh0, dc0,
                                    d_all);
    else
      backward_impl<scalar_t, false>(d_out, hs, cs, act, tc, w_hh_t, valid, zh, zc, p_h, p_c, dh0, dc0,
                                     d_all);
  });
  return {d_all, weight_grad(d_all, hs), dh0, dc0};  // d_xp, d_w_hh, dh0, dc0
}

}  // namespace rnnlab::lstm
