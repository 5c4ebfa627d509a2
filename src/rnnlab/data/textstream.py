"""Batches of a character stream for truncated BPTT, with or without stateful carry.

carry=True: the stream is cut into `batch` parallel contiguous streams; batch i holds chunk i of every
stream, so chunk i+1 continues exactly where chunk i stopped and the model can carry its hidden state.
Each epoch starts at a random offset in [0, bptt) so chunk boundaries move between epochs.
carry=False: every batch is `batch` windows of bptt+1 characters at random positions (no state to carry).
Epoch `e`'s batches are a function of (seed, e) (the trainer's epoch), and StreamOrder can skip the first
batches of an epoch, so a run resumed mid-epoch continues with exactly the batches it had not trained.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

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

    def advance(self, n: int) -> None:
        """Take the draws of `n` items without building them (resuming after `n` trained batches)."""
        for _ in range(n):
            torch.randint(0, len(self.ids) - self.bptt - 1, (self.batch,), generator=self.gen)


class RowShard(Dataset):
    """Rows [rank*b, (rank+1)*b) of every batch of `dataset` (b = batch / world_size): one data-parallel
    process's contiguous share of the parallel streams, so each rank carries the state of its own streams."""

    def __init__(self, dataset: Dataset, rank: int, world_size: int) -> None:
        self.dataset, self.rank, self.world_size = dataset, int(rank), int(world_size)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.dataset[i]
        b = item["x"].shape[0] // self.world_size
        rows = slice(self.rank * b, (self.rank + 1) * b)
        return {"x": item["x"][rows], "y": item["y"][rows], "first": item["first"]}

    def advance(self, n: int) -> None:
        if hasattr(self.dataset, "advance"):
            self.dataset.advance(n)


class StreamOrder(Sampler[int]):
    """Items 0..len-1 of one epoch's dataset in order; `skip(epoch, n)` leaves out the first `n` (resuming
    mid-epoch: TrainingState calls it), and a RandomWindows dataset takes the skipped items' draws."""

    def __init__(self, dataset: Dataset, epoch: int) -> None:
        self.dataset, self.epoch = dataset, int(epoch)
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def skip(self, epoch: int, n: int) -> None:
        if int(epoch) == self.epoch:
            self._skip = int(n)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self):
        # a generator: its body runs at the first batch, after Lightning made the iterator and after
        # TrainingState.on_train_start set the skip
        start, self._skip = self._skip, 0
        if start and hasattr(self.dataset, "advance"):
            self.dataset.advance(start)
        yield from range(start, len(self.dataset))


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
        self.rank, self.world_size = 0, 1
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

    def set_shard(self, rank: int, world_size: int) -> None:
        """Data-parallel training: this process trains on its contiguous share of the `batch_size` streams
        (every rank cuts the same streams at the same offset), so the ranks together take one single-process
        batch per step. Validation stays whole on every rank."""
        if world_size < 1 or not 0 <= rank < world_size:
            raise DataError(f"rank must be in [0, world_size); got rank {rank} of {world_size}")
        if self.batch_size % world_size:
            raise DataError(
                f"data.batch_size {self.batch_size} streams cannot be shared by {world_size} processes; "
                f"choose a multiple of {world_size}"
            )
        self.rank, self.world_size = int(rank), int(world_size)

    def _train_set(self, epoch: int) -> Dataset:
        """Epoch `epoch`'s training batches: its own stream offset (0 in the first epoch) or window seed; this
        process's rows of them under data-parallel training."""
        rng = np.random.default_rng([self.seed, epoch])
        if self.carry:
            offset = int(rng.integers(0, self.bptt)) if epoch > 0 else 0
            ds = StreamChunks(self.corpus.train, self.batch_size, self.bptt, offset)
        else:
            ds = RandomWindows(self.corpus.train, self.batch_size, self.bptt, seed=int(rng.integers(2**31)))
        return ds if self.world_size == 1 else RowShard(ds, self.rank, self.world_size)

    @property
    def steps_per_epoch(self) -> int:
        return len(self._train_set(0))

    def train_dataloader(self) -> DataLoader:
        # the trainer's epoch (fit_lm reloads the loader every epoch), so a resumed run gets the epoch's own
        # offset; without a trainer, each call is the next epoch
        trainer = getattr(self, "trainer", None)
        epoch = int(trainer.current_epoch) if trainer is not None else self.epoch
        ds = self._train_set(epoch)
        self.epoch = epoch + 1
        return DataLoader(ds, batch_size=None, shuffle=False, sampler=StreamOrder(ds, epoch))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(StreamChunks(self.corpus.val, self.val_batch, self.bptt), batch_size=None)
