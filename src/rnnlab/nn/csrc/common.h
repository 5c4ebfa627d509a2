// What rnnlab's whole-sequence C++ loops share: fast float exp/sigmoid/tanh that the compiler vectorises,
// the per-step matmul (oneDNN where PyTorch has it), optional-tensor pointers and the weight gradient.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace rnnlab {


constexpr int64_t kGrain = 8;  // batch rows per thread task

// exp for float: Cephes' range reduction and polynomial (relative error ~2e-7), written so the compiler
// vectorises the loops that call it; double keeps std::exp (the float64 tests compare at 1e-10).
template <typename T>
inline T fast_exp(T x) {
  return std::exp(x);
}
template <>
inline float fast_exp<float>(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);  // NaN stays NaN
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return e * __builtin_bit_cast(float, bits);
}
// natural log for float: Cephes' logf (mantissa in [sqrt(1/2), sqrt(2)) and a polynomial; relative error ~1e-7),
// branch-free so that it vectorises; for x > 0 (no NaN/inf/denormal handling). double keeps std::log.
template <typename T>
inline T fast_log(T x) {
  return std::log(x);
}
template <>
inline float fast_log<float>(float x) {
  const int32_t bits = __builtin_bit_cast(int32_t, x);
  float e = static_cast<float>(((bits >> 23) & 0xff) - 126);  // x = m 2^e with m in [0.5, 1)
  float m = __builtin_bit_cast(float, (bits & 0x007fffff) | 0x3f000000);
  const bool small = m < 0.707106781186547524f;
  e = small ? e - 1.0f : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z - 2.12194440e-4f * e - 0.5f * z;
  return m + y + 0.693359375f * e;
}
template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + fast_exp(-x));
}
template <typename T>
inline T tanh_(T x) {
  return T(2) / (T(1) + fast_exp(T(-2) * x)) - T(1);
}

// x W^T for a (B, in) x and (out, in) W: oneDNN's matmul where PyTorch has it (on this AMD CPU about 1.5x
// MKL's at the per-step shapes), else ATen's mm. `w` must be contiguous, or a weight from pack_weight.
inline at::Tensor step_matmul(const at::Tensor& x, const at::Tensor& w) {
  static const auto op = c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
  if (!op.has_value() || x.scalar_type() != at::kFloat) return at::mm(x, w.t());
  std::vector<c10::IValue> stack{x, w, c10::IValue(), std::string("none"),
                                 c10::List<std::optional<at::Scalar>>(), c10::IValue()};
  op->callBoxed(&stack);
  return stack[0].toTensor();
}

// W reordered once into oneDNN's blocked layout for `batch` rows, as the fused RNN kernels keep their weights:
// every step's step_matmul then skips the reorder. Float32 only (else W as it is).
inline at::Tensor pack_weight(const at::Tensor& w, int64_t batch) {
  static const auto op = c10::Dispatcher::singleton().findSchema({"mkldnn::_reorder_linear_weight", ""});
  static const auto lin = c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
  if (!op.has_value() || !lin.has_value() || w.scalar_type() != at::kFloat) return w;
  std::vector<c10::IValue> stack{w, c10::IValue(batch)};
  op->callBoxed(&stack);
  return stack[0].toTensor();
}

template <typename T>
const T* opt_ptr(const c10::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? t->data_ptr<T>() : nullptr;
}

inline const bool* valid_ptr(const c10::optional<at::Tensor>& v) {
  return v.has_value() && v->defined() ? v->data_ptr<bool>() : nullptr;
}

// sum over steps of d_t^T h_{t-1}, the recurrent weight's gradient: one (T*B, G)^T x (T*B, H) product that
// reads d_all (T, B, G) through its transpose, no copies (the loops used to transpose every step's rows into
// (G, T*B) for oneDNN; those two small transposes per step cost more than the product saves)
inline at::Tensor weight_grad(const at::Tensor& d_all, const at::Tensor& hs) {
  const int64_t T_ = d_all.size(0), B = d_all.size(1);
  return at::mm(d_all.view({T_ * B, d_all.size(2)}).t(), hs.narrow(0, 0, T_).reshape({T_ * B, hs.size(2)}));
}

}  // namespace rnnlab
