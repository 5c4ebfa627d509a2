"""Truncated-BPTT batching: contiguous parallel streams (carry) and random windows (no carry)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datahelpers import FIXTURES

from rnnlab.data.text import make_corpus
from rnnlab.data.textstream import RandomWindows, StreamChunks, TextDataModule
from rnnlab.errors import DataError


def test_chunks_continue_each_stream_and_targets_shift():
    ids = np.arange(1000)
    ds = StreamChunks(ids, batch=4, bptt=16, offset=3)
    a, b = ds[0], ds[1]
    assert a["x"].shape == (4, 16) and bool(a["first"]) and not bool(b["first"])
    assert torch.equal(a["y"], a["x"] + 1)
    assert torch.equal(b["x"][:, 0], a["x"][:, -1] + 1)  # chunk 2 of each stream starts where chunk 1 ended
    assert int(a["x"][0, 0]) == 3
    whole = torch.cat([ds[i]["x"] for i in range(len(ds))], 1)
    assert torch.equal(whole.reshape(-1), torch.arange(3, 3 + whole.numel()))  # nothing skipped or repeated


def test_random_windows_are_seeded_and_shifted():
    ids = np.arange(5000)
    a, b = RandomWindows(ids, 8, 32, seed=1), RandomWindows(ids, 8, 32, seed=1)
    wa, wb = a[0], b[0]
    assert torch.equal(wa["x"], wb["x"]) and torch.equal(wa["y"], wa["x"] + 1)
    assert not torch.equal(a[1]["x"], wa["x"])


def test_datamodule_moves_chunk_boundaries_between_epochs():
    c = make_corpus((FIXTURES / "coriolanus_120k.txt").read_text(), "cor")
    dm = TextDataModule(c, batch_size=8, bptt=64, carry=True, seed=0)
    first = next(iter(dm.train_dataloader()))["x"]
    second = next(iter(dm.train_dataloader()))["x"]
    assert torch.equal(first[0], torch.as_tensor(c.train[:64]))
    assert not torch.equal(first, second)
    v = next(iter(dm.val_dataloader()))
    assert v["x"].shape[1] == 64


def test_text_too_short_for_the_batch_is_a_clear_error():
    c = make_corpus("abcdefghij\n" * 100, "tiny")
    with pytest.raises(DataError, match="lower data.batch_size|fewer than one window"):
        TextDataModule(c, batch_size=32, bptt=128)
