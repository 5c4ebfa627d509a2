// Python bindings of rnnlab's whole-sequence loops (rnnlab.nn.native builds this with the loops' sources).
#include <torch/extension.h>

#include "loops.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("lstm_forward", &rnnlab::ln::lstm_forward, "layer-normalised LSTM, whole sequence forward");
  m.def("lstm_backward", &rnnlab::ln::lstm_backward, "layer-normalised LSTM, whole sequence backward");
  m.def("gru_forward", &rnnlab::ln::gru_forward, "layer-normalised GRU, whole sequence forward");
  m.def("gru_backward", &rnnlab::ln::gru_backward, "layer-normalised GRU, whole sequence backward");
  m.def("plain_gru_forward", &rnnlab::gru::forward, "GRU (torch.nn.GRU's equations), whole sequence forward");
  m.def("plain_gru_backward", &rnnlab::gru::backward, "GRU (torch.nn.GRU's equations), whole sequence backward");
  m.def("zoneout_lstm_forward", &rnnlab::lstm::forward, "LSTM with zoneout, whole sequence forward");
  m.def("zoneout_lstm_backward", &rnnlab::lstm::backward, "LSTM with zoneout, whole sequence backward");
  m.def("slstm_forward", &rnnlab::slstm::forward, "sLSTM (xLSTM's scalar-memory cell), whole sequence forward");
  m.def("slstm_backward", &rnnlab::slstm::backward, "sLSTM (xLSTM's scalar-memory cell), whole sequence backward");
}
