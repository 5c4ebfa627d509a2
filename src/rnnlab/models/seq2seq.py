"""Encoder-decoder with attention (Sutskever 2014; Bahdanau 2015; Luong 2015), greedy and beam decoding.

The encoder is a `Recurrent` stack (any cell, bidirectional allowed) over source token ids or over feature
vectors (e.g. an image encoder's grid of cells). A bridge turns its final state into the decoder's initial
state; the decoder is a `Recurrent` stack of the same cell run one step at a time. Per step t:

    bahdanau:  c_t = attn(s_{t-1}, keys);  s_t = RNN([E y_{t-1}; c_t], s_{t-1});  o_t = tanh(W_c [s_t; c_t])
    luong:     s_t = RNN([E y_{t-1}; o_{t-1}], s_{t-1});  c_t = attn(s_t, keys);  o_t = tanh(W_c [s_t; c_t])
    none:      s_t = RNN(E y_{t-1}, s_{t-1});  o_t = s_t          (the fixed-vector seq2seq of Sutskever 2014)
    p(y_t | y_<t, x) = softmax(W_out o_t)

Luong's o_{t-1} fed back into the input is "input feeding" (o_0 = 0). Target ids reserve PAD=0, BOS=1, EOS=2.
The bridge and the encoder's memory: bridge.py; greedy and beam search: decoding.py.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, DataError
from rnnlab.models import decoding
from rnnlab.models.bridge import Bridge, Memory
from rnnlab.models.config import constructor_config
from rnnlab.models.decoding import PAD, Decoded
from rnnlab.nn.attention import make_attention
from rnnlab.nn.cells import State
from rnnlab.nn.lengths import check_lengths, mask
from rnnlab.nn.recurrent import Recurrent

ATTENTION_KINDS = ("bahdanau", "luong", "none")


class Seq2SeqOutput(NamedTuple):
    logits: Tensor  # (B, T, V) next-token logits for every target step
    attention: (
        Tensor | None
    )  # (B, T, S) attention weights, exactly 0 on source padding; None without attention
    loss: Tensor | None  # mean cross-entropy over non-PAD targets, when tgt_out was given


class DecoderState(NamedTuple):
    rnn: State  # each (layers, B, H)
    feed: Tensor | None  # Luong's attentional vector o_{t-1} (B, H) fed to the next input; None otherwise

    def select(self, rows: Tensor) -> DecoderState:
        return DecoderState(
            tuple(s[:, rows] for s in self.rnn), None if self.feed is None else self.feed[rows]
        )


class Seq2Seq(nn.Module):
    """Recurrent encoder, bridge, attentional recurrent decoder, linear output over `tgt_vocab` ids.

    Source: token ids (B, S) with `src_vocab` (0 = padding), or feature vectors (B, S, src_features).
    forward(src, src_lengths, tgt_in, teacher_forcing, tgt_out) -> Seq2SeqOutput (teacher forcing, or
    scheduled sampling when teacher_forcing < 1); greedy() and beam_search() decode.
    """

    def __init__(
        self,
        tgt_vocab: int,
        src_vocab: int | None = None,
        src_features: int | None = None,
        cell: str = "lstm",
        hidden: int = 128,
        layers: int = 1,
        bidirectional: bool = False,
        embed: int = 64,
        attention: str = "luong",
        dropout: float = 0.1,
        fast_path: str = "auto",
    ) -> None:
        super().__init__()
        if tgt_vocab < 4:
            raise ConfigError(
                f"tgt_vocab must be >= 4 (PAD=0, BOS=1, EOS=2 and a real token), got {tgt_vocab}"
            )
        if (src_vocab is None) == (src_features is None):
            raise ConfigError(
                "give exactly one of src_vocab (source token ids) or src_features (feature vectors)"
            )
        if src_vocab is not None and src_vocab < 2:
            raise ConfigError(f"src_vocab must be >= 2 (PAD=0 and a real token), got {src_vocab}")
        if src_features is not None and src_features < 1:
            raise ConfigError(f"src_features must be >= 1, got {src_features}")
        if attention not in ATTENTION_KINDS:
            raise ConfigError(f"attention must be one of {ATTENTION_KINDS}, got {attention!r}")
        if embed < 1 or hidden < 1:
            raise ConfigError(f"embed and hidden must be >= 1, got embed={embed}, hidden={hidden}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        self.config = constructor_config(Seq2Seq, locals())
        between = dropout if layers > 1 else 0.0
        self.src_embedding = nn.Embedding(src_vocab, embed, padding_idx=PAD) if src_vocab else None
        enc_in = embed if src_vocab else src_features
        self.encoder = Recurrent(cell, enc_in, hidden, layers, bidirectional, between, fast_path=fast_path)
        self.bridge = Bridge(self.encoder.state_size, self.encoder.num_directions, hidden)
        key = self.encoder.output_size
        self.attention = None if attention == "none" else make_attention(attention, hidden, key)
        self.tgt_embedding = nn.Embedding(tgt_vocab, embed, padding_idx=PAD)
        dec_in = embed + {"bahdanau": key, "luong": hidden, "none": 0}[attention]
        self.decoder = Recurrent(cell, dec_in, hidden, layers, dropout=between, fast_path=fast_path)
        self.combine = None if attention == "none" else nn.Linear(hidden + key, hidden)  # W_c
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, tgt_vocab)  # W_out

    # --- encoding ------------------------------------------------------------------------------------
    def _check_src(self, src: Tensor, src_lengths: Tensor | None) -> Tensor | None:
        if self.src_embedding is not None:
            if src.dim() != 2 or src.dtype.is_floating_point:
                raise DataError(
                    f"src must be token ids of shape (batch, source_len), got {src.dtype} {tuple(src.shape)}"
                )
            if src.numel() and not (0 <= int(src.min()) and int(src.max()) < self.config["src_vocab"]):
                raise DataError(
                    f"src ids must lie in [0, {self.config['src_vocab']}) (src_vocab), got {int(src.min())}..{int(src.max())}"
                )
        elif src.dim() != 3 or src.shape[2] != self.encoder.input_size:
            raise DataError(
                f"src must be (batch, source_len, {self.encoder.input_size}) features, got {tuple(src.shape)}"
            )
        if src.shape[1] == 0:
            raise DataError("src has 0 steps; every source sequence needs at least 1 step")
        return check_lengths(src_lengths, src.shape[0], src.shape[1])

    def encode(self, src: Tensor, src_lengths: Tensor | None = None) -> Memory:
        """Run the encoder once: keys for attention, the source mask and the decoder's initial state."""
        lengths = self._check_src(src, src_lengths)
        x = src if self.src_embedding is None else self.drop(self.src_embedding(src))
        keys, state = self.encoder(x, lengths)
        m = mask(lengths, src.shape[1], src.device)
        m = torch.ones(src.shape[:2], dtype=torch.bool, device=src.device) if m is None else m
        projected = None if self.attention is None else self.attention.prepare(keys)
        return Memory(keys, projected, m, self.bridge(state))

    def start(self, memory: Memory) -> DecoderState:
        """The decoder state before the first target step (Luong's o_0 = 0)."""
        h = memory.state[0]
        feed = h.new_zeros(h.shape[1:]) if self.config["attention"] == "luong" else None
        return DecoderState(memory.state, feed)

    # --- one decoder step: the equations of the module docstring -------------------------------------
    def step(
        self, y_prev: Tensor, dec: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """Previous token ids (B,) -> next-token logits (B, V), the new state, attention weights (B, S) or None."""
        e = self.drop(self.tgt_embedding(y_prev))
        kind = self.config["attention"]
        if kind == "none":
            s, rnn = self.decoder.step(e, dec.rnn)
            return self.out(self.drop(s)), DecoderState(rnn, None), None
        if kind == "bahdanau":  # attend with s_{t-1}, then read the context
            context, weights = self.attention(dec.rnn[0][-1], memory.keys, memory.mask, memory.projected)
            s, rnn = self.decoder.step(torch.cat([e, context], -1), dec.rnn)
        else:  # luong: read o_{t-1}, then attend with s_t
            s, rnn = self.decoder.step(torch.cat([e, dec.feed], -1), dec.rnn)
            context, weights = self.attention(s, memory.keys, memory.mask, memory.projected)
        o = torch.tanh(self.combine(torch.cat([s, context], -1)))  # the attentional hidden state o_t
        return self.out(self.drop(o)), DecoderState(rnn, o if kind == "luong" else None), weights

    # --- training ------------------------------------------------------------------------------------
    def _check_tgt(self, tgt: Tensor, batch: int, name: str) -> None:
        if tgt.dim() != 2 or tgt.dtype.is_floating_point or tgt.shape[0] != batch:
            raise DataError(
                f"{name} must be token ids of shape ({batch}, target_len), got {tgt.dtype} {tuple(tgt.shape)}"
            )
        if tgt.shape[1] == 0:
            raise DataError(f"{name} is empty (0 steps); a target needs at least BOS")
        if not (0 <= int(tgt.min()) and int(tgt.max()) < self.config["tgt_vocab"]):
            raise DataError(
                f"{name} ids must lie in [0, {self.config['tgt_vocab']}) (tgt_vocab), got {int(tgt.min())}..{int(tgt.max())}"
            )

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor | None,
        tgt_in: Tensor,
        teacher_forcing: float = 1.0,
        tgt_out: Tensor | None = None,
    ) -> Seq2SeqOutput:
        """Logits (B, T, V) for target inputs tgt_in (B, T) (BOS first), and the loss given tgt_out (PAD ignored).

        teacher_forcing < 1 is scheduled sampling (Bengio et al. 2015): at each step after the first, each
        sequence reads the gold token with that probability, else its own previous argmax.
        """
        self._check_tgt(tgt_in, src.shape[0], "tgt_in")
        if tgt_out is not None and tgt_out.shape != tgt_in.shape:
            raise DataError(
                f"tgt_out must have tgt_in's shape {tuple(tgt_in.shape)}, got {tuple(tgt_out.shape)}"
            )
        if tgt_out is not None:
            self._check_tgt(tgt_out, src.shape[0], "tgt_out")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ConfigError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
        memory = self.encode(src, src_lengths)
        weights = None
        if self.attention is None and teacher_forcing == 1.0:  # all inputs known: one fused decoder call
            s, _ = self.decoder(self.drop(self.tgt_embedding(tgt_in)), state=memory.state)
            logits = self.out(self.drop(s))
        else:
            dec, y = self.start(memory), tgt_in[:, 0]
            steps, attn = [], []
            for t in range(tgt_in.shape[1]):
                logits_t, dec, w = self.step(y, dec, memory)
                steps.append(logits_t)
                attn.append(w)
                if t + 1 < tgt_in.shape[1]:
                    y = tgt_in[:, t + 1]
                    if teacher_forcing < 1.0:
                        gold = torch.rand(y.shape, device=y.device) < teacher_forcing
                        y = torch.where(gold, y, logits_t.argmax(-1))
            logits = torch.stack(steps, 1)
            weights = None if self.attention is None else torch.stack(attn, 1)
        loss = None
        if tgt_out is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD)
        return Seq2SeqOutput(logits, weights, loss)

    # --- decoding ------------------------------------------------------------------------------------
    @torch.no_grad()
    def greedy(self, src: Tensor, src_lengths: Tensor | None = None, max_len: int = 100) -> Decoded:
        """The argmax token at every step, up to `max_len` steps (EOS included). Call model.eval() first."""
        decoding.check_decoding(1, max_len, "none", 0.0)
        return decoding.greedy(self, self.encode(src, src_lengths), max_len)

    @torch.no_grad()
    def beam_search(
        self,
        src: Tensor,
        src_lengths: Tensor | None = None,
        beam: int = 5,
        max_len: int = 100,
        length_norm: str = "gnmt",
        alpha: float = 0.6,
    ) -> Decoded:
        """Batched beam search ranked by `normalise(log p, steps, length_norm, alpha)`; never scores below greedy
        (decoding.beam_search says how). Call model.eval() first."""
        decoding.check_decoding(beam, max_len, length_norm, alpha)
        return decoding.beam_search(self, self.encode(src, src_lengths), beam, max_len, length_norm, alpha)


__all__ = ["ATTENTION_KINDS", "DecoderState", "Seq2Seq", "Seq2SeqOutput"]
