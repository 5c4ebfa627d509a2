"""Training an encoder-decoder (task 'seq2seq'): teacher forcing with a schedule; greedy decoding on val.

Batches are dicts with the source under `images`/`widths` (captions) or `src`/`src_lengths` (text pairs) and
`tgt_in` (BOS + target) / `tgt_out` (target + EOS). Validation reports the teacher-forced loss and the greedy
exact-match rate, so the checkpoint chosen is the one that decodes best on its own.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnlab.config import TrainConfig
from rnnlab.errors import ConfigError
from rnnlab.train.module import TaskModule

S2S_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_exact",
    "val_token_acc",
    "teacher_forcing",
    "lr",
    "seconds",
)
VAL_DECODE_BATCHES = (
    16  # val_exact / val_token_acc come from the first 16 validation batches, decoded greedily
)


def source_of(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """(src, src_lengths) of a batch: images and widths for captions, token ids and lengths for text."""
    if "images" in batch:
        return batch["images"], batch["widths"]
    return batch["src"], batch["src_lengths"]


def strip_eos(row: Tensor) -> list[int]:
    """Target ids of one tgt_out row: up to (not including) EOS, PAD dropped."""
    ids = []
    for i in row.tolist():
        if i == 2:  # EOS
            break
        if i != 0:
            ids.append(i)
    return ids


class Seq2SeqModule(TaskModule):
    """Cross-entropy on next tokens with scheduled sampling; greedy exact match and token accuracy on val."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, steps_per_epoch: int, max_len: int) -> None:
        for name in ("teacher_forcing", "teacher_forcing_end"):
            v = getattr(cfg, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise ConfigError(f"train.{name} must be in [0, 1], got {v}")
        super().__init__(model, cfg, steps_per_epoch)
        self.max_len = int(max_len)
        self._val = {"exact": 0, "tokens": 0, "correct": 0, "n": 0}

    def teacher_forcing(self, epoch: int | None = None) -> float:
        """The gold-token probability in `epoch` (default: the current one): linear from teacher_forcing to
        teacher_forcing_end over the epochs."""
        start, end = self.cfg.teacher_forcing, self.cfg.teacher_forcing_end
        if end is None or self.cfg.max_epochs <= 1:
            return start
        epoch = self.current_epoch if epoch is None else epoch
        frac = min(1.0, epoch / (self.cfg.max_epochs - 1))
        return start + (end - start) * frac

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        src, lengths = source_of(batch)
        tf = self.teacher_forcing()
        out = self.model(src, lengths, batch["tgt_in"], teacher_forcing=tf, tgt_out=batch["tgt_out"])
        if not self.finite(out.loss, "train", batch):
            return None  # Lightning skips backward and the optimiser step; the guard rolls back
        bs = batch["tgt_in"].shape[0]
        self.log("train_loss", out.loss, on_step=False, on_epoch=True, batch_size=bs, prog_bar=True, sync_dist=self.trainer.world_size > 1)
        self.log("teacher_forcing", tf, on_step=False, on_epoch=True, batch_size=bs)
        self.log_lr(batch_size=bs)
        return out.loss

    def on_validation_epoch_start(self) -> None:
        self._val = {"exact": 0, "tokens": 0, "correct": 0, "n": 0}

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        src, lengths = source_of(batch)
        out = self.model(src, lengths, batch["tgt_in"], tgt_out=batch["tgt_out"])
        self.log("val_loss", out.loss, on_step=False, on_epoch=True, batch_size=src.shape[0], prog_bar=True)
        if batch_idx >= VAL_DECODE_BATCHES:  # greedy decoding is step by step: a fixed sample of val suffices
            return
        dec = self.model.greedy(src, lengths, max_len=self.max_len)
        for hyp, row in zip(dec.tokens, batch["tgt_out"], strict=True):
            ref = strip_eos(row)
            ex, cor, tot = compare(hyp, ref)
            self._val["exact"] += ex
            self._val["correct"] += cor
            self._val["tokens"] += tot
            self._val["n"] += 1

    def on_validation_epoch_end(self) -> None:
        v = self._val
        if v["n"]:
            self.log("val_exact", v["exact"] / v["n"], prog_bar=True)
            self.log("val_token_acc", v["correct"] / max(1, v["tokens"]))


def compare(hyp: list[int], ref: list[int]) -> tuple[int, int, int]:
    """(exact 0/1, correct positions, positions) with EOS counted as the reference's last token, so a
    hypothesis that stops early or runs on loses a position: token accuracy = correct / positions."""
    h, r = [*hyp, 2], [*ref, 2]
    correct = sum(a == b for a, b in zip(h, r, strict=False))
    return int(hyp == ref), correct, len(r)
