"""Test-set decoding for a seq2seq run: greedy and beam side by side, text metrics, attention evidence.

Exact match and token accuracy (positions of the reference plus its EOS that the hypothesis matches) for both
searches; for text pairs also chrF and BLEU, and the copy-the-input baseline; for captions the attention mass
each correctly written word puts on its own digit's columns. The headline `exact_match` / `token_accuracy`
are beam search's, the decoding `rnnlab caption` / `rnnlab translate` use.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch
from lightning import LightningDataModule
from torch import nn

from rnnlab.data.captions import decode as words
from rnnlab.metrics.text import bleu, chrf
from rnnlab.tasks.seq2seq.module import compare, source_of, strip_eos
from rnnlab.train.rundir import write_atomic, write_json

N_MAPS = 6  # attention maps drawn per run


def _scores(hyps: list[list[int]], refs: list[list[int]]) -> dict:
    ex = cor = tot = 0
    for h, r in zip(hyps, refs, strict=True):
        e, c, t = compare(h, r)
        ex, cor, tot = ex + e, cor + c, tot + t
    return {"exact_match": ex / len(refs), "token_accuracy": cor / tot, "n": len(refs)}


@torch.no_grad()
def decode_test(model: nn.Module, dm: LightningDataModule, beam: int, length_norm: str, max_len: int) -> dict:
    """Greedy and beam outputs, references, scores and attention for every test example, in loader order."""
    out: dict[str, list] = {k: [] for k in ("index", "ref", "greedy", "beam", "g_score", "b_score", "attn")}
    for batch in dm.test_dataloader():
        src, lengths = source_of(batch)
        g = model.greedy(src, lengths, max_len=max_len)
        b = model.beam_search(src, lengths, beam=beam, max_len=max_len, length_norm=length_norm)
        out["index"] += batch["index"].tolist()
        out["ref"] += [strip_eos(r) for r in batch["tgt_out"]]
        out["greedy"] += g.tokens
        out["beam"] += b.tokens
        out["g_score"] += g.normalised(length_norm)
        out["b_score"] += b.normalised(length_norm)
        out["attn"] += b.attention
    return out


def own_digit_attention(attn: list, hyps: list, refs: list, positions: np.ndarray, pool: int = 4) -> dict:
    """Mean attention mass a correctly written word k puts on the columns of digit k (its 28 pixels)."""
    masses = []
    for a, h, r, pos in zip(attn, hyps, refs, positions, strict=True):
        if a is None:
            continue
        for k, (hk, rk) in enumerate(zip(h, r, strict=False)):
            if hk != rk or pos[k] < 0:
                continue
            lo, hi = pos[k] // pool, -(-(pos[k] + 28) // pool)
            masses.append(float(a[k, lo:hi].sum()))
    if not masses:
        return {"own_digit_mass": None, "words": 0}
    return {
        "own_digit_mass": float(np.mean(masses)),
        "share_above_half": float(np.mean(np.array(masses) > 0.5)),
        "words": len(masses),
    }


def evaluate_seq2seq(
    model: nn.Module,
    dm: LightningDataModule,
    run: Path,
    beam: int,
    length_norm: str,
    max_len: int,
    writer: bool = True,
) -> dict:
    """Decode the test split; with `writer`, write test_predictions.csv and attention.json (the first
    N_MAPS attention maps, drawn by inspect as attention_K.png); return results.json's fields."""
    d = decode_test(model, dm, beam, length_norm, max_len)
    greedy, beam_s = _scores(d["greedy"], d["ref"]), _scores(d["beam"], d["ref"])
    diffs = np.array(d["b_score"]) - np.array(d["g_score"])
    comparison = {
        "length_norm": length_norm,
        "beam": beam,
        "mean_score_greedy": float(np.mean(d["g_score"])),
        "mean_score_beam": float(np.mean(d["b_score"])),
        "beam_worse_than_greedy": int((diffs < -1e-6).sum()),
        "beam_better_than_greedy": int((diffs > 1e-6).sum()),
    }
    test = {**beam_s, "greedy": greedy, "beam": beam_s, "beam_vs_greedy": comparison}
    results: dict = {"test": test}
    split = "test" if "test" in dm.sets else "val"
    maps = []
    if hasattr(dm, "vocab") and hasattr(dm.vocab, "decode"):  # text pairs: strings, chrF/BLEU, copy baseline

        pairs = dm.sets[split]
        src_text = [pairs[i][0] for i in d["index"]]
        refs = [pairs[i][1] for i in d["index"]]
        for name, hyps in (("greedy", d["greedy"]), ("beam", d["beam"])):
            text = [dm.vocab.decode(h) for h in hyps]
            test[name].update(chrf=chrf(text, refs), bleu=bleu(text, refs))
        test.update(chrf=test["beam"]["chrf"], bleu=test["beam"]["bleu"])
        results["baselines"] = {
            "copy": {
                "chrf": chrf(src_text, refs),
                "bleu": bleu(src_text, refs),
                "exact_match": float(np.mean([s == r for s, r in zip(src_text, refs, strict=True)])),
            }
        }
        rows = [
            (i, s, r, dm.vocab.decode(g), dm.vocab.decode(b))
            for i, s, r, g, b in zip(d["index"], src_text, refs, d["greedy"], d["beam"], strict=True)
        ]
        for k in range(min(N_MAPS, len(rows))):
            if d["attn"][k] is not None:
                maps.append({"kind": "text", "source": src_text[k], "output": rows[k][4], "attn": d["attn"][k]})
    else:  # captions: words, attention on each digit

        s = dm.sets[split]
        results["attention"] = own_digit_attention(d["attn"], d["beam"], d["ref"], s.positions[d["index"]])
        by_len = {}
        for n in sorted(set(s.n_digits.tolist())):
            sel = [k for k, i in enumerate(d["index"]) if s.n_digits[i] == n]
            by_len[str(n)] = _scores([d["beam"][k] for k in sel], [d["ref"][k] for k in sel])["exact_match"]
        test["exact_match_by_digits"] = by_len

        def sources(i: int) -> str:  # the MNIST images placed in strip i
            return " ".join(s.source_ids[j] for j in s.digit_ids[i] if j >= 0) if s.source_ids else ""

        rows = [
            (i, sources(i), " ".join(words(r + [2])), " ".join(words(g + [2])), " ".join(words(b + [2])))
            for i, r, g, b in zip(d["index"], d["ref"], d["greedy"], d["beam"], strict=True)
        ]
        for k in range(min(N_MAPS, len(rows))):
            i = d["index"][k]
            if d["attn"][k] is not None:
                img = s.images[i, :, : s.widths[i]]
                maps.append({"kind": "caption", "image": img, "words": rows[k][4].split(), "attn": d["attn"][k]})
    if writer:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["index", "source", "reference", "greedy", "beam"])
        w.writerows(rows)
        write_atomic(run / "test_predictions.csv", buf.getvalue())
        write_json(run / "attention.json", {"maps": [_plain(m) for m in maps]})
    results["attention_maps"] = [f"attention_{k}.png" for k in range(len(maps))]
    return results


def _plain(m: dict) -> dict:
    """An attention map's record with its arrays as rounded lists (JSON) and the map's shape (an empty
    output has a (0, columns) map)."""
    out = {k: np.round(np.asarray(v, dtype=np.float64), 4).tolist() if k in ("attn", "image") else v for k, v in m.items()}
    out["attn_shape"] = list(np.shape(m["attn"]))
    return out
