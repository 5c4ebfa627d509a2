"""Many-to-one (SequenceClassifier) and many-to-many (SequenceTagger) recurrent models."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.models.config import constructor_config
from rnnlab.models.frontends import ConvFrontEnd
from rnnlab.models.heads import AttentionPool, check_readout, masked_cross_entropy
from rnnlab.nn.cells import State
from rnnlab.nn.layers import make_layer
from rnnlab.nn.lengths import last_step, masked_mean
from rnnlab.nn.regularize import LockedDropout

RAGGED = ("pack", "mask")


def _check_sizes(n_features: int, n_classes: int) -> None:
    if n_features < 1:
        raise ConfigError(f"n_features must be >= 1, got {n_features}")
    if n_classes < 2:
        raise ConfigError(f"n_classes must be >= 2, got {n_classes}; a classifier needs at least two labels")


class SequenceClassifier(nn.Module):
    """Recurrent encoder + readout + linear head: one label per sequence.

    readout: 'last' (final state of the top layer, both directions), 'mean' (mean over real steps) or
    'attention' (learned attention pooling). conv_channels > 0 puts a 1-D convolutional front-end
    (`conv_layers` x Conv1d of width `conv_kernel`) before the recurrent layers: the CNN-LSTM.
    vocab_size > 0 reads token ids instead of features (x (B, T) or (B, T, 1), 0 = padding) through an
    `embed`-wide embedding trained from scratch.
    ragged: 'pack' runs each sequence over its own length only (packed; the backward direction starts at its
    real end); 'mask' runs the padded batch as one block and only masks the readout (cheaper bookkeeping,
    but the backward direction reads the padding first).
    Regularisers (rnnlab.nn.regularize): `locked_dropout` > 0 replaces `dropout` on the token embeddings and
    between layers with one mask per sequence (the head's dropout stays `dropout`); `weight_drop`, `zoneout`,
    `zoneout_c`, `residual`, `forget_bias`, `init`, `proj_size` (LSTM projections) go to the recurrent layer
    (`make_layer`).
    forward(x, lengths, y=None) -> logits, or (logits, loss) given y.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        cell: str = "lstm",
        hidden: int = 128,
        layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.1,
        readout: str = "last",
        fast_path: str = "auto",
        conv_channels: int = 0,
        conv_layers: int = 2,
        conv_kernel: int = 5,
        vocab_size: int = 0,
        embed: int = 64,
        ragged: str = "pack",
        locked_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
        zoneout_c: float | None = None,
        residual: bool = False,
        forget_bias: float | None = None,
        init: str = "default",
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        _check_sizes(n_features, n_classes)
        if ragged not in RAGGED:
            raise ConfigError(f"ragged must be one of {RAGGED}, got {ragged!r}")
        if vocab_size < 0 or (vocab_size and embed < 1):
            raise ConfigError(f"vocab_size must be >= 0 and embed >= 1, got {vocab_size} and {embed}")
        check_readout(readout)
        if residual and readout == "last" and ragged == "mask":
            raise ConfigError(
                "residual with readout 'last' and ragged 'mask' would read the residual sum where 'pack' reads "
                "the top layer's state; use ragged 'pack' or readout 'mean'/'attention'"
            )
        if locked_dropout and layers < 2 and not vocab_size:
            raise ConfigError(
                f"locked_dropout ({locked_dropout}) acts on token embeddings and between stacked layers, and this "
                "model has neither (one layer, feature inputs): it would change nothing; set model.layers >= 2 "
                "or leave locked_dropout at 0 (dropout covers the head)"
            )
        self.config = constructor_config(SequenceClassifier, locals())
        self.embedding = nn.Embedding(vocab_size, embed, padding_idx=0) if vocab_size else None
        n_in = embed if vocab_size else n_features
        self.frontend = ConvFrontEnd(n_in, conv_channels, conv_layers, conv_kernel) if conv_channels else None
        rnn_in = conv_channels or n_in
        between = 0.0 if layers < 2 else locked_dropout or dropout
        self.rnn = make_layer(
            cell, rnn_in, hidden, layers, bidirectional, 0.0 if locked_dropout else between,
            fast_path=fast_path, locked_dropout=between if locked_dropout else 0.0, weight_drop=weight_drop,
            zoneout=zoneout, zoneout_c=zoneout_c, residual=residual, forget_bias=forget_bias, init=init,
            proj_size=proj_size,
        )  # fmt: skip
        self.readout = readout
        self.pool = AttentionPool(self.rnn.output_size) if readout == "attention" else None
        self.drop = nn.Dropout(dropout)
        self.drop_tokens = LockedDropout(locked_dropout) if locked_dropout else None
        self.head = nn.Linear(self.rnn.output_size, n_classes)

    def encode(self, x: Tensor, lengths: Tensor | None = None, state: State | None = None) -> Tensor:
        """The sequence summary vector (B, D*H) the head classifies; `state`: the recurrent layer's initial
        state (zeros when None)."""
        return self.encode_state(x, lengths, state)[0]

    def encode_state(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """The summary vector and the recurrent layer's final state (what an exported graph hands back)."""
        if self.embedding is not None:
            drop = self.drop if self.drop_tokens is None else self.drop_tokens  # embedding dropout
            x = drop(self.embedding((x[..., 0] if x.dim() == 3 else x).long()))
        if self.frontend is not None:
            x = self.frontend(x, lengths)
        masked = self.config["ragged"] == "mask" and lengths is not None
        out, state = self.rnn(x, None if masked else lengths, state)
        if self.readout == "last" and masked:  # forward: the output at the real end; backward: at step 0
            h = self.rnn.output_size // self.rnn.num_directions
            fwd = last_step(out[..., :h], lengths)
            return (torch.cat([fwd, out[:, 0, h:]], -1) if self.rnn.num_directions == 2 else fwd), state
        if self.readout == "last":
            d = self.rnn.num_directions
            h = state[0][-d:]  # top layer, every direction: (D, B, H)
            return h.transpose(0, 1).reshape(x.shape[0], -1), state
        if self.readout == "mean":
            return masked_mean(out, lengths), state
        return self.pool(out, lengths), state

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, y: Tensor | None = None, state: State | None = None
    ):
        logits = self.head(self.drop(self.encode(x, lengths, state)))
        if y is None:
            return logits
        return logits, nn.functional.cross_entropy(logits, y)


class SequenceTagger(nn.Module):
    """Recurrent encoder + per-step linear head: a label for every time step (y of shape (B, T), -100 = ignore)."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        cell: str = "lstm",
        hidden: int = 128,
        layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.1,
        fast_path: str = "auto",
    ) -> None:
        super().__init__()
        _check_sizes(n_features, n_classes)
        self.config = constructor_config(SequenceTagger, locals())
        self.rnn = make_layer(
            cell,
            n_features,
            hidden,
            layers,
            bidirectional,
            dropout if layers > 1 else 0.0,
            fast_path=fast_path,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(self.rnn.output_size, n_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None, y: Tensor | None = None):
        out, _ = self.rnn(x, lengths)
        logits = self.head(self.drop(out))
        if y is None:
            return logits
        return logits, masked_cross_entropy(logits, y, lengths)


__all__ = ["SequenceClassifier", "SequenceTagger", "last_step"]
