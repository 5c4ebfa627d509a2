// Whole-sequence loops of the layer-normalised LSTM and GRU (rnnlab.nn.layernorm_seq), in C++.
//
// Same inputs, outputs and saved tensors as the torch-ops loops in layernorm_seq.py (the tests hold both to
// the cells' equations): per step one matmul (oneDNN's, as the fused LSTM uses, else ATen's mm) and one pass
// over each batch row that does both layer norms, the gate nonlinearities and the state update together,
// rows split across threads. The backward pass sums the norms' gain and shift gradients in per-thread
// accumulators as it goes, so no (T, B, gates) gradient buffer is kept beyond the two the matmuls need.
// Built on first use by rnnlab.nn.native with torch.utils.cpp_extension; contiguous CPU float32/float64.
#include "common.h"
#include "loops.h"

namespace rnnlab::ln {

constexpr double kEps = 1e-5;  // torch.nn.LayerNorm's default, as in the reference cells
// mean and 1/sqrt(biased variance + eps), as torch's layer norm, of two rows of one length in one sweep
template <typename T>
inline void row_stats(const T* x, const T* y, int64_t n, T& mx, T& rx, T& my, T& ry) {
  T sx = 0, sy = 0;
#pragma omp simd reduction(+ : sx, sy)
  for (int64_t j = 0; j < n; ++j) {
    sx += x[j];
    sy += y[j];
  }
  mx = sx / T(n);
  my = sy / T(n);
  T vx = 0, vy = 0;
#pragma omp simd reduction(+ : vx, vy)
  for (int64_t j = 0; j < n; ++j) {
    vx += (x[j] - mx) * (x[j] - mx);
    vy += (y[j] - my) * (y[j] - my);
  }
  rx = T(1) / std::sqrt(vx / T(n) + T(kEps));
  ry = T(1) / std::sqrt(vy / T(n) + T(kEps));
}

// The backward of both gate norms for one row in two sweeps: dy_x and dy_y are the norms' upstream
// gradients (the same array for the LSTM), x and y their inputs. Adds the row's share of the gain and shift
// gradients to acc (rows: gain_x, shift_x, gain_y, shift_y) and writes dLoss/dx into dx (which may be dy_x:
// each element is read before it is written) and dLoss/dy into dy.
template <typename T>
inline void gate_norms_backward(const T* dy_x, const T* x, T mx, T rx, const T* gx, const T* dy_y, const T* y,
                                T my, T ry, const T* gy, int64_t n, T* acc, T* dx, T* dy) {
  T s1x = 0, s2x = 0, s1y = 0, s2y = 0;
#pragma omp simd reduction(+ : s1x, s2x, s1y, s2y)
  for (int64_t j = 0; j < n; ++j) {
    const T xh = (x[j] - mx) * rx, yh = (y[j] - my) * ry;
    acc[j] += dy_x[j] * xh;
    acc[n + j] += dy_x[j];
    acc[2 * n + j] += dy_y[j] * yh;
    acc[3 * n + j] += dy_y[j];
    s1x += dy_x[j] * gx[j];
    s2x += dy_x[j] * gx[j] * xh;
    s1y += dy_y[j] * gy[j];
    s2y += dy_y[j] * gy[j] * yh;
  }
  s1x /= T(n);
  s2x /= T(n);
  s1y /= T(n);
  s2y /= T(n);
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    dy[j] = ry * (dy_y[j] * gy[j] - s1y - (y[j] - my) * ry * s2y);
    dx[j] = rx * (dy_x[j] * gx[j] - s1x - (x[j] - mx) * rx * s2x);
  }
}

// y = x_hat * g + b of a row whose (mean, rstd) are known; b may be null
template <typename T>
inline T norm_at(const T* x, T mean, T rstd, const T* g, const T* b, int64_t j) {
  return (x[j] - mean) * rstd * g[j] + (b ? b[j] : T(0));
}

// --- LSTM ---------------------------------------------------------------------------------------------
// stats (6, T, B, 1): mean and rstd of LN_ih, LN_hh, LN_c per (step, row)
template <typename T>
void lstm_forward_impl(const at::Tensor& xp, const at::Tensor& w_hh, const at::Tensor& g_ih,
                       const c10::optional<at::Tensor>& b_ih, const at::Tensor& g_hh,
                       const c10::optional<at::Tensor>& b_hh, const at::Tensor& g_c,
                       const c10::optional<at::Tensor>& b_c, const c10::optional<at::Tensor>& valid,
                       bool keep, std::vector<at::Tensor>& s) {
  at::Tensor &hs = s[0], &cs = s[1], &act = s[2], &hg = s[3], &tc = s[4], &stats = s[5];
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 4, TB = T_ * B;
  const T *x = xp.data_ptr<T>(), *gi = g_ih.data_ptr<T>(), *bi = opt_ptr<T>(b_ih);
  const T *gh = g_hh.data_ptr<T>(), *bh = opt_ptr<T>(b_hh), *gc = g_c.data_ptr<T>(), *bc = opt_ptr<T>(b_c);
  const bool* ok = valid_ptr(valid);
  T *hp = hs.data_ptr<T>(), *cp = cs.data_ptr<T>(), *ap = act.data_ptr<T>(), *hgp = hg.data_ptr<T>();
  T *tcp = tc.data_ptr<T>(), *st = stats.data_ptr<T>();
  const at::Tensor w_packed = pack_weight(w_hh, B);
  for (int64_t t = 0; t < T_; ++t) {
    const int64_t slot = keep ? t : 0;  // without a backward to come, one step's gates are all we keep
    hg[slot].copy_(step_matmul(hs[t], w_packed));
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b, rs_ = slot * B + b;
        const T* xr = x + r * G;
        const T* hgr = hgp + rs_ * G;
        T* a = ap + rs_ * G;
        T mi, ri, mh, rh, mc, rc;
        row_stats(xr, hgr, G, mi, ri, mh, rh);
#pragma omp simd
        for (int64_t j = 0; j < 2 * H; ++j)
          a[j] = sigmoid(norm_at(xr, mi, ri, gi, bi, j) + norm_at(hgr, mh, rh, gh, bh, j));
#pragma omp simd
        for (int64_t j = 2 * H; j < 3 * H; ++j)
          a[j] = tanh_(norm_at(xr, mi, ri, gi, bi, j) + norm_at(hgr, mh, rh, gh, bh, j));
#pragma omp simd
        for (int64_t j = 3 * H; j < G; ++j)
          a[j] = sigmoid(norm_at(xr, mi, ri, gi, bi, j) + norm_at(hgr, mh, rh, gh, bh, j));
        const T* c_prev = cp + r * H;
        T* c = cp + (r + B) * H;
        const T* h_prev = hp + r * H;
        T* h = hp + (r + B) * H;
        T sc = 0;
#pragma omp simd reduction(+ : sc)
        for (int64_t j = 0; j < H; ++j) {
          c[j] = a[H + j] * c_prev[j] + a[j] * a[2 * H + j];
          sc += c[j];
        }
        mc = sc / T(H);
        T vc = 0;
#pragma omp simd reduction(+ : vc)
        for (int64_t j = 0; j < H; ++j) vc += (c[j] - mc) * (c[j] - mc);
        rc = T(1) / std::sqrt(vc / T(H) + T(kEps));
        T* tcr = tcp + rs_ * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          tcr[j] = tanh_(norm_at(c, mc, rc, gc, bc, j));
          h[j] = a[3 * H + j] * tcr[j];
        }
        const T row[6] = {mi, ri, mh, rh, mc, rc};
        for (int k = 0; k < 6; ++k) st[k * TB + r] = row[k];
        if (ok && !ok[r]) {  // padding: the state stays
          std::memcpy(c, c_prev, H * sizeof(T));
          std::memcpy(h, h_prev, H * sizeof(T));
        }
      }
    });
  }
}

std::vector<at::Tensor> lstm_forward(at::Tensor xp, at::Tensor h0, at::Tensor c0, at::Tensor w_hh,
                                     at::Tensor g_ih, c10::optional<at::Tensor> b_ih, at::Tensor g_hh,
                                     c10::optional<at::Tensor> b_hh, at::Tensor g_c,
                                     c10::optional<at::Tensor> b_c, c10::optional<at::Tensor> valid,
                                     bool keep) {
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 4, K = keep ? T_ : 1;
  std::vector<at::Tensor> s = {xp.new_empty({T_ + 1, B, H}), xp.new_empty({T_ + 1, B, H}),
                               xp.new_empty({K, B, G}),      xp.new_empty({K, B, G}),
                               xp.new_empty({K, B, H}),      xp.new_empty({6, T_, B, 1})};
  s[0][0].copy_(h0);
  s[1][0].copy_(c0);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "lstm_forward", [&] {
    lstm_forward_impl<scalar_t>(xp, w_hh, g_ih, b_ih, g_hh, b_hh, g_c, b_c, valid, keep, s);
  });
  return s;  // hs, cs, act, hg, tc, stats (act, hg, tc: the last step only unless keep)
}

// returns d_xp, d_w_hh, dh0, dc0 and affine (6, G): the gain and shift gradients of LN_ih, LN_hh, LN_c (H wide)
template <typename T>
void lstm_backward_impl(const c10::optional<at::Tensor>& d_out, const at::Tensor& xp, const at::Tensor& hs,
                        const at::Tensor& cs,
                        const at::Tensor& act, const at::Tensor& hg, const at::Tensor& tc,
                        const at::Tensor& stats, const at::Tensor& w_hh_t, const at::Tensor& g_ih,
                        const at::Tensor& g_hh, const at::Tensor& g_c, const c10::optional<at::Tensor>& valid,
                        std::vector<at::Tensor>& out, at::Tensor& acc) {
  at::Tensor &d_xp = out[0], &d_w = out[1], &dh = out[2], &dc = out[3];
  const int64_t T_ = act.size(0), B = act.size(1), G = act.size(2), H = G / 4, TB = T_ * B;
  at::Tensor dh_pass = at::zeros_like(dh);
  // dLoss/d(h_{t-1} W_hh^T) of every step: the step's matmul input, and with hs the weight gradient at the end
  at::Tensor d_hg_all = at::empty({T_, B, G}, act.options());
  at::Tensor scratch = at::empty({at::get_num_threads(), 2 * H}, act.options());
  const T* dout = opt_ptr<T>(d_out);
  const bool* ok = valid_ptr(valid);
  const T *xpp = xp.data_ptr<T>(), *cp = cs.data_ptr<T>(), *ap = act.data_ptr<T>(), *hgp = hg.data_ptr<T>();
  const T *tcp = tc.data_ptr<T>(), *st = stats.data_ptr<T>();
  const T *gi = g_ih.data_ptr<T>(), *gh = g_hh.data_ptr<T>(), *gc = g_c.data_ptr<T>();
  T *dxp = d_xp.data_ptr<T>(), *dall = d_hg_all.data_ptr<T>(), *dhp = dh.data_ptr<T>(), *dcp = dc.data_ptr<T>();
  T *dpp = dh_pass.data_ptr<T>(), *accp = acc.data_ptr<T>(), *scp = scratch.data_ptr<T>();
  const at::Tensor w_t_packed = pack_weight(w_hh_t, B);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    T* dhgp = dall + t * B * G;
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const int tid = at::get_thread_num();
      T* acc_t = accp + tid * 6 * G;  // gain/shift gradient sums: ih, hh, c (the last two use H)
      T* dl = scp + tid * 2 * H;  // dLoss/d LN_c(c_t)
      T* dcn = dl + H;            // dLoss/dc_t through h_t
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b;
        T* dhr = dpp + b * H;  // in: what passed straight from h_{t+1}; becomes dh_t, then what passes to h_{t-1}
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) dhr[j] += dhp[b * H + j] + (dout ? dout[r * H + j] : T(0));
        T* dg = dxp + r * G;  // dLoss/d(gates before activation): the dy of both norms, then d_xp in place
        T* dhg = dhgp + b * G;
        if (ok && !ok[r]) {  // padding passed the state through: so do the gradients
          std::memset(dg, 0, G * sizeof(T));
          std::memset(dhg, 0, G * sizeof(T));
          continue;
        }
        const T mi = st[r], ri = st[TB + r], mh = st[2 * TB + r], rh = st[3 * TB + r];
        const T mc = st[4 * TB + r], rc = st[5 * TB + r];
        const T* a = ap + r * G;
        const T* tcr = tcp + r * H;
        const T* c = cp + (r + B) * H;
        const T* c_prev = cp + r * H;
        // d LN_c output, its share of LN_c's gain/shift gradients and the sums of LN_c's backward, in one sweep
        T s1 = 0, s2 = 0;
        T *acc_gc = acc_t + 4 * G, *acc_bc = acc_t + 5 * G;
#pragma omp simd reduction(+ : s1, s2)
        for (int64_t j = 0; j < H; ++j) {
          dl[j] = dhr[j] * a[3 * H + j] * (T(1) - tcr[j] * tcr[j]);
          const T ch = (c[j] - mc) * rc;
          acc_gc[j] += dl[j] * ch;
          acc_bc[j] += dl[j];
          s1 += dl[j] * gc[j];
          s2 += dl[j] * gc[j] * ch;
        }
        s1 /= T(H);
        s2 /= T(H);
        T* dcr = dcp + b * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T d = dcr[j] + rc * (dl[j] * gc[j] - s1 - (c[j] - mc) * rc * s2);
          const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
          dg[j] = d * g * i * (T(1) - i);
          dg[H + j] = d * c_prev[j] * f * (T(1) - f);
          dg[2 * H + j] = d * i * (T(1) - g * g);
          dg[3 * H + j] = dhr[j] * tcr[j] * o * (T(1) - o);
          dcr[j] = d * f;
          dhr[j] = T(0);
        }
        const T* xr = xpp + r * G;
        const T* hgr = hgp + r * G;
        gate_norms_backward(dg, xr, mi, ri, gi, dg, hgr, mh, rh, gh, G, acc_t, dg, dhg);  // both see dg
      }
    });
    dh.copy_(step_matmul(d_hg_all[t], w_t_packed));
  }
  dh.add_(dh_pass);
  d_w.copy_(weight_grad(d_hg_all, hs));  // sum over steps of d_hg_t^T h_{t-1}
}

std::vector<at::Tensor> lstm_backward(c10::optional<at::Tensor> d_out, at::Tensor dh, at::Tensor dc,
                                      at::Tensor xp, at::Tensor hs, at::Tensor cs, at::Tensor act, at::Tensor hg,
                                      at::Tensor tc, at::Tensor stats, at::Tensor w_hh, at::Tensor g_ih,
                                      at::Tensor g_hh, at::Tensor g_c, c10::optional<at::Tensor> valid) {
  std::vector<at::Tensor> out = {at::empty_like(act), at::empty_like(w_hh), dh.clone(), dc.clone()};
  const int64_t G = act.size(2);
  at::Tensor acc = at::zeros({at::get_num_threads(), 6, G}, act.options());
  const at::Tensor w_hh_t = w_hh.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_backward", [&] {
    lstm_backward_impl<scalar_t>(d_out, xp, hs, cs, act, hg, tc, stats, w_hh_t, g_ih, g_hh, g_c, valid, out, acc);
  });
  out.push_back(acc.sum(0));
  return out;  // d_xp, d_w_hh, dh0, dc0, affine sums (6, G)
}

// --- GRU ----------------------------------------------------------------------------------------------
// stats (4, T, B, 1): mean and rstd of LN_ih and LN_hh per (step, row)
template <typename T>
void gru_forward_impl(const at::Tensor& xp, const at::Tensor& w_hh, const at::Tensor& g_ih,
                      const c10::optional<at::Tensor>& b_ih, const at::Tensor& g_hh,
                      const c10::optional<at::Tensor>& b_hh, const c10::optional<at::Tensor>& valid,
                      bool keep, std::vector<at::Tensor>& s) {
  at::Tensor &hs = s[0], &act = s[1], &hg = s[2], &stats = s[3];
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 3, TB = T_ * B;
  const T *x = xp.data_ptr<T>(), *gi = g_ih.data_ptr<T>(), *bi = opt_ptr<T>(b_ih);
  const T *gh = g_hh.data_ptr<T>(), *bh = opt_ptr<T>(b_hh);
  const bool* ok = valid_ptr(valid);
  T *hp = hs.data_ptr<T>(), *ap = act.data_ptr<T>(), *hgp = hg.data_ptr<T>(), *st = stats.data_ptr<T>();
  const at::Tensor w_packed = pack_weight(w_hh, B);
  for (int64_t t = 0; t < T_; ++t) {
    const int64_t slot = keep ? t : 0;  // without a backward to come, one step's gates are all we keep
    hg[slot].copy_(step_matmul(hs[t], w_packed));
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b, rs_ = slot * B + b;
        const T* xr = x + r * G;
        const T* hgr = hgp + rs_ * G;
        T* a = ap + rs_ * G;
        T mi, ri, mh, rh;
        row_stats(xr, hgr, G, mi, ri, mh, rh);
#pragma omp simd
        for (int64_t j = 0; j < 2 * H; ++j)
          a[j] = sigmoid(norm_at(xr, mi, ri, gi, bi, j) + norm_at(hgr, mh, rh, gh, bh, j));
        const T* h_prev = hp + r * H;
        T* h = hp + (r + B) * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const int64_t k = 2 * H + j;
          const T n = tanh_(norm_at(xr, mi, ri, gi, bi, k) + a[j] * norm_at(hgr, mh, rh, gh, bh, k));
          a[k] = n;
          h[j] = n + a[H + j] * (h_prev[j] - n);
        }
        const T row[4] = {mi, ri, mh, rh};
        for (int k = 0; k < 4; ++k) st[k * TB + r] = row[k];
        if (ok && !ok[r]) std::memcpy(h, h_prev, H * sizeof(T));  // padding: the state stays
      }
    });
  }
}

std::vector<at::Tensor> gru_forward(at::Tensor xp, at::Tensor h0, at::Tensor w_hh, at::Tensor g_ih,
                                    c10::optional<at::Tensor> b_ih, at::Tensor g_hh,
                                    c10::optional<at::Tensor> b_hh, c10::optional<at::Tensor> valid,
                                    bool keep) {
  const int64_t T_ = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 3, K = keep ? T_ : 1;
  std::vector<at::Tensor> s = {xp.new_empty({T_ + 1, B, H}), xp.new_empty({K, B, G}),
                               xp.new_empty({K, B, G}), xp.new_empty({4, T_, B, 1})};
  s[0][0].copy_(h0);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "gru_forward", [&] {
    gru_forward_impl<scalar_t>(xp, w_hh, g_ih, b_ih, g_hh, b_hh, valid, keep, s);
  });
  return s;  // hs, act, hg, stats (act, hg: the last step only unless keep)
}

// returns d_xp, d_w_hh, dh0 and affine (4, G): sums of dx*x_hat_ih, dx, dn*x_hat_hh, dn
template <typename T>
void gru_backward_impl(const c10::optional<at::Tensor>& d_out, const at::Tensor& xp, const at::Tensor& hs,
                       const at::Tensor& act, const at::Tensor& hg, const at::Tensor& stats,
                       const at::Tensor& w_hh_t, const at::Tensor& g_ih, const at::Tensor& g_hh,
                       const c10::optional<at::Tensor>& b_hh, const c10::optional<at::Tensor>& valid,
                       std::vector<at::Tensor>& out, at::Tensor& acc) {
  at::Tensor &d_xp = out[0], &d_w = out[1], &dh = out[2];
  const int64_t T_ = act.size(0), B = act.size(1), G = act.size(2), H = G / 3, TB = T_ * B;
  at::Tensor dh_pass = at::zeros_like(dh);
  // dLoss/d(h_{t-1} W_hh^T) of every step: the step's matmul input, and with hs the weight gradient at the end
  at::Tensor d_hg_all = at::empty({T_, B, G}, act.options());
  at::Tensor scratch = at::empty({at::get_num_threads(), G}, act.options());
  const T* dout = opt_ptr<T>(d_out);
  const bool* ok = valid_ptr(valid);
  const T *xpp = xp.data_ptr<T>(), *hp = hs.data_ptr<T>(), *ap = act.data_ptr<T>(), *hgp = hg.data_ptr<T>();
  const T *st = stats.data_ptr<T>(), *gi = g_ih.data_ptr<T>(), *gh = g_hh.data_ptr<T>(), *bh = opt_ptr<T>(b_hh);
  T *dxp = d_xp.data_ptr<T>(), *dall = d_hg_all.data_ptr<T>(), *dhp = dh.data_ptr<T>(), *dpp = dh_pass.data_ptr<T>();
  T *accp = acc.data_ptr<T>(), *scp = scratch.data_ptr<T>();
  const at::Tensor w_t_packed = pack_weight(w_hh_t, B);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    T* dhgp = dall + t * B * G;
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const int tid = at::get_thread_num();
      T* acc_t = accp + tid * 4 * G;
      T* dn = scp + tid * G;  // dLoss/d LN_hh output
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r = t * B + b;
        T* dhr = dpp + b * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) dhr[j] += dhp[b * H + j] + (dout ? dout[r * H + j] : T(0));
        T* dx = dxp + r * G;  // dLoss/d LN_ih output, then d_xp in place
        T* dhg = dhgp + b * G;
        if (ok && !ok[r]) {
          std::memset(dx, 0, G * sizeof(T));
          std::memset(dhg, 0, G * sizeof(T));
          continue;
        }
        const T mi = st[r], ri = st[TB + r], mh = st[2 * TB + r], rh = st[3 * TB + r];
        const T* a = ap + r * G;
        const T* xr = xpp + r * G;
        const T* hgr = hgp + r * G;
        const T* h_prev = hp + r * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T rr = a[j], z = a[H + j], n = a[2 * H + j], d = dhr[j];
          const T hn = norm_at(hgr, mh, rh, gh, bh, 2 * H + j);
          const T dpn = d * (T(1) - z) * (T(1) - n * n);
          const T dpr = dpn * hn * rr * (T(1) - rr);
          const T dpz = d * (h_prev[j] - n) * z * (T(1) - z);
          dx[j] = dpr;
          dx[H + j] = dpz;
          dx[2 * H + j] = dpn;
          dn[j] = dpr;
          dn[H + j] = dpz;
          dn[2 * H + j] = dpn * rr;
          dhr[j] = d * z;
        }
        gate_norms_backward(dx, xr, mi, ri, gi, dn, hgr, mh, rh, gh, G, acc_t, dx, dhg);
      }
    });
    dh.copy_(step_matmul(d_hg_all[t], w_t_packed));
    dh.add_(dh_pass);
    dh_pass.zero_();
  }
  d_w.copy_(weight_grad(d_hg_all, hs));  // sum over steps of d_hg_t^T h_{t-1}
}

std::vector<at::Tensor> gru_backward(c10::optional<at::Tensor> d_out, at::Tensor dh, at::Tensor xp,
                                     at::Tensor hs, at::Tensor act, at::Tensor hg, at::Tensor stats,
                                     at::Tensor w_hh, at::Tensor g_ih, at::Tensor g_hh,
                                     c10::optional<at::Tensor> b_hh, c10::optional<at::Tensor> valid) {
  std::vector<at::Tensor> out = {at::empty_like(act), at::empty_like(w_hh), dh.clone()};
  at::Tensor acc = at::zeros({at::get_num_threads(), 4, act.size(2)}, act.options());
  const at::Tensor w_hh_t = w_hh.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "gru_backward", [&] {
    gru_backward_impl<scalar_t>(d_out, xp, hs, act, hg, stats, w_hh_t, g_ih, g_hh, b_hh, valid, out, acc);
  });
  out.push_back(acc.sum(0));
  return out;  // d_xp, d_w_hh, dh0, affine sums (4, G)
}


}  // namespace rnnlab::ln
