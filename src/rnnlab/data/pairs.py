"""Batches of (source text, target text) pairs for a character-level seq2seq model, and its vocabulary.

The batch dict matches the captioning one: `src` (B, S) source ids (no BOS, EOS last), `src_lengths`,
`tgt_in` (B, L) = BOS + target ids, `tgt_out` (B, L) = target ids + EOS, PAD=0 past each length, `index`.
Padding is cut to the batch's longest sequence.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.datamodule import SplitDataModule, epoch_loader
from rnnlab.errors import DataError

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


@dataclass(frozen=True)
class CharVocab:
    """Characters of the training pairs after four specials: <pad>=0, <bos>=1, <eos>=2, <unk>=3."""

    itos: tuple[str, ...]

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> CharVocab:
        """Built from both sides of the (training) pairs only, so evaluation text cannot leak in."""
        chars = sorted({c for s, t in pairs for c in s + t})
        return cls(SPECIALS + tuple(chars))

    def __len__(self) -> int:
        return len(self.itos)

    @functools.cached_property
    def stoi(self) -> dict[str, int]:
        """char -> id."""
        return {c: i for i, c in enumerate(self.itos)}

    def encode(self, text: str, bos: bool = False, eos: bool = True) -> list[int]:
        """Ids of `text` (unseen characters -> <unk>), optionally framed by <bos> and <eos>."""
        ids = [self.stoi.get(c, UNK) for c in text]
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids: list[int]) -> str:
        """Text of ids up to the first <eos>; <pad> and <bos> are skipped and <unk> shows as '?'."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append("?" if i == UNK else self.itos[i])
        return "".join(out)

    def to_dict(self) -> dict:
        """JSON-ready form, for the run directory."""
        return {"itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict) -> CharVocab:
        """Inverse of `to_dict`."""
        return cls(tuple(d["itos"]))


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
