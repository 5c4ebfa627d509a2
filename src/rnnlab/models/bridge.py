"""The hand-over from an encoder to a decoder: the Bridge that turns the encoder's final state into the decoder's
initial state, and the Memory the decoder reads at every step (computed once per source batch).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.nn.cells import State


class Memory(NamedTuple):
    """What the decoder reads from the encoder, computed once per source batch."""

    keys: Tensor  # (B, S, D*H) encoder outputs
    projected: Tensor | None  # attention's prepare(keys): the query-independent half of the scores
    mask: Tensor  # (B, S) bool, True at real source steps
    state: State  # the decoder's initial recurrent state (from the bridge), each (layers, B, H)

    def select(self, rows: Tensor) -> Memory:
        """The memory of batch rows `rows` (beam search repeats and reorders them)."""
        return Memory(
            self.keys[rows],
            None if self.projected is None else self.projected[rows],
            self.mask[rows],
            tuple(s[:, rows] for s in self.state),
        )


class Bridge(nn.Module):
    """Encoder final state -> decoder initial state, layer k to layer k.

    Unidirectional: copied (Sutskever 2014). Bidirectional: each layer's two final states are concatenated
    and projected, h_0 = tanh(W_h [h_fwd; h_bwd] + b_h) and, for an LSTM, c_0 = W_c [c_fwd; c_bwd] + b_c.
    """

    def __init__(self, state_size: int, num_directions: int, hidden: int) -> None:
        super().__init__()
        self.num_directions = num_directions
        self.proj = (
            nn.ModuleList(nn.Linear(2 * hidden, hidden) for _ in range(state_size))
            if num_directions == 2
            else None
        )

    def forward(self, state: State) -> State:
        if self.proj is None:
            return state
        out = []
        for j, (s, proj) in enumerate(zip(state, self.proj, strict=True)):
            ld, b, h = s.shape  # index k * 2 + d -> (layer, batch, [fwd; bwd])
            both = s.view(ld // 2, 2, b, h).permute(0, 2, 1, 3).reshape(ld // 2, b, 2 * h)
            out.append(torch.tanh(proj(both)) if j == 0 else proj(both))  # h is bounded; an LSTM's c is not
        return tuple(out)
