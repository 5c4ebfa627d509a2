"""Decoding an encoder-decoder: greedy and beam search over its `start`/`step`, and the length normalisation
a search ranks by. Target ids reserve PAD=0, BOS=1 (the first input) and EOS=2 (the end of an output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from rnnlab.errors import ConfigError
from rnnlab.models.bridge import Memory

if TYPE_CHECKING:
    from rnnlab.models.seq2seq import Seq2Seq

PAD, BOS, EOS = 0, 1, 2
LENGTH_NORMS = ("gnmt", "length", "none")


def length_penalty(length: int, alpha: float = 0.6) -> float:
    """GNMT's lp(Y) = ((5 + |Y|) / 6)^alpha (Wu et al. 2016): dividing by it stops beams preferring short outputs."""
    return ((5.0 + length) / 6.0) ** alpha


def normalise(log_prob: float, length: int, length_norm: str = "gnmt", alpha: float = 0.6) -> float:
    """The score a search ranks by: log p(Y) / lp(|Y|) ('gnmt'), / |Y| ('length') or unchanged ('none').

    |Y| counts decoding steps: the output tokens plus the EOS when one was produced.
    """
    if length_norm == "gnmt":
        return log_prob / length_penalty(length, alpha)
    if length_norm == "length":
        return log_prob / length
    return log_prob


@dataclass
class Decoded:
    """Decoder outputs per example: token ids without BOS/EOS, and what they scored."""

    tokens: list[list[int]]
    log_probs: list[float]  # log p(tokens [+ EOS] | source), summed over the decoding steps
    scores: list[float]  # the score the search ranked by (greedy: the log-prob; beam: normalised)
    attention: list[Tensor | None]  # per example (len(tokens), source length) on CPU, for plotting
    ended: list[bool]  # whether EOS was produced (else the output was cut at max_len)

    def normalised(self, length_norm: str = "gnmt", alpha: float = 0.6) -> list[float]:
        """Every example's score under a given normalisation, to compare searches on equal terms."""
        return [
            normalise(lp, len(t) + e, length_norm, alpha)
            for lp, t, e in zip(self.log_probs, self.tokens, self.ended, strict=True)
        ]


def check_decoding(beam: int, max_len: int, length_norm: str, alpha: float) -> None:
    """Decoding arguments in range, else a one-line ConfigError naming the argument."""
    if beam < 1 or max_len < 1:
        raise ConfigError(f"beam and max_len must be >= 1, got beam={beam}, max_len={max_len}")
    if length_norm not in LENGTH_NORMS:
        raise ConfigError(f"length_norm must be one of {LENGTH_NORMS}, got {length_norm!r}")
    if alpha < 0:
        raise ConfigError(f"alpha must be >= 0, got {alpha}")


@torch.no_grad()
def greedy(model: Seq2Seq, memory: Memory, max_len: int) -> Decoded:
    """The argmax token at every step, up to `max_len` steps (EOS included), from an encoded source batch."""
    batch = memory.keys.shape[0]
    dec = model.start(memory)
    y = torch.full((batch,), BOS, dtype=torch.long, device=memory.keys.device)
    log_prob = torch.zeros(batch, device=y.device)
    alive = torch.ones(batch, dtype=torch.bool, device=y.device)
    ended, steps = torch.zeros_like(alive), torch.zeros(batch, dtype=torch.long, device=y.device)
    tokens, attn = [], []
    for _ in range(max_len):
        logits, dec, w = model.step(y, dec, memory)
        logp = torch.log_softmax(logits.float(), -1)
        y = logp.argmax(-1)
        log_prob += torch.where(alive, logp.gather(1, y[:, None]).squeeze(1), 0.0)
        steps += alive
        tokens.append(y)
        attn.append(w)
        ended |= alive & (y == EOS)
        alive &= y != EOS
        if not bool(alive.any()):
            break
    toks = torch.stack(tokens, 1).tolist()
    weights = None if model.attention is None else torch.stack(attn, 1).float().cpu()
    src_lens = memory.mask.sum(1).tolist()
    out = Decoded([], log_prob.tolist(), log_prob.tolist(), [], ended.tolist())
    for b, (n, e) in enumerate(zip(steps.tolist(), out.ended, strict=True)):
        out.tokens.append(toks[b][: n - int(e)])
        out.attention.append(None if weights is None else weights[b, : n - int(e), : src_lens[b]])
    return out


@torch.no_grad()
def beam_search(
    model: Seq2Seq, memory: Memory, beam: int, max_len: int, length_norm: str = "gnmt", alpha: float = 0.6
) -> Decoded:
    """Batched beam search ranked by `normalise(log p, steps, length_norm, alpha)`. Call model.eval() first.

    Each step keeps the 2*beam best expansions: EOS among the top `beam` finishes a hypothesis, the best
    `beam` others continue (fairseq's rule); a sequence stops after `beam` finished hypotheses, and
    max_len cuts the rest (they compete unfinished, as greedy's would). So beam=1 is greedy. Beam
    search alone can still return a worse score than greedy (the greedy path may fall off the beam),
    so the greedy output is a candidate too: the result never scores below greedy under this scoring.
    """
    batch, k, vocab = memory.keys.shape[0], beam, model.config["tgt_vocab"]
    device, src_lens = memory.keys.device, memory.mask.sum(1).tolist()
    g = greedy(model, memory, max_len)
    best = list(
        zip(g.normalised(length_norm, alpha), g.log_probs, g.tokens, g.attention, g.ended, strict=True)
    )

    def offer(b: int, log_prob: float, n_steps: int, ended: bool, tokens: Tensor, weights) -> None:
        """A finished (or cut) hypothesis of sequence b replaces the best so far if it scores higher."""
        score = normalise(log_prob, n_steps, length_norm, alpha)
        if score > best[b][0]:
            a = None if weights is None else weights[:, : src_lens[b]].float().cpu()
            best[b] = (score, log_prob, tokens.tolist(), a, ended)

    memory = memory.select(torch.arange(batch, device=device).repeat_interleave(k))
    dec = model.start(memory)
    y = torch.full((batch * k,), BOS, dtype=torch.long, device=device)
    alive = torch.zeros(batch, k, device=device)
    alive[:, 1:] = float("-inf")  # the k beams start identical: expand only the first
    hist = torch.zeros(batch * k, 0, dtype=torch.long, device=device)
    attn = None if model.attention is None else memory.keys.new_zeros(batch * k, 0, memory.keys.shape[1])
    n_done = [0] * batch
    base = torch.arange(batch, device=device)[:, None] * k
    rank = torch.arange(2 * k, device=device)
    for t in range(max_len):
        logits, dec, w = model.step(y, dec, memory)
        logp = torch.log_softmax(logits.float(), -1).view(batch, k, vocab)
        cand_lp, cand = (alive[:, :, None] + logp).view(batch, k * vocab).topk(2 * k, dim=1)
        rows, token = base + cand // vocab, cand % vocab  # parent row in the flat batch, next token
        is_eos = token == EOS
        final = is_eos & torch.isfinite(cand_lp) & (rank < k)
        for b, j in final.nonzero().tolist():
            if n_done[b] < k:
                n_done[b] += 1
                r = int(rows[b, j])  # its tokens so far are the parent's; EOS is not stored
                offer(b, float(cand_lp[b, j]), t + 1, True, hist[r], None if attn is None else attn[r])
        keep = (is_eos.long() * 2 * k + rank).argsort(1)[:, :k]  # the k best non-EOS expansions
        alive = cand_lp.gather(1, keep)
        parents, y = rows.gather(1, keep).flatten(), token.gather(1, keep).flatten()
        hist = torch.cat([hist[parents], y[:, None]], 1)
        attn = None if attn is None else torch.cat([attn[parents], w[parents, None]], 1)
        dec = dec.select(parents)
        if min(n_done) >= k:
            break
    else:  # max_len reached: the unfinished beams of unfinished sequences compete as they are
        for b in range(batch):
            for j in range(k) if n_done[b] < k else ():
                if torch.isfinite(alive[b, j]):
                    r = b * k + j
                    offer(b, float(alive[b, j]), max_len, False, hist[r], None if attn is None else attn[r])
    score, log_prob, tokens, attention, ended = (list(x) for x in zip(*best, strict=True))
    return Decoded(tokens, log_prob, score, attention, ended)
