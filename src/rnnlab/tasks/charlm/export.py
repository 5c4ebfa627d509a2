"""The ONNX graphs of a character language model: a whole chunk with explicit state (prime a prompt) and one
token per call (generate), each taking the state and returning the new one."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.tasks.contract import Graph
from rnnlab.tasks.exportable import BATCH, example_state, inference_copy, state_dynamic, state_names

B, T = 2, 7


class LMSequence(nn.Module):
    """(ids (B, T), h0[, c0]) -> (logits (B, T, V), h[, c])."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        out = self.model(ids, state)
        return (out.logits, *out.state)


class LMStep(nn.Module):
    """(ids (B,), h[, c]) -> (logits (B, V), h[, c]): one token per sequence."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        logits, new = self.model.step(ids, state)
        return (logits, *new)


def charlm_graphs(model: nn.Module) -> list[Graph]:
    """'sequence' and 'step' for a CharLM."""
    model = inference_copy(model)
    names = state_names(model.rnn)
    inputs = tuple(n + "0" for n in names)
    state = example_state(model.rnn, B)
    ids = torch.randint(0, model.vocab_size, (B, T), generator=torch.Generator().manual_seed(0))
    states = {**state_dynamic(inputs), **state_dynamic(names)}
    return [
        Graph(
            "sequence",
            LMSequence(model),
            (ids, *state),
            ("ids", *inputs),
            ("logits", *names),
            {"ids": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"}, **states},
            note="start from zero state; feed each call's h/c into the next",
        ),
        Graph(
            "step",
            LMStep(model),
            (ids[:, 0], *state),
            ("ids", *inputs),
            ("logits", *names),
            {"ids": BATCH, "logits": BATCH, **states},
            note="start from zero state (or a sequence call's final h/c); feed each call's h/c into the next",
        ),
    ]
