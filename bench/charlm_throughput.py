"""Character-LM training throughput: rnnlab CharLM vs a plain torch.nn.LSTM loop of the same shape.

Usage: python bench/charlm_throughput.py [--hidden 512] [--layers 1] [--batch 64] [--bptt 128] [--steps 20]
Both models train with AdamW on the same random character chunks (forward, backward, clip, step, carried
detached state), interleaved round by round so machine noise hits both alike. Prints characters/second and
the ratio ours/plain, then the time to generate 500 characters at temperature 0.8 with streaming step().
--bf16 adds rnnlab's CharLM under bfloat16 autocast (what train.precision bf16-mixed runs) in the same rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch
from torch import nn

from rnnlab.models.language import CharLM


class PlainLSTMLM(nn.Module):
    """The reference: embedding -> torch.nn.LSTM -> linear, as a tutorial would write it."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int, cell: str) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.rnn = rnn(embed, hidden, layers, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x, state=None, y=None):
        h, state = self.rnn(self.embedding(x), state)
        logits = self.decoder(h)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return logits, state, loss


def _detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def train_chars_per_second(model: nn.Module, batches: list, rounds: int, bf16: bool = False) -> float:
    """Characters/second over `rounds` training steps (after the first batch warms up); bf16: the forward
    under bfloat16 autocast, as Lightning's bf16-mixed runs it."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    state = None

    def step(x, y):
        nonlocal state
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            out = model(x, state, y)
        loss = out.loss if hasattr(out, "loss") else out[-1]  # CharLM's LMOutput names its loss
        state = _detach(out[1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step(*batches[0])
    t0 = time.perf_counter()
    for i in range(rounds):
        step(*batches[i % len(batches)])
    return rounds * batches[0][1].numel() / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--cell", default="lstm")
    p.add_argument("--vocab", type=int, default=78)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--bptt", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="training steps per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--bf16", action="store_true", help="also rnnlab's CharLM under bfloat16 autocast")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batches = [
        (
            torch.randint(0, args.vocab, (args.batch, args.bptt)),
            torch.randint(0, args.vocab, (args.batch, args.bptt)),
        )
        for _ in range(4)
    ]
    ours = CharLM(args.vocab, args.cell, args.hidden, args.layers, embed=args.embed, dropout=0.0)
    plain = PlainLSTMLM(args.vocab, args.embed, args.hidden, args.layers, args.cell)
    plain.load_state_dict(ours.state_dict())  # same parameter names and shapes: the same model
    res = {"ours": [], "plain": [], "bf16": []}
    for _ in range(args.rounds):
        res["plain"].append(train_chars_per_second(plain, batches, args.steps))
        res["ours"].append(train_chars_per_second(ours, batches, args.steps))
        if args.bf16:
            res["bf16"].append(train_chars_per_second(ours, batches, args.steps, bf16=True))
    o, r = max(res["ours"]), max(res["plain"])
    print(
        f"{args.cell} {args.layers}x{args.hidden}, embed {args.embed}, batch {args.batch} x bptt {args.bptt}, "
        f"{torch.get_num_threads()} threads"
    )
    print("| model | chars/s (best of rounds) | all rounds |")
    print("|---|---|---|")
    print(
        f"| plain torch.nn.{args.cell.upper()} loop | {r:,.0f} | {', '.join(f'{v:,.0f}' for v in res['plain'])} |"
    )
    print(f"| rnnlab CharLM | {o:,.0f} | {', '.join(f'{v:,.0f}' for v in res['ours'])} |")
    if args.bf16:
        b = max(res["bf16"])
        print(f"| rnnlab CharLM, bf16-mixed | {b:,.0f} | {', '.join(f'{v:,.0f}' for v in res['bf16'])} |")
    print(f"ratio ours/plain: {o / r:.3f}")
    if args.bf16:
        print(f"ratio bf16-mixed/float32 (rnnlab CharLM): {b / o:.3f}")
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    ours.generate(torch.tensor([1, 2, 3]), 500, temperature=0.8, generator=g)
    print(f"generate 500 characters at temperature 0.8: {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
