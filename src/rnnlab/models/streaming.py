"""Streaming a sequence model one step at a time: the state it carries between samples, and the logits of
everything seen so far, equal to a whole-sequence call on that prefix.

`StepClassifier` wraps a unidirectional SequenceClassifier (or SequenceTagger): each call takes one time step
x_t and the carried state, and returns the logits of the prefix and the new state. The readout is tracked
online, so no step is ever re-run:
  last       the top layer's h_t (what the model reads at the sequence's end)
  mean       a running sum and count: mean_t = sum_t / t
  attention  an online softmax (running max m, normaliser z, weighted sum a), the same numbers as the
             softmax over the whole prefix: m' = max(m, s_t), z' = z e^(m-m') + e^(s_t-m'),
             a' = a e^(m-m') + e^(s_t-m') h_t, pooled = a' / z'
A bidirectional layer or a convolutional front-end ('same' padding reads future samples) cannot stream:
`streamable` says why. Used by `rnnlab serve`'s sessions and by the ONNX step graph.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.nn.stack import STATE_NAMES

READOUT_STATE = {"last": (), "mean": ("sum", "count"), "attention": ("max", "norm", "acc")}


def streamable(model: nn.Module) -> str | None:
    """None when `model` can run one step at a time with carried state, else the reason it cannot."""
    kind = type(model).__name__
    if kind not in ("SequenceClassifier", "SequenceTagger"):
        return f"a {kind} has no recurrent state to carry; only SequenceClassifier/SequenceTagger stream"
    rnn = getattr(model, "rnn", None)
    if rnn is None or not hasattr(rnn, "step"):
        return f"the {kind}'s recurrent layer cannot step"
    if rnn.bidirectional:
        return "the model is bidirectional: its backward direction needs the whole sequence first"
    if getattr(model, "frontend", None) is not None:
        return "the model's convolutional front-end looks ahead ('same' padding): it needs the whole window"
    return None


class StepClassifier(nn.Module):
    """One step of a streamable classifier or tagger: forward(x_t, *state) -> (logits (B, C), *new_state).

    x_t is (B, F) features, or (B,) / (B, 1) token ids for a model with an embedding. The state is the
    recurrent layer's (h[, c]) followed by the readout's accumulators (`state_names`); start from
    `init_state(batch)`. After t steps the logits equal the wrapped model's on x[:, :t] (eval mode).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        reason = streamable(model)
        if reason:
            raise ConfigError(f"this model cannot stream one step at a time: {reason}")
        self.model = model
        self.rnn = model.rnn
        self.readout = (
            getattr(model, "readout", "last") if type(model).__name__ == "SequenceClassifier" else "last"
        )
        self.state_names: tuple[str, ...] = (*STATE_NAMES[: self.rnn.state_size], *READOUT_STATE[self.readout])
        # each state tensor's batch axis: (layers, B, H) for the recurrent state, (B, d) for the readout's
        self.batch_dims: tuple[int, ...] = (1,) * self.rnn.state_size + (0,) * len(READOUT_STATE[self.readout])

    def init_state(self, batch: int, device=None) -> tuple[Tensor, ...]:
        """The state before the first step: zero recurrent state and empty readout accumulators."""
        w = next(self.model.parameters())
        device = device or w.device
        rnn_state = self.rnn.init_state(batch, device=device, dtype=w.dtype)
        d = self.rnn.output_size

        def full(width: int, value: float) -> Tensor:
            return torch.full((batch, width), value, device=device, dtype=w.dtype)

        extra = {
            "last": (),
            "mean": (full(d, 0.0), full(1, 0.0)),
            "attention": (full(1, float("-inf")), full(1, 0.0), full(d, 0.0)),
        }[self.readout]
        return (*rnn_state, *extra)

    def forward(self, x_t: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        n = self.rnn.state_size
        if len(state) != len(self.state_names):
            raise ValueError(
                f"expected {len(self.state_names)} state tensors {self.state_names}, got {len(state)}"
            )
        emb = getattr(self.model, "embedding", None)
        if emb is not None:
            x_t = emb((x_t[..., 0] if x_t.dim() == 2 else x_t).long())
        h, rnn_state = self.rnn.step(x_t, tuple(state[:n]))
        pooled, extra = self._readout(h, state[n:])
        return (self.model.head(pooled), *rnn_state, *extra)

    def _readout(self, h: Tensor, acc: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        if self.readout == "last":
            return h, ()
        if self.readout == "mean":
            total, count = acc[0] + h, acc[1] + 1.0
            return total / count, (total, count)
        pool = self.model.pool
        m, z, a = acc
        s = pool.score(torch.tanh(pool.proj(h)))  # (B, 1)
        m_new = torch.maximum(m, s)
        fade, e = torch.exp(m - m_new), torch.exp(s - m_new)
        z, a = z * fade + e, a * fade + e * h
        return a / z, (m_new, z, a)


__all__ = ["READOUT_STATE", "StepClassifier", "streamable"]
