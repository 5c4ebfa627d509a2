// The whole-sequence loops the extension exports (bound to Python in module.cpp).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace rnnlab {

using OptTensor = c10::optional<at::Tensor>;

namespace ln {  // layer-normalised LSTM and GRU (layernorm_seq.cpp)
std::vector<at::Tensor> lstm_forward(at::Tensor xp, at::Tensor h0, at::Tensor c0, at::Tensor w_hh, at::Tensor g_ih,
                                     OptTensor b_ih, at::Tensor g_hh, OptTensor b_hh, at::Tensor g_c, OptTensor b_c,
                                     OptTensor valid, bool keep);
std::vector<at::Tensor> lstm_backward(OptTensor d_out, at::Tensor dh, at::Tensor dc, at::Tensor xp, at::Tensor hs,
                                      at::Tensor cs, at::Tensor act, at::Tensor hg, at::Tensor tc, at::Tensor stats,
                                      at::Tensor w_hh, at::Tensor g_ih, at::Tensor g_hh, at::Tensor g_c,
                                      OptTensor valid);
std::vector<at::Tensor> gru_forward(at::Tensor xp, at::Tensor h0, at::Tensor w_hh, at::Tensor g_ih, OptTensor b_ih,
                                    at::Tensor g_hh, OptTensor b_hh, OptTensor valid, bool keep);
std::vector<at::Tensor> gru_backward(OptTensor d_out, at::Tensor dh, at::Tensor xp, at::Tensor hs, at::Tensor act,
                                     at::Tensor hg, at::Tensor stats, at::Tensor w_hh, at::Tensor g_ih,
                                     at::Tensor g_hh, OptTensor b_hh, OptTensor valid);
}  // namespace ln

namespace gru {  // the plain GRU, torch.nn.GRU's equations, optional zoneout (gru_seq.cpp)
std::vector<at::Tensor> forward(at::Tensor xp, at::Tensor h0, at::Tensor w_hh, OptTensor b_hh, OptTensor valid,
                                OptTensor zh, double p, bool keep);
std::vector<at::Tensor> backward(OptTensor d_out, at::Tensor dh, at::Tensor hs, at::Tensor act, at::Tensor hn,
                                 at::Tensor w_hh, OptTensor valid, OptTensor zh, double p);
}  // namespace gru

namespace lstm {  // the plain LSTM with zoneout, torch.nn.LSTM's equations (lstm_seq.cpp)
std::vector<at::Tensor> forward(at::Tensor xp, at::Tensor h0, at::Tensor c0, at::Tensor w_hh, OptTensor valid,
                                OptTensor zh, OptTensor zc, double p_h, double p_c, bool keep);
std::vector<at::Tensor> backward(OptTensor d_out, at::Tensor dh, at::Tensor dc, at::Tensor hs, at::Tensor cs,
                                 at::Tensor act, at::Tensor tc, at::Tensor w_hh, OptTensor valid, OptTensor zh,
                                 OptTensor zc, double p_h, double p_c);
}  // namespace lstm

namespace slstm {  // the sLSTM, rnnlab.nn.slstm's equations (slstm_seq.cpp)
std::vector<at::Tensor> forward(at::Tensor xp, at::Tensor h0, at::Tensor c0, at::Tensor n0, at::Tensor m0,
                                at::Tensor w_hh, OptTensor b_hh, OptTensor valid, bool keep, bool exp_forget);
std::vector<at::Tensor> backward(OptTensor d_out, at::Tensor dh, at::Tensor dc, at::Tensor dn, at::Tensor dm,
                                 at::Tensor hs, at::Tensor cs, at::Tensor ns, at::Tensor ms, at::Tensor act,
                                 at::Tensor w_hh, OptTensor valid);
}  // namespace slstm

}  // namespace rnnlab
