"""Speed of one training step (forward + backward) on a HAR-sized batch: fused path vs reference loop vs torch.nn.

Usage: python bench/fast_path.py [--repeats 20] [--threads 2]
Prints milliseconds per step and the ratio to torch.nn.LSTM/GRU/RNN measured in the same process.
"""

from __future__ import annotations

import argparse
import time

import torch

from rnnlab.nn import Recurrent

TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def _time(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--time", type=int, default=128)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.time, 9)
    lengths = torch.randint(args.time // 2, args.time + 1, (args.batch,))
    print(
        f"batch {args.batch} x {args.time} steps x 9 features, hidden 64, 2 layers, bidirectional; "
        f"{args.threads} threads; ms per forward+backward"
    )
    print(
        "| cell | lengths | torch.nn | rnnlab fused | rnnlab reference | fused / torch | reference / torch |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind in ("rnn", "lstm", "gru"):
        fused = Recurrent(kind, 9, 64, num_layers=2, bidirectional=True)
        ref = Recurrent(kind, 9, 64, num_layers=2, bidirectional=True, fast_path="off")
        ref.load_state_dict(fused.state_dict())
        tnn = TORCH[kind](9, 64, num_layers=2, bidirectional=True, batch_first=True)
        tnn.load_state_dict(fused.state_dict())
        for ragged in (False, True):
            lens = lengths if ragged else None

            def step_torch(lens=lens, tnn=tnn):
                if lens is None:
                    out, _ = tnn(x)
                else:
                    packed = torch.nn.utils.rnn.pack_padded_sequence(
                        x, lens, batch_first=True, enforce_sorted=False
                    )
                    out, _ = torch.nn.utils.rnn.pad_packed_sequence(tnn(packed)[0], batch_first=True)
                out.sum().backward()

            t_torch = _time(step_torch, args.repeats)
            t_fused = _time(lambda lens=lens, m=fused: m(x, lens)[0].sum().backward(), args.repeats)
            t_ref = _time(lambda lens=lens, m=ref: m(x, lens)[0].sum().backward(), max(3, args.repeats // 4))
            print(
                f"| {kind} | {'ragged' if ragged else 'equal'} | {t_torch:.1f} | {t_fused:.1f} | {t_ref:.1f} | "
                f"{t_fused / t_torch:.2f} | {t_ref / t_torch:.2f} |"
            )


if __name__ == "__main__":
    main()
