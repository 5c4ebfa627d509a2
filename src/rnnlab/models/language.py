"""Token-level language model: embedding -> stacked recurrent layers -> (optionally tied) output projection.

forward(x, state, y) returns LMOutput(logits, state, loss); the caller carries `state` between chunks
(truncated BPTT). generate() primes with forward() once, then streams one token per step() call, so each
new character costs one step, never a re-run of the prefix.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.models.config import constructor_config
from rnnlab.models.sampling import check_sampling, sample_next
from rnnlab.nn.cells import State
from rnnlab.nn.layers import make_layer
from rnnlab.nn.regularize import LockedDropout, check_rate, embedding_dropout


class LMOutput(NamedTuple):
    logits: Tensor  # (B, T, V)
    state: State
    loss: Tensor | None  # mean cross-entropy in nats per token, when targets were given
    hidden: Tensor | None = None  # (B, T, H) the top layer's outputs, before the output dropout (TAR)
    dropped: Tensor | None = None  # (B, T, H) the same after the output dropout, what the decoder reads (AR)


class CharLM(nn.Module):
    """Embedding, `layers` x `cell` of width `hidden`, dropout, linear decoder (tied to the embedding if `tie`).

    With tie=True the embedding has `hidden` columns so the decoder can share its matrix (Press & Wolf 2017).
    AWD-LSTM's regularisers (rnnlab.nn.regularize): `embed_dropout` drops whole rows of the embedding matrix;
    `locked_dropout` > 0 replaces `dropout` on the embedded input, between layers and on the top layer's
    output with one mask per sequence; `weight_drop`, `zoneout`, `zoneout_c`, `residual`, `forget_bias`,
    `init` go to the recurrent layer (`make_layer`); `proj_size` > 0 an LSTM with projections (the decoder
    reads proj_size).
    """

    def __init__(
        self,
        vocab_size: int,
        cell: str = "lstm",
        hidden: int = 512,
        layers: int = 2,
        embed: int = 0,
        dropout: float = 0.2,
        tie: bool = False,
        fast_path: str = "auto",
        embed_dropout: float = 0.0,
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
        if vocab_size < 2:
            raise ConfigError(
                f"vocab_size must be >= 2, got {vocab_size}; the text needs 2+ distinct characters"
            )
        width = proj_size or hidden  # what the decoder reads
        if tie and embed not in (0, width):
            raise ConfigError(
                f"tie=True shares the decoder with the embedding, so embed must be 0 or "
                f"{'proj_size' if proj_size else 'hidden'} ({width}), got {embed}"
            )
        embed = embed or (width if tie else hidden)  # the config records the resolved width
        self.config = constructor_config(CharLM, locals())
        self.embed_dropout = check_rate("embed_dropout", embed_dropout)
        self.embedding = nn.Embedding(vocab_size, embed)
        between = 0.0 if layers < 2 else locked_dropout or dropout
        self.rnn = make_layer(
            cell, embed, hidden, layers, dropout=0.0 if locked_dropout else between, fast_path=fast_path,
            locked_dropout=between if locked_dropout else 0.0, weight_drop=weight_drop, zoneout=zoneout,
            zoneout_c=zoneout_c, residual=residual, forget_bias=forget_bias, init=init, proj_size=proj_size,
        )  # fmt: skip
        self.drop = LockedDropout(locked_dropout) if locked_dropout else nn.Dropout(dropout)
        self.decoder = nn.Linear(width, vocab_size)
        if tie:
            self.decoder.weight = self.embedding.weight

    @property
    def vocab_size(self) -> int:
        return self.config["vocab_size"]

    def init_state(self, batch: int, device=None) -> State:
        return self.rnn.init_state(batch, device)

    def forward(self, x: Tensor, state: State | None = None, y: Tensor | None = None) -> LMOutput:
        """x (B, T) token ids -> logits (B, T, V), final state, and the loss when y (B, T) is given."""
        if x.dim() != 2:
            raise ValueError(f"expected token ids of shape (batch, time), got {tuple(x.shape)}")
        emb = embedding_dropout(self.embedding, x, self.embed_dropout, self.training)
        h, state = self.rnn(self.drop(emb), state=state)
        dropped = self.drop(h)
        logits = self.decoder(dropped)
        loss = None
        if y is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return LMOutput(logits, state, loss, h, dropped)

    def step(self, token: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One token per sequence (B,) -> next-token logits (B, V) and the new state: O(1) per call."""
        h, state = self.rnn.step(self.embedding(token), state)
        return self.decoder(h), state

    @torch.no_grad()
    def generate(
        self,
        prime: Tensor,
        length: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        greedy: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """`length` new token ids (B, length) following `prime` (B, P), sampled or greedy."""
        if length < 1:
            raise ConfigError(f"length must be >= 1, got {length}")
        if prime.dim() == 1:
            prime = prime[None]
        if prime.shape[1] < 1:
            raise ConfigError("prime must hold at least one token")
        if not greedy:
            check_sampling(temperature, top_k, top_p)
        was_training = self.training
        self.eval()
        try:
            out = self(prime)
            logits, state = out.logits[:, -1], out.state
            tokens = []
            for _ in range(length):
                nxt = sample_next(logits, temperature, top_k, top_p, greedy, generator)
                tokens.append(nxt)
                logits, state = self.step(nxt, state)
        finally:
            self.train(was_training)
        return torch.stack(tokens, 1)
