"""A tiny learnable text-pair task for seq2seq tests: words over a small alphabet, u and v swapped (vs -> us)."""

from __future__ import annotations

import random


def swap_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """`n` (source, target) pairs: random 3-6 letter words over 'abuvst', the target with u and v exchanged."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        w = "".join(rng.choice("abuvst") for _ in range(rng.randint(3, 6)))
        out.append((w, w.translate(str.maketrans("uv", "vu"))))
    return out
