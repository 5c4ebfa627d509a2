"""The ONNX graphs of an encoder-decoder (Seq2Seq, Captioner): the encoder runs once per source batch, the
decoder one target token per call, so greedy or beam search is a loop in the caller's language:

    memory = encoder(src, src_lengths)            [keys, projected, mask,] h0[, c0]
    y = BOS; h, c, [feed = 0]
    repeat: logits, h, c, [feed,] [attention] = decoder_step(y, h, c, [feed,] [keys, projected, mask])
            y = argmax(logits) until EOS
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.models.bridge import Memory
from rnnlab.models.captioner import POOL
from rnnlab.models.decoding import BOS
from rnnlab.models.seq2seq import DecoderState
from rnnlab.tasks.contract import Graph
from rnnlab.tasks.exportable import BATCH, example_lengths, inference_copy, state_dynamic, state_names

B, S = 2, 6  # example batch and source length (a captioner's image width is S * POOL)


def memory_names(model: nn.Module) -> tuple[str, ...]:
    """What the decoder reads from the encoder besides its initial state: keys, projected keys and the source
    mask with attention; nothing without (the fixed-vector seq2seq)."""
    return ("keys", "projected", "mask") if model.attention is not None else ()


class Encoder(nn.Module):
    """(src, src_lengths) -> ([keys, projected, mask,] decoder h0[, c0]); a Captioner's src is images, its
    lengths the widths."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, ...]:
        m = self.model.encode(src, src_lengths)
        if self.model.attention is None:
            return tuple(m.state)
        return (m.keys, m.projected, m.mask, *m.state)


class DecoderStep(nn.Module):
    """(y_prev (B,), h[, c], [feed,] [keys, projected, mask]) -> (logits (B, V), h[, c], [feed,] [attention])."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.n_state = model.decoder.state_size
        self.luong = model.config["attention"] == "luong"
        self.attends = model.attention is not None

    def forward(self, y_prev: Tensor, *args: Tensor) -> tuple[Tensor, ...]:
        n = self.n_state
        rnn, rest = tuple(args[:n]), args[n:]
        feed, rest = (rest[0], rest[1:]) if self.luong else (None, rest)
        memory = Memory(rest[0], rest[1], rest[2], rnn) if self.attends else Memory(y_prev, None, y_prev, rnn)
        logits, dec, weights = self.model.step(y_prev, DecoderState(rnn, feed), memory)
        return (
            logits,
            *dec.rnn,
            *(() if dec.feed is None else (dec.feed,)),
            *(() if weights is None else (weights,)),
        )


def seq2seq_graphs(model: nn.Module) -> list[Graph]:
    """'encoder' and 'decoder_step' for a Seq2Seq or a Captioner."""
    model = inference_copy(model)
    c = model.config
    g = torch.Generator().manual_seed(0)
    captioner = type(model).__name__ == "Captioner"
    lengths = example_lengths(B, S)
    if captioner:  # widths: the first image full, the other narrower; widths a multiple of POOL (see note)
        src = torch.rand(B, 1, int(c["image_height"]), S * POOL, generator=g)
        src_names, src_dims = ("images", "widths"), {"images": {0: "batch", 3: "width"}, "widths": BATCH}
        lengths = lengths * POOL - 1
        note = f"pad images on the right with 0 (background) to a width that is a multiple of {POOL}; widths stay the real widths"
    elif c.get("src_vocab"):
        src = torch.randint(3, int(c["src_vocab"]), (B, S), generator=g)
        src_names, src_dims = (
            ("src", "src_lengths"),
            {"src": {0: "batch", 1: "src_time"}, "src_lengths": BATCH},
        )
        note = ""
    else:
        src = torch.randn(B, S, int(c["src_features"]), generator=g)
        src_names, src_dims = (
            ("src", "src_lengths"),
            {"src": {0: "batch", 1: "src_time"}, "src_lengths": BATCH},
        )
        note = ""
    mem_names = memory_names(model)
    names = state_names(model.decoder)
    h0 = tuple(n + "0" for n in names)
    mem_dims = {"keys": {0: "batch", 1: "src_time"}, "projected": {0: "batch", 1: "src_time"}}
    mem_dims["mask"] = {0: "batch", 1: "src_time"}
    encoder = Graph(
        "encoder",
        Encoder(model),
        (src, lengths),
        src_names,
        (*mem_names, *h0),
        {**src_dims, **{k: mem_dims[k] for k in mem_names}, **state_dynamic(h0)},
        note=note,
    )
    with torch.no_grad():
        memory = Encoder(model)(src, lengths)
    mem, state = memory[: len(mem_names)], memory[len(mem_names) :]
    luong = c["attention"] == "luong"
    feed = (torch.randn(B, int(c["hidden"]), generator=g),) if luong else ()
    y = torch.full((B,), BOS, dtype=torch.long)
    outputs = (
        "logits",
        *names,
        *(("feed",) if luong else ()),
        *(("attention",) if model.attention is not None else ()),
    )
    dynamic = {"y_prev": BATCH, **state_dynamic(h0), **{k: mem_dims[k] for k in mem_names}, "logits": BATCH}
    dynamic.update(
        {**state_dynamic(names), "feed0": BATCH, "feed": BATCH, "attention": {0: "batch", 1: "src_time"}}
    )
    step_inputs = ("y_prev", *h0, *(("feed0",) if luong else ()), *mem_names)
    step = Graph(
        "decoder_step",
        DecoderStep(model),
        (y, *state, *feed, *mem),
        step_inputs,
        outputs,
        {k: v for k, v in dynamic.items() if k in step_inputs or k in outputs},
        note=f"start with y_prev = {BOS} (BOS), the encoder's h0/c0"
        + (", feed0 = 0 (B, hidden)" if luong else "")
        + "; stop at 2 (EOS)",
    )
    return [encoder, step]
