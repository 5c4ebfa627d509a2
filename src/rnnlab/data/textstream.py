"""Batches of a character stream for truncated BPTT, with or without stateful carry.

carry=True: the stream is cut into `batch` parallel contiguous streams; batch i holds chunk i of every
stream, so chunk i+1 continues exactly where chunk i stopped and the model can carry its hidden state.
Each epoch starts at a random offset in [0, bptt) so chunk boundaries move between epochs.
carry=False: every batch is `batch` windows of bptt+1 characters at random positions (no state to carry).
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.text import TextCorpus
from rnnlab.errors import DataError


class StreamChunks(Dataset):
    """Item i = (x, y) of shape (batch, bptt): chunk i of `batch` contiguous streams; y is x shifted by one."""

    def __init__(self, ids: np.ndarray, batch: int, bptt: int, offset: int = 0) -> None:
        if batch < 1 or bptt < 1:
            raise DataError(f"batch and bptt must be >= 1, got batch={batch}, bptt={bptt}")
        n = (len(ids) - offset - 1) // batch
        if n < bptt:
            raise DataError(
                f"{len(ids)} characters cannot fill {batch} streams of data.bptt={bptt}; lower data.batch_size "
                "or data.bptt, or give more text"
            )
        ids = torch.as_tensor(ids, dtype=torch.long)
        self.x = ids[offset : offset + n * batch].view(batch, n)
        self.y = ids[offset + 1 : offset + 1 + n * batch].view(batch, n)
        self.bptt = bptt
        self.steps = -(-n // bptt)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        s = slice(i * self.bptt, (i + 1) * self.bptt)
        return {"x": self.x[:, s], "y": self.y[:, s], "first": torch.tensor(i == 0)}


class RandomWindows(Dataset):
    """Item i = `batch` windows of bptt characters at random positions (seeded per epoch): no carry."""

    def __init__(self, ids: np.ndarray, batch: int, bptt: int, seed: int = 0) -> None:
        if len(ids) <= bptt + 1:
            raise DataError(f"{len(ids)} characters are fewer than one window of data.bptt={bptt}")
        self.ids = torch.as_tensor(ids, dtype=torch.long)
        self.batch, self.bptt = batch, bptt
        self.steps = max(1, (len(ids) - 1) // (batch * bptt))
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        start = torch.randint(0, len(self.ids) - self.bptt - 1, (self.batch,), generator=self.gen)
        idx = start[:, None] + torch.arange(self.bptt + 1)[None, :]
        w = self.ids[idx]
        return {"x": w[:, :-1], "y": w[:, 1:], "first": torch.tensor(True)}


class TextDataModule(L.LightningDataModule):
    """Train and validation streams over a TextCorpus; validation always runs contiguous with carry."""

    def __init__(
        self, corpus: TextCorpus, batch_size: int = 64, bptt: int = 128, carry: bool = True, seed: int = 0
    ) -> None:
        super().__init__()
        self.corpus = corpus
        self.batch_size, self.bptt, self.carry, self.seed = int(batch_size), int(bptt), bool(carry), seed
        self.name = corpus.name
        self.vocab = corpus.vocab
        self.epoch = 0
        self.val_batch = max(1, min(self.batch_size, len(corpus.val) // (4 * self.bptt)))
        # fail now, not after an epoch, when the text is too short for these sizes
        StreamChunks(corpus.val, self.val_batch, self.bptt)
        StreamChunks(corpus.train, self.batch_size, self.bptt)

    @property
    def n_tokens(self) -> int:
        return len(self.vocab)

    def describe(self) -> dict:
        return {
            **self.corpus.describe(),
            "batch_size": self.batch_size,
            "bptt": self.bptt,
            "carry": self.carry,
        }

    def _train_set(self, epoch: int) -> Dataset:
        """Epoch `epoch`'s training batches: its own stream offset (0 in the first epoch) or window seed."""
        rng = np.random.default_rng([self.seed, epoch])
        if self.carry:
            offset = int(rng.integers(0, self.bptt)) if epoch > 0 else 0
            return StreamChunks(self.corpus.train, self.batch_size, self.bptt, offset)
        return RandomWindows(self.corpus.train, self.batch_size, self.bptt, seed=int(rng.integers(2**31)))

    @property
    def steps_per_epoch(self) -> int:
        return len(self._train_set(0))

    def train_dataloader(self) -> DataLoader:
        ds = self._train_set(self.epoch)
        self.epoch += 1
        return DataLoader(ds, batch_size=None, shuffle=False)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(StreamChunks(self.corpus.val, self.val_batch, self.bptt), batch_size=None)
