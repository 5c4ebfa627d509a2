"""Prototype: a LayerNorm-LSTM (Ba et al. 2016) loop, eager and with the whole sequence under torch.compile,
against the fused torch.nn.LSTM (B=64, T=128, F=9, H=128, forward + backward, ms per step, 3 interleaved reps).

Usage: python bench/variant_cell_compile.py   (the first compile takes minutes: it unrolls the 128 steps)
Numbers in docs/RESULTS.md, "Not done yet (issue 8)".
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

B, T, F, H = 64, 128, 9, 128


class LayerNormLSTM(nn.Module):
    """gates = LN(x W_ih) + LN(h W_hh) + b;  c = σ(f) c + σ(i) tanh(g);  h = σ(o) tanh(LN(c))."""

    def __init__(self) -> None:
        super().__init__()
        self.w_ih = nn.Parameter(torch.randn(4 * H, F) * 0.1)
        self.w_hh = nn.Parameter(torch.randn(4 * H, H) * 0.1)
        self.bias = nn.Parameter(torch.zeros(4 * H))
        self.ln_ih, self.ln_hh, self.ln_c = nn.LayerNorm(4 * H), nn.LayerNorm(4 * H), nn.LayerNorm(H)

    def forward(self, x: Tensor) -> Tensor:
        xp = self.ln_ih(x @ self.w_ih.t()) + self.bias  # the input half of every step at once
        h = c = x.new_zeros(x.shape[0], H)
        outs = []
        for t in range(x.shape[1]):
            i, f, g, o = (xp[:, t] + self.ln_hh(h @ self.w_hh.t())).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(self.ln_c(c))
            outs.append(h)
        return torch.stack(outs, 1)


def main() -> None:
    torch.manual_seed(0)
    model, fused = LayerNormLSTM(), nn.LSTM(F, H, batch_first=True)
    x, grad = torch.randn(B, T, F), torch.randn(B, T, H)
    compiled = torch.compile(model, dynamic=False)

    def step(fn) -> float:
        model.zero_grad()
        fused.zero_grad()
        t0 = time.perf_counter()
        fn().backward(grad)
        return (time.perf_counter() - t0) * 1e3

    print(f"compile + first step: {step(lambda: compiled(x)) / 1e3:.1f} s", flush=True)
    runs = {
        "fused torch.nn.LSTM": lambda: fused(x)[0],
        "LayerNorm-LSTM, eager loop": lambda: model(x),
        "LayerNorm-LSTM, whole sequence compiled": lambda: compiled(x),
    }
    for fn in runs.values():  # warm-up
        step(fn)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(3):
        for name, fn in runs.items():
            times[name].append(step(fn))
    base = min(times["fused torch.nn.LSTM"])
    for name, ts in times.items():
        print(f"{name}: {min(ts):.1f} ms (best of 3), {min(ts) / base:.2f}x the fused LSTM")


if __name__ == "__main__":
    main()
