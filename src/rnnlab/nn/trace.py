"""Trace: every step's hidden state and gate values from a layer's reference path, for inspection.

Filled by ``Recurrent.trace`` and ``MinRNN.trace``; with probes, it also gives dLoss/dh_t for every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from rnnlab.nn.lengths import reverse_padded


@dataclass
class Trace:
    """Every step's hidden state and gate values from the reference path, per (layer, direction).

    ``steps[k * D + d]`` maps a name ('h', 'c', and the cell's gates such as 'i','f','g','o') to (B, T, H).
    """

    steps: list[dict[str, Tensor]] = field(default_factory=list)
    # per (layer, direction): the zero tensors added to h at each step, in processing order
    probes: list[list[Tensor]] = field(default_factory=list)
    lengths: Tensor | None = None
    num_directions: int = 1

    def hidden_grads(self, grads: list[Tensor | None] | None = None) -> list[Tensor]:
        """dLoss/dh_t per (layer, direction) as (B, T, H), in time order for both directions.

        Needs ``trace(..., probe=True)``. Each probe is a zero tensor added to h_t inside the recurrence, so its
        gradient is the total gradient reaching h_t: through the output at t and through every later step.
        `grads`: the probes' gradients flattened in `probes` order (from ``torch.autograd.grad``); default:
        each probe's ``.grad`` after ``backward()``. None counts as zero.
        """
        if not self.probes:
            raise ValueError("no probes recorded; call trace(..., probe=True) before backward()")
        flat = [p for ps in self.probes for p in ps]
        grads = [p.grad for p in flat] if grads is None else list(grads)
        out, i = [], 0
        for idx, ps in enumerate(self.probes):
            g = [grads[i + t] if grads[i + t] is not None else torch.zeros_like(p) for t, p in enumerate(ps)]
            i += len(ps)
            g = torch.stack(g, dim=1)
            if idx % self.num_directions == 1:  # reverse direction: processing order -> time order
                g = reverse_padded(g, self.lengths)
            out.append(g)
        return out

    def layer(self, layer: int, direction: int = 0, num_directions: int = 1) -> dict[str, Tensor]:
        """Values of one layer and direction."""
        return self.steps[layer * num_directions + direction]
