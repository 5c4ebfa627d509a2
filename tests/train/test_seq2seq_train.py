"""Seq2seq training end to end: a text task it must learn, the captioning plumbing on stand-in digits, the
single-example CLI (translate / caption) and recipe validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from textpairs import swap_pairs

import rnnlab
from rnnlab.config import load_recipe
from rnnlab.data import captions as cap
from rnnlab.data.caption_batches import CaptionDataModule
from rnnlab.data.images import save_png
from rnnlab.data.pairs import PairDataModule
from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import ConfigError
from rnnlab.models.captioner import Captioner
from rnnlab.models.seq2seq import Seq2Seq
from rnnlab.tasks import get
from rnnlab.tasks.checks import check_recipe
from rnnlab.tasks.seq2seq.module import Seq2SeqModule, compare


def fit(model, dm, **kwargs):
    return rnnlab.fit(model, dm, task="seq2seq", **kwargs)


def test_compare_counts_eos_as_a_position():
    assert compare([3, 4], [3, 4]) == (1, 3, 3)
    assert compare([3], [3, 4]) == (0, 1, 3)  # stopped early: the EOS lands where 4 should be
    assert compare([3, 4, 5], [3, 4]) == (0, 2, 3)  # ran on past the reference's end


def test_teacher_forcing_moves_linearly_over_the_epochs():
    cfg = load_recipe("folio").train
    cfg.max_epochs, cfg.teacher_forcing, cfg.teacher_forcing_end = 5, 1.0, 0.6
    task = Seq2SeqModule(torch.nn.Linear(1, 1), cfg, 10, 20)
    seen = [round(task.teacher_forcing(epoch), 3) for epoch in range(5)]
    assert seen == [1.0, 0.9, 0.8, 0.7, 0.6]
    cfg.teacher_forcing = 1.5
    with pytest.raises(ConfigError, match=r"train.teacher_forcing must be in \[0, 1\]"):
        Seq2SeqModule(torch.nn.Linear(1, 1), cfg, 10, 20)


def test_text_seq2seq_learns_and_beats_the_copy_baseline(tmp_path):
    torch.manual_seed(0)
    dm = PairDataModule(swap_pairs(480, 0), swap_pairs(64, 1), swap_pairs(96, 2), batch_size=32, name="swap")
    model = Seq2Seq(
        dm.vocab_size, src_vocab=dm.vocab_size, cell="gru", hidden=48, embed=16, bidirectional=True
    )
    recipe = load_recipe("folio")
    result = fit(
        model, dm, recipe=recipe, out=tmp_path / "run", max_epochs=14, max_time=None, lr=0.01, beam=3
    )
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    t, copy = r["test"], r["baselines"]["copy"]
    assert t["exact_match"] == t["beam"]["exact_match"] and t["n"] == 96
    assert t["beam"]["exact_match"] > copy["exact_match"] + 0.4, (t, copy)
    assert t["chrf"] > copy["chrf"]
    assert t["beam_vs_greedy"]["beam_worse_than_greedy"] == 0
    assert (tmp_path / "run" / "attention_0.png").is_file() and r["attention_maps"]
    lines = (tmp_path / "run" / "test_predictions.csv").read_text().splitlines()
    assert lines[0] == "index,source,reference,greedy,beam" and len(lines) == 97
    assert result.results["params"] > 0 and r["train_seconds"] > 0

    from rnnlab.cli import main

    assert main(["translate", str(tmp_path / "run"), "vvast", "--plot", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").is_file()
    assert main(["translate", str(tmp_path / "run"), ""]) == 2
    assert (
        main(["caption", str(tmp_path / "run"), str(tmp_path / "a.png")]) == 2
    )  # a text run, not a captioner


def _fake_digits(name: str) -> tuple[SequenceSet, SequenceSet]:
    """Stand-in digit pools: each 'digit' d is a bar at a d-dependent row, so the task is learnable."""
    out = []
    for split, per_class in (("train", 20), ("test", 6)):
        labels = np.arange(10 * per_class) % 10
        x = np.zeros((len(labels), 28, 28), dtype=np.float32)
        for i, d in enumerate(labels):
            x[i, 2 + 2 * d : 4 + 2 * d, 6:22] = 1.0
        out.append(
            SequenceSet(
                x=x,
                lengths=np.full(len(x), 28),
                y=labels,
                classes=[str(d) for d in range(10)],
                features=[f"col{j}" for j in range(28)],
                ids=[f"d{y}-{split}{i}" for i, y in enumerate(labels)],
                meta={"source": "mnist", "dataset": name, "license": "MIT", "split": split},
            )
        )
    return out[0], out[1]


def test_captioning_run_writes_results_maps_and_captions_a_png(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cap, "load_digits", _fake_digits)
    torch.manual_seed(0)
    dm = CaptionDataModule.from_mnist(batch_size=32, n_train=320, n_val=64, n_test=64)
    model = Captioner(dm.vocab_size, channels=8, feature=32, hidden=32, embed=16)
    fit(model, dm, recipe=load_recipe("captions"), out=tmp_path / "cap", max_epochs=2, beam=2)
    r = json.loads((tmp_path / "cap" / "results.json").read_text())
    t = r["test"]
    for key in ("exact_match", "token_accuracy", "greedy", "beam", "exact_match_by_digits"):
        assert key in t
    a = r["attention"]
    assert a["words"] == 0 or 0.0 <= a["own_digit_mass"] <= 1.0
    assert set(t["exact_match_by_digits"]) <= {"1", "2", "3", "4"}
    assert len(r["attention_maps"]) == 6
    png = tmp_path / "strip.png"
    save_png(dm.sets["test"].images[0], png, width=int(dm.sets["test"].widths[0]))

    from rnnlab.cli import main

    assert main(["caption", str(tmp_path / "cap"), str(png), "--beam", "1"]) == 0
    words = capsys.readouterr().out.strip().split()
    assert all(w in cap.CAPTION_WORDS for w in words)
    assert main(["caption", str(tmp_path / "cap"), str(tmp_path / "missing.png")]) == 2
    assert main(["caption", str(tmp_path / "cap"), str(png), "--beam", "0"]) == 2
    assert main(["inspect", str(tmp_path / "cap")]) == 0
    page = (tmp_path / "cap" / "report.html").read_text()
    assert "Attention maps" in page and "Decoding the test set" in page and "beam 2 vs greedy" in page.lower()


def test_recipe_checks_for_seq2seq():
    recipe = load_recipe("captions")
    check_recipe(recipe, get(recipe.task))
    recipe.model.attention = "bahdanou"
    with pytest.raises(ConfigError, match="unknown model.attention 'bahdanou'"):
        check_recipe(recipe, get(recipe.task))
    recipe = load_recipe("folio")
    recipe.train.monitor = "val_acc"
    with pytest.raises(ConfigError, match="train.monitor"):
        check_recipe(recipe, get(recipe.task))
    recipe = load_recipe("folio")
    recipe.data.name = "har"
    with pytest.raises(ConfigError, match="data.name"):
        check_recipe(recipe, get(recipe.task))


def test_bad_decoding_settings_and_image_shapes_are_one_line_errors(tmp_path):
    from rnnlab.errors import DataError

    dm = PairDataModule(swap_pairs(32, 0), swap_pairs(8, 1), batch_size=8, name="swap")
    model = Seq2Seq(dm.vocab_size, src_vocab=dm.vocab_size, hidden=8, embed=4)
    with pytest.raises(ConfigError, match=r"train.beam must be >= 1, got 0"):
        fit(model, dm, recipe=load_recipe("folio"), out=tmp_path / "a", beam=0)
    with pytest.raises(ConfigError, match=r"train.length_norm must be one of"):
        fit(model, dm, recipe=load_recipe("folio"), out=tmp_path / "b", length_norm="avg")
    captioner = Captioner(13, channels=4, feature=8, hidden=8, embed=4)
    with pytest.raises(
        DataError, match=r"images must be \(batch, 1, 28, width\) grey levels, got \(2, 1, 20, 30\)"
    ):
        captioner.greedy(torch.zeros(2, 1, 20, 30), torch.tensor([30, 30]))
