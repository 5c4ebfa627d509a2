"""Hidden units over time: activations from the reference path, and which units track what in text.

For a character model the text is run through the same weights one character at a time (`Recurrent.trace`),
each unit's activation is correlated with simple properties of the text (inside [stage directions], inside
quotes, position in the line, line start, vowel, upper case, ...), and the best units are drawn as text
coloured by their activation (Karpathy's "quote neuron" picture).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from rnnlab.nn.recurrent import Recurrent, Trace


@contextmanager
def capture_trace(rnn: Recurrent, probe: bool = False) -> Iterator[list[Trace]]:
    """Within the block, `rnn` runs its reference path (`trace(..., probe=probe)`) and appends each call's
    Trace to the yielded list; the model around it needs no change."""
    traces: list[Trace] = []

    def forward(x, lengths=None, state=None):
        out, new_state, trace = rnn.trace(x, lengths, state, probe=probe)
        traces.append(trace)
        return out, new_state

    shadowed = rnn.__dict__.get("forward")  # an instance-level forward someone else installed
    rnn.forward = forward  # an instance attribute shadows the class's forward
    try:
        yield traces
    finally:
        del rnn.forward
        if shadowed is not None:
            rnn.forward = shadowed


@torch.no_grad()
def sensor_trace(model: nn.Module, x: np.ndarray, lengths: np.ndarray) -> Trace:
    """Every step's hidden and gate values of `model.rnn` for a batch of (scaled) sequences."""
    model.eval()
    with capture_trace(model.rnn) as traces:
        model(torch.as_tensor(x), torch.as_tensor(lengths))
    return traces[0]


def text_properties(text: str) -> dict[str, np.ndarray]:
    """Per-character 0/1 (or graded) properties that a unit might track."""
    n = len(text)
    props = {k: np.zeros(n) for k in ("inside [brackets]", "inside quotes", "position in line", "line start")}
    props.update({k: np.zeros(n) for k in ("vowel", "upper case", "space", "in an all-caps line")})
    bracket = quote = False
    col = 0
    line_caps = _caps_lines(text)
    for i, ch in enumerate(text):
        if ch == "[":
            bracket = True
        props["inside [brackets]"][i] = float(bracket)
        if ch == "]":
            bracket = False
        if ch in '"':
            quote = not quote
        props["inside quotes"][i] = float(quote)
        props["position in line"][i] = col
        props["line start"][i] = float(col == 0)
        col = 0 if ch == "\n" else col + 1
        props["vowel"][i] = float(ch.lower() in "aeiou")
        props["upper case"][i] = float(ch.isupper())
        props["space"][i] = float(ch == " ")
        props["in an all-caps line"][i] = line_caps[i]
    return {k: v for k, v in props.items() if v.std() > 0}


def _caps_lines(text: str) -> np.ndarray:
    out = np.zeros(len(text))
    start = 0
    for line in text.split("\n"):
        letters = [c for c in line if c.isalpha()]
        if len(letters) >= 2 and all(c.isupper() for c in letters):
            out[start : start + len(line)] = 1.0
        start += len(line) + 1
    return out


@torch.no_grad()
def char_activations(model: nn.Module, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Top-layer hidden state 'h' (and LSTM cell 'c', gates) per character: name -> (N, H), one stream."""
    model.eval()
    x = model.embedding(torch.as_tensor(ids, dtype=torch.long)[None])
    _, _, trace = model.rnn.trace(x)
    top = trace.layer(model.rnn.num_layers - 1)
    return {name: v[0].numpy() for name, v in top.items()}


def correlate_units(acts: dict[str, np.ndarray], props: dict[str, np.ndarray]) -> list[dict]:
    """For every property, the unit (over h/c and gates) whose activation correlates most with it."""
    found = []
    for pname, p in props.items():
        pz = (p - p.mean()) / p.std()
        best = None
        for aname, a in acts.items():
            sd = a.std(0)
            az = (a - a.mean(0)) / np.where(sd > 1e-8, sd, np.inf)
            r = (az * pz[:, None]).mean(0)
            u = int(np.abs(r).argmax())
            if best is None or abs(r[u]) > abs(best["r"]):
                best = {"property": pname, "tensor": aname, "unit": u, "r": float(r[u])}
        found.append(best)
    return sorted(found, key=lambda d: -abs(d["r"]))


def colored_text(text: str, values: np.ndarray, scale: float | None = None) -> str:
    """HTML: each character on a background from blue (negative) through white to red (positive)."""
    scale = scale or max(float(np.abs(values).max()), 1e-6)
    parts = []
    for ch, v in zip(text, values, strict=False):
        a = float(np.clip(v / scale, -1, 1))
        color = f"rgba(214,39,40,{a:.2f})" if a >= 0 else f"rgba(31,119,180,{-a:.2f})"
        if ch == "\n":
            parts.append(f'<span style="background:{color}">&#8629;</span><br>')
        else:
            parts.append(
                f'<span style="background:{color}">{html.escape(ch) if ch != " " else "&nbsp;"}</span>'
            )
    return '<div class="chars">' + "".join(parts) + "</div>"
