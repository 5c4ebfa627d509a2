"""SequenceDataModule: splits, per-feature scaling fit on train only, and padded batches with lengths."""

from __future__ import annotations

import numpy as np
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Sampler

from rnnlab.data.augment import Augment
from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import DataError


class Scaler:
    """Per-feature standardisation (x - mean) / std, statistics over the real steps of the training set."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    @classmethod
    def fit(cls, s: SequenceSet) -> Scaler:
        """Statistics of the real (unpadded) steps of `s`."""
        valid = np.arange(s.x.shape[1])[None, :] < s.lengths[:, None]
        flat = s.x[valid]
        std = flat.std(axis=0)
        return cls(flat.mean(axis=0), np.where(std > 1e-8, std, 1.0))

    def transform(self, s: SequenceSet) -> SequenceSet:
        """A copy of `s` scaled; padding stays zero."""
        if s.n_features != len(self.mean):
            raise DataError(f"data has {s.n_features} features but the model was trained on {len(self.mean)}")
        valid = (np.arange(s.x.shape[1])[None, :] < s.lengths[:, None])[..., None]
        x = np.where(valid, (s.x - self.mean) / self.std, 0.0).astype(np.float32)
        out = s.subset(np.arange(len(s)))
        out.x = x
        return out

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(np.array(d["mean"]), np.array(d["std"]))


class _Tensors(Dataset):
    """Index into a SequenceSet; batches are collated by `collate`."""

    def __init__(self, s: SequenceSet, augment: Augment | None = None) -> None:
        self.augment = augment
        self.x = torch.from_numpy(s.x)
        self.lengths = torch.from_numpy(s.lengths)
        self.y = None if s.y is None else torch.from_numpy(s.y)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> int:
        return i

    def collate(self, idx: list[int]) -> dict[str, torch.Tensor]:
        """A batch dict: x (B, T_max_in_batch, F), lengths (B,), y; padding beyond the longest is cut."""
        idx_t = torch.as_tensor(idx)
        lengths = self.lengths[idx_t]
        t = int(lengths.max())
        x = self.x[idx_t, :t]
        if self.augment is not None:
            x = self.augment(x, lengths)
        batch = {"x": x, "lengths": lengths, "index": idx_t}
        if self.y is not None:
            y = self.y[idx_t]
            batch["y"] = y[:, :t] if y.dim() == 2 else y
        return batch


class EpochShuffle(Sampler[int]):
    """Shuffled indices whose order in epoch `e` is a pure function of (seed, e), so a resumed run sees the
    same batches as an uninterrupted one (Lightning calls `set_epoch`; without it, each pass is the next epoch).

    It takes from one generator seeded with `seed` exactly the draws that DataLoader(shuffle=True,
    generator=...) took (the loader's base-seed draw, RandomSampler's permutation and its empty-remainder
    permutation), so the orders equal those of earlier rnnlab versions, epoch for epoch.

    Data-parallel training (`world_size` processes): every rank draws the same epoch order and takes the
    interleaved share order[rank::world_size], padded like torch's DistributedSampler (the order repeats
    from its start up to a multiple of world_size) so every rank runs the same number of batches. Rank r's
    batch k of size b then holds positions r, r+N, ... of the single-process batch k of size N*b: the ranks'
    batches together are the single-process batch, and gradient averaging reproduces single-process training.
    """

    def __init__(self, n: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise DataError(f"sampler rank must be in [0, world_size); got rank {rank} of {world_size}")
        self.n, self.seed, self.epoch = int(n), int(seed), 0
        self.rank, self.world_size = int(rank), int(world_size)
        self.per_rank = -(-self.n // self.world_size)  # ceil: padded, as DistributedSampler(drop_last=False)
        self._state = (0, torch.Generator().manual_seed(self.seed).get_state())  # (epoch, generator state)
        self._skip: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def skip(self, epoch: int, n: int) -> None:
        """Leave out the first `n` indices of `epoch` (resuming mid-epoch: those batches were trained on)."""
        self._skip = (int(epoch), int(n))

    def _draw(self, g: torch.Generator) -> list[int]:
        torch.empty((), dtype=torch.int64).random_(generator=g)  # the DataLoader's base-seed draw
        order = torch.randperm(self.n, generator=g).tolist()
        torch.randperm(self.n, generator=g)  # RandomSampler's permutation for the (empty) remainder
        return order

    def __iter__(self):
        epoch = self.epoch
        start, state = self._state
        g = torch.Generator()
        if start <= epoch:
            g.set_state(state)
        else:
            g.manual_seed(self.seed)
            start = 0
        for _ in range(start, epoch):  # replay earlier epochs' draws (only after a jump, e.g. a resume)
            self._draw(g)
        order = self._shard(self._draw(g))
        self._state, self.epoch = (epoch + 1, g.get_state()), epoch + 1
        skip = 0
        if self._skip is not None and self._skip[0] == epoch:
            skip, self._skip = self._skip[1], None
        return iter(order[skip:])

    def _shard(self, order: list[int]) -> list[int]:
        """This rank's interleaved share of the epoch's order (the whole order in a single process)."""
        if self.world_size == 1 or not order:
            return order
        total = self.per_rank * self.world_size
        padded = (order * -(-total // len(order)))[:total]
        return padded[self.rank :: self.world_size]

    def __len__(self) -> int:
        return self.per_rank


def epoch_loader(
    ds: Dataset,
    batch_size: int,
    seed: int,
    shuffle: bool,
    collate_fn=None,
    rank: int = 0,
    world_size: int = 1,
) -> DataLoader:
    """The DataLoader every datamodule uses: shuffled batches in EpochShuffle's (seed, epoch) order, sharded
    across `world_size` ranks, so a resumed or data-parallel run sees an uninterrupted run's batches; fixed
    order when not shuffling."""
    sampler = EpochShuffle(len(ds), seed, rank, world_size) if shuffle else None
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn, generator=gen)


def split_by_group(s: SequenceSet, fraction: float, seed: int) -> tuple[SequenceSet, SequenceSet]:
    """Hold out whole groups (e.g. subjects) for validation when `s.groups` exists, else random sequences."""
    rng = np.random.default_rng(seed)
    if s.groups is not None and len(np.unique(s.groups)) >= 3:
        groups = np.unique(s.groups)
        n_val = max(1, int(round(len(groups) * fraction)))
        val_groups = rng.choice(groups, size=n_val, replace=False)
        is_val = np.isin(s.groups, val_groups)
    else:
        order = rng.permutation(len(s))
        n_val = max(1, int(round(len(s) * fraction)))
        is_val = np.zeros(len(s), dtype=bool)
        is_val[order[:n_val]] = True
    if is_val.all() or not is_val.any():
        raise DataError(f"cannot split {len(s)} sequences into train and validation; provide more data")
    return s.subset(~is_val), s.subset(is_val)


class SplitDataModule(LightningDataModule):
    """Lightning's three dataloader hooks from one `loader(split, shuffle)` over `self.sets`: the training split
    shuffled, the test split falling back to validation where a data set has none; `loader` shards the
    training split across `world_size` processes (set_shard)."""

    sets: dict
    rank: int = 0
    world_size: int = 1

    def set_shard(self, rank: int, world_size: int) -> None:
        """Make the training loader yield this process's share of every epoch (data-parallel training).

        The fit driver calls it with the Trainer's global rank and world size and turns off Lightning's own
        DistributedSampler, which would wrap the seeded EpochShuffle and lose its (seed, epoch) order on
        resume. Validation and test loaders stay whole on every rank: their metrics equal a single process's
        and rank 0 holds every test prediction.
        """
        if world_size < 1 or not 0 <= rank < world_size:
            raise DataError(f"rank must be in [0, world_size); got rank {rank} of {world_size}")
        self.rank, self.world_size = int(rank), int(world_size)

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test" if "test" in self.sets else "val")


class SequenceDataModule(SplitDataModule):
    """Train/val/test SequenceSets -> scaled, shuffled (seeded) padded batches; sizes read off the data."""

    def __init__(
        self,
        train: SequenceSet,
        val: SequenceSet,
        test: SequenceSet | None = None,
        batch_size: int = 64,
        scale: bool = True,
        seed: int = 0,
        name: str = "data",
        augment: Augment | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        if train.y is None:
            raise DataError("the training set has no labels")
        self.name = name
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.augment = augment if augment is not None and augment.active else None
        self.classes = list(train.classes)
        self.features = list(train.features)
        self.scaler = Scaler.fit(train) if scale else None
        prep = self.scaler.transform if self.scaler else (lambda s: s)
        self.raw = {"train": train, "val": val, "test": test}
        self.sets = {k: prep(v) for k, v in self.raw.items() if v is not None}

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def max_len(self) -> int:
        return int(max(s.x.shape[1] for s in self.sets.values()))

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        """A DataLoader over one split ('train', 'val', 'test')."""
        ds = _Tensors(self.sets[split], self.augment if split == "train" and shuffle else None)
        return epoch_loader(ds, self.batch_size, self.seed, shuffle, ds.collate, self.rank, self.world_size)

    def describe(self) -> dict:
        """What the run directory records about the data: classes, features, scaler, split sizes."""
        return {
            "name": self.name,
            "classes": self.classes,
            "features": self.features,
            "scaler": self.scaler.to_dict() if self.scaler else None,
            "sizes": {k: len(v) for k, v in self.sets.items()},
            "max_len": self.max_len,
        }
