"""Image captioner: a small CNN turns an image strip into a row of column features, a Seq2Seq writes the words.

    images (B, 1, 28, W) -> [conv3x3 -> BN -> ReLU -> maxpool 2] x 2 -> (B, C, 7, W/4)
                         -> each of the W/4 columns flattened (C*7) and projected to `feature` -> (B, W/4, feature)
                         -> Seq2Seq encoder (bidirectional RNN over the columns) + attentional LSTM decoder

The decoder attends over the W/4 columns (a 1-D grid: each 28-pixel digit spans 7 columns), so its attention
map shows which part of the image every output word reads. Source lengths are ceil(width / 4): columns that
lie wholly in the right padding are masked.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, DataError
from rnnlab.models.bridge import Memory
from rnnlab.models.config import constructor_config
from rnnlab.models.seq2seq import Seq2Seq

POOL = 4  # the CNN's horizontal downsampling: two 2x max-pools


class Captioner(Seq2Seq):
    """CNN column encoder in front of a Seq2Seq over `tgt_vocab` word ids (PAD=0, BOS=1, EOS=2).

    Same interface as Seq2Seq with src = images (B, 1, H, W) or (B, H, W) and src_lengths = image widths.
    """

    def __init__(
        self,
        tgt_vocab: int,
        image_height: int = 28,
        channels: int = 32,
        feature: int = 128,
        cell: str = "lstm",
        hidden: int = 128,
        layers: int = 1,
        bidirectional: bool = True,
        embed: int = 32,
        attention: str = "luong",
        dropout: float = 0.1,
        fast_path: str = "auto",
    ) -> None:
        if image_height % POOL or image_height < POOL:
            raise ConfigError(f"image_height must be a positive multiple of {POOL}, got {image_height}")
        if channels < 1 or feature < 1:
            raise ConfigError(f"channels and feature must be >= 1, got {channels} and {feature}")
        super().__init__(
            tgt_vocab,
            src_features=feature,
            cell=cell,
            hidden=hidden,
            layers=layers,
            bidirectional=bidirectional,
            embed=embed,
            attention=attention,
            dropout=dropout,
            fast_path=fast_path,
        )
        self.config = constructor_config(Captioner, locals())  # replaces the Seq2Seq's

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]

        self.cnn = nn.Sequential(*block(1, channels), *block(channels, channels * 2))
        self.columns = nn.Linear(channels * 2 * (image_height // POOL), feature)

    def column_features(self, images: Tensor, widths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Images (B, [1,] H, W) -> column features (B, ceil(W/4), feature) and their lengths ceil(width/4)."""
        if images.dim() == 3:
            images = images.unsqueeze(1)
        h = self.config["image_height"]
        if images.dim() != 4 or images.shape[1] != 1 or images.shape[2] != h or images.shape[3] < 1:
            raise DataError(
                f"images must be (batch, 1, {h}, width) grey levels, got {tuple(images.shape)}; "
                "read a PNG with rnnlab.data.images.read_image"
            )
        pad = (-images.shape[3]) % POOL  # pool cleanly: pad the right edge with background
        if pad:
            images = nn.functional.pad(images, (0, pad))
        f = self.cnn(images)  # (B, C, H/4, W/4)
        cols = f.permute(0, 3, 1, 2).flatten(2)  # (B, W/4, C*H/4): one vector per column
        lengths = None if widths is None else torch.div(widths + POOL - 1, POOL, rounding_mode="floor")
        return torch.relu(self.columns(cols)), lengths

    def encode(self, src: Tensor, src_lengths: Tensor | None = None) -> Memory:
        cols, lengths = self.column_features(src, src_lengths)
        return super().encode(cols, lengths)
