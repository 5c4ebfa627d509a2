"""A classifier over a live sensor stream: after every `hop` samples (once `window` have arrived), the label
of the last `window` samples, exactly what the model says about that window.

RecurrentStream (a unidirectional recurrent classifier): K = ceil(window / hop) recurrent states, started
`hop` samples apart, advance together as one batch of K per incoming sample (models.streaming.StepClassifier).
A state that has seen `window` samples emits its prediction and restarts from the initial state when its
next window begins, so each sample costs one batched model step, never a re-run of the window.
WindowStream (bidirectional, convolutional front-end, non-recurrent models): a buffer of the last `window`
samples and one whole-model call every `hop` samples.
Both take raw samples and scale them with the run's training scaler, as `predict_probs` does.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import torch
from torch import nn

from rnnlab.models.streaming import StepClassifier


class Stream:
    """Shared bookkeeping: samples seen, the emission schedule (steps window, window+hop, ...) and scaling."""

    mode = ""

    def __init__(self, window: int, hop: int, mean: np.ndarray | None, std: np.ndarray | None) -> None:
        self.window, self.hop, self.seen = int(window), int(hop), 0
        self.mean = None if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        self.std = None if std is None else torch.as_tensor(std, dtype=torch.float32)

    def _scale(self, x: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(x, dtype=np.float32))
        return t if self.mean is None else (t - self.mean) / self.std

    def push(self, samples: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Feed raw samples (n, F); returns (step, class probabilities) for every window completed."""
        raise NotImplementedError

    def steps(self, n: int) -> int:
        """About how many recurrent time steps pushing `n` samples costs."""
        raise NotImplementedError


class RecurrentStream(Stream):
    """K staggered recurrent states advanced as one batch; see the module docstring."""

    mode = "recurrent"

    def __init__(self, model: nn.Module, window: int, hop: int, mean=None, std=None) -> None:
        super().__init__(window, hop, mean, std)
        self.step = StepClassifier(model)
        self.k = math.ceil(self.window / self.hop)
        self.start = [j * self.hop for j in range(self.k)]  # sample index where each slot's window begins
        self.fresh = self.step.init_state(1)
        self.state = list(self.step.init_state(self.k))

    def steps(self, n: int) -> int:
        return n  # one batched step of the K states per sample

    @torch.no_grad()
    def push(self, samples: np.ndarray) -> list[tuple[int, np.ndarray]]:
        out = []
        xs = self._scale(samples)
        for x in xs:
            t = self.seen
            for j in range(self.k):
                if self.start[j] == t:  # this slot's window begins now: restart it
                    self._restart(j)
            logits, *self.state = self.step(x.expand(self.k, -1), *self.state)
            self.seen = t + 1
            for j in range(self.k):
                if self.seen - self.start[j] == self.window:
                    out.append((self.seen, torch.softmax(logits[j], -1).numpy()))
                    self.start[j] += self.k * self.hop
        return out

    def _restart(self, j: int) -> None:
        for i, (d, f) in enumerate(zip(self.step.batch_dims, self.fresh, strict=True)):
            s = self.state[i].clone()
            s.select(d, j).copy_(f.select(d, 0))
            self.state[i] = s


class WindowStream(Stream):
    """The last `window` samples, classified by the whole model every `hop` samples."""

    mode = "window"

    def __init__(self, model: nn.Module, window: int, hop: int, mean=None, std=None) -> None:
        super().__init__(window, hop, mean, std)
        self.model = model
        self.buffer: deque[torch.Tensor] = deque(maxlen=self.window)

    def steps(self, n: int) -> int:
        return (n // self.hop + 1) * self.window  # a whole window for each prediction the samples complete

    @torch.no_grad()
    def push(self, samples: np.ndarray) -> list[tuple[int, np.ndarray]]:
        out = []
        for x in self._scale(samples):
            self.buffer.append(x)
            self.seen += 1
            if self.seen >= self.window and (self.seen - self.window) % self.hop == 0:
                batch = torch.stack(list(self.buffer))[None]
                logits = self.model(batch, torch.tensor([self.window]))
                out.append((self.seen, torch.softmax(logits[0], -1).numpy()))
        return out
