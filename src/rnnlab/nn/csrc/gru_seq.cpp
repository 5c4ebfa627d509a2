// Whole-sequence forward and hand-written backward of the plain GRU (rnnlab.nn.gru_seq), in C++.
//
// torch.nn.GRU's equations, gates in its order r, z, n, from xp = x W_ih^T + b_ih for every step (one matmul
// outside) and hg = h_{t-1} W_hh^T + b_hh per step:
//   r = sigmoid(xp_r + hg_r),  z = sigmoid(xp_z + hg_z),  n = tanh(xp_n + r * hg_n),  h_t = (1 - z) n + z h_{t-1}
// Per step: one matmul (oneDNN's) and one pass over each batch row for the gates and the update, rows split
// across threads. The backward runs the chain rule per row, one matmul per step for dh_{t-1}, and the weight
// gradient as one product over all steps at the end. A (T, B) `valid` mask leaves the state unchanged at
// padded steps (and passes the gradient straight through them), so ragged batches need no packing.
// Zoneout (Krueger et al. 2016), optional: h_t = k h_{t-1} + (1 - k) h~ with h~ the update above and k a 0/1
// mask per (step, row, unit) in training (zh) or the rate p in eval; the Zone template parameter picks none,
// the rate or the mask at compile time, so the plain GRU's loops are the ones they were.
// Built on first use by rnnlab.nn.native; contiguous CPU float32/float64.
#include "common.h"
#include "loops.h"

namespace rnnlab::gru {
namespace {

enum Zone { kNone = 0, kRate = 1, kMask = 2 };  // no zoneout, the rate p (eval), 0/1 masks (training)

// s: hs (T+1, B, H), act (K, B, 3H) = r, z, n after their nonlinearities, hn (K, B, H) = hg_n with its bias
template <typename T, int Z>
void forward_impl(const at::Tensor& xp, const at::Tensor& w_hh, const at::Tensor& b_hh, const OptTensor& valid,
                  const OptTensor& zh, double p, bool keep, std::vector<at::Tensor>& s) {
  at::Tensor &hs = s[0], &act = s[1], &hn = s[2];
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 3;
  const T *x = xp.data_ptr<T>(), *bh = b_hh.data_ptr<T>();
  const bool* ok = valid_ptr(valid);
  const T* km = opt_ptr<T>(zh);
  const T kp = static_cast<T>(p);
  T *hp = hs.data_ptr<T>(), *ap = act.data_ptr<T>(), *hnp = hn.data_ptr<T>();
  const at::Tensor w_packed = pack_weight(w_hh, B);
  for (int64_t t = 0; t < T_; ++t) {
    const int64_t slot = keep ? t : 0;  // without a backward to come, one step's gates are all we keep
    const at::Tensor hg = step_matmul(hs[t], w_packed);
    const T* hgp = hg.data_ptr<T>();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b, rs = slot * B + b;
        const T *xr = x + r * G, *hgr = hgp + b * G, *h_prev = hp + r * H;
        T *a = ap + rs * G, *hnr = hnp + rs * H, *h = hp + (r + B) * H;
        const T* kr = Z == kMask ? km + r * H : nullptr;
#pragma omp simd
        for (int64_t j = 0; j < 2 * H; ++j) a[j] = sigmoid(xr[j] + hgr[j] + bh[j]);
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T hv = hgr[2 * H + j] + bh[2 * H + j];
          const T n = tanh_(xr[2 * H + j] + a[j] * hv);
          hnr[j] = hv;
          a[2 * H + j] = n;
          const T hu = n + a[H + j] * (h_prev[j] - n);
          if constexpr (Z == kNone) {
            h[j] = hu;
          } else {
            const T k = Z == kMask ? kr[j] : kp;
            h[j] = k * h_prev[j] + (T(1) - k) * hu;  // a kept unit (k = 1) is its previous value exactly
          }
        }
        if (ok && !ok[r]) std::memcpy(h, h_prev, H * sizeof(T));  // padding: the state stays
      }
    });
  }
}

// out: d_xp (T, B, 3H), dh (B, H): in dLoss/dh_T, out dLoss/dh_0; d_hg_all (T, B, 3H): every step's dLoss/dhg
template <typename T, int Z>
void backward_impl(const OptTensor& d_out, const at::Tensor& hs, const at::Tensor& act, const at::Tensor& hn,
                   const at::Tensor& w_hh_t, const OptTensor& valid, const OptTensor& zh, double p,
                   at::Tensor& d_xp, at::Tensor& dh, at::Tensor& d_hg_all) {
  const int64_t T_ = act.size(0), B = act.size(1), G = act.size(2), H = G / 3;
  at::Tensor dh_pass = at::zeros_like(dh);  // per row: what reaches h_{t-1} directly (z * dh), not via W_hh
  const T* dout = opt_ptr<T>(d_out);
  const bool* ok = valid_ptr(valid);
  const T* km = opt_ptr<T>(zh);
  const T kp = static_cast<T>(p);
  const T *hp = hs.data_ptr<T>(), *ap = act.data_ptr<T>(), *hnp = hn.data_ptr<T>();
  T *dxp = d_xp.data_ptr<T>(), *dall = d_hg_all.data_ptr<T>(), *dhp = dh.data_ptr<T>(), *dpp = dh_pass.data_ptr<T>();
  const at::Tensor w_t_packed = pack_weight(w_hh_t, B);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    T* dhgp = dall + t * B * G;  // dLoss/d(h_{t-1} W_hh^T + b_hh) of the step
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b;
        T* dhr = dpp + b * H;  // becomes dLoss/dh_t, then what passes straight to h_{t-1}
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) dhr[j] += dhp[b * H + j] + (dout ? dout[r * H + j] : T(0));
        T *dx = dxp + r * G, *dhg = dhgp + b * G;
        if (ok && !ok[r]) {  // padding passed the state through: so does the gradient
          std::memset(dx, 0, G * sizeof(T));
          std::memset(dhg, 0, G * sizeof(T));
          continue;
        }
        const T *a = ap + r * G, *hnr = hnp + r * H, *h_prev = hp + r * H;
        const T* kr = Z == kMask ? km + r * H : nullptr;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T k = Z == kNone ? T(0) : (Z == kMask ? kr[j] : kp);
          const T rr = a[j], z = a[H + j], n = a[2 * H + j];
          const T d = Z == kNone ? dhr[j] : (T(1) - k) * dhr[j];  // dLoss/d(the update before zoneout)
          const T dpn = d * (T(1) - z) * (T(1) - n * n);  // d(pre-activation of n)
          const T dpr = dpn * hnr[j] * rr * (T(1) - rr);
          const T dpz = d * (h_prev[j] - n) * z * (T(1) - z);
          dx[j] = dpr;
          dx[H + j] = dpz;
          dx[2 * H + j] = dpn;
          dhg[j] = dpr;
          dhg[H + j] = dpz;
          dhg[2 * H + j] = dpn * rr;
          dhr[j] = Z == kNone ? d * z : d * z + k * dhr[j];
        }
      }
    });
    dh.copy_(step_matmul(d_hg_all[t], w_t_packed));
    dh.add_(dh_pass);
    dh_pass.zero_();
  }
}

// which Zone a call runs: masks when given (training), else the rate when above 0 (eval), else none
int zone(const OptTensor& zh, double p) {
  return zh.has_value() && zh->defined() ? kMask : (p > 0 ? kRate : kNone);
}

}  // namespace

std::vector<at::Tensor> forward(at::Tensor xp, at::Tensor h0, at::Tensor w_hh, OptTensor b_hh, OptTensor valid,
                                OptTensor zh, double p, bool keep) {
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 3, K = keep ? T_ : 1;
  const at::Tensor bias = b_hh.has_value() && b_hh->defined() ? *b_hh : at::zeros({G}, xp.options());
  std::vector<at::Tensor> s = {xp.new_empty({T_ + 1, B, H}), xp.new_empty({K, B, G}), xp.new_empty({K, B, H})};
  s[0][0].copy_(h0);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "plain_gru_forward", [&] {
    switch (zone(zh, p)) {
      case kMask: forward_impl<scalar_t, kMask>(xp, w_hh, bias, valid, zh, p, keep, s); break;
      case kRate: forward_impl<scalar_t, kRate>(xp, w_hh, bias, valid, zh, p, keep, s); break;
      default: forward_impl<scalar_t, kNone>(xp, w_hh, bias, valid, zh, p, keep, s);
    }
  });
  return s;  // hs, act, hn (act, hn: the last step only unless keep)
}

std::vector<at::Tensor> backward(OptTensor d_out, at::Tensor dh, at::Tensor hs, at::Tensor act, at::Tensor hn,
                                 at::Tensor w_hh, OptTensor valid, OptTensor zh, double p) {
  const int64_t T_ = act.size(0), B = act.size(1), G = act.size(2), H = G / 3;
  at::Tensor d_xp = at::empty_like(act), dh0 = dh.clone();
  at::Tensor d_hg_all = at::empty({T_, B, G}, act.options());
  const at::Tensor w_hh_t = w_hh.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "plain_gru_backward", [&] {
    const auto run = [&](auto impl) { impl(d_out, hs, act, hn, w_hh_t, valid, zh, p, d_xp, dh0, d_hg_all); };
    switch (zone(zh, p)) {
      case kMask: run(backward_impl<scalar_t, kMask>); break;
      case kRate: run(backward_impl<scalar_t, kRate>); break;
      default: run(backward_impl<scalar_t, kNone>);
    }
  });
  return {d_xp, weight_grad(d_hg_all, hs), d_hg_all.view({T_ * B, G}).sum(0), dh0};  // d_xp, d_w_hh, d_b_hh, dh0
}

}  // namespace rnnlab::gru
