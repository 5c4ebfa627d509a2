"""The ONNX graphs of a classification run: the whole sequence with explicit recurrent state, and one step at
a time (StepClassifier) when the model streams; the baselines take (x, lengths) only."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.models.streaming import StepClassifier, streamable
from rnnlab.tasks.contract import Graph
from rnnlab.tasks.exportable import (
    BATCH,
    example_lengths,
    example_state,
    inference_copy,
    state_dynamic,
    state_names,
)

B, T = 2, 7  # example sizes; every graph is traced with batch and time dynamic
SEQ = {0: "batch", 1: "time"}


class ClassifierSequence(nn.Module):
    """(x, lengths, h0[, c0]) -> (logits, h[, c]) of a SequenceClassifier."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        summary, final = self.model.encode_state(x, lengths, state)
        return (self.model.head(summary), *final)


class TaggerSequence(nn.Module):
    """(x, lengths, h0[, c0]) -> (logits (B, T, C), h[, c]) of a SequenceTagger."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        out, final = self.model.rnn(x, lengths, state)
        return (self.model.head(out), *final)


class MLPSequence(nn.Module):
    """(x, lengths) -> logits of an MLPClassifier at any length: masked, padded and cut to its max_len with
    tensor operations only (its forward pads with a Python branch on the length, which tracing would fix)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        m = self.model
        steps = torch.arange(x.shape[1], device=x.device)
        x = x * (steps[None, :] < lengths[:, None]).unsqueeze(-1).to(x.dtype)
        x = nn.functional.pad(x, (0, 0, 0, m.max_len))[:, : m.max_len]
        return m.head(m.body(x.flatten(1)))


class Plain(nn.Module):
    """(x, lengths) -> logits of a model without carried state exposed (CNN1dClassifier, LSTMFCN)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.model(x, lengths)


def classify_graphs(model: nn.Module) -> list[Graph]:
    """'sequence' for every classification model; 'step' too for a streamable classifier or tagger."""
    model = inference_copy(model)
    kind = type(model).__name__
    c = model.config
    tokens = bool(c.get("vocab_size"))
    g = torch.Generator().manual_seed(0)
    if tokens:
        x = torch.randint(1, int(c["vocab_size"]), (B, T, 1), generator=g)
    else:
        x = torch.randn(B, T, int(c["n_features"]), generator=g)
    lengths = example_lengths(B, T)
    io = {"x": SEQ, "lengths": BATCH}
    if kind in ("MLPClassifier", "CNN1dClassifier", "LSTMFCN"):
        module = MLPSequence(model) if kind == "MLPClassifier" else Plain(model)
        return [
            Graph("sequence", module, (x, lengths), ("x", "lengths"), ("logits",), {**io, "logits": BATCH})
        ]
    names = state_names(model.rnn)
    state = example_state(model.rnn, B)
    wrap = ClassifierSequence(model) if kind == "SequenceClassifier" else TaggerSequence(model)
    logits_dims = BATCH if kind == "SequenceClassifier" else SEQ
    graphs = [
        Graph(
            "sequence",
            wrap,
            (x, lengths, *state),
            ("x", "lengths", *(n + "0" for n in names)),
            ("logits", *names),
            {
                **io,
                **state_dynamic(tuple(n + "0" for n in names)),
                "logits": logits_dims,
                **state_dynamic(names),
            },
        )
    ]
    if streamable(model) is None:
        step = StepClassifier(model)
        carried = step.state_names
        inputs = step.init_state(B)
        inputs = (
            *example_state(model.rnn, B),
            *inputs[len(names) :],
        )  # a real recurrent state, readout empty
        graphs.append(
            Graph(
                "step",
                step,
                (x[:, 0], *inputs),
                ("x_t", *(n + "0" for n in carried)),
                ("logits", *carried),
                {
                    "x_t": BATCH,
                    **{n + "0": ({1: "batch"} if n in names else BATCH) for n in carried},
                    "logits": BATCH,
                    **{n: ({1: "batch"} if n in names else BATCH) for n in carried},
                },
                note="initial state (StepClassifier.init_state): "
                + ", ".join(
                    f"{n} = {'-inf' if bool(torch.isinf(t).all()) else 0}"
                    for n, t in zip(carried, step.init_state(1), strict=True)
                ),
            )
        )
    return graphs
