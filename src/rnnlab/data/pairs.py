"""Batches of (source text, target text) pairs for a character-level seq2seq model.

The batch dict matches the captioning one: `src` (B, S) source ids (no BOS, EOS last), `src_lengths`,
`tgt_in` (B, L) = BOS + target ids, `tgt_out` (B, L) = target ids + EOS, PAD=0 past each length, `index`.
Padding is cut to the batch's longest sequence.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.datamodule import SplitDataModule, epoch_loader
from rnnlab.data.folio import BOS, EOS, PAD, CharVocab
from rnnlab.errors import DataError


class PairDataset(Dataset):
    """Encoded pairs; `collate` pads a list of indices into the batch dict."""

    def __init__(self, pairs: list[tuple[str, str]], vocab: CharVocab) -> None:
        if not pairs:
            raise DataError("no text pairs to batch; check the data set and its split")
        empty = [i for i, (s, t) in enumerate(pairs) if not s or not t]
        if empty:
            raise DataError(f"pair {empty[0]} has an empty side ({len(empty)} such pairs); drop them first")
        self.src = [vocab.encode(s, bos=False, eos=True) for s, _ in pairs]
        self.tgt = [vocab.encode(t, bos=False, eos=True) for _, t in pairs]

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, i: int) -> int:
        return i

    def collate(self, idx: list[int]) -> dict[str, torch.Tensor]:
        src = [self.src[i] for i in idx]
        tgt = [self.tgt[i] for i in idx]
        s_len = torch.tensor([len(s) for s in src])
        t_len = torch.tensor([len(t) for t in tgt])  # target ids + EOS
        b = len(idx)
        out = {
            "src": torch.full((b, int(s_len.max())), PAD, dtype=torch.long),
            "tgt_in": torch.full((b, int(t_len.max())), PAD, dtype=torch.long),
            "tgt_out": torch.full((b, int(t_len.max())), PAD, dtype=torch.long),
        }
        for k, (s, t) in enumerate(zip(src, tgt, strict=True)):
            out["src"][k, : len(s)] = torch.tensor(s)
            out["tgt_in"][k, : len(t)] = torch.tensor([BOS, *t[:-1]])
            out["tgt_out"][k, : len(t)] = torch.tensor(t)
        return {**out, "src_lengths": s_len, "tgt_lengths": t_len, "index": torch.as_tensor(idx)}


class PairDataModule(SplitDataModule):
    """Train/val/test pair lists -> seeded shuffled batches over one character vocabulary (from train only)."""

    def __init__(
        self,
        train: list[tuple[str, str]],
        val: list[tuple[str, str]],
        test: list[tuple[str, str]] | None = None,
        batch_size: int = 64,
        seed: int = 0,
        name: str = "pairs",
        vocab: CharVocab | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        self.name, self.batch_size, self.seed = name, int(batch_size), int(seed)
        self.sets = {k: v for k, v in {"train": train, "val": val, "test": test}.items() if v}
        self.vocab = vocab or CharVocab.from_pairs(train)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        ds = PairDataset(self.sets[split], self.vocab)
        return epoch_loader(ds, self.batch_size, self.seed, shuffle, ds.collate, self.rank, self.world_size)

    def describe(self) -> dict:
        """What the run directory records: the vocabulary and split sizes."""
        return {
            "name": self.name,
            "vocab": self.vocab.to_dict(),
            "pad_id": PAD,
            "bos_id": BOS,
            "eos_id": EOS,
            "sizes": {k: len(v) for k, v in self.sets.items()},
        }
