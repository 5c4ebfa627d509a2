"""Synthetic sequence tasks from the xLSTM paper's comparisons (Beck et al. 2024), generated from a seed (no files).

parity   a bit string -> whether it holds an odd number of ones (the formal-language table's "Parity",
         regular but needs state tracking); trained on short strings and tested on longer ones, so the test
         score measures length extrapolation.
mqar     multi-query associative recall (Arora et al. 2023, "Zoology"; the xLSTM paper's MQAR): N key-value
         pairs, then the N keys again in a random order as queries; the answer to each query is its key's
         value. One step per pair: a context step holds its key and its value side by side (one-hot key in
         features 0..K-1, one-hot value in K..2K-1), a query step the key alone. (Zoology gives key and value
         a token each; joining them into one step asks the recurrent cell itself to bind them, with no
         token-shift or convolution in front.) Framed as many-to-one classification: every context gives N
         examples, the j-th the context's steps up to its j-th query (zero after), labelled with
         that query's value; the earlier queries stay in the input, unlabelled, as in the multi-query task.
         The classes are the K values. Examples of one context share a group, so validation holds out whole
         contexts.
"""

from __future__ import annotations

import numpy as np

from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import ConfigError


def parity_set(n: int, min_len: int, max_len: int, seed: int) -> SequenceSet:
    """`n` bit strings of lengths uniform in [min_len, max_len], one feature (the bit); label 1 = odd ones."""
    if n < 1 or not 1 <= min_len <= max_len:
        raise ConfigError(
            f"parity needs n >= 1 and 1 <= min_len <= max_len, got n={n}, lengths {min_len}..{max_len}"
        )
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=n)
    bits = rng.integers(0, 2, size=(n, max_len)) * (np.arange(max_len)[None, :] < lengths[:, None])
    return SequenceSet(
        x=bits[..., None].astype(np.float32),
        lengths=lengths,
        y=bits.sum(1) % 2,
        classes=["even", "odd"],
        features=["bit"],
        ids=[f"parity-{seed}-{i}" for i in range(n)],
        meta={"task": "parity", "lengths": [int(min_len), int(max_len)]},
    )


def mqar_set(contexts: int, pairs: int, vocab: int, seed: int) -> SequenceSet:
    """`contexts` x `pairs` recall examples (see the module docstring); keys drawn without repetition from
    `vocab` keys, values uniformly from `vocab` values."""
    if contexts < 1 or pairs < 1 or vocab < pairs:
        raise ConfigError(
            f"mqar needs contexts >= 1, pairs >= 1 and vocab >= pairs (distinct keys), got contexts={contexts}, "
            f"pairs={pairs}, vocab={vocab}"
        )
    rng = np.random.default_rng(seed)
    keys = np.argsort(rng.random((contexts, vocab)), axis=1)[:, :pairs]  # distinct keys per context
    values = rng.integers(0, vocab, size=(contexts, pairs))
    order = np.argsort(rng.random((contexts, pairs)), axis=1)  # the queries: every key once, shuffled
    eye = np.eye(vocab, dtype=np.float32)
    steps = np.zeros((contexts, 2 * pairs, 2 * vocab), dtype=np.float32)
    steps[:, :pairs, :vocab] = eye[keys]
    steps[:, :pairs, vocab:] = eye[values]
    steps[:, pairs:, :vocab] = eye[np.take_along_axis(keys, order, axis=1)]
    answers = np.take_along_axis(values, order, axis=1)  # (contexts, pairs): the value of each query
    lengths = np.tile(
        pairs + 1 + np.arange(pairs), contexts
    )  # example (c, j): context c up to its j-th query
    x = np.repeat(steps, pairs, axis=0) * (np.arange(2 * pairs)[None, :, None] < lengths[:, None, None])
    return SequenceSet(
        x=x,
        lengths=lengths,
        y=answers.reshape(-1),
        classes=[f"v{i}" for i in range(vocab)],
        features=[f"k{i}" for i in range(vocab)] + [f"v{i}" for i in range(vocab)],
        groups=np.repeat(np.arange(contexts), pairs),
        ids=[f"mqar-{seed}-{c}-q{j}" for c in range(contexts) for j in range(pairs)],
        meta={"task": "mqar", "pairs": int(pairs), "vocab": int(vocab)},
    )


def decode_mqar(x: np.ndarray, length: int, vocab: int) -> list[tuple[int, int | None]]:
    """An example's steps up to its length as (key, value) pairs, value None on a query step."""
    steps = x[:length]
    keys = steps[:, :vocab].argmax(-1)
    has_value = steps[:, vocab:].sum(-1) > 0
    values = steps[:, vocab:].argmax(-1)
    return [(int(k), int(v) if h else None) for k, v, h in zip(keys, values, has_value, strict=True)]
