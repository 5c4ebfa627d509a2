"""Batches of digit-strip captions: a CaptionSet's strips as images and column sequences, with teacher-forcing
targets, in seeded shuffled order.

A batch holds images (B, 1, 28, W), the same as column sequences x (B, W, 28) with lengths = widths,
tgt_in = [BOS, words] and tgt_out = [words, EOS], both PAD-padded to (B, L); W and L are the batch's longest.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.captions import BOS, EOS, PAD, VOCAB, CaptionSet, load_captions
from rnnlab.data.datamodule import SplitDataModule, epoch_loader
from rnnlab.data.mnist import SIDE
from rnnlab.errors import DataError


class CaptionDataset(Dataset):
    """Index into a CaptionSet; `collate` builds the batch dict (padding beyond the batch's longest is cut)."""

    def __init__(self, s: CaptionSet) -> None:
        self.images = torch.from_numpy(s.images)
        self.widths = torch.from_numpy(s.widths)
        tgt_in, tgt_out = s.targets()
        self.tgt_in, self.tgt_out = torch.from_numpy(tgt_in), torch.from_numpy(tgt_out)
        self.tgt_lengths = torch.from_numpy(s.n_digits + 1)

    def __len__(self) -> int:
        return len(self.widths)

    def __getitem__(self, i: int) -> int:
        return i

    def collate(self, idx: list[int]) -> dict[str, torch.Tensor]:
        """images (B, 1, 28, W), x (B, W, 28) columns as steps, lengths = widths (B,), tgt_in/tgt_out (B, L),
        tgt_lengths (B,) = words + 1, index (B,); W and L are the batch's longest."""
        i = torch.as_tensor(idx)
        widths, tgt_lengths = self.widths[i], self.tgt_lengths[i]
        w, length = int(widths.max()), int(tgt_lengths.max())
        images = self.images[i, :, :w]
        return {
            "images": images.unsqueeze(1),
            "x": images.transpose(1, 2).contiguous(),
            "lengths": widths,
            "widths": widths,
            "tgt_in": self.tgt_in[i, :length],
            "tgt_out": self.tgt_out[i, :length],
            "tgt_lengths": tgt_lengths,
            "index": i,
        }


class CaptionDataModule(SplitDataModule):
    """Train/val/test CaptionSets -> seeded shuffled batches (see CaptionDataset.collate); sizes off the data."""

    def __init__(
        self,
        train: CaptionSet,
        val: CaptionSet,
        test: CaptionSet | None = None,
        batch_size: int = 64,
        seed: int = 0,
        name: str = "captions",
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        self.name, self.batch_size, self.seed = name, int(batch_size), int(seed)
        self.sets = {k: v for k, v in {"train": train, "val": val, "test": test}.items() if v is not None}

    @classmethod
    def from_mnist(cls, batch_size: int = 64, seed: int = 0, **load: object) -> CaptionDataModule:
        """load_captions(seed=seed, **load) wrapped in a datamodule."""
        train, val, test = load_captions(seed=seed, **load)  # type: ignore[arg-type]
        return cls(train, val, test, batch_size=batch_size, seed=seed)

    vocab = VOCAB
    pad_id, bos_id, eos_id = PAD, BOS, EOS

    @property
    def vocab_size(self) -> int:
        return len(VOCAB)

    @property
    def n_features(self) -> int:
        """Pixels per column step: the strip height."""
        return SIDE

    @property
    def max_width(self) -> int:
        return max(s.max_width for s in self.sets.values())

    @property
    def max_caption_len(self) -> int:
        """Longest target sequence: the most digits plus the BOS/EOS step."""
        return max(s.tokens.shape[1] for s in self.sets.values()) + 1

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        """A DataLoader over one split ('train', 'val', 'test')."""
        ds = CaptionDataset(self.sets[split])
        return epoch_loader(ds, self.batch_size, self.seed, shuffle, ds.collate, self.rank, self.world_size)

    def describe(self) -> dict:
        """What the run directory records: vocabulary, special ids, shapes and split sizes."""
        return {
            "name": self.name,
            "vocab": list(VOCAB),
            "pad_id": PAD, "bos_id": BOS, "eos_id": EOS,
            "n_features": self.n_features,
            "max_width": self.max_width,
            "max_caption_len": self.max_caption_len,
            "sizes": {k: len(v) for k, v in self.sets.items()},
        }  # fmt: skip
